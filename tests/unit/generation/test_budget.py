"""The prompt's token budget, the window a refusal names, and a directory's children
made to fit without losing one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merkle.context.generation.budget import PromptBudget
from merkle.context.generation.children import first_sentence, fit_children, frame_summary
from merkle.context.generation.frame_writer import reported_window
from merkle.providers.payload import parse_blocks
from merkle.providers.tokens import estimate_tokens, prefix_within

NOTE = (
    "# pkg/a.py\n\nParses the input and writes a report. It is the entry point.\n\n"
    "## Details\n\n" + "More about the interface and its errors. " * 30
)


@pytest.mark.parametrize(
    ("message", "window"),
    [
        ("This model's maximum context length is 16384 tokens. However, you requested", 16384),
        ("the request exceeds the available context size (8,192 tokens)", 8192),
        ("input is longer than the context window of 4096 tokens", 4096),
        ("prompt is too long", None),
    ],
)
def test_the_window_a_refusal_names_is_read_from_its_message(
    message: str, window: int | None
) -> None:
    assert reported_window(message) == window


def test_a_shrunk_budget_takes_the_reported_window_or_a_smaller_share() -> None:
    budget = PromptBudget(window_tokens=32_768, answer_tokens=1024)

    assert budget.shrunk(16_384).window_tokens == 16_384
    assert budget.shrunk(None).window_tokens < 32_768
    assert budget.shrunk(100_000).window_tokens < 32_768  # a larger claim is not believed
    assert budget.shrunk(16_384).content_tokens(500) < budget.content_tokens(500)


@given(st.text(max_size=400), st.integers(min_value=0, max_value=200))
def test_a_prefix_within_a_token_count_is_estimated_within_it(text: str, tokens: int) -> None:
    end = prefix_within(text, tokens)

    assert estimate_tokens(text[:end]) <= tokens
    assert (end == len(text)) == (estimate_tokens(text) <= tokens)


def test_a_summary_is_the_first_paragraph_of_prose_not_a_heading() -> None:
    assert frame_summary(NOTE) == "Parses the input and writes a report. It is the entry point."
    assert first_sentence(NOTE) == "Parses the input and writes a report."
    declared = "# x\n\n[![ci](badge)](link)\n\n## Summary\n\nThe declared summary.\n\nMore."
    assert frame_summary(declared) == "The declared summary."


def children(count: int, frame: str = NOTE) -> list[tuple[str, str, str]]:
    return [(f"pkg/m{n:03d}.py", "file", frame) for n in range(count)]


def test_children_that_fit_are_sent_whole() -> None:
    blocks = fit_children(children(3), 10_000)

    assert blocks is not None
    assert [block.body for block in map(lambda b: parse_blocks(b)[0], blocks)] == [NOTE] * 3


def test_the_largest_frames_are_shortened_first() -> None:
    small = "Writes the log."
    listed = [*children(1, NOTE * 20), *[(f"pkg/s{n}.py", "file", small) for n in range(5)]]
    room = sum(estimate_tokens(b) + 1 for b in fit_children(listed[1:], 10**6) or []) + 200

    blocks = fit_children(listed, room)

    assert blocks is not None
    bodies = [parse_blocks(block)[0].body for block in blocks]
    assert bodies[1:] == [small] * 5
    assert bodies[0] != NOTE * 20 and len(bodies[0]) < len(NOTE)


@pytest.mark.parametrize("count", [10, 250, 2_000])
def test_every_child_is_named_whatever_the_room(count: int) -> None:
    room = 40 * count  # less than a summary each: first sentences or names

    blocks = fit_children(children(count), room)

    assert blocks is not None
    assert sum(estimate_tokens(block) + 1 for block in blocks) <= room
    assert [parse_blocks(block)[0].path for block in blocks] == [p for p, _, _ in children(count)]


def test_no_blocks_when_not_even_the_names_fit() -> None:
    assert fit_children(children(100), 500) is None
