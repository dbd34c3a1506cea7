"""The commented configuration `merkle init` writes into a new workspace."""

DEFAULT_CONFIG_TOML = """\
# merkle workspace configuration.
#
# Every value below is commented out: the built-in defaults apply until you
# uncomment and change one. Later sources win: this file, then the user file
# under $XDG_CONFIG_HOME/merkle/config.toml, then MERKLE_* environment
# variables, then command-line flags.

# [defaults]
# agent = "docs-writer"
# provider = "local"          # a name from [providers.*] or a built-in
# frame_type = "context"

# A provider for any OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio,
# OpenRouter). The key is read from the environment variable named here; it is
# never written to this file.
#
# [providers.openai-main]
# type = "openai"             # openai | anthropic | local
# base_url = "http://127.0.0.1:11434/v1"
# model = "gpt-4o-mini"
# api_key_env = "OPENAI_API_KEY"
# timeout_s = 60
# max_tokens = 1024           # the answer's size, reserved within the window
# context_window_tokens = 128000  # default: known per model, 8192 when unknown

# [generation]
# max_attempts = 12           # tries per node; only retryable errors are retried
# retry_budget_s = 900        # ... and only this long after a node's first attempt
# max_retry_after_s = 300     # a provider asking to wait longer fails the node
# file_budget_bytes = 65536   # a file's text beyond this is cut, with a marker
# queue_max_size = 10000      # requests pending or running before new ones are refused
# allow_hardlinks = false     # send the text of files with several hard links
# replace_provider = "local"  # regenerate the frames this provider wrote
# local_only = ["tests/fixtures/**"]  # summarised offline, never sent (beside lock
#                             # files, minified bundles and generated code)

# What `merkle scan` and `merkle context generate` record (see `merkle sessions`):
# after each, completed sessions beyond the newest `keep` or older than
# `max_age_days` are deleted; running and interrupted ones are kept.
# [sessions]
# keep = 200
# max_age_days = 30

# Every request to a remote provider is recorded before it leaves (see
# `merkle egress`); rows older than `keep_days` are deleted.
# [egress]
# keep_days = 365

# local_only = true (or MERKLE_LOCAL_ONLY=1): nothing leaves this machine; a
# command that would call a remote provider fails before anything is sent.
# [security]
# local_only = false

# Where the store is (default: .merkle/merkle.db in this workspace). Also
# MERKLE_STORE_URL. `busy_timeout_ms` is how long a write waits for another
# process's lock before it is reported as busy.
# [store]
# url = "sqlite:///path/to/merkle.db?busy_timeout_ms=10000"

# Agents: the built-in docs-writer, or your own. Limits hold across every
# merkle process on this workspace.
#
# [agents.docs-writer]
# max_concurrent = 4          # provider calls in flight at once
# requests_per_minute = 600   # or min_interval_s = 0.1

# Files and directories to leave out of the tree, beyond .gitignore and the
# built-in rules, go into a .merkleignore file (gitignore syntax).
"""
