"""The error tree of merkle.

Every error carries what went wrong (`message`) and what to do next (`hint`), and
the exit status the command line maps it to (`exit_code`): 2 for bad usage, bad
input or bad configuration, 1 for work that ran and failed.

```
MerkleError
├── UsageError (2)              bad input from the user
│   ├── PathOutsideWorkspace    a path that is not inside the workspace
│   ├── NodeNotFound            a path or node id that is not in the tree
│   └── ContractViolation       a frame or its metadata breaks the contract
│       └── MetadataRejected    metadata that breaks the metadata contract
├── WorkspaceError (2)
│   ├── WorkspaceNotFound       no `.merkle/` in the directory or above it
│   └── NotScanned              the workspace has no scan yet
├── ConfigError (2)             a configuration file that cannot be used
├── StoreError (2)              the database cannot be opened or is of an unknown schema
└── WorkFailed (1)              the work ran, and some of it failed
    └── ValidationFailed        the store holds records that do not check out
```
"""

from __future__ import annotations


class MerkleError(Exception):
    """Root of every error merkle raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MerkleError):
    """Bad input from the user: an unknown node, a malformed argument."""


class PathOutsideWorkspace(UsageError):
    """A path that resolves outside the workspace root."""


class NodeNotFound(UsageError):
    """A path or node id that the stored tree does not have."""


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
    """The database cannot be opened, or it was written by an unknown schema."""


class WorkFailed(MerkleError):
    """The work ran, and some of it failed."""

    exit_code = 1


class ValidationFailed(WorkFailed):
    """The store holds records that do not re-derive or do not link up."""
