"""The egress ledger in SQLite: one row per request that left for a provider."""

from __future__ import annotations

import json
from typing import Any

from merkle.store.records import EgressEntry, EgressOutcome, EgressRow
from merkle.store.sqlite.connection import SqliteConnection

_ENTRY = (
    "sent_at_ns, workspace, path, node_id, agent_id, provider_name, host, model, bytes_sent,"
    " tokens_estimate, prompt_digest, redactions, redaction_rules, attempt"
)
_OUTCOME = "status, input_tokens, output_tokens, latency_ms, finished_at_ns"


def _row(row: tuple[Any, ...]) -> EgressRow:
    entry = EgressEntry(
        sent_at_ns=row[1],
        workspace=row[2],
        path=row[3],
        node_id=row[4],
        agent_id=row[5],
        provider_name=row[6],
        host=row[7],
        model=row[8],
        bytes_sent=row[9],
        tokens_estimate=row[10],
        prompt_digest=row[11],
        redaction_rules=tuple(json.loads(row[13])),
        attempt=row[14],
    )
    outcome = None
    if row[15] is not None:
        outcome = EgressOutcome(
            status=row[15],
            input_tokens=row[16],
            output_tokens=row[17],
            latency_ms=row[18],
            finished_at_ns=row[19],
        )
    return EgressRow(egress_id=row[0], entry=entry, outcome=outcome)


class SqliteEgress:
    """Writes ledger rows before requests leave, and their outcomes after."""

    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    def record(self, entry: EgressEntry) -> int:
        """Commit `entry`; its id, for the outcome."""
        with self._db.transaction():
            (row,) = self._db.all(
                f"INSERT INTO egress ({_ENTRY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING egress_id",
                (
                    entry.sent_at_ns, entry.workspace, entry.path, entry.node_id, entry.agent_id,
                    entry.provider_name, entry.host, entry.model, entry.bytes_sent,
                    entry.tokens_estimate, entry.prompt_digest, len(entry.redaction_rules),
                    json.dumps(list(entry.redaction_rules)), entry.attempt,
                ),
            )  # fmt: skip
        return int(row[0])

    def finish(self, egress_id: int, outcome: EgressOutcome) -> None:
        """Add the outcome of the request `egress_id` recorded."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE egress SET status = ?, input_tokens = ?, output_tokens = ?,"
                " latency_ms = ?, finished_at_ns = ? WHERE egress_id = ?",
                (outcome.status, outcome.input_tokens, outcome.output_tokens,
                 outcome.latency_ms, outcome.finished_at_ns, egress_id),
            )  # fmt: skip

    def rows(
        self, *, since_ns: int | None = None, path: str | None = None, provider: str | None = None
    ) -> list[EgressRow]:
        """The rows sent at or after `since_ns`, for nodes at or under `path`, to
        `provider`, oldest first."""
        where: list[str] = ["1 = 1"]
        parameters: list[object] = []
        if since_ns is not None:
            where.append("sent_at_ns >= ?")
            parameters.append(since_ns)
        if path is not None and path != ".":
            where.append("(path = ? OR substr(path, 1, ?) = ?)")
            parameters += [path, len(path) + 1, path + "/"]
        if provider is not None:
            where.append("provider_name = ?")
            parameters.append(provider)
        rows = self._db.all(
            f"SELECT egress_id, {_ENTRY}, {_OUTCOME} FROM egress WHERE {' AND '.join(where)}"
            " ORDER BY egress_id",
            parameters,
        )
        return [_row(tuple(row)) for row in rows]

    def prune(self, *, before_ns: int) -> int:
        """Delete the rows sent before `before_ns`; how many went."""
        with self._db.transaction():
            cursor = self._db.execute("DELETE FROM egress WHERE sent_at_ns < ?", (before_ns,))
        return int(cursor.rowcount)
