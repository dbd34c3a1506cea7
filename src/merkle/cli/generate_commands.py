"""`merkle context generate` and `merkle context regenerate`: the declarations.

The work lives in `merkle.cli.generate_run`, imported when one of these runs.
"""

from __future__ import annotations

from enum import Enum

import typer

from merkle.cli.output import JSON_OPTION, state_of


class PriorityName(Enum):
    """The queue priorities, as `--priority` spells them."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class FailurePolicyName(Enum):
    """The failure policies, as `--failure-policy` spells them."""

    STOP_ON_LEVEL_FAILURE = "stop-on-level-failure"
    CONTINUE = "continue"
    FAIL_IMMEDIATELY = "fail-immediately"


def generate(
    ctx: typer.Context,
    path: str | None = typer.Argument(None, help="File or directory (default: the root)."),
    path_option: str | None = typer.Option(None, "--path", help="The same as PATH."),
    node: str | None = typer.Option(None, "--node", help="A node id, or a unique prefix."),
    agent: str | None = typer.Option(None, "--agent", help="The writer agent."),
    provider: str | None = typer.Option(None, "--provider", help="The provider to call."),
    frame_type: str | None = typer.Option(None, "--frame-type", help="The frame type."),
    force: bool = typer.Option(False, "--force", help="Regenerate nodes that have frames."),
    no_recursive: bool = typer.Option(
        False, "--no-recursive", help="Only the node itself, not its descendants."
    ),
    failure_policy: FailurePolicyName = typer.Option(
        FailurePolicyName.STOP_ON_LEVEL_FAILURE.value, "--failure-policy", case_sensitive=False
    ),
    priority: PriorityName = typer.Option(
        PriorityName.URGENT.value, "--priority", case_sensitive=False, help="Queue priority."
    ),
    list_skipped: bool = typer.Option(
        False, "--list-skipped", help="With --json, list the paths skipped for their frames."
    ),
    replace_provider: str | None = typer.Option(
        None,
        "--replace-provider",
        metavar="NAME",
        help="Regenerate the frames provider NAME wrote (e.g. local, after adding a real one).",
    ),
    no_scan: bool = typer.Option(
        False, "--no-scan", help="Do not rescan first (by default changes on disk are taken in)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Generate context frames for a path and everything below it, leaf to trunk.

    The workspace is rescanned first (cheap: unchanged files are not read), so
    what is generated is what is on disk; frames that no longer describe their
    node (a directory whose children's frames changed) are written again.
    """
    from merkle.cli.generate_run import run_generate  # deferred: see the module docstring

    run_generate(
        state_of(ctx),
        path=path,
        path_option=path_option,
        node=node,
        agent=agent,
        provider=provider,
        frame_type=frame_type,
        force=force,
        no_recursive=no_recursive,
        failure_policy=failure_policy.value,
        priority=priority.value,
        list_skipped=list_skipped,
        replace_provider=replace_provider,
        no_scan=no_scan,
        json_output=json_output,
    )


def regenerate(
    ctx: typer.Context,
    path: str | None = typer.Argument(None, help="File or directory (default: the root)."),
    node: str | None = typer.Option(None, "--node", help="A node id, or a unique prefix."),
    agent: str | None = typer.Option(None, "--agent", help="The writer agent."),
    provider: str | None = typer.Option(None, "--provider", help="The provider to call."),
    frame_type: str | None = typer.Option(None, "--frame-type", help="The frame type."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Regenerate the frame of one node (= generate --force --no-recursive)."""
    generate(
        ctx,
        path=path,
        path_option=None,
        node=node,
        agent=agent,
        provider=provider,
        frame_type=frame_type,
        force=True,
        no_recursive=True,
        failure_policy=FailurePolicyName.STOP_ON_LEVEL_FAILURE,
        priority=PriorityName.URGENT,
        list_skipped=False,
        replace_provider=None,
        no_scan=False,
        json_output=json_output,
    )
