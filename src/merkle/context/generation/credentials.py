"""One probe per provider configuration, for every process sharing the store.

A key that is wrong is wrong for every call: paying for one refusal per slot,
per process and per run tells the user nothing the first did not. So until a
provider's credentials are known to work, one call at a time checks them
(the probe, claimed in the store with a lease); the others wait for its
answer. A success marks them verified; a refusal (401, 403) marks them
rejected, and every later call, in any process and any later run, fails at
once with the provider's words and no call, until the configuration changes:
the fingerprint covers the provider's type, endpoint, model, key variable
and the key itself (as a hash, never the key).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from blake3 import blake3

from merkle.config import ProviderSettings
from merkle.providers.base import ErrorClass, ProviderError
from merkle.providers.remote import DEFAULT_KEY_VARIABLES
from merkle.store import StorageBackend
from merkle.store.owners import new_owner_id, owner_is_dead
from merkle.store.threads import under_lock

_POLL_S = 0.05
# A probe's lease: its call's timeout and this margin; a lapsed one is taken over.
_LEASE_MARGIN_S = 30.0
_T = TypeVar("_T")


def fingerprint(settings: ProviderSettings) -> str:
    """What the credentials of `settings` are checked under; changes with the key."""
    variable = settings.api_key_env or DEFAULT_KEY_VARIABLES.get(settings.type, "")
    key = os.environ.get(variable, "")
    parts = (settings.type, settings.base_url, settings.model, variable)
    material = "\0".join([*(part or "" for part in parts), blake3(key.encode()).hexdigest()])
    return blake3(material.encode(), derive_key_context="merkle provider credentials").hexdigest()


@dataclass(frozen=True, slots=True)
class Probe:
    """This process checks the credentials of `provider_name` with its next call."""

    provider_name: str
    fingerprint: str


class CredentialGate:
    """Admits calls to remote providers: at once when their credentials are known to
    work, after the probe's answer while they are checked, never once rejected."""

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
        self._owner = new_owner_id()
        self._verified: set[tuple[str, str]] = set()

    async def admit(self, settings: ProviderSettings) -> Probe | None:
        """Wait until a call to the provider of `settings` may go; the probe when this
        call is the one that checks the credentials. Raises the stored refusal."""
        found = fingerprint(settings)
        if (settings.name, found) in self._verified:
            return None
        lease_ns = int((settings.timeout_s + _LEASE_MARGIN_S) * 1e9)
        while True:
            check = await self._call(self._store.credentials.check, settings.name)
            if check is not None and check.fingerprint == found:
                if check.state == "verified":
                    self._verified.add((settings.name, found))
                    return None
                if check.state == "rejected":
                    raise _rejected(settings.name, check.message, check.hint)
            now_ns = self._clock_ns()
            if check is not None and check.owner and owner_is_dead(check.owner):
                # Its prober was killed: its lease is not waited out.
                now_ns = max(now_ns, check.until_ns or now_ns)
            claimed = await self._call(
                self._store.credentials.claim_probe,
                settings.name,
                found,
                owner=self._owner,
                now_ns=now_ns,
                until_ns=now_ns + lease_ns,
            )
            if claimed:
                return Probe(settings.name, found)
            # Another call is checking them: its answer decides (or its lease lapses).
            await asyncio.sleep(_POLL_S)

    async def settle(
        self, settings: ProviderSettings, probe: Probe | None, error: ProviderError | None
    ) -> None:
        """Record what a call admitted by `admit` found."""
        refused = error is not None and error.error_class is ErrorClass.AUTH
        if refused and error is not None:
            # Any call may find a key revoked: every process stops calling with it.
            found = probe.fingerprint if probe is not None else fingerprint(settings)
            self._verified.discard((settings.name, found))
            await self._call(
                self._store.credentials.settle,
                settings.name,
                found,
                state="rejected",
                message=error.message,
                hint=error.hint,
            )
        elif probe is not None and error is None:
            self._verified.add((probe.provider_name, probe.fingerprint))
            await self._call(
                self._store.credentials.settle,
                probe.provider_name,
                probe.fingerprint,
                state="verified",
            )
        else:
            # A timeout or a 500 says nothing of the key: the next call checks it.
            await self.abandon(probe)

    async def abandon(self, probe: Probe | None) -> None:
        """Give up the probe of a call that found nothing (failed otherwise, cancelled)."""
        if probe is not None:
            release = self._store.credentials.release
            await self._call(release, probe.provider_name, owner=self._owner)

    async def _call(self, function: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        return await under_lock(self._lock, function, *args, **kwargs)


def _rejected(provider_name: str, message: str | None, hint: str | None) -> ProviderError:
    said = message or f"{provider_name}: the provider refused the credentials"
    return ProviderError(
        ErrorClass.AUTH,
        f"{said} (an earlier call was refused; no call is made with these credentials"
        " until the provider's configuration or key changes)",
        hint=hint or "check the key in the provider's api_key_env variable",
    )
