"""Commands over the workspace tree: init, scan, status, workspace validate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from merkle.app import MerkleApp
from merkle.cli.output import (
    JSON_OPTION,
    CliState,
    counted,
    print_json,
    render_warnings,
    reporting,
    state_of,
    timestamp,
)
from merkle.cli.session import command_session
from merkle.config import SessionSettings, Settings
from merkle.errors import ConfigError, ValidationFailed
from merkle.store import ScanCounts, ScanRecord
from merkle.workspace.scan import ScanResult
from merkle.workspace.status import StatusReport
from merkle.workspace.validate import ValidationReport

workspace_app = typer.Typer(help="Check and maintain the workspace store.", no_args_is_help=True)


def _counts_payload(counts: ScanCounts) -> dict[str, int]:
    return {
        "files": counts.files,
        "directories": counts.directories,
        "bytes": counts.bytes,
        "hashed": counts.hashed,
        "reused": counts.reused,
        "ignored": counts.ignored,
        "warnings": counts.warnings,
    }


def _scan_payload(scan: ScanRecord) -> dict[str, Any]:
    return {
        "scan_id": scan.scan_id,
        "root_node_id": scan.root_node_id,
        "started_at": timestamp(scan.started_at_ns),
        "finished_at": timestamp(scan.finished_at_ns),
        "duration_s": round(scan.duration_s, 3),
        "counts": _counts_payload(scan.counts),
    }


def init(
    ctx: typer.Context,
    directory: Path | None = typer.Argument(
        None, help="Directory to make a workspace (default: --workspace, else the current one)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Make a directory a merkle workspace: `.merkle/` with its config and database."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output):
        target = directory or state.workspace or Path.cwd()
        result = MerkleApp.init(target)
    root = result.workspace.root
    if json_output:
        print_json(
            {
                "workspace": str(root),
                "created": result.created,
                "config": str(result.workspace.config_path),
                "database": str(result.workspace.database_path),
                "gitignore_updated": result.gitignore_updated,
            }
        )
        return
    if result.created:
        state.echo(f"Initialised a merkle workspace in {root!s}")
    else:
        state.echo(f"{root!s} is already a merkle workspace; nothing to do")
    if result.gitignore_updated:
        state.info("Added /.merkle/ to .gitignore")
    if result.created:
        state.info("Next: run `merkle scan` to build the tree.")


def _print_scan(state: CliState, result: ScanResult) -> None:
    scan, counts = result.scan, result.scan.counts
    rows = [
        ("files", f"{counts.files:,}"),
        ("directories", f"{counts.directories:,}"),
        ("bytes", f"{counts.bytes:,}"),
        ("hashed", f"{counts.hashed:,}"),
        ("reused", f"{counts.reused:,}"),
        ("ignored", f"{counts.ignored:,}"),
        ("warnings", f"{counts.warnings:,}"),
        ("root", scan.root_node_id),
        ("time", f"{scan.duration_s:.3f} s"),
    ]
    for label, value in rows:
        state.echo(f"{label:<12} {value}")
    if not result.changed:
        state.info("The tree is unchanged since the last scan.")


def _scan_app(state: CliState) -> tuple[MerkleApp, SessionSettings | None]:
    """The app for a scan and how long sessions are kept; with a broken configuration,
    the defaults and no pruning - scan does not need it, and generate reports it."""
    workspace = state.locate()
    try:
        settings = state.settings(workspace)
    except ConfigError:
        return MerkleApp(workspace, Settings.defaults()), None
    return MerkleApp(workspace, settings), settings.sessions


def scan(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Walk the workspace, hash what changed, and store its Merkle tree."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output):
        app, retention = _scan_app(state)
        with app, command_session(state, app, "scan", {}, retention=retention) as bus:
            if state.show_progress and not json_output:
                from merkle.cli.progress import ScanProgressBar  # deferred: Rich costs ~15 ms

                with ScanProgressBar(state.err) as bar:
                    result = app.scan(progress=bar, sink=bus)
            else:
                result = app.scan(sink=bus)
        workspace = app.workspace
    warnings = [(w.path, w.message) for w in result.warnings]
    if json_output:
        payload = {"workspace": str(workspace.root), **_scan_payload(result.scan)}
        payload["changed"] = result.changed
        payload["warnings"] = [{"path": p, "message": m} for p, m in warnings]
        print_json(payload)
        return
    render_warnings(state, warnings)
    _print_scan(state, result)


def _config_payload(settings: Settings) -> dict[str, Any]:
    return {
        "agent": settings.agent,
        "provider": settings.provider,
        "frame_type": settings.frame_type,
        "sources": list(settings.sources),
    }


def _status_payload(report: StatusReport, settings: Settings) -> dict[str, Any]:
    changes = report.changes
    return {
        "workspace": str(report.workspace.root),
        "root_node_id": report.last_scan.root_node_id if report.last_scan else None,
        "last_scan": _scan_payload(report.last_scan) if report.last_scan else None,
        "node_records": report.node_records,
        "frames": report.frames,
        "heads": report.heads,
        "config": _config_payload(settings),
        "changed": changes.changed if changes else None,
        "changes": None
        if changes is None
        else {
            "added": list(changes.added),
            "modified": list(changes.modified),
            "removed": list(changes.removed),
        },
    }


def _print_changes(state: CliState, report: StatusReport) -> None:
    changes = report.changes
    if changes is None or not changes.changed:
        state.echo("disk         unchanged since the last scan")
        return
    state.echo(
        f"disk         changed since the last scan: {len(changes.added)} added,"
        f" {len(changes.modified)} modified, {len(changes.removed)} removed"
    )
    rows = [("added", p) for p in changes.added]
    rows += [("modified", p) for p in changes.modified]
    rows += [("removed", p) for p in changes.removed]
    shown = rows if state.verbose else rows[:20]
    for kind, path in shown:
        state.echo(f"  {kind:9} {path}")
    if len(shown) < len(rows):
        state.echo(f"  ... and {len(rows) - len(shown)} more (--verbose lists all)")
    state.info("Run `merkle scan` to bring the tree up to date.")


def status(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Show the workspace, its last scan, and whether the disk changed since."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output), state.app() as app:
        settings = app.settings
        report = app.status()
    if json_output:
        print_json(_status_payload(report, settings))
        return
    state.echo(f"workspace    {report.workspace.root}")
    state.echo(
        f"defaults     agent {settings.agent}, provider {settings.provider},"
        f" frame type {settings.frame_type}"
    )
    state.echo(f"frames       {report.frames:,} frames, {report.heads:,} heads")
    last = report.last_scan
    if last is None:
        state.echo("last scan    never")
        state.info("Run `merkle scan` to build the tree.")
        return
    age_s = max(0.0, time.time() - last.finished_at_ns / 1e9)
    state.echo(f"root         {last.root_node_id}")
    state.echo(f"last scan    {timestamp(last.finished_at_ns)} ({age_s:,.0f} s ago)")
    counts = last.counts
    state.echo(
        f"tree         {counts.files:,} files, {counts.directories:,} directories,"
        f" {counts.bytes:,} bytes"
    )
    state.echo(f"records      {report.node_records:,} node records stored")
    _print_changes(state, report)


def _validation_payload(report: ValidationReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "records_checked": report.records_checked,
        "tree_entries_checked": report.tree_entries_checked,
        "frames_checked": report.frames_checked,
        "heads_checked": report.heads_checked,
        "problems": [
            {"kind": p.kind, "subject": p.subject, "message": p.message} for p in report.problems
        ],
    }


@workspace_app.command("validate")
def validate(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Re-derive every stored id and check that the tree links up; exit 1 on any problem."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output), state.app() as app:
        report = app.validate()
    if json_output:
        print_json(_validation_payload(report))
    elif report.ok:
        state.echo(
            f"ok: {report.records_checked:,} node records, {report.tree_entries_checked:,}"
            f" tree entries, {report.frames_checked:,} frames and {report.heads_checked:,}"
            " heads check out"
        )
    else:
        for problem in report.problems:
            state.echo(f"{problem.kind:<14} {problem.message}")
    if not report.ok:
        with reporting(state, json_output=False):
            raise ValidationFailed(
                f"{counted(len(report.problems), 'problem')} in the store",
                hint="run `merkle scan` to rebuild the current tree; records that do not"
                " re-derive point to a damaged database",
            )
