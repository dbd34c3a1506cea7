"""The frame metadata contract (generation unit C3): typed build plus validation policy."""

from merkle.metadata.contract import (
    IDENTIFIER,
    FrameMetadata,
    Source,
    build_metadata,
    validate_metadata,
)
from merkle.metadata.credentials import credential_rule

__all__ = [
    "IDENTIFIER",
    "FrameMetadata",
    "Source",
    "build_metadata",
    "credential_rule",
    "validate_metadata",
]
