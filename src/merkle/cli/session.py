"""The session every working command opens: its events go to the store.

The session ends with the command's outcome: `succeeded`, `failed` (an error,
or exit status 1), or `cancelled` (Ctrl-C). A command killed outright leaves
its session without an end, which readers show as interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache

import typer

from merkle.cli.output import CliState
from merkle.config import SessionSettings
from merkle.errors import MerkleError
from merkle.metadata.credentials import redact
from merkle.store import Database
from merkle.telemetry.bus import EventBus, MemoryRecorder
from merkle.telemetry.model import new_session_id
from merkle.telemetry.reader import SessionReader
from merkle.telemetry.writer import SessionWriter
from merkle.workspace.layout import Workspace


@lru_cache(maxsize=8192)
def _scrub(text: str) -> str:
    # Cached: events repeat the same paths, ids and names many times over.
    return redact(text)[0]


@contextmanager
def command_session(
    state: CliState,
    workspace: Workspace,
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
    writer: SessionWriter | None = None
    try:
        writer = SessionWriter(workspace.database_path, command=command, scrub=_scrub)
        writer.start(data)
        bus = EventBus(writer, scrub=_scrub)
    except MerkleError as error:
        state.message("warning", "yellow", f"this run is not recorded: {error.message}")
        writer = None
        recorder = MemoryRecorder(new_session_id(time.time_ns()), keep=False)
        bus = EventBus(recorder, scrub=_scrub)
    exit_code, error_message = 1, None
    try:
        yield bus
        exit_code = 0
    except typer.Exit as done:
        exit_code = done.exit_code
        raise
    except KeyboardInterrupt:
        exit_code = 130
        raise
    except MerkleError as error:
        exit_code, error_message = error.exit_code, error.message
        raise
    finally:
        if writer is not None:
            ending = {"exit_code": exit_code, "error": error_message}
            writer.end(_OUTCOMES.get(exit_code, "failed"), ending)
            if writer.error:
                state.message("warning", "yellow", f"session {writer.session_id}: {writer.error}")
            if retention is not None:
                _prune(state, workspace, retention)


def _prune(state: CliState, workspace: Workspace, retention: SessionSettings) -> None:
    try:
        with Database.open(workspace.database_path) as database:
            SessionReader(database).prune(
                keep=retention.keep, older_than_s=retention.max_age_days * 86_400
            )
    except MerkleError as error:  # the record is housekeeping: never fail the command
        state.message("warning", "yellow", f"old sessions were not pruned: {error.message}")


_OUTCOMES = {0: "succeeded", 130: "cancelled"}
