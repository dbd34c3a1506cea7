"""Configuration: where it lives, what a new workspace starts with, and loading it."""

from merkle.config.defaults import (
    DEFAULT_AGENT,
    DEFAULT_FRAME_TYPE,
    DEFAULT_LOCAL_ONLY,
    DEFAULT_PROVIDER,
)
from merkle.config.loader import load_settings
from merkle.config.model import (
    AgentSettings,
    EgressSettings,
    GenerationSettings,
    ProviderSettings,
    SecuritySettings,
    SessionSettings,
    Settings,
    StoreSettings,
)
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
    "DEFAULT_AGENT",
    "DEFAULT_CONFIG_TOML",
    "DEFAULT_FRAME_TYPE",
    "DEFAULT_LOCAL_ONLY",
    "DEFAULT_PROVIDER",
    "WORKSPACE_DIR_NAME",
    "AgentSettings",
    "EgressSettings",
    "GenerationSettings",
    "ProviderSettings",
    "SecuritySettings",
    "SessionSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
    "user_config_path",
]
