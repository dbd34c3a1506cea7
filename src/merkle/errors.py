"""The error tree of merkle, and the failure value that crosses layers and processes.

Every error carries what went wrong (`message`) and what to do next (`hint`), and
the exit status the command line maps it to (`exit_code`): 2 for bad usage, bad
input or bad configuration, 1 for work that ran and failed. Every class that
merkle raises on purpose is drawn here, wherever it is defined.

```
MerkleError
├── UsageError (2)                  bad input from the user
│   ├── PathOutsideWorkspace        a path that is not inside the workspace
│   ├── NodeNotFound                a path or node id that is not in the tree
│   ├── ReaderAgent                 a reader agent asked to write frames
│   ├── QueueFull                   the queue holds as many live requests as it may
│   ├── PlanInvalid                 a generation plan that breaks its contract (generation.plan)
│   ├── DescendantsNotReady         a directory whose descendants have no frame (generation.planner)
│   └── ContractViolation           a frame or its metadata breaks the contract
│       └── MetadataRejected        metadata that breaks the metadata contract
├── WorkspaceError (2)
│   ├── WorkspaceNotFound           no `.merkle/` in the directory or above it
│   └── NotScanned                  the workspace has no scan yet
├── ConfigError (2)                 a configuration file that cannot be used
├── EventFormatError (2)            a stored event without the fields every event has (telemetry)
├── EgressRefused (2)               a request that would leave with no ledger row (telemetry)
├── StoreError (2)                  the store cannot be opened or used
│   ├── StoreBusy                   other processes held the store past the busy timeout
│   ├── StoreCorrupt                the database file is damaged or is not a database
│   ├── StoreReadOnly               a write to a store that may only be read
│   └── StoreConflict               a write that breaks a rule of the schema
└── WorkFailed (1)                  the work ran, and some of it failed
    ├── ValidationFailed            the store holds records that do not check out
    ├── RequestCancelled            a queued request was cancelled before it finished (queue)
    └── GenerationError             a generation failed: carries a GenerationFailure
        ├── ProviderError           a provider call failed, classified (providers.base)
        ├── PromptError             the prompt cannot be built (generation.prompt)
        ├── PartsNeeded             a directory too large for one prompt (generation.parts)
        └── RequestFailed           a request's final failure, from any process (queue)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationFailure:
    """Why a generation failed, as a value: what crosses a layer, a process or the store.

    `error_class` is a stable name (`rate_limited`, `auth`, `queue_full`...);
    `retryable` says whether another attempt may succeed, and `retry_after_s`
    how long the provider asked to wait, if it did.
    """

    error_class: str
    message: str
    retryable: bool = False
    retry_after_s: float | None = None


class MerkleError(Exception):
    """Root of every error merkle raises on purpose."""

    exit_code: int = 2
    # The stable name of this error as a generation failure; None: the class name.
    failure_class: ClassVar[str | None] = None
    # Whether the operation that raised it may succeed if tried again.
    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def failure_of(error: BaseException) -> GenerationFailure:
    """The failure value of any exception a generation can end with."""
    if isinstance(error, GenerationError):
        return error.failure
    if isinstance(error, MerkleError):
        return GenerationFailure(
            error_class=error.failure_class or type(error).__name__,
            message=error.message,
            retryable=error.transient,
        )
    return GenerationFailure(
        error_class=type(error).__name__, message=str(error) or type(error).__name__
    )


class UsageError(MerkleError):
    """Bad input from the user: an unknown node, a malformed argument."""


class PathOutsideWorkspace(UsageError):
    """A path that resolves outside the workspace root."""


class NodeNotFound(UsageError):
    """A path or node id that the stored tree does not have."""


class ReaderAgent(UsageError):
    """A reader agent was asked to write or generate frames."""


class QueueFull(UsageError):
    """The queue holds as many live requests as it may: nothing was dropped.

    `live` is how many requests were pending or processing.
    """

    failure_class = "queue_full"

    def __init__(self, message: str, *, live: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.live = live


class ContractViolation(UsageError):
    """A frame that breaks the frame contract; `key` names the field, `rule` the rule."""

    def __init__(self, key: str, rule: str, *, hint: str | None = None) -> None:
        super().__init__(f"{key}: {rule}", hint=hint)
        self.key = key
        self.rule = rule


class MetadataRejected(ContractViolation):
    """Frame metadata that breaks the metadata contract."""


class WorkspaceError(MerkleError):
    """The workspace is missing or not in a usable state."""


class WorkspaceNotFound(WorkspaceError):
    """No `.merkle/` directory in the start directory or any parent."""


class NotScanned(WorkspaceError):
    """The workspace has been initialised but never scanned."""


class ConfigError(MerkleError):
    """A configuration file or value that cannot be used."""


class StoreError(MerkleError):
    """The store cannot be opened or used; the message names it, the hint what to do."""


class StoreBusy(StoreError):
    """Other processes held the store's write lock past the busy timeout."""

    failure_class = "store_busy"
    transient = True


class StoreCorrupt(StoreError):
    """The database file is damaged, empty, or not a merkle database at all."""

    failure_class = "store_corrupt"


class StoreReadOnly(StoreError):
    """A write was asked of a store that may only be read."""

    failure_class = "store_read_only"


class StoreConflict(StoreError):
    """A write that breaks a rule of the schema (a key taken, a reference missing)."""

    failure_class = "store_conflict"


class WorkFailed(MerkleError):
    """The work ran, and some of it failed."""

    exit_code = 1


class ValidationFailed(WorkFailed):
    """The store holds records that do not re-derive or do not link up."""


class RequestCancelled(WorkFailed):
    """The request was cancelled before it finished (its waiters went away)."""

    failure_class = "cancelled"


class GenerationError(WorkFailed):
    """A generation that failed; `failure` is the value that says why."""

    def __init__(self, failure: GenerationFailure, *, hint: str | None = None) -> None:
        super().__init__(failure.message, hint=hint)
        self.failure = failure


def local_only_refusal(provider_name: str) -> ConfigError:
    """The error of a call to a remote provider while `[security] local_only` is set."""
    return ConfigError(
        f"provider {provider_name!r} is not local, and `[security] local_only = true`"
        " (or MERKLE_LOCAL_ONLY=1) allows nothing to leave this machine; nothing was sent",
        hint="use the `local` provider (--provider local), or unset local_only",
    )
