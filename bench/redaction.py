"""Measure redaction on real trees: what it replaces, and what it costs.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/redaction.py [DIR ...] [--show N]

Every UTF-8 text file under each DIR (default: this interpreter's standard
library, `test/` included) goes through the same redaction a prompt's file
text goes through (`redact(text, path=...)`, detect-secrets loaded). For
each tree it prints:

- the files and bytes read, the redactions by rule, and the first `--show`
  redactions with the line around them, so a reader can judge each one: a
  real secret (a private key in a test's certificate data, a password
  literal in a test), or a false alarm in code that holds no secret;
- the cost: redaction time over the time to hash the same texts with BLAKE3
  (what a scan pays per byte), in the same run, and nanoseconds per byte.

The script exits 0 whatever the figures: it is a measurement, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory comes first on the import path, where
# bench/queue.py would shadow the standard library's `queue` (which the
# detector's HTTP library imports): take the directory off first.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import sysconfig
import time
from collections import Counter

from bench.sdists import text_files
from blake3 import blake3

from merkle.metadata.redaction import redact, warm


def context_of(text: str, redacted: str) -> list[str]:
    """The lines that changed, as they were (the secret shown is the bench's input)."""
    before, after = text.splitlines(), redacted.splitlines()
    if len(before) != len(after):  # a private key block became one line
        return [next(line for line in before if "PRIVATE KEY" in line).strip()]
    return [old.strip() for old, new in zip(before, after, strict=True) if old != new]


def measure(root: Path, show: int) -> None:
    files = text_files(root)
    size = sum(len(text.encode("utf-8")) for _, text in files)
    started = time.perf_counter()
    for _, text in files:
        blake3(text.encode("utf-8")).digest()
    hash_s = time.perf_counter() - started
    rules: Counter[str] = Counter()
    shown: list[str] = []
    started = time.perf_counter()
    results = [(path, text, *redact(text, path=path)) for path, text in files]
    redact_s = time.perf_counter() - started
    for path, text, redacted, found in results:
        rules.update(found)
        if found and len(shown) < show:
            shown += [f"    {path}: {line[:110]}" for line in context_of(text, redacted)]
    print(f"{root}")
    print(f"  {len(files):,} text files, {size / 1e6:.1f} MB")
    print(f"  redactions: {sum(rules.values())}  {dict(rules.most_common())}")
    print(f"  files with a redaction: {sum(1 for *_, found in results if found)}")
    for line in shown[:show]:
        print(line)
    print(
        f"  cost: {redact_s:.2f} s, {redact_s / size * 1e9:.0f} ns/byte;"
        f" BLAKE3 over the same texts {hash_s:.3f} s; ratio {redact_s / hash_s:.0f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path)
    parser.add_argument("--show", type=int, default=40, help="redactions to list per tree")
    args = parser.parse_args(argv)
    warm()
    for root in args.roots or [Path(sysconfig.get_paths()["stdlib"])]:
        measure(root, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
