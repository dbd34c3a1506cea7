"""merkle: always-fresh, LLM-written context for every file and directory of a workspace."""

__version__ = "0.1.0"
