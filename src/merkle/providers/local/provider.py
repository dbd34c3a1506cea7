"""The embedded `local` provider: offline, deterministic, no key.

It answers the same messages an LLM gets, but reads only their content
blocks: a file block becomes an outline of the file's structure, child blocks
become a directory summary composed from the children's frames. The system
prompt and the agent's instructions are not followed, since no model reads
them. The same messages always give byte-identical text.
"""

from __future__ import annotations

from collections.abc import Sequence

from merkle.config.model import ProviderSettings
from merkle.providers.base import (
    Completion,
    CompletionOptions,
    ErrorClass,
    Message,
    ProviderError,
    Role,
    Usage,
)
from merkle.providers.local.directory import NO_LIMIT, summarise_directory
from merkle.providers.local.file_summary import summarise_file
from merkle.providers.payload import parse_blocks

MODEL = "merkle-local-1"
DEFAULT_MAX_TOKENS = 1024
CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English and code; token counts are estimates."""

_CUT_MARKER = "[... cut at max_tokens]"


class LocalProvider:
    """The built-in provider that summarises from structure, without a model."""

    def __init__(self, settings: ProviderSettings | None = None) -> None:
        self._name = settings.name if settings is not None else "local"
        self._model = (settings.model if settings is not None else None) or MODEL
        self._max_tokens = settings.max_tokens if settings is not None else DEFAULT_MAX_TOKENS

    @property
    def name(self) -> str:
        """The configured name (what `--provider` takes)."""
        return self._name

    @property
    def provider_type(self) -> str:
        """Always `local`."""
        return "local"

    @property
    def model(self) -> str:
        """The outliner's version label, `merkle-local-1`."""
        return self._model

    async def complete(self, messages: Sequence[Message], options: CompletionOptions) -> Completion:
        """The summary of the node in the last user message's content blocks.

        Raises `ProviderError` (`model_not_found`) for a model other than
        `merkle-local-1`, and (`bad_request`) for a message with no content
        blocks, or with file and child blocks mixed.
        """
        if self._model != MODEL:
            raise ProviderError(
                ErrorClass.MODEL_NOT_FOUND,
                f"the local provider has no model {self._model!r}",
                hint=f'set model = "{MODEL}" or leave it out for a provider of type "local"',
            )
        # The outliners are quick (milliseconds for a file within the prompt
        # budget), so they run inline rather than in a thread.
        max_tokens = options.max_tokens or self._max_tokens
        text = _fit(
            summarise(_user_text(messages), max_chars=max_tokens * CHARS_PER_TOKEN), max_tokens
        )
        usage = Usage(
            input_tokens=sum(estimate_tokens(message.content) for message in messages),
            output_tokens=estimate_tokens(text),
        )
        return Completion(text=text, model=self._model, usage=usage)


def summarise(prompt: str, *, max_chars: int = NO_LIMIT) -> str:
    """The summary of the node whose content blocks open `prompt`; a directory's names
    every child within `max_chars`."""
    # Where a file sits is for a model to weigh; the outline is of the file alone.
    blocks = [block for block in parse_blocks(prompt) if block.kind != "surroundings"]
    kinds = {block.kind for block in blocks}
    if not blocks:
        raise ProviderError(
            ErrorClass.BAD_REQUEST,
            "the local provider found no content block in the user message",
            hint='it reads `<file path="...">` or `<child path="...">` blocks; '
            "build prompts with merkle.providers.payload",
        )
    if kinds == {"directory"}:
        return "\n".join(f"# `{block.path}/`\n\nAn empty directory." for block in blocks)
    if kinds != {"file"} and kinds != {"child"}:
        raise ProviderError(
            ErrorClass.BAD_REQUEST,
            "the user message mixes file and child blocks",
            hint="send one file block for a file node, or child blocks for a directory",
        )
    if kinds == {"child"}:
        return summarise_directory(blocks, max_chars=max_chars)
    files = [block for block in blocks if block.kind == "file"]
    return "\n".join(summarise_file(block, max_chars=max_chars // len(files)) for block in files)


def estimate_tokens(text: str) -> int:
    """A cheap token count: characters over `CHARS_PER_TOKEN`, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


def _user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.role is Role.USER:
            return message.content
    raise ProviderError(
        ErrorClass.BAD_REQUEST,
        "the local provider was sent no user message",
        hint="send the node's content blocks in a user message",
    )


def _fit(text: str, max_tokens: int) -> str:
    # Like a model, the provider never answers with more than `max_tokens`:
    # the summary is cut at a line boundary, visibly.
    limit = max_tokens * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    room = max(limit - len(_CUT_MARKER) - 1, 0)
    head = text[:room]
    cut = head.rfind("\n")
    return (head[: cut + 1] if cut > 0 else "") + _CUT_MARKER + "\n"
