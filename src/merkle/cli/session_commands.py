"""`merkle sessions list|show|prune` and `merkle tui`: what commands did, from the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from merkle.cli.output import JSON_OPTION, CliState, counted, print_json, reporting, state_of
from merkle.cli.signals import interrupted_exit_code
from merkle.errors import UsageError
from merkle.telemetry.model import Event
from merkle.telemetry.reader import SessionInfo, SessionReader
from merkle.telemetry.state import SessionState

sessions_app = typer.Typer(
    help="List, show and prune the sessions that commands record.", no_args_is_help=True
)

_DURATION = re.compile(r"\A(\d+(?:\.\d+)?)([smhd])\Z")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@contextmanager
def _reader(state: CliState) -> Iterator[SessionReader]:
    with state.app(lenient=True) as app:
        yield app.sessions()


def _status(info: SessionInfo) -> str:
    return f"{info.status.value} ({info.outcome})" if info.outcome else info.status.value


@sessions_app.command("list")
def list_sessions(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many, newest first."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List the recorded sessions, newest first."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output), _reader(state) as reader:
        sessions = reader.sessions(limit=limit)
    if json_output:
        print_json({"sessions": [info.to_json() for info in sessions]})
        return
    if not sessions:
        state.echo("No sessions yet: `merkle scan` and `merkle context generate` record them.")
        return
    state.echo(f"{'session':<27} {'command':<20} {'status':<24} {'started':<24} events")
    for info in sessions:
        state.echo(
            f"{info.session_id:<27} {info.command:<20} {_status(info):<24}"
            f" {info.started_at:<24} {info.events}"
        )


def _summary(replayed: SessionState) -> dict[str, Any]:
    return {
        "plan": replayed.plan or None,
        "levels": [
            {"level": lv.index, "total": lv.total, "done": lv.done, "failed": lv.failed}
            for lv in replayed.levels
        ],
        "nodes": replayed.status_counts(),
        "skipped": replayed.skipped,
        "latency_ms": replayed.latency_summary(),
        "retries": len(replayed.retries),
        "failures": [
            {"path": f.path, "error_class": f.error_class, "message": f.message}
            for f in replayed.failures
        ],
        "queue": replayed.queue or None,
        "scan": replayed.scan or None,
        "result": replayed.result or None,
    }


def _print_show(state: CliState, info: SessionInfo, summary: dict[str, Any]) -> None:
    state.echo(f"session   {info.session_id}")
    state.echo(f"command   {info.command}")
    state.echo(f"status    {_status(info)}")
    state.echo(f"started   {info.started_at}")
    state.echo(f"ended     {info.ended_at or '-'}")
    state.echo(f"events    {info.events}")
    if summary["scan"]:
        scan = summary["scan"]
        state.echo(f"scan      {scan.get('files', 0)} files, {scan.get('directories', 0)} dirs")
    if summary["plan"]:
        plan = summary["plan"]
        state.echo(
            f"plan      {plan.get('target_path')}: {counted(plan.get('total_nodes') or 0, 'node')}"
            f" in {counted(plan.get('total_levels') or 0, 'level')}, {summary['skipped']} skipped"
        )
        for level in summary["levels"]:
            state.echo(
                f"  level {level['level']}  {level['done']}/{level['total']} done"
                f", {level['failed']} failed"
            )
        nodes = ", ".join(f"{count} {name}" for name, count in summary["nodes"].items() if count)
        state.echo(f"nodes     {nodes or '-'}")
        latency = summary["latency_ms"]
        if latency["count"]:
            state.echo(
                f"latency   p50 {latency['p50']} ms, p95 {latency['p95']} ms,"
                f" max {latency['max']} ms over {counted(latency['count'], 'call')}"
            )
        state.echo(f"retries   {summary['retries']}")
    for failure in summary["failures"]:
        state.echo(f"  failed  {failure['path']}: {failure['error_class']}: {failure['message']}")


def _print_event(state: CliState, event: Event, *, json_output: bool) -> None:
    if json_output:
        state.echo(event.to_json())
        return
    fields = " ".join(f"{key}={value}" for key, value in event.data.items())
    state.echo(f"{event.seq:>6} {event.ts} {event.type} {fields}")


@sessions_app.command("show")
def show(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., help="A session id, or the start of one."),
    events: bool = typer.Option(False, "--events", help="List every event too."),
    follow: bool = typer.Option(
        False, "--follow", help="Print the events as they come until the session ends."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show what a session did, rebuilt from its events."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output), _reader(state) as reader:
        info = reader.get(session_id)
        if follow:
            try:
                for event in reader.follow(info.session_id):
                    _print_event(state, event, json_output=json_output)
            except KeyboardInterrupt:
                raise typer.Exit(interrupted_exit_code()) from None
            return
        stored = reader.events(info.session_id)
    summary = _summary(SessionState.replay(stored))
    if json_output:
        payload: dict[str, Any] = {"session": info.to_json(), **summary}
        if events:
            payload["events"] = [event.to_dict() for event in stored]
        print_json(payload)
        return
    _print_show(state, info, summary)
    if events:
        for event in stored:
            _print_event(state, event, json_output=False)


def _duration_s(text: str) -> float:
    found = _DURATION.match(text.strip())
    if found is None:
        raise UsageError(
            f"--older-than {text!r} is not a duration",
            hint="give a number and a unit: 30m, 12h, 7d",
        )
    return float(found.group(1)) * _UNIT_S[found.group(2)]


@sessions_app.command("prune")
def prune(
    ctx: typer.Context,
    keep: int | None = typer.Option(
        None, "--keep", min=0, help="Keep this many of the newest completed sessions."
    ),
    older_than: str | None = typer.Option(
        None, "--older-than", help="Delete completed sessions started longer ago (7d, 12h)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete old completed sessions; running and interrupted ones are always kept."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output):
        if keep is None and older_than is None:
            raise UsageError("say what to prune", hint="pass --keep N, --older-than 7d, or both")
        older_than_s = _duration_s(older_than) if older_than is not None else None
        with _reader(state) as reader:
            result = reader.prune(keep=keep, older_than_s=older_than_s)
    if json_output:
        print_json(result.to_json())
        return
    state.echo(
        f"pruned {counted(len(result.deleted), 'session')}; kept {result.kept_running} running"
        f" and {result.kept_interrupted} interrupted"
    )


def tui(
    ctx: typer.Context,
    session_id: str | None = typer.Option(
        None, "--session", help="Watch this session (default: the running or newest one)."
    ),
) -> None:
    """Watch a session live in the terminal, or replay a past one."""
    state = state_of(ctx)
    with reporting(state, json_output=False):
        app = state.app(lenient=True)
        if session_id is not None:
            with app:
                session_id = app.sessions().get(session_id).session_id
    from merkle.tui import run_monitor  # deferred: Textual is only for this command

    with app:
        run_monitor(app, session_id)
