"""A directory too large for one prompt, summarised in parts (a map-reduce).

When not even its children's names fit the model's window, the children are
taken in path order in groups that each fit one prompt, and the model
summarises each group (a part prompt, naming every child of the group). The
directory's own prompt is then written from the parts' summaries. When even
those do not fit, they are grouped and summarised in turn. A part's summary
is kept by the digest of its prompt, so a part is paid for once whatever
fails after it, and a rerun with the same children pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from merkle.context.generation.children import Child, first_sentence
from merkle.errors import GenerationError, GenerationFailure
from merkle.providers.base import Message
from merkle.providers.payload import child_block
from merkle.providers.tokens import estimate_tokens

PART = "part"  # the node type a part's summary is given as
MAX_LEVELS = 4  # parts of parts: (room / 30 tokens) ** 4 children, far past any tree

PART_INSTRUCTIONS = """\
The directory `{path}` has {total:,} entries, too many to describe in one note. \
Below are {count:,} of them, `{first}` to `{last}` (part {index} of {parts}).

Summarise this part for the directory's note: say what these entries do, \
grouped by purpose, and name every one of them. Write Markdown. Keep it under \
250 words."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PartPrompt:
    """The prompt of one part, and the entries it covers."""

    messages: tuple[Message, ...]
    digest: str
    first: str
    last: str
    count: int


@dataclass(frozen=True, slots=True)
class PartSummary:
    """What the model wrote for one part."""

    first: str
    last: str
    count: int
    text: str


class PartsNeeded(GenerationError):
    """The directory's entries do not fit one prompt: these parts are summarised first."""

    def __init__(self, path: str, prompts: Sequence[PartPrompt]) -> None:
        failure = GenerationFailure(
            error_class="context_length",
            message=f"{path}: its entries are summarised in {len(prompts):,} parts first",
        )
        super().__init__(failure)
        self.prompts = tuple(prompts)


def groups(items: Sequence[Child], room: int) -> list[range]:
    """`items` in path order, cut into runs that each fit `room` tokens with a first
    sentence each (what a part prompt can always carry)."""
    runs: list[range] = []
    start, used = 0, 0
    for index, (path, node_type, frame) in enumerate(items):
        cost = estimate_tokens(child_block(path, first_sentence(frame), node_type=node_type)) + 1
        if index > start and used + cost > room:
            runs.append(range(start, index))
            start, used = index, 0
        used += cost
    runs.append(range(start, len(items)))
    return runs


def as_items(path: str, summaries: Sequence[PartSummary]) -> list[Child]:
    """Part summaries as the entries of the next prompt, each named for its range
    (`pkg/alpha.py … omega.py`), as a child of the directory."""
    return [
        (f"{path}/{summary.first} … {summary.last}", PART, summary.text) for summary in summaries
    ]


def span_of(items: Sequence[Child]) -> tuple[str, str]:
    """The names of the first and last entries that `items` cover."""
    return _ends(items[0][0])[0], _ends(items[-1][0])[1]


def _ends(path: str) -> tuple[str, str]:
    name = path.rsplit("/", 1)[-1]
    first, _, last = name.partition(" … ")
    return first, last or first
