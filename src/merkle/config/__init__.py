"""Configuration: where it lives and what a new workspace starts with."""

from merkle.config.paths import (
    CONFIG_FILE_NAME,
    DATABASE_FILE_NAME,
    WORKSPACE_DIR_NAME,
    user_config_path,
)
from merkle.config.template import DEFAULT_CONFIG_TOML

__all__ = [
    "CONFIG_FILE_NAME",
    "DATABASE_FILE_NAME",
    "DEFAULT_CONFIG_TOML",
    "WORKSPACE_DIR_NAME",
    "user_config_path",
]
