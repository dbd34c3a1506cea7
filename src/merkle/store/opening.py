"""`open_store(url)`: the backend a store URL names.

`sqlite:///ABSOLUTE/PATH` (or a bare file path) is the embedded default; a
query may set `busy_timeout_ms`, how long a write waits for another
process's lock before it is reported as busy.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from merkle.errors import ConfigError
from merkle.store.backend import StorageBackend
from merkle.store.sqlite import BUSY_TIMEOUT_MS, open_sqlite

_URL_HINT = "give sqlite:///ABSOLUTE/PATH/merkle.db, or leave it unset for the workspace's own"


def sqlite_url(path: Path) -> str:
    """The store URL of the SQLite database at `path`."""
    return "sqlite://" + path.resolve().as_posix()


def _sqlite_options(url: str, query: str) -> int:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"busy_timeout_ms"})
    if unknown:
        raise ConfigError(
            f"store URL {url}: unknown option {unknown[0]}", hint="known options: busy_timeout_ms"
        )
    if "busy_timeout_ms" not in options:
        return BUSY_TIMEOUT_MS
    text = options["busy_timeout_ms"][-1]
    if not text.isdigit():
        raise ConfigError(
            f"store URL {url}: busy_timeout_ms must be a whole number of milliseconds",
            hint="for example ?busy_timeout_ms=10000",
        )
    return int(text)


def open_store(url: str | Path, *, create: bool = False) -> StorageBackend:
    """A new connection to the store at `url`, migrated to the latest schema.

    With `create`, a missing SQLite file is created; otherwise the store must
    exist. Each call opens its own connection: one per thread that uses it.
    """
    if isinstance(url, Path):
        return open_sqlite(url, create=create)
    parts = urlsplit(url)
    if parts.scheme in ("", "file") and not parts.netloc:
        return open_sqlite(Path(unquote(parts.path)), create=create)
    if parts.scheme == "sqlite":
        path = unquote(parts.netloc + parts.path)
        if not path.startswith("/"):
            raise ConfigError(f"store URL {url}: the path is not absolute", hint=_URL_HINT)
        timeout_ms = _sqlite_options(url, parts.query)
        return open_sqlite(Path(path), busy_timeout_ms=timeout_ms, create=create)
    raise ConfigError(
        f"store URL {url}: unknown kind of store {parts.scheme!r}",
        hint=f"this merkle stores in SQLite: {_URL_HINT}",
    )
