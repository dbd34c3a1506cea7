"""The `merkle` command: global options, the command tree, and the entry point."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import typer

from merkle import __version__
from merkle.cli import signals, workspace_commands
from merkle.cli.agent_commands import agent_app
from merkle.cli.context_commands import context_app
from merkle.cli.egress_commands import egress
from merkle.cli.output import CliState
from merkle.cli.provider_commands import provider_app
from merkle.cli.session_commands import sessions_app, tui

app = typer.Typer(
    name="merkle",
    help="Always-fresh, LLM-written context for every file and directory of a workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(workspace_commands.init)
app.command()(workspace_commands.scan)
app.command()(workspace_commands.status)
app.add_typer(workspace_commands.workspace_app, name="workspace")
app.add_typer(context_app, name="context")
app.add_typer(agent_app, name="agent")
app.add_typer(provider_app, name="provider")
app.add_typer(sessions_app, name="sessions")
app.command()(egress)
app.command()(tui)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"merkle {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        help="Work on the workspace at or above DIR instead of the current directory.",
        metavar="DIR",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Say more; show error causes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only results and errors."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Global options, read before any command runs."""
    if verbose and quiet:
        raise typer.BadParameter("--verbose and --quiet exclude each other")
    ctx.obj = CliState(workspace=workspace, verbose=verbose, quiet=quiet)


def main() -> None:
    """Run the command line and exit: 0 success, 1 failed work, 2 bad input or usage."""
    signals.install()
    try:
        app(prog_name="merkle")
    except Exception:
        # Only a bug gets here: say so briefly, with the traceback when asked for.
        sys.stderr.write("merkle: internal error (this is a bug; please report it)\n")
        if "-v" in sys.argv or "--verbose" in sys.argv:
            traceback.print_exc()
        else:
            sys.stderr.write("rerun with --verbose for the traceback\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
