"""Built-in defaults that make a fresh workspace work with no configuration."""

DEFAULT_AGENT = "docs-writer"
DEFAULT_PROVIDER = "local"
DEFAULT_FRAME_TYPE = "context"
