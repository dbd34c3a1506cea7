"""Commands over context frames: `context get` and `context put`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from merkle.cli import generate_commands
from merkle.cli.output import JSON_OPTION, CliState, print_json, reporting, state_of, timestamp
from merkle.context.api import ContextRead, metadata_of
from merkle.errors import UsageError, WorkFailed
from merkle.store import Frame, NodeRecord

context_app = typer.Typer(help="Generate, read and write context frames.", no_args_is_help=True)
context_app.command("generate")(generate_commands.generate)
context_app.command("regenerate")(generate_commands.regenerate)

AGENT_OPTION = typer.Option(
    None, "--agent", help="The agent whose frames to use (default: from configuration)."
)
FRAME_TYPE_OPTION = typer.Option(
    None, "--frame-type", help="The frame type (default: from configuration)."
)


def _frame_payload(frame: Frame) -> dict[str, Any]:
    return {
        "frame_id": frame.frame_id,
        "node_id": frame.node_id,
        "agent_id": frame.agent_id,
        "frame_type": frame.frame_type,
        "created_at": timestamp(frame.created_at_ns),
        "content": frame.content,
        "metadata": metadata_of(frame).to_dict(),
    }


def _print_read(state: CliState, read: ContextRead) -> None:
    frame = read.frame
    state.echo(f"path         {read.path}")
    state.echo(f"node         {read.node_id}")
    state.echo(f"agent        {frame.agent_id}")
    state.echo(f"frame type   {frame.frame_type}")
    state.echo(f"frame        {frame.frame_id}")
    state.echo(f"created      {timestamp(frame.created_at_ns)}")
    metadata = read.metadata
    made_by = metadata.source.value
    if metadata.provider:
        made_by += f" by {metadata.provider} ({metadata.model or metadata.provider_type})"
    state.echo(f"made         {made_by}")
    if read.stale:
        state.echo(f"stale        yes: {read.stale_reason}")
        state.info(f"To regenerate it: `merkle context generate {read.path}`.")
    state.echo()
    state.echo(frame.content.rstrip("\n"))


def _read_payload(read: ContextRead) -> dict[str, Any]:
    frame = _frame_payload(read.frame)
    return {
        "path": read.path,
        "node_id": read.node_id,
        "stale": read.stale,
        "stale_reason": read.stale_reason,
        "frame_id": frame["frame_id"],
        "frame_node_id": read.frame.node_id,
        "agent_id": frame["agent_id"],
        "frame_type": frame["frame_type"],
        "created_at": frame["created_at"],
        "content": frame["content"],
        "metadata": frame["metadata"],
    }


def _show_history(state: CliState, record: NodeRecord, frames: list[Frame], json: bool) -> None:
    if json:
        entries = [{**_frame_payload(f), "stale": f.node_id != record.node_id} for f in frames]
        print_json({"path": record.path, "node_id": record.node_id, "frames": entries})
        return
    if not frames:
        state.info(f"no frames for {record.path}")
    for frame in frames:
        marker = "" if frame.node_id == record.node_id else " (earlier version)"
        state.echo(f"== {timestamp(frame.created_at_ns)}  {frame.frame_id}{marker}")
        state.echo(frame.content.rstrip("\n"))
        state.echo()


@context_app.command("get")
def get(
    ctx: typer.Context,
    path: str | None = typer.Argument(None, help="The file or directory (default: --node)."),
    node: str | None = typer.Option(None, "--node", help="A node id, or a unique prefix of one."),
    agent: str | None = AGENT_OPTION,
    frame_type: str | None = FRAME_TYPE_OPTION,
    history: bool = typer.Option(False, "--history", help="Every frame of the path, newest first."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Print the context frame of a path (its head frame) and its metadata.

    When the path changed since its frame was written, the earlier version's
    frame is shown and marked stale.
    """
    state = state_of(ctx)
    with (
        reporting(state, json_output=json_output),
        state.app(agent=agent, frame_type=frame_type) as app,
    ):
        record = app.node(path, node=node, cwd=Path.cwd())
        if history:
            _show_history(state, record, app.history(record), json_output)
            return
        read = app.read(record)
        if read is None:
            settings = app.settings
            raise WorkFailed(
                f"no {settings.frame_type} frame of agent {settings.agent} for {record.path}",
                hint=f"generate one with `merkle context generate {record.path}`",
            )
    if json_output:
        print_json(_read_payload(read))
    else:
        _print_read(state, read)


def _read_content(file: str) -> str:
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error.strerror}", hint="check the path") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{file} is not UTF-8 text", hint="frames are text") from error


@context_app.command("put")
def put(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="The file or directory the frame is about."),
    file: str = typer.Option(..., "--file", "-f", help="The frame's text: a file, or - for stdin."),
    agent: str | None = AGENT_OPTION,
    frame_type: str | None = FRAME_TYPE_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Write a frame by hand, through the same boundary generation uses."""
    state = state_of(ctx)
    with (
        reporting(state, json_output=json_output),
        state.app(agent=agent, frame_type=frame_type) as app,
    ):
        app.agents.writer(app.settings.agent)  # a reader is refused before stdin is read
        record, result = app.put(path, _read_content(file), cwd=Path.cwd())
    if json_output:
        print_json(
            {
                "path": record.path,
                "node_id": record.node_id,
                "frame_id": result.frame_id,
                "created": result.created,
            }
        )
        return
    verb = "Wrote" if result.created else "Already stored:"
    state.echo(f"{verb} frame {result.frame_id} for {record.path}")
