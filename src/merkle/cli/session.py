"""The session every working command opens: its events go to the store.

The session ends with the command's outcome: `succeeded`, `failed` (an error,
or exit status 1), or `cancelled` (Ctrl-C). A command killed outright leaves
its session without an end, which readers show as interrupted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import typer

from merkle.app import MerkleApp, SessionRecording
from merkle.cli.output import CliState
from merkle.cli.signals import STOPPED_EXIT_CODES, interrupted_exit_code
from merkle.config import SessionSettings
from merkle.errors import MerkleError
from merkle.telemetry.bus import EventBus


@contextmanager
def command_session(
    state: CliState,
    app: MerkleApp,
    command: str,
    data: Mapping[str, object],
    *,
    retention: SessionSettings | None,
) -> Iterator[EventBus]:
    """Open a session for `command`; yields the bus its services emit to.

    A store that cannot take the session does not stop the command: it runs
    unrecorded, with a warning. Once the session has ended, older completed
    sessions are pruned by `retention` (none when it is None).
    """
    recording: SessionRecording
    try:
        recording = app.record_session(command, data)
    except MerkleError as error:
        state.message("warning", "yellow", f"this run is not recorded: {error.message}")
        recording = app.unrecorded_session()
    exit_code, error_message = 1, None
    try:
        yield recording.bus
        exit_code = 0
    except typer.Exit as done:
        exit_code = done.exit_code
        raise
    except KeyboardInterrupt:
        exit_code = interrupted_exit_code()
        raise
    except MerkleError as error:
        exit_code, error_message = error.exit_code, error.message
        raise
    finally:
        writer = recording.writer
        if writer is not None:
            ending = {"exit_code": exit_code, "error": error_message}
            writer.end(_outcome(exit_code), ending)
            if writer.error:
                state.message("warning", "yellow", f"session {writer.session_id}: {writer.error}")
            if retention is not None:
                _prune(state, app, retention)


def _prune(state: CliState, app: MerkleApp, retention: SessionSettings) -> None:
    try:
        app.prune_sessions(keep=retention.keep, older_than_s=retention.max_age_days * 86_400)
        app.prune_egress()
    except MerkleError as error:  # the record is housekeeping: never fail the command
        state.message("warning", "yellow", f"old records were not pruned: {error.message}")


def _outcome(exit_code: int) -> str:
    if exit_code == 0:
        return "succeeded"
    return "cancelled" if exit_code in STOPPED_EXIT_CODES else "failed"
