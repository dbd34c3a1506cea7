"""The embedded `local` provider: summaries from structure, offline and deterministic."""

from merkle.providers.local.provider import MODEL, LocalProvider

__all__ = ["MODEL", "LocalProvider"]
