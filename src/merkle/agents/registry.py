"""The agent registry: the built-in agents with the configured ones over them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from merkle.agents.builtin import BUILTIN_AGENTS
from merkle.agents.profile import AgentProfile, AgentRole
from merkle.config import AgentSettings
from merkle.errors import ConfigError, ReaderAgent, UsageError

_OVERRIDABLE = (
    "system_prompt",
    "user_prompt_file",
    "user_prompt_directory",
    "response_template",
    "provider",
    "frame_type",
    "max_concurrent",
    "requests_per_minute",
    "min_interval_s",
)


def _profile(settings: AgentSettings, base: AgentProfile | None) -> AgentProfile:
    values = {key: getattr(settings, key) for key in _OVERRIDABLE}
    changes = {key: value for key, value in values.items() if value is not None}
    if settings.role is not None:
        changes["role"] = AgentRole(settings.role)
    if base is not None:
        return replace(base, builtin=False, **changes)
    try:
        return AgentProfile(
            agent_id=settings.agent_id,
            role=changes.pop("role", AgentRole.WRITER),
            system_prompt=changes.pop("system_prompt"),
            user_prompt_file=changes.pop("user_prompt_file"),
            user_prompt_directory=changes.pop("user_prompt_directory"),
            **changes,
        )
    except KeyError as missing:
        raise ConfigError(
            f"{settings.origin}: agents.{settings.agent_id}.{missing.args[0]}:"
            " is required for a new agent",
            hint="give the prompt inline, or from a file with the key's _path variant",
        ) from None


class AgentRegistry:
    """Every agent by id: built-ins, overridden and extended by configuration."""

    def __init__(self, configured: Mapping[str, AgentSettings]) -> None:
        self._agents = dict(BUILTIN_AGENTS)
        for agent_id, settings in configured.items():
            self._agents[agent_id] = _profile(settings, BUILTIN_AGENTS.get(agent_id))

    def all(self) -> list[AgentProfile]:
        """Every agent, by id."""
        return [self._agents[agent_id] for agent_id in sorted(self._agents)]

    def get(self, agent_id: str) -> AgentProfile:
        """The agent with this id."""
        agent = self._agents.get(agent_id)
        if agent is None:
            known = ", ".join(sorted(self._agents))
            raise UsageError(
                f"unknown agent {agent_id}",
                hint=f"known agents: {known}; declare others under [agents.NAME] in config.toml",
            )
        return agent

    def writer(self, agent_id: str) -> AgentProfile:
        """The agent with this id, which must be a writer: only writers make frames."""
        agent = self.get(agent_id)
        if agent.role is not AgentRole.WRITER:
            raise ReaderAgent(
                f"agent {agent_id} is a reader: it may read frames, not write or generate them",
                hint='pass --agent with a writer agent, or set role = "writer" for it in'
                " .merkle/config.toml",
            )
        return agent
