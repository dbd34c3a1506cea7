"""Generation unit C1: the prompt, rendered from the agent's templates and the node's context.

A file node sends its text; a directory sends its children's head frames
(same agent, same frame type) in path order. What is sent is bounded and
scrubbed: binary and non-UTF-8 files become a placeholder naming the size,
text over the budget is cut with a visible marker, every secret is redacted
(in the file's text, its path and its children's names, their frames, and the
agent's prompts, which may come from files), secret-looking or ignored files
are never read, and the file must still be the one the scan hashed.
"""

from __future__ import annotations

import json
import os
import stat
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blake3 import blake3

from merkle.agents import AgentProfile
from merkle.context.generation.budget import PromptBudget
from merkle.context.generation.children import Child, fit_children
from merkle.context.generation.cuts import Fit, cut_to_fit
from merkle.context.generation.parts import (
    PART_INSTRUCTIONS,
    PartPrompt,
    PartsNeeded,
    PartSummary,
    as_items,
    groups,
    span_of,
)
from merkle.context.generation.surroundings import Surroundings
from merkle.context.queue import FrameRequest
from merkle.errors import GenerationError, GenerationFailure
from merkle.metadata.redaction import redact
from merkle.providers.base import Message, Role
from merkle.providers.payload import directory_block, file_block, surroundings_block
from merkle.providers.tokens import estimate_tokens
from merkle.store import FrameKey, FrameRepository, NodeRecord, NodeRepository, NodeType
from merkle.tree.builtin_ignore import is_builtin_ignored
from merkle.tree.gitignore import decide, parse_pattern
from merkle.tree.paths import name_of, on_disk

CHUNK_BYTES = 1 << 20
_SNIFF_BYTES = 8192
# The cut outlines the whole file, so more of it is read than is sent (up to this).
_READ_BYTES = 8 << 20
_REDACTION_MARGIN_BYTES = 4096
_SURROUNDINGS_SHARE = 10  # at most a tenth of a file prompt's room
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class PromptError(GenerationError):
    """The prompt cannot be built: a permanent failure of this request.

    `error_class` names why, like a provider error's; trying again will not help.
    """

    def __init__(self, error_class: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(GenerationFailure(error_class=error_class, message=message), hint=hint)

    @property
    def error_class(self) -> str:
        """Why the prompt cannot be built."""
        return self.failure.error_class


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptPayload:
    """The rendered prompt: its messages, and a digest that names it without its text.

    `redactions` lists the rules whose matches were replaced before sending;
    `sources`, for a directory, each child's name and the id of the frame sent
    for it (what the directory's frame is written from).
    """

    messages: tuple[Message, ...]
    digest: str
    redactions: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    # Nothing in it a model could read (a binary file, a withheld one) or a file the
    # configuration keeps offline: the embedded provider answers it, no call is paid.
    local_only: bool = False

    def to_json(self) -> dict[str, Any]:
        """The payload as plain data, in a stable shape (for parity artifacts)."""
        return {
            "messages": [{"role": m.role.value, "content": m.content} for m in self.messages],
            "digest": self.digest,
            "redactions": list(self.redactions),
        }


def _redacted(text: str, redactions: list[str]) -> str:
    """`text` redacted, its rules added to `redactions`."""
    clean, found = redact(text)
    redactions += found
    return clean


def _digest(messages: tuple[Message, ...]) -> str:
    canonical = json.dumps(
        [[m.role.value, m.content] for m in messages], ensure_ascii=False, separators=(",", ":")
    )
    return blake3(canonical.encode("utf-8")).hexdigest()


def fill_template(template: str, values: Mapping[str, object]) -> str:
    """A prompt template with its `{path}`, `{node_type}` and `{file_size}` filled in.

    Only those exact names are filled: an attribute or index (`{path.upper}`,
    `{path[0]}`) or any other name is refused, so that a prompt never carries
    what a template reached into.
    """
    try:
        for _, name, _, _ in string.Formatter().parse(template):
            if name is not None and name not in values:
                known = ", ".join("{" + key + "}" for key in values)
                raise ValueError(f"unknown placeholder {{{name}}}; known: {known}")
        return template.format_map(values)
    except (KeyError, ValueError, IndexError, AttributeError) as error:
        raise PromptError(
            "template",
            f"the prompt template cannot be filled: {error}",
            hint="run `merkle agent validate` and fix the template",
        ) from error


def _decode(data: bytes, *, cut: bool) -> str | None:
    """`data` as text, or None for binary or non-UTF-8 content."""
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        # A cut may split the last character: drop its first bytes, nothing else.
        if cut and error.start >= len(data) - 3:
            return data[: error.start].decode("utf-8", "strict")
        return None


class PromptBuilder:
    """Renders prompts for one workspace, reading its files and its stored frames."""

    def __init__(
        self,
        *,
        workspace_root: Path,
        nodes: NodeRepository,
        frames: FrameRepository,
        file_budget_bytes: int,
        allow_hardlinks: bool = False,
        local_only: Sequence[str] = (),
    ) -> None:
        self._root = Path(os.path.realpath(workspace_root))
        self._nodes = nodes
        self._frames = frames
        self._budget = file_budget_bytes
        self._allow_hardlinks = allow_hardlinks
        self._local_only = [p for p in map(parse_pattern, local_only) if p is not None]
        self._surroundings = Surroundings(nodes)

    def build(
        self,
        request: FrameRequest,
        agent: AgentProfile,
        budget: PromptBudget | None = None,
        parts: Sequence[PartSummary] | None = None,
    ) -> PromptPayload:
        """The system and user messages for `request`, written as `agent`, within
        `budget` (the model's window less its answer).

        A directory whose entries do not fit raises `PartsNeeded` with the part
        prompts to summarise first; built again with their `parts`, it is written
        from those (or asks for parts of the parts).
        """
        budget = budget or PromptBudget()
        record = self._nodes.get(request.node_id)
        if record is None:
            raise PromptError(
                "unknown_node",
                f"{request.path}: node {request.node_id} is not stored",
                hint="run `merkle scan`, then generate again",
            )
        redactions: list[str] = []
        sources: list[tuple[str, str]] = []
        is_file = record.node_type is NodeType.FILE
        values = {
            "path": _redacted(record.path, redactions),
            "node_type": record.node_type.value,
            "file_size": record.size_bytes,
        }
        template = agent.user_prompt_file if is_file else agent.user_prompt_directory
        # The agent's prompts may come from files: they are redacted like content.
        system = _redacted(agent.system_prompt, redactions)
        instructions = [_redacted(fill_template(template, values), redactions)]
        if agent.response_template:
            instructions.append(_redacted(agent.response_template, redactions))
        head = "\n\n".join(instructions)
        room = budget.content_tokens(estimate_tokens(system) + estimate_tokens(head))
        if room < budget.min_content_tokens:
            raise _no_room(record.path, budget, room)
        if is_file:
            blocks, readable = self._file_blocks(record, redactions, room)
            offline = not readable or decide(self._local_only, record.path, is_dir=False)
        else:
            blocks = self._directory_blocks(
                record,
                request,
                redactions,
                sources,
                room,
                parts=parts,
                system=system,
                budget=budget,
            )
            offline = False
        # Instructions first: a server that cuts a long prompt cuts content, not the task.
        user = head + "\n\n" + "\n\n".join(blocks)
        messages = (
            Message(role=Role.SYSTEM, content=system),
            Message(role=Role.USER, content=user),
        )
        return PromptPayload(
            messages=messages,
            digest=_digest(messages),
            redactions=tuple(redactions),
            sources=tuple(sources),
            local_only=bool(offline),
        )

    # -- a file: its text ------------------------------------------------------------

    def _file_blocks(
        self, record: NodeRecord, redactions: list[str], room: int
    ) -> tuple[list[str], bool]:
        """The file's block, and whether it holds text a model can read."""
        if is_builtin_ignored(name_of(record.path), is_dir=False):
            raise PromptError(
                "secret_file",
                f"{record.path} looks like a secret and is never read into a prompt",
            )
        shown_path = _redacted(record.path, redactions)
        head, total, links = self._read_verified(record)
        if links > 1 and not self._allow_hardlinks:
            # The same content may be a file outside the workspace under another name.
            why = f"it has {links} hard links, so its content may live outside the workspace"
            return [file_block(shown_path, f"[not shown: {why}]", withheld=why)], False
        text = _decode(head, cut=total > len(head))
        if text is None:
            placeholder = f"[binary or non-UTF-8 file, {total:,} bytes, not shown]"
            block = file_block(shown_path, placeholder, binary="true", size_bytes=str(total))
            return [block], False
        # Redact before cutting: a secret the cut split would no longer be recognised.
        text, found = redact(text, path=record.path)
        redactions += found
        around = [self._surroundings_block(record.path, shown_path, redactions, room)]
        around = [block for block in around if block]
        block_tokens = sum(estimate_tokens(b) + 1 for b in around)
        block_tokens += estimate_tokens(file_block(shown_path, ""))
        fit = Fit(tokens=room - block_tokens, max_bytes=self._budget)
        complete = len(head) == total
        text = cut_to_fit(text, path=record.path, fit=fit, total_bytes=total, complete=complete)
        return [*around, file_block(shown_path, text)], True

    def _surroundings_block(
        self, path: str, shown_path: str, redactions: list[str], room: int
    ) -> str:
        """The file's surroundings, or nothing when there are none to speak of or they
        would take more than a tenth of the room its text has."""
        text = _redacted(self._surroundings.of(path), redactions)
        if not text:
            return ""
        block = surroundings_block(shown_path, text)
        return block if estimate_tokens(block) * _SURROUNDINGS_SHARE <= room else ""

    def _read_verified(self, record: NodeRecord) -> tuple[bytes, int, int]:
        """The first `budget` bytes of the file, its size and its number of hard links,
        after checking that the whole file still hashes to the scanned content."""
        absolute = on_disk(str(self._root), record.path)
        if os.path.realpath(absolute) != absolute:
            raise PromptError(
                "outside_workspace", f"{record.path} is reached through a link; not read"
            )
        hasher = blake3()
        head = bytearray()
        try:
            fd = os.open(absolute, _OPEN_FLAGS | os.O_NONBLOCK)
        except OSError as error:
            raise self._changed(record, f"cannot open it ({error.strerror})") from error
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise self._changed(record, "it is no longer a regular file")
            # A margin past the budget lets redaction see a secret the cut splits.
            keep = max(self._budget + _REDACTION_MARGIN_BYTES, _READ_BYTES)
            while chunk := handle.read(CHUNK_BYTES):
                hasher.update(chunk)
                if len(head) < keep:
                    head += chunk[: keep - len(head)]
            total = handle.tell()
        if hasher.hexdigest() != record.content_hash:
            raise self._changed(record, "its content differs from the scanned one")
        return bytes(head), total, info.st_nlink

    @staticmethod
    def _changed(record: NodeRecord, why: str) -> PromptError:
        return PromptError(
            "stale_node",
            f"{record.path} changed since the scan: {why}",
            hint="run `merkle scan`, then generate again",
        )

    # -- a directory: its children's frames --------------------------------------------

    def _directory_blocks(
        self,
        record: NodeRecord,
        request: FrameRequest,
        redactions: list[str],
        sources: list[tuple[str, str]],
        room: int,
        *,
        parts: Sequence[PartSummary] | None,
        system: str,
        budget: PromptBudget,
    ) -> list[str]:
        """Every child's block within `room`, or else the blocks of `parts`; raises
        `PartsNeeded` when neither fits."""
        shown = _redacted(record.path, redactions)
        if not record.children:
            return [directory_block(shown, "(empty directory)", children="0")]
        children = self._children(record, request, redactions, sources)
        blocks = fit_children(children, room)
        if blocks is None:
            blocks = _from_parts(shown, len(children), parts, room)
        if blocks is None:
            items = _children_or_parts(children, shown, parts)
            raise PartsNeeded(record.path, _part_prompts(shown, items, system, budget))
        return blocks

    def _children(
        self,
        record: NodeRecord,
        request: FrameRequest,
        redactions: list[str],
        sources: list[tuple[str, str]],
    ) -> list[Child]:
        """Each child's path, type and head frame, redacted; its frame id in `sources`."""
        children = []
        for name, child_id in record.children:
            child = self._nodes.get(child_id)
            key = FrameKey(child_id, request.agent_id, request.frame_type)
            frame = self._frames.head_frame(key)
            child_path = child.path if child is not None else f"{record.path}/{name}"
            if child is None or frame is None:
                raise PromptError(
                    "missing_child_frame",
                    f"{record.path}: child {child_path} has no {request.frame_type} frame"
                    f" of agent {request.agent_id}",
                    hint=f"generate {child_path} first (a recursive generate orders"
                    " children before their directory)",
                )
            content, found = redact(frame.content)
            redactions += found
            children.append((_redacted(child.path, redactions), child.node_type.value, content))
            sources.append((name, frame.frame_id))
        return children


def _from_parts(
    path: str, total: int, parts: Sequence[PartSummary] | None, room: int
) -> list[str] | None:
    """A directory's blocks written from its parts' summaries, if they fit."""
    if not parts:
        return None
    note = directory_block(
        path,
        f"This directory has {total:,} entries, too many for one prompt: below are"
        f" {len(parts):,} summaries, each of a run of them in path order.",
        children=str(total),
        parts=str(len(parts)),
    )
    blocks = fit_children(as_items(path, parts), room - estimate_tokens(note) - 1)
    return None if blocks is None else [note, *blocks]


def _children_or_parts(
    children: list[Child], path: str, parts: Sequence[PartSummary] | None
) -> list[tuple[Child, int]]:
    """What the next parts are made of, each with how many entries it covers."""
    if parts:
        return list(zip(as_items(path, parts), (part.count for part in parts), strict=True))
    return [(child, 1) for child in children]


def _part_prompts(
    path: str, items: list[tuple[Child, int]], system: str, budget: PromptBudget
) -> list[PartPrompt]:
    total = sum(count for _, count in items)
    # The instructions name two entries and some numbers: room for long ones.
    fixed = estimate_tokens(system) + estimate_tokens(PART_INSTRUCTIONS) + 3 * 64
    room = budget.content_tokens(fixed)
    entries = [item for item, _ in items]
    runs = groups(entries, room)
    prompts = []
    for index, run in enumerate(runs):
        group = entries[run.start : run.stop]
        blocks = fit_children(group, room)
        if blocks is None:
            raise _no_room(path, budget, room)
        first, last = span_of(group)
        count = sum(count for _, count in items[run.start : run.stop])
        values = {"path": path, "total": total, "count": count, "first": first, "last": last}
        instructions = PART_INSTRUCTIONS.format(**values, index=index + 1, parts=len(runs))
        messages = (
            Message(role=Role.SYSTEM, content=system),
            Message(role=Role.USER, content=instructions + "\n\n" + "\n\n".join(blocks)),
        )
        digest = _digest(messages)
        prompts.append(
            PartPrompt(messages=messages, digest=digest, first=first, last=last, count=count)
        )
    return prompts


def _no_room(path: str, budget: PromptBudget, room: int) -> PromptError:
    return PromptError(
        "context_length",
        f"{path}: the model's {budget.window_tokens:,}-token window leaves {max(room, 0):,}"
        f" tokens for content after the system prompt, the instructions and the"
        f" {budget.answer_tokens:,}-token answer",
        hint="raise the provider's context_window_tokens if the model has more, lower"
        " max_tokens, or shorten the agent's prompts",
    )
