"""Run the local provider the way the generation unit does: system + user message."""

from __future__ import annotations

import asyncio

from merkle.providers.base import Completion, CompletionOptions, Message, Role
from merkle.providers.local import LocalProvider
from merkle.providers.payload import child_block, file_block

INSTRUCTIONS = "\n\nSummarise this node for a developer.\nPath: {path}\n"


def complete(
    user: str, *, provider: LocalProvider | None = None, max_tokens: int | None = None
) -> Completion:
    """The provider's completion for a user message, with a system prompt before it."""
    messages = [
        Message(role=Role.SYSTEM, content="You write context for code."),
        Message(role=Role.USER, content=user),
    ]
    options = CompletionOptions(max_tokens=max_tokens)
    return asyncio.run((provider or LocalProvider()).complete(messages, options))


def summarise_file(path: str, text: str, **attributes: str) -> str:
    """The local provider's summary of one file."""
    return complete(file_block(path, text, **attributes) + INSTRUCTIONS.format(path=path)).text


def summarise_directory(
    path: str, children: list[tuple[str, str, str]], *, max_tokens: int | None = None
) -> str:
    """The summary of a directory from `(path, node_type, frame)` children."""
    blocks = "\n".join(
        child_block(child, frame, node_type=node_type) for child, node_type, frame in children
    )
    return complete(blocks + INSTRUCTIONS.format(path=path), max_tokens=max_tokens).text
