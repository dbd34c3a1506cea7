"""File names of a workspace and the XDG location of the user configuration."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_DIR_NAME = ".merkle"
CONFIG_FILE_NAME = "config.toml"
DATABASE_FILE_NAME = "merkle.db"


def user_config_path(environ: dict[str, str] | None = None) -> Path:
    """The user's configuration file: `$XDG_CONFIG_HOME/merkle/config.toml`.

    Falls back to `~/.config` when `XDG_CONFIG_HOME` is unset or not absolute, as
    the XDG base directory specification asks.
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "merkle" / CONFIG_FILE_NAME
