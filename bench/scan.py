"""Benchmark `merkle scan` against git on a generated workspace, and measure its peak memory.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/scan.py [--files N] [--dirs N] [--size-mb N] [--keep]

What it does:

1. Builds a deterministic tree (seeded) under `bench/.work/` (git-ignored): by
   default 10,000 files in 1,000 leaf directories nested 10 x 10 x 10, about
   200 MB in all. Most files are small pseudo-source text (each one unique);
   about 1 in 100 is a larger binary file of random bytes.
2. Waits until 2.5 s have passed since the last file was written. `merkle`
   re-hashes, at the next scan, a file modified less than 2 s before the scan
   that hashed it (git's "racily clean" rule), so without the wait the first
   rescan would read everything again. Git gets the same wait.
3. Full index, one run each: `git add -A` into a fresh repository whose git
   directory lives outside the tree (`git init` is not timed), then
   `merkle init` (not timed) and `merkle scan` (timed). Git is told to ignore
   `.merkle/` through the repository's `info/exclude`, so both index the same
   files; the script checks that both counted them all. Git runs without the
   user's or system's config. Dirty pages are flushed (`os.sync`, not timed)
   before each full index, so one step's writeback does not slow the next.
4. No change: `merkle scan` again against `git status --porcelain`, each run
   several times (alternating) and reported as the median, with the fastest
   run alongside. The git repository is committed first (not timed), so
   `git status` compares against a clean HEAD rather than listing every file
   as added. merkle's own `--json` counts show how many files each scan
   hashed and how many it reused from its stat cache.
5. Peak memory: the maximum resident set size (`ru_maxrss`, from `os.wait4`)
   of each child process itself, so Python's own start-up is included.

How to read it: timings are wall-clock seconds of the whole process (start-up
included, so `merkle` pays for Python and its imports). The page cache is warm
for both tools, since the files were just written: this measures CPU and
system-call cost, not disk reads. The targets are `merkle scan / git add -A
<= 1.0`, `merkle rescan / git status <= 2.0` and a peak RSS under 300 MiB;
each is marked PASS or MISS. The script exits 0 whatever the figures (it is a
measurement, not a test), and 1 only when a command fails. It needs Linux (or
another Unix; `ru_maxrss` is in KiB on Linux) and git.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK_PARENT = REPO_ROOT / "bench" / ".work"
SEED = 20_240_601
RACY_WAIT_S = 2.5
REPEATS = 5
LARGE_FILE_EVERY = 100  # one file in this many is a large binary one
SMALL_MEDIAN_BYTES = 6_000
SMALL_MAX_BYTES = 256 * 1024
TEXT_POOL_BYTES = 4 * 1024 * 1024
TARGET_SCAN_RATIO = 1.0
TARGET_RESCAN_RATIO = 2.0
TARGET_RSS_MIB = 300.0
SOURCE_SUFFIXES = (".py", ".ts", ".go", ".rs", ".c", ".md", ".json", ".txt")
WORDS = (
    "def", "return", "self", "import", "class", "for", "in", "if", "else", "None",
    "value", "items", "result", "config", "path", "data", "index", "count", "name",
    "=", "==", "(", ")", ":", "+", "[", "]", "{", "}", "0", "1", "True", "False",
)  # fmt: skip


class CommandFailed(Exception):
    """A command the benchmark runs exited non-zero."""


@dataclass(frozen=True, slots=True)
class Run:
    """One finished child process: its wall time, its own peak RSS and its stdout."""

    seconds: float
    max_rss_kib: int
    stdout: str

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss_kib / 1024


@dataclass(frozen=True, slots=True)
class TreeStats:
    """What was written: counts, bytes, and the wall-clock time of the last write."""

    files: int
    directories: int
    leaf_directories: int
    size_bytes: int
    last_write: float
    build_seconds: float


# -- running commands ------------------------------------------------------------------


def run(cmd: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run `cmd` to completion; its wall time and its own `ru_maxrss` via `os.wait4`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        try:
            process = subprocess.Popen(
                [str(part) for part in cmd],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        except OSError as error:
            raise CommandFailed(f"cannot run {cmd[0]}: {error}") from error
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if process.returncode != 0:
        shown = " ".join(str(part) for part in cmd)
        raise CommandFailed(f"`{shown}` exited {process.returncode}:\n{stderr.strip()}")
    return Run(seconds=seconds, max_rss_kib=usage.ru_maxrss, stdout=stdout)


def merkle_command() -> Path:
    """The real `merkle` CLI installed beside this interpreter."""
    cli = Path(sys.executable).parent / "merkle"
    if not cli.is_file():
        raise CommandFailed(f"no `merkle` CLI next to {sys.executable}; install the package")
    return cli


class Git:
    """git on `tree` with its repository at `git_dir`, isolated from user and system config."""

    def __init__(self, tree: Path, git_dir: Path) -> None:
        self.tree = tree
        self.git_dir = git_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self.env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}

    def __call__(self, *args: str, extra_env: dict[str, str] | None = None) -> Run:
        base = ["git", "-c", "core.autocrlf=false", "-c", "gc.auto=0"]
        base += [f"--git-dir={self.git_dir}", f"--work-tree={self.tree}"]
        return run([*base, *args], cwd=self.tree, env=self.env | (extra_env or {}))

    def init(self, excludes: Sequence[str]) -> None:
        """A fresh, empty repository that leaves `excludes` out."""
        self("init", "-q")
        exclude = self.git_dir / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text("".join(f"{line}\n" for line in excludes), encoding="utf-8")

    def commit(self) -> None:
        """Commit the index, so a later `git status` compares against a clean HEAD."""
        who = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid"}
        who |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
        self("commit", "-q", "--no-verify", "-m", "bench", extra_env=who)

    def tracked_files(self) -> int:
        return self("ls-files", "-z").stdout.count("\0")


def merkle_scan(tree: Path) -> tuple[Run, dict[str, int]]:
    """`merkle scan --json` on `tree`: the run and merkle's own counts."""
    result = run([merkle_command(), "--workspace", tree, "scan", "--json"], cwd=tree)
    payload: dict[str, Any] = json.loads(result.stdout)
    return result, {key: int(value) for key, value in payload["counts"].items()}


# -- the tree -------------------------------------------------------------------------


def leaf_directories(count: int) -> list[str]:
    """`count` directory paths nested in base-10 digits: 1,000 gives 10 x 10 x 10."""
    levels = max(1, math.ceil(math.log10(count))) if count > 1 else 1
    return ["/".join(f"d{digit}" for digit in str(i).zfill(levels)) for i in range(count)]


def all_directories(leaves: Sequence[str]) -> set[str]:
    """Every directory the leaves need, intermediate ones included (not the root)."""
    found: set[str] = set()
    for leaf in leaves:
        parts = leaf.split("/")
        found.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return found


def file_sizes(rng: random.Random, files: int, total_bytes: int) -> tuple[list[int], set[int]]:
    """Sizes summing to about `total_bytes`: log-normal small files, a few large ones
    sharing what is left. Returns the sizes and the indices of the large files."""
    large = set(rng.sample(range(files), max(1, files // LARGE_FILE_EVERY)))
    sizes = [0] * files
    for index in range(files):
        if index not in large:
            drawn = rng.lognormvariate(math.log(SMALL_MEDIAN_BYTES), 1.0)
            sizes[index] = int(min(max(drawn, 64), SMALL_MAX_BYTES))
    remaining = max(total_bytes - sum(sizes), len(large) * SMALL_MAX_BYTES)
    weights = {index: rng.uniform(0.25, 4.0) for index in sorted(large)}
    scale = remaining / sum(weights.values())
    for index, weight in weights.items():
        sizes[index] = int(weight * scale)
    return sizes, large


def text_pool(rng: random.Random, size: int) -> bytes:
    """Pseudo-source text: indented lines of code-like words."""
    lines: list[str] = []
    total = 0
    while total < size:
        indent = "    " * rng.randrange(4)
        line = indent + " ".join(rng.choices(WORDS, k=rng.randrange(3, 12))) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode("ascii")


def file_content(rng: random.Random, index: int, size: int, pool: bytes | None) -> bytes:
    """Random bytes for a large file; a unique header and a slice of `pool` otherwise."""
    if pool is None:
        return rng.randbytes(size)
    header = f"# bench file {index}\n".encode("ascii")
    body_size = max(0, size - len(header))
    start = rng.randrange(len(pool) - body_size)
    return header + pool[start : start + body_size]


def build_tree(root: Path, *, files: int, dirs: int, total_bytes: int) -> TreeStats:
    """Write the deterministic benchmark tree under `root` (which must not exist)."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    leaves = leaf_directories(dirs)
    directories = all_directories(leaves)
    for directory in sorted(directories):
        (root / directory).mkdir(parents=True)
    sizes, large = file_sizes(rng, files, total_bytes)
    pool = text_pool(rng, TEXT_POOL_BYTES)
    written = 0
    for index, size in enumerate(sizes):
        is_large = index in large
        suffix = ".bin" if is_large else SOURCE_SUFFIXES[index % len(SOURCE_SUFFIXES)]
        path = root / leaves[index % len(leaves)] / f"f{index:05d}{suffix}"
        data = file_content(rng, index, size, None if is_large else pool)
        path.write_bytes(data)
        written += len(data)
    return TreeStats(
        files=files,
        directories=len(directories),
        leaf_directories=len(leaves),
        size_bytes=written,
        last_write=time.time(),
        build_seconds=time.perf_counter() - started,
    )


def settle() -> None:
    """Flush dirty pages to disk (untimed), so one step's writeback does not slow the next."""
    os.sync()


def wait_past_racy_window(last_write: float) -> float:
    """Sleep until RACY_WAIT_S has passed since `last_write`; the seconds slept."""
    remaining = min(RACY_WAIT_S, last_write + RACY_WAIT_S - time.time())
    if remaining > 0:
        time.sleep(remaining)
        return remaining
    return 0.0


# -- the measurement -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Results:
    """Every figure the report prints."""

    git_add: Run
    scan: Run
    scan_counts: dict[str, int]
    rescans: list[Run]
    rescan_counts: list[dict[str, int]]
    statuses: list[Run]
    status_dirty_lines: int
    git_tracked: int


def measure(tree: Path, git_dir: Path, stats: TreeStats) -> Results:
    """Run both tools over `tree`: full index, then the no-change runs."""
    git = Git(tree, git_dir)
    git.init(excludes=["/.merkle/"])
    run([merkle_command(), "--quiet", "init", tree], cwd=tree)
    settle()
    slept = wait_past_racy_window(stats.last_write)
    say(f"waited {slept:.1f} s more, to {RACY_WAIT_S} s after the last write")
    say("full index: git add -A ...")
    git_add = git("add", "-A")
    git.commit()
    settle()
    say("full index: merkle scan ...")
    scan, scan_counts = merkle_scan(tree)
    settle()
    wait_past_racy_window(stats.last_write)  # long past by now; kept for clarity
    rescans: list[Run] = []
    rescan_counts: list[dict[str, int]] = []
    statuses: list[Run] = []
    for attempt in range(1, REPEATS + 1):
        say(f"no change, run {attempt} of {REPEATS}: merkle scan, git status ...")
        rescan, counts = merkle_scan(tree)
        rescans.append(rescan)
        rescan_counts.append(counts)
        statuses.append(git("status", "--porcelain"))
    dirty = sum(1 for s in statuses for line in s.stdout.splitlines() if line.strip())
    return Results(
        git_add=git_add,
        scan=scan,
        scan_counts=scan_counts,
        rescans=rescans,
        rescan_counts=rescan_counts,
        statuses=statuses,
        status_dirty_lines=dirty,
        git_tracked=git.tracked_files(),
    )


# -- the report -----------------------------------------------------------------------


def say(message: str) -> None:
    print(f"  .. {message}", flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def counts_text(counts: dict[str, int]) -> str:
    return (
        f"files {counts['files']:,}  hashed {counts['hashed']:,}  reused {counts['reused']:,}"
        f"  directories {counts['directories']:,}"
    )


def print_tree(stats: TreeStats, tree: Path) -> None:
    print(f"tree        {tree}")
    print(
        f"            {stats.files:,} files, {stats.directories:,} directories"
        f" ({stats.leaf_directories:,} holding files), {stats.size_bytes:,} bytes"
        f" ({stats.size_bytes / 1e6:,.1f} MB); seed {SEED}; written in {stats.build_seconds:.1f} s"
    )


def print_results(stats: TreeStats, r: Results) -> None:
    rescan_median = statistics.median(run.seconds for run in r.rescans)
    status_median = statistics.median(run.seconds for run in r.statuses)
    rescan_min = min(run.seconds for run in r.rescans)
    status_min = min(run.seconds for run in r.statuses)
    scan_ratio = r.scan.seconds / r.git_add.seconds
    rescan_ratio = rescan_median / status_median
    print()
    print("Wall-clock seconds of each whole process. Page cache warm for both tools")
    print("(the files were just written), so this is CPU and system calls, not disk.")
    print()
    print("full index (one run each)")
    print(f"  git add -A                 {r.git_add.seconds:8.3f} s   tracked {r.git_tracked:,}")
    print(f"  merkle scan                {r.scan.seconds:8.3f} s   {counts_text(r.scan_counts)}")
    print(f"no change (median of {REPEATS}, fastest in brackets)")
    print(f"  git status --porcelain     {status_median:8.3f} s   [{status_min:.3f}]")
    print(f"  merkle scan (rescan)       {rescan_median:8.3f} s   [{rescan_min:.3f}]")
    for number, counts in enumerate(r.rescan_counts, start=1):
        print(f"    rescan {number}: {counts_text(counts)}")
    print("peak RSS (ru_maxrss of the process itself)")
    print(f"  merkle scan (full)         {r.scan.max_rss_mib:8.1f} MiB")
    print(f"  merkle scan (rescan, max)  {max(x.max_rss_mib for x in r.rescans):8.1f} MiB")
    print(f"  git add -A                 {r.git_add.max_rss_mib:8.1f} MiB")
    print_checks(stats, r)
    print()
    print("targets")
    print(
        f"  merkle scan / git add -A       {scan_ratio:6.2f}  (<= {TARGET_SCAN_RATIO})"
        f"  {verdict(scan_ratio <= TARGET_SCAN_RATIO)}"
    )
    print(
        f"  merkle rescan / git status     {rescan_ratio:6.2f}  (<= {TARGET_RESCAN_RATIO},"
        f" medians)  {verdict(rescan_ratio <= TARGET_RESCAN_RATIO)}"
    )
    print(
        f"  merkle scan peak RSS      {r.scan.max_rss_mib:7.1f} MiB  (< {TARGET_RSS_MIB:.0f} MiB)"
        f"  {verdict(r.scan.max_rss_mib < TARGET_RSS_MIB)}"
    )


def print_checks(stats: TreeStats, r: Results) -> None:
    """Say so if the tools did not see the tree the script wrote, or if a rescan read files."""
    notes: list[str] = []
    if r.scan_counts["files"] != stats.files:
        notes.append(f"merkle scanned {r.scan_counts['files']:,} files, not {stats.files:,}")
    if r.git_tracked != stats.files:
        notes.append(f"git tracks {r.git_tracked:,} files, not {stats.files:,}")
    if any(counts["hashed"] for counts in r.rescan_counts):
        notes.append("a no-change rescan hashed files (see the counts above)")
    if r.status_dirty_lines:
        notes.append(f"git status reported {r.status_dirty_lines} changed paths")
    for note in notes:
        print(f"  NOTE: {note}")


# -- entry point ----------------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=positive_int, default=10_000, help="files (10,000)")
    parser.add_argument("--dirs", type=positive_int, default=1_000, help="leaf dirs (1,000)")
    parser.add_argument("--size-mb", type=positive_int, default=200, help="total MB (200)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    WORK_PARENT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="scan-", dir=WORK_PARENT))
    print("merkle scan benchmark")
    try:
        tree = work / "tree"
        say("writing the tree ...")
        stats = build_tree(
            tree, files=args.files, dirs=args.dirs, total_bytes=args.size_mb * 1_000_000
        )
        print_tree(stats, tree)
        results = measure(tree, work / "git", stats)
        print_results(stats, results)
    except CommandFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if not any(WORK_PARENT.iterdir()):
                WORK_PARENT.rmdir()
        print(f"whole benchmark: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
