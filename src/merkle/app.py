"""MerkleApp: the one composition root.

It opens the store backend and holds the configuration, builds the agent and
provider registries and the generation pipeline, and offers the operations
the command line, the monitor, benches and tests call: scan, status and
validation, planning and running a generation, reads and the manual write,
sessions. Wiring that would be copied into a second place is a missing
method here.

The generation machinery (asyncio, the queue and its contract, the
orchestrator, the frame writer) is imported by the methods that run it: most
commands never need it, and importing it costs more than a no-change rescan.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from merkle.agents import AgentProfile, AgentRegistry
from merkle.config import Settings, load_settings, user_config_path
from merkle.context.api import ContextApi, ContextRead, FrameDraft, PutResult
from merkle.errors import UsageError, local_only_refusal
from merkle.metadata import Source, build_metadata
from merkle.metadata.redaction import redact
from merkle.providers.registry import ProviderRegistry
from merkle.store import (
    EgressRow,
    Frame,
    FrameKey,
    NodeRecord,
    NodeType,
    StorageBackend,
    open_store,
    sqlite_url,
)
from merkle.telemetry.bus import EventBus, MemoryRecorder
from merkle.telemetry.model import new_session_id
from merkle.telemetry.reader import PruneResult, SessionReader
from merkle.telemetry.sink import EventSink
from merkle.telemetry.writer import SessionWriter
from merkle.tree.paths import canonicalise, on_disk
from merkle.workspace.init import InitResult, init_workspace
from merkle.workspace.layout import Workspace, locate
from merkle.workspace.scan import ScanProgress, ScanResult, scan_workspace
from merkle.workspace.status import StatusReport, workspace_status
from merkle.workspace.validate import ValidationReport, validate_workspace

if TYPE_CHECKING:
    from merkle.context.generation.frame_writer import FrameWriter, GenerationDeps
    from merkle.context.generation.orchestrator import GenerationResult
    from merkle.context.generation.plan import GenerationPlan
    from merkle.context.generation.planner import GenerateOptions, PlanOutcome
    from merkle.context.queue import AgentLimits, FrameGenerator, QueueSettings
    from merkle.context.queue.queue import FrameGenerationQueue


@lru_cache(maxsize=8192)
def scrub_text(text: str) -> str:
    """`text` with anything that looks like a credential redacted (for events).

    Cached: events repeat the same paths, ids and names many times over.
    """
    return redact(text, thorough=False)[0]


def agent_limits(agents: Iterable[AgentProfile]) -> dict[str, AgentLimits]:
    """Each agent's concurrency and start-interval limits, as the queue enforces them."""
    from merkle.context.queue import AgentLimits, min_interval_s  # deferred: see above

    return {
        agent.agent_id: AgentLimits(
            max_concurrent=agent.max_concurrent,
            min_interval_ns=int(
                min_interval_s(
                    requests_per_minute=agent.requests_per_minute,
                    min_interval_s=agent.min_interval_s,
                )
                * 1e9
            ),
        )
        for agent in agents
    }


@dataclass(frozen=True, slots=True)
class SessionRecording:
    """A session being recorded: its writer (None when the store cannot take it) and
    the bus its services emit to."""

    writer: SessionWriter | None
    bus: EventBus


class MerkleApp:
    """A workspace with its configuration and store: everything a command does."""

    def __init__(
        self,
        workspace: Workspace,
        settings: Settings,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self.agents = AgentRegistry(settings.agents)
        self.providers = ProviderRegistry(settings.providers)
        self.store_url = settings.store.url or sqlite_url(workspace.database_path)
        self._clock_ns = clock_ns
        self._store: StorageBackend | None = None

    @classmethod
    def open(
        cls,
        start: Path | None = None,
        *,
        cwd: Path | None = None,
        flags: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> MerkleApp:
        """The app of the workspace at or above `start` (or the current directory),
        with its configuration loaded: workspace file, user file, environment, `flags`."""
        workspace = locate(start, cwd=cwd or Path.cwd())
        return cls(workspace, cls.load_settings(workspace, flags=flags, environ=environ))

    @staticmethod
    def load_settings(
        workspace: Workspace | None,
        *,
        flags: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """The configuration of `workspace` (or of no workspace); the agents are checked
        at once, so that an incomplete agent is reported by any command."""
        settings = load_settings(
            workspace_config=workspace.config_path if workspace else None,
            workspace_root=workspace.root if workspace else None,
            user_config=user_config_path(),
            environ=environ,
            flags={key: value for key, value in (flags or {}).items() if value is not None},
        )
        AgentRegistry(settings.agents)
        return settings

    @staticmethod
    def init(root: Path) -> InitResult:
        """Make `root` a workspace (idempotent): `.merkle/`, its configuration and store."""
        return init_workspace(root)

    # -- the store -------------------------------------------------------------------

    def connect(self) -> StorageBackend:
        """A new connection to the store, for a thread or a component of its own."""
        return open_store(self.store_url)

    @property
    def store(self) -> StorageBackend:
        """The app's own connection, opened on first use (for the calling thread)."""
        if self._store is None:
            self._store = self.connect()
        return self._store

    @property
    def context(self) -> ContextApi:
        """The write boundary and read side over the app's connection."""
        return ContextApi(self.store, clock_ns=self._clock_ns)

    def close(self) -> None:
        """Close the app's connection; idempotent."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> MerkleApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the workspace -----------------------------------------------------------------

    def scan(
        self, *, progress: ScanProgress | None = None, sink: EventSink | None = None
    ) -> ScanResult:
        """Scan the workspace and store its tree (only files whose stat changed are read)."""
        return scan_workspace(self.workspace, self.store, progress=progress, sink=sink)

    def status(self) -> StatusReport:
        """The last scan, and what changed on disk since (stat only)."""
        return workspace_status(self.workspace, self.store)

    def validate(self) -> ValidationReport:
        """Re-derive every stored id and check that the tree links up."""
        return validate_workspace(self.store)

    # -- reading and writing frames ------------------------------------------------------

    def node(self, path: str | None = None, *, node: str | None = None, cwd: Path) -> NodeRecord:
        """The current tree's node at `path` (relative to `cwd`), or with the id `node`."""
        if (path is None) == (node is None):
            raise UsageError("give a PATH or --node ID, not both", hint="see --help")
        if node is not None:
            return self.context.node(node)
        assert path is not None
        return self.context.node_at(canonicalise(self.workspace.root, path, cwd=cwd))

    def read(self, record: NodeRecord) -> ContextRead | None:
        """The frame of `record` for the configured agent and frame type, and whether it
        is stale: in the store's eyes, or because the disk changed since the scan."""
        read = self.context.read(record, self.settings.agent, self.settings.frame_type)
        if read is None or read.stale:
            return read
        changed = self._changed_on_disk(record)
        return dataclasses.replace(read, stale_reason=changed) if changed else read

    def _changed_on_disk(self, record: NodeRecord) -> str | None:
        """Why the disk no longer holds what the scan saw at `record`, by stat alone."""
        entry = self.store.nodes.entry(record.path)
        try:
            info = os.lstat(on_disk(str(self.workspace.root), record.path))
        except OSError:
            return "it is gone from the disk since the last scan"
        if entry is None or (info.st_size, info.st_mtime_ns, info.st_ino) == (
            entry.size_bytes if record.node_type is NodeType.FILE else info.st_size,
            entry.mtime_ns,
            entry.inode,
        ):
            return None
        if record.node_type is NodeType.FILE:
            return "the file changed on disk since the last scan"
        return "entries were added or removed since the last scan"

    def history(self, record: NodeRecord) -> list[Frame]:
        """Every frame of `record`'s path for the configured agent and type, newest first."""
        return self.context.history(record.path, self.settings.agent, self.settings.frame_type)

    def put(self, path: str, content: str, *, cwd: Path) -> tuple[NodeRecord, PutResult]:
        """Write a frame by hand for `path`, as the configured (writer) agent."""
        agent = self.agents.writer(self.settings.agent).agent_id
        record = self.context.node_at(canonicalise(self.workspace.root, path, cwd=cwd))
        metadata = build_metadata(
            agent_id=agent, frame_type=self.settings.frame_type, source=Source.MANUAL
        )
        draft = FrameDraft(
            key=FrameKey(record.node_id, agent, self.settings.frame_type),
            content=content,
            metadata=metadata,
        )
        return record, self.context.put_frame(draft)

    # -- generation --------------------------------------------------------------------

    def generate_options(
        self,
        *,
        agent: str | None = None,
        provider: str | None = None,
        frame_type: str | None = None,
        **given: Any,
    ) -> GenerateOptions:
        """What a generation asked for, resolved: a writer agent, a known provider, the
        frame type (flags, then the agent's own, then the configured defaults)."""
        from merkle.context.generation.planner import GenerateOptions  # deferred: see above

        profile = self.agents.writer(agent or self.settings.agent)
        provider_name = provider or profile.provider or self.settings.provider
        chosen = self.providers.settings(provider_name)  # unknown names fail here, before any work
        if self.settings.security.local_only and chosen.type != "local":
            raise local_only_refusal(provider_name)
        return GenerateOptions(
            agent_id=profile.agent_id,
            provider_name=provider_name,
            frame_type=frame_type or profile.frame_type or self.settings.frame_type,
            **given,
        )

    def plan(
        self, options: GenerateOptions, *, cwd: Path, sink: EventSink | None = None
    ) -> PlanOutcome:
        """The generation plan for `options` (None in it when there is nothing to do)."""
        from merkle.context.generation.planner import ContextGenerate  # deferred: see above

        planner = ContextGenerate(self.store, workspace_root=self.workspace.root, sink=sink)
        return planner.plan(options, cwd=cwd)

    def queue_settings(self, **changes: Any) -> QueueSettings:
        """The queue's settings from the configuration, with `changes` over them."""
        from merkle.context.queue import QueueSettings, RetrySettings  # deferred: see above

        values: dict[str, Any] = {
            "max_live": self.settings.generation.queue_max_size,
            "retry": RetrySettings(
                max_attempts=self.settings.generation.max_attempts,
                retry_budget_s=self.settings.generation.retry_budget_s,
                max_retry_after_s=self.settings.generation.max_retry_after_s,
            ),
        }
        return QueueSettings(**{**values, **changes})

    def new_generation_deps(self, store: StorageBackend) -> GenerationDeps:
        """What the generation units read, over `store`; the caller closes the providers
        they build (`aclose`, in the event loop that used them)."""
        from merkle.context.generation.frame_writer import GenerationDeps  # deferred: see above

        return GenerationDeps(
            workspace_root=self.workspace.root,
            store=store,
            agents=self.agents,
            providers=self.providers,
            settings=self.settings.generation,
            local_only=self.settings.security.local_only,
        )

    @asynccontextmanager
    async def generation_deps(self) -> AsyncIterator[GenerationDeps]:
        """`new_generation_deps` over a store connection of its own; the providers they
        built are closed on exit, in the event loop that used them."""
        deps = self.new_generation_deps(self.connect())
        try:
            yield deps
        finally:
            try:
                await deps.aclose()
            finally:
                deps.store.close()

    @asynccontextmanager
    async def frame_writer(self, *, sink: EventSink | None = None) -> AsyncIterator[FrameWriter]:
        """The generation units (the worker's `FrameGenerator`) over `generation_deps`."""
        from merkle.context.generation.frame_writer import FrameWriter  # deferred: see above

        async with self.generation_deps() as deps:
            yield FrameWriter(deps, sink=sink)

    def queue(
        self,
        generator: FrameGenerator,
        *,
        sink: EventSink | None = None,
        settings: QueueSettings | None = None,
        limits: Mapping[str, AgentLimits] | None = None,
        clock_ns: Callable[[], int] | None = None,
        rng: random.Random | None = None,
    ) -> FrameGenerationQueue:
        """This process's queue over the store, calling `generator`, not started yet (use
        it with `async with`). `limits` default to the agents' configured ones."""
        from merkle.context.queue.queue import FrameGenerationQueue  # deferred: see above

        return FrameGenerationQueue(
            self.connect,
            generator,
            limits=agent_limits(self.agents.all()) if limits is None else limits,
            settings=settings or self.queue_settings(),
            sink=sink,
            clock_ns=clock_ns or self._clock_ns,
            rng=rng,
        )

    @asynccontextmanager
    async def running_queue(
        self,
        generator: FrameGenerator,
        *,
        sink: EventSink | None = None,
        settings: QueueSettings | None = None,
        limits: Mapping[str, AgentLimits] | None = None,
        clock_ns: Callable[[], int] | None = None,
        rng: random.Random | None = None,
    ) -> AsyncIterator[FrameGenerationQueue]:
        """`queue`, started; stopped on exit (as interrupted when the block is cancelled
        or interrupted)."""
        queue = self.queue(
            generator, sink=sink, settings=settings, limits=limits, clock_ns=clock_ns, rng=rng
        )
        async with queue:
            yield queue

    async def execute(
        self, plan: GenerationPlan, *, sink: EventSink | None = None
    ) -> GenerationResult:
        """Run `plan` through the queue and the generation units of this process."""
        from merkle.context.generation.orchestrator import GenerationOrchestrator

        async with (
            self.frame_writer(sink=sink) as writer,
            self.running_queue(writer, sink=sink) as queue,
        ):
            await writer.prepare(plan.levels[0][0].provider_name)
            return await GenerationOrchestrator(queue, sink).execute(plan)

    def run(self, plan: GenerationPlan, *, sink: EventSink | None = None) -> GenerationResult:
        """`execute` in an event loop of its own (for callers that are not async)."""
        import asyncio  # deferred: see above

        return asyncio.run(self.execute(plan, sink=sink))

    # -- sessions ---------------------------------------------------------------------

    def sessions(self) -> SessionReader:
        """The recorded sessions and their events, over the app's connection."""
        return SessionReader(self.store, clock_ns=self._clock_ns)

    def record_session(self, command: str, data: Mapping[str, object]) -> SessionRecording:
        """Start recording a session of `command`; its writer has its own connection."""
        writer = SessionWriter(self.connect, command=command, scrub=scrub_text)
        writer.start(data)
        return SessionRecording(writer=writer, bus=EventBus(writer, scrub=scrub_text))

    @staticmethod
    def unrecorded_session() -> SessionRecording:
        """A bus for a run the store cannot record: events are numbered, then dropped."""
        recorder = MemoryRecorder(new_session_id(time.time_ns()), keep=False)
        return SessionRecording(writer=None, bus=EventBus(recorder, scrub=scrub_text))

    def prune_sessions(self, *, keep: int | None, older_than_s: float | None) -> PruneResult:
        """Delete completed sessions beyond the newest `keep` or older than `older_than_s`."""
        return self.sessions().prune(keep=keep, older_than_s=older_than_s)

    # -- the egress ledger --------------------------------------------------------------

    def egress(
        self,
        *,
        since_ns: int | None = None,
        path: str | None = None,
        provider: str | None = None,
        cwd: Path | None = None,
    ) -> list[EgressRow]:
        """What left for providers, oldest first: since `since_ns`, for nodes at or under
        `path` (as the user gave it), to `provider`."""
        shown = canonicalise(self.workspace.root, path, cwd=cwd) if path is not None else None
        return self.store.egress.rows(since_ns=since_ns, path=shown, provider=provider)

    def prune_egress(self) -> int:
        """Delete ledger rows older than `[egress] keep_days`; how many went."""
        keep_ns = int(self.settings.egress.keep_days * 86_400 * 1e9)
        return self.store.egress.prune(before_ns=self._clock_ns() - keep_ns)
