"""The egress ledger: what left the machine, for which node, to whom.

Before each HTTP request to a remote provider leaves, the provider's client
calls `before_send` with the request as it will go on the wire; the ledger
commits a row (time, node, agent, provider, host, model, the body's exact
size, the prompt's token estimate and digest, the redactions made) and only
then lets the request go. A row that cannot be committed stops the request.
The call's outcome (status, reported usage, latency) is added when it ends.

Which node a request is for comes from the call that is running: the
generation unit sets `EgressCall` for the duration of its provider call
(`sending`), so one client shared by concurrent calls records each for its
own node.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

from merkle.errors import MerkleError
from merkle.store import EgressEntry, EgressOutcome, StorageBackend
from merkle.store.threads import under_lock


class EgressRefused(MerkleError):
    """A request to a remote provider that may not leave: no ledger was open for it."""

    exit_code = 2


class EgressLedger:
    """Writes ledger rows through one store connection, shared under `lock`."""

    def __init__(
        self,
        store: StorageBackend,
        *,
        lock: threading.Lock,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._lock = lock
        self._clock_ns = clock_ns

    def now_ns(self) -> int:
        return self._clock_ns()

    async def record(self, entry: EgressEntry) -> int:
        """Commit `entry`, off the event loop; its id."""
        return await under_lock(self._lock, self._store.egress.record, entry)

    async def finish(self, egress_id: int, outcome: EgressOutcome) -> None:
        """Add the outcome of a recorded request."""
        await under_lock(self._lock, self._store.egress.finish, egress_id, outcome)


@dataclass(slots=True, kw_only=True)
class EgressCall:
    """One provider call about to be made: what its ledger rows say, and their ids."""

    ledger: EgressLedger
    entry: EgressEntry
    ids: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    async def sent(self, *, host: str, bytes_sent: int) -> None:
        entry = replace(
            self.entry, host=host, bytes_sent=bytes_sent, sent_at_ns=self.ledger.now_ns()
        )
        self.ids.append(await self.ledger.record(entry))

    async def ended(
        self, status: str, *, input_tokens: int | None = None, output_tokens: int | None = None
    ) -> None:
        outcome = EgressOutcome(
            status=status,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=round((time.monotonic() - self.started) * 1000),
            finished_at_ns=self.ledger.now_ns(),
        )
        for egress_id in self.ids:
            await self.ledger.finish(egress_id, outcome)


# `merkle provider test` sends a fixed prompt of a few words, with no workspace
# content, from outside any workspace: the one request that is not recorded.
_PROBE = "probe"
_CURRENT: ContextVar[EgressCall | str | None] = ContextVar("merkle_egress_call", default=None)


@contextlib.contextmanager
def sending(call: EgressCall | str) -> Iterator[None]:
    """Make `call` the one the requests sent inside this block are recorded for."""
    token = _CURRENT.set(call)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def probing() -> contextlib.AbstractContextManager[None]:
    """A provider check's fixed prompt, sent unrecorded."""
    return sending(_PROBE)


async def before_send(*, host: str, bytes_sent: int) -> None:
    """Record a request about to leave, or refuse it when no call is open."""
    call = _CURRENT.get()
    if call == _PROBE:
        return
    if not isinstance(call, EgressCall):
        raise EgressRefused(
            f"a request to {host} was about to leave with no ledger entry; it was not sent",
            hint="provider calls go through the generation unit, which records them",
        )
    await call.sent(host=host, bytes_sent=bytes_sent)
