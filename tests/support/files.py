"""File-system set-up the tests share: modification times in the past."""

from __future__ import annotations

import os
import time
from pathlib import Path


def backdate(root: Path, seconds: float) -> None:
    """Set the modification time of everything under `root` (but `.merkle/`) `seconds` ago.

    A scan does not trust the stat of a file or directory modified within two
    seconds before its previous scan ("racily clean") and reads it again; a
    time well in the past lets a rescan reuse what it stored without the test
    having to wait. Directories are included, `root` too, so that their
    cached listings are used as well.
    """
    then_ns = time.time_ns() - int(seconds * 1e9)
    for directory, subdirectories, files in os.walk(root):
        if ".merkle" in subdirectories:
            subdirectories.remove(".merkle")
        for name in [*files, *subdirectories]:
            os.utime(os.path.join(directory, name), ns=(then_ns, then_ns), follow_symlinks=False)
    os.utime(root, ns=(then_ns, then_ns))


def set_mtime(path: Path, seconds_ago: float) -> None:
    """Set the modification time of `path` alone `seconds_ago` in the past."""
    then_ns = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(then_ns, then_ns), follow_symlinks=False)
