"""Presentation shared by every command: plain results, styled messages, JSON, exit codes.

Results go to stdout as plain lines, so that they read the same in a pipe.
Rich styles the messages on stderr (errors, warnings) and draws progress; it
is imported only when one of those is shown, because importing it costs more
than a no-change rescan of a small workspace.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from merkle.app import MerkleApp
from merkle.config import Settings
from merkle.errors import ConfigError, MerkleError, WorkspaceNotFound
from merkle.workspace.layout import Workspace, locate

if TYPE_CHECKING:
    from rich.console import Console

WARNINGS_SHOWN = 10
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON on stdout.")


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 node`, `3 nodes`: a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def timestamp(ns: int) -> str:
    """An epoch time in nanoseconds as ISO 8601 UTC, to the millisecond."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="milliseconds")


@dataclass(slots=True, kw_only=True)
class CliState:
    """The global options of one invocation, and where its output goes."""

    workspace: Path | None = None
    verbose: bool = False
    quiet: bool = False
    _err: Console | None = None

    def locate(self) -> Workspace:
        """The workspace this invocation works on."""
        return locate(self.workspace, cwd=Path.cwd())

    def optional_workspace(self) -> Workspace | None:
        """The workspace, or None when the command runs outside one."""
        try:
            return self.locate()
        except WorkspaceNotFound:
            return None

    def settings(self, workspace: Workspace | None, **flags: str | None) -> Settings:
        """The configuration: workspace file, user file, environment, then `flags`.

        The agents are built from it at once, so that an incomplete agent is
        reported by any command, not only by the first that uses it.
        """
        return MerkleApp.load_settings(workspace, flags=flags)

    def app(self, *, lenient: bool = False, **flags: str | None) -> MerkleApp:
        """The app of this invocation's workspace, configured with `flags` over the rest.

        `lenient`, for the commands that need no configuration: a broken one is
        left for the commands that do, and the built-in defaults apply.
        """
        workspace = self.locate()
        try:
            settings = self.settings(workspace, **flags)
        except ConfigError:
            if not lenient:
                raise
            settings = Settings.defaults()
        return MerkleApp(workspace, settings)

    def echo(self, line: str = "") -> None:
        """One line of the command's result on stdout."""
        sys.stdout.write(line + "\n")

    def info(self, message: str) -> None:
        """An informational line on stderr, unless `--quiet`."""
        if not self.quiet:
            sys.stderr.write(message + "\n")

    @property
    def err(self) -> Console:
        """A Rich console on stderr, for styled messages and progress."""
        if self._err is None:
            from rich.console import Console  # deferred: see the module docstring

            self._err = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._err

    def message(self, label: str, style: str, text: str) -> None:
        """A styled `label: text` line on stderr; `text` is shown as it is."""
        from rich.markup import escape  # deferred: see the module docstring

        self.err.print(f"[{style}]{label}:[/] {escape(text)}")

    @property
    def show_progress(self) -> bool:
        """Whether a live progress display fits: a terminal, and not `--quiet`."""
        return not self.quiet and sys.stderr.isatty()


def print_json(payload: Any) -> None:
    """Write `payload` as JSON on stdout, one document, for scripts."""
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    sys.stdout.flush()


def state_of(ctx: typer.Context) -> CliState:
    """The invocation's state, set up by the app's callback."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        state = CliState()
        ctx.find_root().obj = state
    return state


def _error_payload(error: MerkleError) -> dict[str, Any]:
    return {
        "error": {
            "type": type(error).__name__,
            "message": error.message,
            "hint": error.hint,
            "exit_code": error.exit_code,
        }
    }


@contextmanager
def reporting(state: CliState, *, json_output: bool) -> Iterator[None]:
    """Turn a `MerkleError` into its message and hint on stderr, and its exit code.

    With `--json` the error is also written as a JSON document on stdout.
    """
    try:
        yield
    except MerkleError as error:
        state.message("error", "bold red", error.message)
        if error.hint:
            state.message("hint", "dim", error.hint)
        if state.verbose and error.__cause__ is not None:
            sys.stderr.write("".join(traceback.format_exception(error.__cause__)))
        if json_output:
            print_json(_error_payload(error))
        raise typer.Exit(error.exit_code) from error


def render_warnings(state: CliState, warnings: list[tuple[str, str]]) -> None:
    """List warnings on stderr: the first few, or all of them with `--verbose`."""
    if state.quiet or not warnings:
        return
    shown = warnings if state.verbose else warnings[:WARNINGS_SHOWN]
    for path, message in shown:
        state.message("warning", "yellow", f"{path}: {message}")
    if len(shown) < len(warnings):
        state.info(f"... and {len(warnings) - len(shown)} more (--verbose lists all)")
