"""The frame metadata contract: one typed record, one builder, one validation policy.

Every frame carries a `FrameMetadata`. It says who made the frame and how
(agent, provider, model, token counts, attempts) and, for a generated frame,
a digest of the prompt - never the prompt itself. The policy rejects unknown
keys, wrong types, oversize values, raw text and anything that looks like a
credential, each with an error that names the key and the rule. The builder
and `ContextApi.put_frame` both go through `validate_metadata`, so a record
cannot reach the store any other way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from merkle.errors import MetadataRejected
from merkle.metadata.credentials import credential_rule

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_TEXT_CHARS = 200
MAX_COUNT = 10**9
MAX_ATTEMPTS = 100
PROVIDER_TYPES = frozenset({"openai", "anthropic", "local"})
# Keys a careless caller might use to store the prompt itself.
PROMPT_KEYS = frozenset({"prompt", "messages", "system_prompt", "user_prompt", "prompt_text"})


class Source(Enum):
    """How a frame came to be."""

    GENERATED = "generated"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameMetadata:
    """The metadata of one frame. Build it with `build_metadata`."""

    agent_id: str
    frame_type: str
    source: Source
    provider: str | None = None
    provider_type: str | None = None
    model: str | None = None
    prompt_digest: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: int = 0
    # A directory's generated frame: the digest of the child frames it was written from
    # (`tree.hashing.sources_digest`), so that it can tell when a child's frame moved.
    sources_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a mapping of every key, in the contract's order (`sources_digest`
        only when set, so that records written before it keep their encoding and ids)."""
        # Field by field rather than `asdict`, which deep-copies: this runs per frame.
        mapping = {name: getattr(self, name) for name in _FIELD_ORDER}
        if self.sources_digest is None:
            del mapping["sources_digest"]
        # A record made without the builder may hold a plain string here; the
        # policy, not an AttributeError, must be what refuses a bad one.
        if isinstance(self.source, Source):
            mapping["source"] = self.source.value
        return mapping

    def canonical_json(self) -> str:
        """The one JSON encoding of the record: sorted keys, no spaces."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


_FIELD_ORDER = tuple(field.name for field in fields(FrameMetadata))


def _text(key: str, value: object, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise MetadataRejected(key, f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_TEXT_CHARS:
        raise MetadataRejected(key, f"is {len(value)} characters; at most {MAX_TEXT_CHARS}")
    if "\n" in value or "\r" in value:
        raise MetadataRejected(key, "holds line breaks: raw text is never stored in metadata")
    rule = credential_rule(value, broad=True)
    if rule is not None:
        raise MetadataRejected(key, f"looks like a credential ({rule}); it is never stored")
    if pattern is not None and not pattern.fullmatch(value):
        raise MetadataRejected(key, f"must match {pattern.pattern}")
    return value


def _count(key: str, value: object, *, maximum: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetadataRejected(key, f"must be an integer, not {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise MetadataRejected(key, f"must be between 0 and {maximum}")
    return value


def _optional(check: Callable[[str, object], Any]) -> Callable[[str, object], Any]:
    def run(key: str, value: object) -> Any:
        return None if value is None else check(key, value)

    return run


def _source(key: str, value: object) -> Source:
    try:
        return Source(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Source)
        raise MetadataRejected(key, f"must be one of {allowed}") from None


def _provider_type(key: str, value: object) -> str:
    text = _text(key, value)
    if text not in PROVIDER_TYPES:
        raise MetadataRejected(key, f"must be one of {', '.join(sorted(PROVIDER_TYPES))}")
    return text


_FIELDS: dict[str, Callable[[str, object], Any]] = {
    "agent_id": lambda k, v: _text(k, v, pattern=IDENTIFIER),
    "frame_type": lambda k, v: _text(k, v, pattern=IDENTIFIER),
    "source": _source,
    "provider": _optional(lambda k, v: _text(k, v, pattern=IDENTIFIER)),
    "provider_type": _optional(_provider_type),
    "model": _optional(_text),
    "prompt_digest": _optional(lambda k, v: _text(k, v, pattern=_HEX_DIGEST)),
    "input_tokens": _optional(_count),
    "output_tokens": _optional(_count),
    "attempts": lambda k, v: _count(k, v, maximum=MAX_ATTEMPTS),
    "sources_digest": _optional(lambda k, v: _text(k, v, pattern=_HEX_DIGEST)),
}
_REQUIRED = ("agent_id", "frame_type", "source")


def validate_metadata(mapping: Mapping[str, object]) -> FrameMetadata:
    """The policy: check every key of `mapping` and return the typed record.

    Raises `MetadataRejected` naming the first key that breaks a rule.
    """
    for key in mapping:
        if key in PROMPT_KEYS:
            raise MetadataRejected(
                key, "raw prompt text is never stored; record prompt_digest instead"
            )
        if key not in _FIELDS:
            raise MetadataRejected(key, f"unknown key; allowed: {', '.join(_FIELDS)}")
    for key in _REQUIRED:
        if key not in mapping:
            raise MetadataRejected(key, "is required")
    values = {key: _FIELDS[key](key, value) for key, value in mapping.items()}
    metadata = FrameMetadata(**values)
    if metadata.source is Source.GENERATED and (
        metadata.provider is None or metadata.provider_type is None or metadata.attempts < 1
    ):
        raise MetadataRejected(
            "source", "a generated frame names its provider and provider_type, attempts >= 1"
        )
    return metadata


def build_metadata(
    *,
    agent_id: str,
    frame_type: str,
    source: Source,
    provider: str | None = None,
    provider_type: str | None = None,
    model: str | None = None,
    prompt_digest: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    attempts: int = 0,
    sources_digest: str | None = None,
) -> FrameMetadata:
    """The builder: the one way to make frame metadata, checked by the policy."""
    optional = {} if sources_digest is None else {"sources_digest": sources_digest}
    return validate_metadata(
        {
            **optional,
            "agent_id": agent_id,
            "frame_type": frame_type,
            "source": source.value,
            "provider": provider,
            "provider_type": provider_type,
            "model": model,
            "prompt_digest": prompt_digest,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "attempts": attempts,
        }
    )
