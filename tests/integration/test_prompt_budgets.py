"""Every prompt fits the model's window, on a workspace shaped like pygments.

The test server counts tokens with a real tokenizer and refuses what does not
fit, as hosted APIs do; the assertions are on what it received.
"""

from __future__ import annotations

import ast
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

import pytest

from merkle.context.generation.parts import PartsNeeded
from merkle.providers.base import ProviderError
from merkle.providers.payload import parse_blocks
from merkle.workspace.layout import Workspace
from tests.support.generate_cli import CHAT_PATH, node_of, user_message
from tests.support.generate_cli import generate_bench as bench_of
from tests.support.generation import (
    OPENAI_NAME,
    Generation,
    generation,
    openai_settings,
    scan_files,
)
from tests.support.llm_server import LlmServer, Reply
from tests.support.shapes import (
    BIG_CLASS,
    BIG_MODULE,
    DEEP_FILE,
    LEXER_COUNT,
    LEXERS,
    METHOD_COUNT,
    directories,
    pygments_shape,
)

pytestmark = pytest.mark.timeout(300)

WINDOW = 16_384
ANSWER_TOKENS = 1024
# A note as long as a real model writes one (about 250 words).
NOTE = (
    "This module renders styled text for terminals. "
    + " ".join(f"It handles case {n} by checking the input and formatting it." for n in range(25))
    + "\n\n## Details\n\n"
    + "Further paragraphs describe the interface in depth. " * 10
)


def generate(tmp_path: Path, *, claimed_window: int = WINDOW) -> tuple[dict[str, str], list]:
    """Generate the pygments-shaped workspace against a 16K server; the heads and the
    generation requests the server received."""
    files = pygments_shape()
    provider = f"context_window_tokens = {claimed_window}\nmax_tokens = {ANSWER_TOKENS}\n"
    with bench_of(
        tmp_path,
        files=files,
        default=Reply.answer(NOTE),
        provider_config=provider,
        context_window=WINDOW,
    ) as bench:
        result = bench.run("context", "generate", "--json", timeout_s=240)
        assert result.code == 0, result.stderr
        assert result.json()["total_failed"] == 0
        heads = bench.heads()
        requests = [r for r in bench.server.requests if r.path == CHAT_PATH]
        tokens = [bench.server.tokens_of(request) for request in requests]
    assert None not in tokens
    expected = set(files) | directories(list(files))
    assert set(heads) == expected, sorted(expected - set(heads))[:5]
    return heads, [(r, int(t or 0)) for r, t in zip(requests, tokens, strict=True)]


def test_every_node_of_a_pygments_shaped_tree_is_generated_within_a_16k_window(
    tmp_path: Path,
) -> None:
    _, sent = generate(tmp_path)

    over = [(node_of(r), t) for r, t in sent if t + ANSWER_TOKENS > WINDOW]
    assert not over, over[:3]
    by_node = {node_of(request): user_message(request) for request, _ in sent}
    assert len(by_node) == len(sent)  # one call per node, none refused and sent again

    # The 100 KB module: its main class and every method's signature, still Python.
    module = [b for b in parse_blocks(by_node[BIG_MODULE]) if b.kind == "file"]
    assert [block.path for block in module] == [BIG_MODULE]
    code, marker = module[0].body.rsplit("\n", 1)
    assert marker.startswith("[... truncated: ")
    ast.parse(code)
    assert f"class {BIG_CLASS}:" in code
    missing = [n for n in range(METHOD_COUNT) if f"def method_{n:03d}(self" not in code]
    assert not missing

    # The 250-child directory names every child; the instructions come first.
    lexers = by_node[LEXERS]
    assert lexers.startswith("Write the context note for the directory")
    named = {block.path for block in parse_blocks(lexers)}
    assert len(named) == LEXER_COUNT
    assert f"{LEXERS}/lang000.py" in named and f"{LEXERS}/__init__.py" in named
    assert DEEP_FILE in by_node


def test_a_window_claimed_too_large_is_refused_once_then_sent_smaller(tmp_path: Path) -> None:
    _, sent = generate(tmp_path, claimed_window=4 * WINDOW)

    calls: dict[str, list[int]] = {}
    for request, tokens in sent:
        calls.setdefault(str(node_of(request)), []).append(tokens)
    refused = {node: t for node, t in calls.items() if len(t) > 1}
    assert BIG_MODULE in refused  # 64 KB of text is over 16K tokens
    for node, tokens in refused.items():
        assert len(tokens) == 2, node
        first, second = tokens
        assert first + ANSWER_TOKENS > WINDOW >= second + ANSWER_TOKENS, node


# -- a directory whose entries' names alone are over the window --------------------------

SMALL_WINDOW = 2_048
SMALL_ANSWER = 256
WIDE = 300  # entries of `wide/`: their names alone are some 7,000 tokens


def wide_generation(workspace: Workspace, server: LlmServer) -> ContextManager[Generation]:
    files = {f"wide/entry_{n:03d}.py": f"VALUE = {n}\n" for n in range(WIDE)}
    scan_files(workspace, files)
    provider = openai_settings(server, context_window_tokens=SMALL_WINDOW, max_tokens=SMALL_ANSWER)
    return generation(workspace, providers=[provider])


def test_a_directory_over_the_window_is_written_from_parts_each_paid_once(
    workspace: Workspace,
) -> None:
    with (
        LlmServer(context_window=SMALL_WINDOW, default=Reply.answer("A note.")) as server,
        wide_generation(workspace, server) as g,
    ):
        for n in range(WIDE):
            g.put_manual(f"wide/entry_{n:03d}.py", f"Holds the value {n}. It is a constant.")
        with pytest.raises(PartsNeeded) as needed:
            g.prompt("wide", provider=OPENAI_NAME)
        count = len(needed.value.prompts)
        # The directory's own call fails after its parts were paid for...
        parts = [Reply.answer(f"Part {n}.") for n in range(count)]
        server.script(*parts, Reply.error(400, "the API rejected the request"))
        with pytest.raises(ProviderError):
            g.run("wide", provider=OPENAI_NAME)
        paid = len(server.requests)
        # ...so the rerun asks only for the directory's own note.
        draft, trace = g.run("wide", provider=OPENAI_NAME)

    assert count >= 2 and paid == count + 1
    assert len(server.requests) == paid + 1
    assert all(t + SMALL_ANSWER <= SMALL_WINDOW for t in server.prompt_tokens)
    parts = [user_message(r) for r in server.requests[:count]]
    named = [block.path for part in parts for block in parse_blocks(part)]
    assert named == [f"wide/entry_{n:03d}.py" for n in range(WIDE)]  # each once, in order
    final = trace.prompt.messages[1].content
    assert f"This directory has {WIDE:,} entries" in final
    assert all(f"Part {n}." in final for n in range(count))
    assert draft.content == "A note."
