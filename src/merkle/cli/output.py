"""Presentation shared by every command: consoles, JSON, errors and their exit codes."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from merkle.errors import MerkleError
from merkle.workspace.layout import Workspace, locate

WARNINGS_SHOWN = 10


@dataclass(slots=True, kw_only=True)
class CliState:
    """The global options of one invocation, and its consoles."""

    workspace: Path | None = None
    verbose: bool = False
    quiet: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )

    def locate(self) -> Workspace:
        """The workspace this invocation works on."""
        return locate(self.workspace, cwd=Path.cwd())

    def info(self, message: str) -> None:
        """An informational line on stderr, unless `--quiet`."""
        if not self.quiet:
            self.err.print(message)

    @property
    def show_progress(self) -> bool:
        """Whether a live progress display fits: a terminal, and not `--quiet`."""
        return not self.quiet and self.err.is_terminal


def print_json(payload: Any) -> None:
    """Write `payload` as JSON on stdout, one document, for scripts."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")
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
        state.err.print(f"[bold red]error:[/] {escape(error.message)}")
        if error.hint:
            state.err.print(f"[dim]hint:[/] {escape(error.hint)}")
        if state.verbose and error.__cause__ is not None:
            chain = traceback.format_exception(error.__cause__)
            state.err.print(escape("".join(chain)), end="")
        if json_output:
            print_json(_error_payload(error))
        raise typer.Exit(error.exit_code) from error


def render_warnings(state: CliState, warnings: list[tuple[str, str]]) -> None:
    """List warnings on stderr: the first few, or all of them with `--verbose`."""
    if state.quiet or not warnings:
        return
    shown = warnings if state.verbose else warnings[:WARNINGS_SHOWN]
    for path, message in shown:
        state.err.print(f"[yellow]warning:[/] {escape(path)}: {escape(message)}")
    if len(shown) < len(warnings):
        state.err.print(f"[dim]... and {len(warnings) - len(shown)} more (--verbose lists all)[/]")
