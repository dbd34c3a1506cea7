"""The live monitor of sessions (`merkle tui`), over the session and event store.

The UI toolkit is imported only when the monitor runs, so that importing this
package (as the command line does) costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from merkle.app import MerkleApp

__all__ = ["run_monitor"]


def run_monitor(app: MerkleApp, session_id: str | None = None) -> None:
    """Watch the current session of `app`'s store (or `session_id`, an id or a unique
    prefix of one) until the user quits."""
    from merkle.tui.app import run_monitor as run

    run(app, session_id)
