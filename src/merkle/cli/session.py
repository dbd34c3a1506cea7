"""The session every working command opens: its events go to the store.

The session ends with the command's outcome: `succeeded`, `failed` (an error,
or exit status 1), or `cancelled` (Ctrl-C). A command killed outright leaves
its session without an end, which readers show as interrupted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import typer

from merkle.cli.output import CliState
from merkle.metadata.credentials import redact
from merkle.telemetry.bus import EventBus
from merkle.telemetry.writer import SessionWriter
from merkle.workspace.layout import Workspace


def _scrub(text: str) -> str:
    return redact(text)[0]


@contextmanager
def command_session(
    state: CliState, workspace: Workspace, command: str, data: Mapping[str, object]
) -> Iterator[EventBus]:
    """Open a session for `command`; yields the bus its services emit to."""
    writer = SessionWriter(workspace.database_path, command=command, scrub=_scrub)
    writer.start(data)
    outcome = "failed"
    try:
        yield EventBus(writer, scrub=_scrub)
        outcome = "succeeded"
    except typer.Exit as done:
        outcome = {0: "succeeded", 130: "cancelled"}.get(done.exit_code, "failed")
        raise
    except KeyboardInterrupt:
        outcome = "cancelled"
        raise
    finally:
        writer.end(outcome)
        if writer.error:
            state.message("warning", "yellow", f"session {writer.session_id}: {writer.error}")
