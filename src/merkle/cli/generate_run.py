"""The work behind `merkle context generate`: options, plan, run, report, through the app.

Kept apart from the command's declaration so that other commands do not pay
for importing the queue, the orchestrator and asyncio at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from merkle.app import MerkleApp
from merkle.cli.output import CliState, counted, print_json, render_warnings, reporting
from merkle.cli.session import command_session
from merkle.cli.signals import interrupted_exit_code
from merkle.context.generation.orchestrator import GenerationResult
from merkle.context.generation.plan import FailurePolicy, GenerationPlan
from merkle.context.generation.planner import PlanOutcome
from merkle.context.queue import Priority
from merkle.errors import UsageError
from merkle.store import NodeType
from merkle.telemetry.bus import EventBus


def _run(
    state: CliState, app: MerkleApp, plan: GenerationPlan, bus: EventBus, json_output: bool
) -> GenerationResult:
    if state.show_progress and not json_output:
        from merkle.cli.generate_progress import GenerateProgress  # deferred: Rich

        with GenerateProgress(state.err, total=plan.total_nodes, levels=plan.total_levels) as bar:
            bus.subscribe(lambda event: bar.emit(event.type, event.data))
            return app.run(plan, sink=bus)
    return app.run(plan, sink=bus)


def _report(
    state: CliState, outcome: PlanOutcome, result: GenerationResult | None, session_id: str
) -> None:
    if result is None:
        target, skipped = outcome.target, len(outcome.skipped)
        kind = "the directory " if target.node_type is NodeType.DIRECTORY else ""
        if skipped <= 1:
            state.echo(f"Nothing to do: {kind}{target.path} already has a frame.")
        else:
            state.echo(
                f"Nothing to do: {kind}{target.path} and the {counted(skipped - 1, 'node')}"
                " below it already have frames (pass --force to regenerate)."
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


def _document(
    outcome: PlanOutcome, result: GenerationResult | None, session_id: str, *, list_skipped: bool
) -> dict[str, Any]:
    """The `--json` answer: one shape whether or not there was work; the skipped paths
    only when asked for (a whole tree of them otherwise)."""
    document = (result or GenerationResult(plan_id="")).to_json()
    document["plan_id"] = result.plan_id if result is not None else None
    document["total_skipped"] = len(outcome.skipped)
    if list_skipped:
        document["skipped"] = list(outcome.skipped)
    return {**document, "target_path": outcome.target.path, "session_id": session_id}


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
        with (
            state.app() as app,
            command_session(
                state, app, command, {"arguments": arguments}, retention=app.settings.sessions
            ) as bus,
        ):
            _generate(state, app, bus, json_output=json_output, **given)


def _generate(
    state: CliState,
    app: MerkleApp,
    bus: EventBus,
    *,
    json_output: bool,
    path: str | None,
    path_option: str | None,
    node: str | None,
    no_recursive: bool,
    failure_policy: str,
    priority: str,
    list_skipped: bool,
    no_scan: bool,
    replace_provider: str | None,
    **given: Any,
) -> None:
    if not no_scan:
        scanned = app.scan(sink=bus)
        render_warnings(state, [(w.path, w.message) for w in scanned.warnings])
    options = app.generate_options(
        replace_provider=replace_provider or app.settings.generation.replace_provider,
        path=path if path is not None else path_option,
        node=node,
        recursive=not no_recursive,
        failure_policy=FailurePolicy(failure_policy),
        priority=Priority[priority.upper()],
        session_id=bus.session_id,
        **given,
    )
    outcome = app.plan(options, cwd=Path.cwd(), sink=bus)
    result = None
    if outcome.plan is not None:
        try:
            result = _run(state, app, outcome.plan, bus, json_output)
        except KeyboardInterrupt:
            state.info(
                "interrupted: every finished frame is kept; run the same command again"
                " to generate the rest"
            )
            raise typer.Exit(interrupted_exit_code()) from None
    if json_output:
        print_json(_document(outcome, result, bus.session_id, list_skipped=list_skipped))
    else:
        _report(state, outcome, result, bus.session_id)
    if result is not None and (result.total_failed or result.error):
        raise typer.Exit(1)
