"""Agent profiles: the prompts and role an agent generates frames with."""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import Enum

PLACEHOLDERS = frozenset({"path", "node_type", "file_size"})


class AgentRole(Enum):
    """What an agent may do: a writer generates frames, a reader only reads them."""

    WRITER = "writer"
    READER = "reader"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentProfile:
    """One agent: its role, prompts, defaults and per-agent limits.

    `user_prompt_file` and `user_prompt_directory` are templates filled with
    `{path}`, `{node_type}` and `{file_size}`; `response_template`, if set, is
    appended to the user message as it is.
    """

    agent_id: str
    role: AgentRole
    system_prompt: str
    user_prompt_file: str
    user_prompt_directory: str
    response_template: str | None = None
    provider: str | None = None
    frame_type: str | None = None
    max_concurrent: int = 4
    requests_per_minute: float | None = None
    min_interval_s: float | None = None
    builtin: bool = False


def template_problems(name: str, template: str) -> list[str]:
    """What is wrong with a prompt template: malformed braces or unknown placeholders."""
    try:
        fields = [
            field for _, field, _, _ in string.Formatter().parse(template) if field is not None
        ]
    except ValueError as error:
        return [f"{name}: malformed template ({error}); write a literal brace as {{{{ or }}}}"]
    problems = []
    for field in fields:
        if field not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            problems.append(f"{name}: unknown placeholder {{{field}}}; known: {known}")
    return problems


def profile_problems(profile: AgentProfile) -> list[str]:
    """Everything that keeps an agent from working: missing prompts, bad templates."""
    problems = []
    for name in ("system_prompt", "user_prompt_file", "user_prompt_directory"):
        text = getattr(profile, name)
        if not text or not text.strip():
            problems.append(f"{name}: is missing")
        elif name != "system_prompt":
            problems += template_problems(name, text)
    if profile.max_concurrent < 1:
        problems.append("max_concurrent: must be at least 1")
    return problems
