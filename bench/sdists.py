"""Real projects for the benches: sdists from the package index, fetched and extracted
once, and the text files of a tree as merkle would send them.

`pip download --no-binary :all: --no-deps SPEC` fetches the sdist into a cache
directory (git-ignored under `bench/.work/`); it is extracted beside it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def _stem(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def sdist_archive(spec: str, cache: Path) -> Path:
    """The sdist of `spec` (`name` or `name==version`), downloaded into `cache` once."""
    name, _, version = spec.partition("==")

    def cached() -> list[Path]:
        return sorted(
            path
            for path in cache.glob("*.tar.gz")
            if _stem(path.name.rsplit("-", 1)[0]) == _stem(name)
            and (not version or path.name == f"{path.name.rsplit('-', 1)[0]}-{version}.tar.gz")
        )

    if not cached():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:"]
        command += ["--no-deps", "--quiet", spec, "-d", str(cache)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not cached():
            raise SystemExit(f"cannot download the sdist of {spec}:\n{done.stderr.strip()}")
    return cached()[-1]


def extracted_sdist(spec: str, cache: Path) -> Path:
    """The directory the sdist of `spec` is extracted to, under `cache`."""
    archive = sdist_archive(spec, cache)
    target = cache / archive.name.removesuffix(".tar.gz")
    if not target.is_dir():
        # Extracted aside and renamed, so an interrupted run leaves no half tree behind.
        with tempfile.TemporaryDirectory(dir=cache) as scratch, tarfile.open(archive) as opened:
            opened.extractall(scratch, filter="data")
            (Path(scratch) / target.name).rename(target)
    return target


SKIPPED_DIRECTORIES = {".git", ".merkle", "__pycache__", "site-packages", ".venv", "node_modules"}
SNIFF_BYTES = 8192  # merkle sends a file with a NUL byte this early as binary


def as_sent(data: bytes) -> str | None:
    """`data` as the text merkle would send, or None when it sends a placeholder."""
    if b"\x00" in data[:SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_files(root: Path) -> list[tuple[str, str]]:
    """`(path relative to root, text)` of every file under `root` that merkle would
    send as text, in path order."""
    found = []
    for directory, names, files in os.walk(root):
        names[:] = sorted(name for name in names if name not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = Path(directory) / name
            try:
                text = as_sent(path.read_bytes())
            except OSError:
                continue
            if text is not None:
                found.append((str(path.relative_to(root)), text))
    return found
