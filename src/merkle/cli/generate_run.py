"""The work behind `merkle context generate`: options, plan, queue, orchestrator, report.

Kept apart from the command's declaration so that other commands do not pay
for importing the queue, the orchestrator and asyncio at start-up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from merkle.agents import AgentRegistry, AgentRole
from merkle.cli.output import CliState, print_json, reporting
from merkle.cli.session import command_session
from merkle.config import Settings
from merkle.context.generation.orchestrator import GenerationOrchestrator, GenerationResult
from merkle.context.generation.plan import FailurePolicy, GenerationPlan
from merkle.context.generation.run import ContextGenerate, GenerateOptions, PlanOutcome
from merkle.context.generation.units import FrameGenerator, GenerationDeps
from merkle.context.queue import EventSink, Priority, RetrySettings
from merkle.context.queue.queue import FrameGenerationQueue, QueueSettings, agent_limits
from merkle.errors import UsageError
from merkle.providers.registry import ProviderRegistry
from merkle.store import Database
from merkle.telemetry.bus import EventBus
from merkle.workspace.layout import Workspace


def _options(
    settings: Settings, registry: AgentRegistry, providers: ProviderRegistry, **given: Any
) -> GenerateOptions:
    agent = registry.get(given.pop("agent") or settings.agent)
    if agent.role is not AgentRole.WRITER:
        raise UsageError(
            f"agent {agent.agent_id} is a reader: it may not generate frames",
            hint="pass --agent with a writer agent",
        )
    provider = given.pop("provider") or agent.provider or settings.provider
    providers.settings(provider)  # unknown names fail here, before any work
    frame_type = given.pop("frame_type") or agent.frame_type or settings.frame_type
    return GenerateOptions(
        agent_id=agent.agent_id, provider_name=provider, frame_type=frame_type, **given
    )


async def _execute(
    workspace: Workspace,
    settings: Settings,
    agents: AgentRegistry,
    providers: ProviderRegistry,
    plan: GenerationPlan,
    sink: EventSink,
) -> GenerationResult:
    database = Database.open(workspace.database_path)
    deps = GenerationDeps(
        workspace_root=workspace.root,
        database=database,
        agents=agents,
        providers=providers,
        settings=settings.generation,
    )
    queue = FrameGenerationQueue(
        workspace.database_path,
        FrameGenerator(deps),
        limits=agent_limits(agents.all()),
        settings=QueueSettings(
            max_live=settings.generation.queue_max_size,
            retry=RetrySettings(max_attempts=settings.generation.max_attempts),
        ),
        sink=sink,
    )
    try:
        async with queue:
            await deps.prepare(plan.levels[0][0].provider_name)
            return await GenerationOrchestrator(queue, sink).execute(plan)
    finally:
        await deps.aclose()
        database.close()


def _run(
    state: CliState,
    workspace: Workspace,
    settings: Settings,
    agents: AgentRegistry,
    providers: ProviderRegistry,
    plan: GenerationPlan,
    bus: EventBus,
    json_output: bool,
) -> GenerationResult:
    if state.show_progress and not json_output:
        from merkle.cli.generate_progress import GenerateProgress  # deferred: Rich

        with GenerateProgress(state.err, total=plan.total_nodes, levels=plan.total_levels) as bar:
            bus.subscribe(lambda event: bar.emit(event.type, event.data))
            return asyncio.run(_execute(workspace, settings, agents, providers, plan, bus))
    return asyncio.run(_execute(workspace, settings, agents, providers, plan, bus))


def _report(
    state: CliState, outcome: PlanOutcome, result: GenerationResult | None, session_id: str
) -> None:
    if result is None:
        state.echo(
            f"Nothing to do: {outcome.target.path} and its {len(outcome.skipped)} node(s)"
            " already have frames (pass --force to regenerate)."
        )
        return
    state.echo(
        f"generated {result.total_generated}, failed {result.total_failed},"
        f" skipped {len(outcome.skipped)} (already had frames)"
    )
    for failure in result.failures.values():
        state.echo(f"  failed  {failure.path}: {failure.error_class}: {failure.message}")
    if result.error:
        state.echo(f"stopped: {result.error}")
    state.echo(f"session  {session_id}")


def run_generate(state: CliState, *, json_output: bool, **given: Any) -> None:
    """Plan and run a generation for the command line, in its own session; exits 1
    when a node failed."""
    regenerate = given["force"] and given["no_recursive"]
    command = "context regenerate" if regenerate else "context generate"
    arguments = {key: value for key, value in given.items() if value not in (None, False)}
    # An error inside the session is recorded by it, then reported here.
    with reporting(state, json_output=json_output):
        if sum(given[key] is not None for key in ("path", "path_option", "node")) > 1:
            raise UsageError("give one of PATH, --path and --node", hint="see --help")
        workspace = state.locate()
        settings = state.settings(workspace)
        with command_session(
            state, workspace, command, {"arguments": arguments}, retention=settings.sessions
        ) as bus:
            _generate(state, workspace, settings, bus, json_output=json_output, **given)


def _generate(
    state: CliState,
    workspace: Workspace,
    settings: Settings,
    bus: EventBus,
    *,
    json_output: bool,
    path: str | None,
    path_option: str | None,
    node: str | None,
    no_recursive: bool,
    failure_policy: str,
    priority: str,
    **given: Any,
) -> None:
    agents, providers = AgentRegistry(settings.agents), ProviderRegistry(settings.providers)
    options = _options(
        settings,
        agents,
        providers,
        path=path if path is not None else path_option,
        node=node,
        recursive=not no_recursive,
        failure_policy=FailurePolicy(failure_policy),
        priority=Priority[priority.upper()],
        session_id=bus.session_id,
        **given,
    )
    with Database.open(workspace.database_path) as database:
        outcome = ContextGenerate(database, workspace_root=workspace.root, sink=bus).plan(
            options, cwd=Path.cwd()
        )
    result = None
    if outcome.plan is not None:
        try:
            result = _run(
                state, workspace, settings, agents, providers, outcome.plan, bus, json_output
            )
        except KeyboardInterrupt:
            state.info(
                "interrupted: every finished frame is kept; run the same command again"
                " to generate the rest"
            )
            raise typer.Exit(130) from None
    if json_output:
        payload = result.to_json() if result is not None else {"plan_id": None}
        print_json(
            {
                **payload,
                "target_path": outcome.target.path,
                "skipped": list(outcome.skipped),
                "session_id": bus.session_id,
            }
        )
    else:
        _report(state, outcome, result, bus.session_id)
    if result is not None and (result.total_failed or result.error):
        raise typer.Exit(1)
