"""A token estimate that errs high, so a prompt budgeted with it fits the model.

The text is split the way BPE tokenisers of the GPT family pre-split it
(words with their leading space, runs of 1-3 digits, punctuation runs,
whitespace runs); every piece is at least one token, and long pieces count
as several. Measured against cl100k_base by `bench/token_estimate.py`: on the
standard library and the rich sdist the estimate is a median 1.17 times the
true count, and it is below the true count for 3% of files, by 9% at the
1st percentile (base64 and hex blobs, where BPE does worst). The budget keeps
a margin for that and for tokenisers that count more than cl100k does.
"""

from __future__ import annotations

import re

# Pre-splitting as cl100k_base does, with `[^\W\d_]` standing in for `\p{L}`.
_PIECE = re.compile(
    r"'(?i:[sdmt]|ll|ve|re)"
    r"|[^\r\n\w]?+[^\W\d_]++"
    r"|\d{1,3}+"
    r"| ?[^\s\w]++[\r\n]*+|_+"
    r"|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
)
_WORD_CHARS = 5  # a word counts one token per this many letters after the first
_PUNCT_CHARS = 3
_RANDOM_CHARS = 2  # mixed-case runs (base64, hashes) split into short tokens
_CASE_SWITCH = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")


def _piece_tokens(piece: str) -> int:
    if not piece.isascii():
        # Outside ASCII, BPE tokens hold about one and a half bytes.
        return len(piece.encode("utf-8")) * 2 // 3 + 1
    size = len(piece)
    last = piece[-1]
    if last.isalpha():
        if size >= 6 and len(_CASE_SWITCH.findall(piece)) * 5 > size:
            return 1 + size // _RANDOM_CHARS
        return 1 + (size - 1) // _WORD_CHARS
    if last.isdigit() or last.isspace():
        return 1
    return 1 + (size - 1) // _PUNCT_CHARS


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is, rounded up rather than down."""
    return sum(_piece_tokens(match.group()) for match in _PIECE.finditer(text))


def prefix_within(text: str, tokens: int) -> int:
    """The length of the longest prefix of `text`, ending between two pieces, whose
    estimate is at most `tokens`."""
    used = 0
    for match in _PIECE.finditer(text):
        used += _piece_tokens(match.group())
        if used > tokens:
            return match.start()
    return len(text)
