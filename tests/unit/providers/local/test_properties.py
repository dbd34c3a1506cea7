"""Whatever text arrives, the local provider answers, the same way every time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from merkle.providers.local.provider import summarise
from merkle.providers.payload import child_block, file_block

NAMES = [
    "a.py", "a.md", "a.json", "a.toml", "a.yaml", "a.ini", "a.csv", "a.ts", "a.go", "a.rs",
    "A.java", "a.kt", "a.h", "a.sh", "a.sql", "a.txt", "a.bin", "Makefile", "Dockerfile", "noext",
]  # fmt: skip

# Text made of the characters declarations and markup are built from, so the
# outliners' patterns get exercised rather than skipped.
SOURCE_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXY_019 \t\n:;=(){}[]<>*&#/-.,'\"`|!@\\")) | st.characters(),
    max_size=400,
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(NAMES), text=SOURCE_TEXT)
def test_any_file_text_gets_a_deterministic_bounded_summary(name: str, text: str) -> None:
    path = f"dir/{name}"
    first = summarise(file_block(path, text))
    assert first == summarise(file_block(path, text))
    assert first.startswith(f"# `{path}`\n\n")
    assert len(first) < 20_000


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(SOURCE_TEXT, min_size=1, max_size=5))
def test_any_child_frames_compose_a_summary_naming_every_child(frames: list[str]) -> None:
    blocks = "\n".join(
        child_block(f"dir/c{index}.py", frame, node_type="file")
        for index, frame in enumerate(frames)
    )
    summary = summarise(blocks)
    for index in range(len(frames)):
        assert f"- `c{index}.py`: " in summary
