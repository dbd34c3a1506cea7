"""What the embedded `local` summariser writes, judged on real trees: the standard
library (its `test/` included), and the rich and pygments sdists.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/summary_quality.py [--trees stdlib rich pygments]

Each tree is copied into a fresh workspace and generated with the real
command line and the embedded provider. The frames are then read back from
the store and judged against the files themselves, with rules of this script
rather than the summariser's own:

- every node up to the root has a frame, and the run had no failure;
- code files: the share of Python modules whose frame names every one of its
  top-level public classes and functions (as Python's `ast` reads them); a
  module that is not UTF-8 is sent as a placeholder, and is not counted;
- directories: the share of directory frames that name every child;
- module summaries: the share of Python modules whose frame opens with a real
  sentence, not a title or underline, a licence or copyright line, a badge,
  a bare dotted name, or only the facts ("Python module, 92 lines").

It prints the figures with examples of what fell short, and exits 1 when a
run fails or a tree is not generated up to its root.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory comes first on the import path, where
# bench/queue.py would shadow the standard library's `queue`: take it off.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import ast
import json
import re
import shutil
import sysconfig
import tempfile
import time
import warnings
from dataclasses import dataclass, field

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.sdists import SKIPPED_DIRECTORIES, as_sent, extracted_sdist  # noqa: E402
from bench.workspaces import (  # noqa: E402
    Workspace,
    children_by_directory,
    missing_frames,
    report,
    unnamed_children,
    workspace_of,
)

DEFAULT_CACHE = REPO_ROOT / "bench" / ".work" / "summary_quality"
SDISTS = {"rich": "rich", "pygments": "pygments"}
EXAMPLES = 3

_FACTS_ONLY = re.compile(r"^Python [\w ]+, [\d,]+ lines?\b")
_UNDERLINE = re.compile(r"([=~\-^*#+`'\"_])\1{3,}")
_DOTTED_NAME = re.compile(r"^`?[\w.]+`?\.?$")
_NOTICE = re.compile(r"copyright|licen[cs]e|all rights reserved|spdx|\(c\) \d{4}", re.IGNORECASE)
# A badge or image, or a bare link; a sentence that cites a link is still one.
_BADGE = re.compile(r"!\[|shields\.io|^\W*https?://\S+\W*$", re.IGNORECASE)
_MARKUP = re.compile(r"^(:\w+:|\.\. |-\*-|#!|<)")
_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass
class Tally:
    counted: int = 0
    passed: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, ok: bool, example: str) -> None:
        self.counted += 1
        self.passed += ok
        if not ok and len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def share(self) -> str:
        percent = 100 * self.passed / self.counted if self.counted else 100.0
        return f"{self.passed:,} of {self.counted:,} ({percent:.1f}%)"


def public_symbols(source: str) -> list[str] | None:
    """The module's top-level public classes and functions, or None if it does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    names = [node.name for node in tree.body if isinstance(node, kinds)]
    return [name for name in dict.fromkeys(names) if not name.startswith("_")]


def opening(frame: str) -> str:
    """The first paragraph after the frame's title, on one line."""
    paragraphs = [p.strip() for p in frame.split("\n\n") if p.strip()]
    body = [p for p in paragraphs if not p.startswith("# ")]
    return " ".join(body[0].split()) if body else ""


def sentence_verdict(text: str) -> str | None:
    """Why `text` is not a real sentence, or None when it is one."""
    if not text or _FACTS_ONLY.match(text):
        return "facts only"
    if _UNDERLINE.search(text):
        return "underline"
    if _DOTTED_NAME.match(text):
        return "dotted name"
    if _NOTICE.search(text):
        return "notice"
    if _BADGE.search(text) or _MARKUP.match(text):
        return "markup"
    if len(_WORD.findall(text)) < 2:
        return "too short"
    return None


def judge(workspace: Workspace, paths: dict[str, str], frames: dict[str, str]) -> None:
    named, sentences = Tally(), Tally()
    verdicts: dict[str, int] = {}
    for path, kind in sorted(paths.items()):
        if kind != "file" or not path.endswith(".py"):
            continue
        source = as_sent((workspace.root / path).read_bytes())
        if source is None:
            continue  # not UTF-8 text: merkle sends a placeholder, not the code
        symbols = public_symbols(source)
        frame = frames.get(path, "")
        if symbols:
            absent = [s for s in symbols if not re.search(rf"\b{re.escape(s)}\b", frame)]
            named.add(not absent, f"{path} lacks {absent[:3]} of {len(symbols)}")
        if not source.strip():
            continue
        verdict = sentence_verdict(opening(frame))
        sentences.add(verdict is None, f"{path} ({verdict}): {opening(frame)[:80]!r}")
        if verdict is not None:
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    directories = children_by_directory(paths)
    unnamed = unnamed_children(paths, frames)
    whole = len(directories) - len(unnamed)
    print(f"  code files naming every top-level public symbol: {named.share()}")
    _examples(named.examples)
    print(f"  directory frames naming every child: {whole:,} of {len(directories):,}")
    _examples([f"{d} lacks {n}, e.g. {first}" for d, n, first in unnamed[:EXAMPLES]])
    print(f"  module summaries that are a real sentence: {sentences.share()}")
    if verdicts:
        print("    not: " + ", ".join(f"{v} {n:,}" for v, n in sorted(verdicts.items())))
    _examples(sentences.examples)


def _examples(examples: list[str]) -> None:
    for example in examples:
        print(f"    e.g. {example}")


def run(source: Path, scratch: Path) -> bool:
    workspace = workspace_of(source, scratch, "local")
    started = time.monotonic()
    done = workspace.merkle("context", "generate", "--json")
    wall = time.monotonic() - started
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        return report("generate", False, f"exit {done.returncode}: {done.stderr[-400:]}")
    paths, frames = workspace.paths(), workspace.frames()
    print(
        f"  {len(paths):,} nodes in {wall:.1f} s: {result['total_generated']:,} generated,"
        f" {result['total_failed']:,} failed (exit {done.returncode})"
    )
    ok = report("no failure", done.returncode == 0 and result["total_failed"] == 0,
                f"exit {done.returncode}, {result['total_failed']} failed")  # fmt: skip
    ok &= report("every node has a frame", set(paths) == set(frames), missing_frames(paths, frames))
    judge(workspace, paths, frames)
    return ok


def stdlib_copy(scratch: Path) -> Path:
    """The running interpreter's standard library, `test/` included, without the
    installed packages and byte code that sit beside it."""
    source = Path(sysconfig.get_paths()["stdlib"])
    target = scratch / "stdlib-source" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    ignored = shutil.ignore_patterns(*SKIPPED_DIRECTORIES, "dist-packages")
    shutil.copytree(source, target, symlinks=True, ignore=ignored)
    return target.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", nargs="*", default=["stdlib", *SDISTS])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    ok = True
    for name in args.trees:
        with tempfile.TemporaryDirectory(prefix="merkle-quality-") as scratch:
            if name == "stdlib":
                source = stdlib_copy(Path(scratch))
                print(f"standard library ({sysconfig.get_paths()['stdlib']}):")
            else:
                source = extracted_sdist(SDISTS.get(name, name), args.cache)
                print(f"{source.name}:")
            ok &= run(source, Path(scratch))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
