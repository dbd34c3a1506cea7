"""The configuration's values, as the rest of merkle sees them once loaded and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from merkle.config.defaults import DEFAULT_AGENT, DEFAULT_FRAME_TYPE, DEFAULT_PROVIDER


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSettings:
    """One configured provider.

    `api_key_env` names the environment variable that holds the API key; the
    key itself never appears in configuration. `origin` names the
    configuration source(s) that declared it.
    """

    name: str
    type: str
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 1024
    temperature: float | None = None
    # Tokens the model reads and writes in one call; None: known per model, or
    # conservative (`merkle.providers.windows`).
    context_window_tokens: int | None = None
    origin: str = "built-in"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSettings:
    """One agent as configured: every field left out keeps the built-in value.

    `origin` names the configuration source(s) that declared it.
    """

    agent_id: str
    role: str | None = None
    system_prompt: str | None = None
    user_prompt_file: str | None = None
    user_prompt_directory: str | None = None
    response_template: str | None = None
    provider: str | None = None
    frame_type: str | None = None
    max_concurrent: int | None = None
    requests_per_minute: float | None = None
    min_interval_s: float | None = None
    origin: str = "built-in"


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationSettings:
    """How generation runs: attempts per node and the time they may take, the size
    budget of a file's text, and how many requests the queue holds before it refuses
    more."""

    max_attempts: int = 12
    # Retries of a node stop this long after its first attempt, whatever is left.
    retry_budget_s: float = 900.0
    # A provider asking to wait longer than this (a daily quota) fails the node.
    max_retry_after_s: float = 300.0
    file_budget_bytes: int = 65_536
    queue_max_size: int = 10_000
    # A file with several hard links may share its content with a file outside the
    # workspace: its text is sent to providers only when this is true.
    allow_hardlinks: bool = False
    # Heads written by this provider count as missing: `generate` writes them again
    # (moving from the offline `local` provider to a real one).
    replace_provider: str | None = None
    # Files (gitignore patterns) summarised by the embedded provider, never sent: they
    # are added to `DEFAULT_LOCAL_ONLY`.
    local_only: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSettings:
    """How long the record of finished commands is kept: after each command, the
    completed sessions beyond the newest `keep`, or older than `max_age_days`, are
    deleted (running and interrupted ones never are)."""

    keep: int = 200
    max_age_days: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressSettings:
    """How long the egress ledger keeps what left the machine (apart from sessions)."""

    keep_days: float = 365.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SecuritySettings:
    """`local_only`: nothing is sent to any provider but the embedded one; a command
    that would send something fails closed before it does."""

    local_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    """Where the store is: `url` names it (None: the workspace's own SQLite file,
    `.merkle/merkle.db`)."""

    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The whole configuration after every source is applied (later sources win)."""

    agent: str
    provider: str
    frame_type: str
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    agents: Mapping[str, AgentSettings] = field(default_factory=dict)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    sessions: SessionSettings = field(default_factory=SessionSettings)
    egress: EgressSettings = field(default_factory=EgressSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    sources: tuple[str, ...] = ()

    @classmethod
    def defaults(cls) -> Settings:
        """The built-in configuration, as if no source set anything."""
        return cls(agent=DEFAULT_AGENT, provider=DEFAULT_PROVIDER, frame_type=DEFAULT_FRAME_TYPE)
