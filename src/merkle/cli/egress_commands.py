"""`merkle egress`: what left this machine for providers, from the ledger."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from merkle.cli.output import JSON_OPTION, print_json, reporting, state_of
from merkle.errors import UsageError
from merkle.store import EgressRow


def egress(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None, "--since", help="From this date or time (2026-12-01, 2026-12-01T09:30), UTC."
    ),
    path: str | None = typer.Option(None, "--path", help="Only nodes at or under this path."),
    provider: str | None = typer.Option(None, "--provider", help="Only this provider."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List what was sent to remote providers, request by request, with totals."""
    state = state_of(ctx)
    with reporting(state, json_output=json_output), state.app(lenient=True) as app:
        since_ns = _parse_since(since) if since is not None else None
        rows = app.egress(since_ns=since_ns, path=path, provider=provider, cwd=Path.cwd())
    totals = _totals(rows)
    if json_output:
        print_json({"requests": [_row_json(row) for row in rows], "totals": totals})
        return
    if not rows:
        state.echo("Nothing was sent to a remote provider" + (" in that range." if since else "."))
        return
    state.echo(
        f"{'sent (UTC)':<20} {'provider':<14} {'model':<20} {'bytes':>9} {'status':<14} path"
    )
    for row in rows:
        entry, outcome = row.entry, row.outcome
        status = outcome.status if outcome is not None else "sent"
        state.echo(
            f"{_time(entry.sent_at_ns):<20} {entry.provider_name:<14} {entry.model[:20]:<20}"
            f" {entry.bytes_sent:>9,} {status:<14} {entry.path}"
        )
    state.echo(
        f"{totals['requests']:,} {'request' if totals['requests'] == 1 else 'requests'},"
        f" {totals['bytes_sent']:,} bytes, about {totals['tokens_estimate']:,} tokens sent"
    )


def _parse_since(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date or time",
            hint="give it as 2026-12-01 or 2026-12-01T09:30 (UTC unless it says otherwise)",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e9)


def _time(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns / 1e9))


def _row_json(row: EgressRow) -> dict[str, Any]:
    entry, outcome = row.entry, row.outcome
    return {
        "egress_id": row.egress_id,
        "sent_at": datetime.fromtimestamp(entry.sent_at_ns / 1e9, UTC).isoformat(),
        "sent_at_ns": entry.sent_at_ns,
        "workspace": entry.workspace,
        "path": entry.path,
        "node_id": entry.node_id,
        "agent_id": entry.agent_id,
        "provider": entry.provider_name,
        "host": entry.host,
        "model": entry.model,
        "bytes_sent": entry.bytes_sent,
        "tokens_estimate": entry.tokens_estimate,
        "prompt_digest": entry.prompt_digest,
        "redactions": len(entry.redaction_rules),
        "redaction_rules": sorted(set(entry.redaction_rules)),
        "attempt": entry.attempt,
        "status": outcome.status if outcome is not None else None,
        "input_tokens": outcome.input_tokens if outcome is not None else None,
        "output_tokens": outcome.output_tokens if outcome is not None else None,
        "latency_ms": outcome.latency_ms if outcome is not None else None,
    }


def _totals(rows: list[EgressRow]) -> dict[str, Any]:
    by_provider: defaultdict[str, dict[str, int]] = defaultdict(
        lambda: {"requests": 0, "bytes_sent": 0}
    )
    for row in rows:
        counts = by_provider[row.entry.provider_name]
        counts["requests"] += 1
        counts["bytes_sent"] += row.entry.bytes_sent
    return {
        "requests": len(rows),
        "bytes_sent": sum(row.entry.bytes_sent for row in rows),
        "tokens_estimate": sum(row.entry.tokens_estimate for row in rows),
        "input_tokens": sum(row.outcome.input_tokens or 0 for row in rows if row.outcome),
        "output_tokens": sum(row.outcome.output_tokens or 0 for row in rows if row.outcome),
        "by_provider": dict(sorted(by_provider.items())),
    }
