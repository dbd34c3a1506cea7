"""The live monitor of sessions (`merkle tui`), over the session and event store.

The UI toolkit is imported only when the monitor runs, so that importing this
package (as the command line does) costs nothing.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_monitor"]


def run_monitor(database_path: Path, session_id: str | None = None) -> None:
    """Watch the current session of the database at `database_path` (or `session_id`,
    an id or a unique prefix of one) until the user quits."""
    from merkle.tui.app import run_monitor as run

    run(database_path, session_id)
