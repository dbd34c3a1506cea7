"""Loading configuration: files, environment, flags; later sources win.

Sources, in order: the workspace's `.merkle/config.toml`, the user file under
the XDG config directory, `MERKLE_*` environment variables, then flags. Each
source is checked on its own against the schema, so an error names the file
(or variable) and the key; then the sources are merged table by table.

The checks are written out here rather than declared with a validation
library: configuration is read by nearly every command, and such a library
would add a fifth of a second to each of them.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from merkle.config.defaults import DEFAULT_AGENT, DEFAULT_FRAME_TYPE, DEFAULT_PROVIDER
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
from merkle.errors import ConfigError

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROVIDER_TYPES = ("openai", "anthropic", "local")
ROLES = ("writer", "reader")
MAX_PROMPT_BYTES = 64 * 1024

Check = Callable[[object], object]


class _Invalid(Exception):
    """A value that breaks a rule; the loader adds where it came from."""


def _identifier(value: object) -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise _Invalid(f"must be a name of letters, digits, '.', '_' or '-' (got {value!r})")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("must be a non-empty string")
    return value


def _choice(*allowed: str) -> Check:
    def check(value: object) -> str:
        if value not in allowed:
            raise _Invalid(f"must be one of {', '.join(allowed)} (got {value!r})")
        return str(value)

    return check


def _integer(low: int, high: int) -> Check:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"must be a whole number from {low} to {high} (got {value!r})")
        return value

    return check


def _number(low: float, high: float, *, above: bool = False) -> Check:
    def check(value: object) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not (low < value <= high if above else low <= value <= high):  # type: ignore[operator]
            bound = f"above {low}" if above else f"from {low}"
            raise _Invalid(f"must be a number {bound} up to {high} (got {value!r})")
        return float(value)  # type: ignore[arg-type]

    return check


def _url(value: object) -> str:
    if not isinstance(value, str) or not re.match(r"https?://[^\s/]+", value):
        raise _Invalid(f"must be an http:// or https:// URL (got {value!r})")
    return value


def _store_url(value: object) -> str:
    text = _text(value)
    try:
        password = urlsplit(text).password
    except ValueError:
        raise _Invalid(f"is not a URL (got {value!r})") from None
    if password is not None:
        raise _Invalid("a password is never read from configuration; leave it out of the URL")
    return text


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false (got {value!r})")
    return value


def _patterns(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise _Invalid(f"must be a list of gitignore patterns (got {value!r})")
    return tuple(value)


def _env_name(value: object) -> str:
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        raise _Invalid(f"must name an environment variable, like OPENAI_API_KEY (got {value!r})")
    return value


SECTIONS: dict[str, dict[str, Check]] = {
    "defaults": {"agent": _identifier, "provider": _identifier, "frame_type": _identifier},
    "generation": {
        "max_attempts": _integer(1, 100),
        "retry_budget_s": _number(0, 604_800),
        "max_retry_after_s": _number(0, 604_800),
        "file_budget_bytes": _integer(1024, 100_000_000),
        "queue_max_size": _integer(1, 10_000_000),
        "allow_hardlinks": _boolean,
        "replace_provider": _identifier,
        "local_only": _patterns,
    },
    "sessions": {"keep": _integer(0, 1_000_000), "max_age_days": _number(0, 36_500)},
    "egress": {"keep_days": _number(0, 36_500)},
    "security": {"local_only": _boolean},
    "store": {"url": _store_url},
}
ENVIRONMENT_SECTIONS = ("defaults", "generation", "security")  # MERKLE_<KEY> for these keys
# Where MERKLE_<KEY> would be ambiguous: the variable a key takes (None: none).
_ENVIRONMENT_NAMES: dict[tuple[str, str], str | None] = {
    ("generation", "local_only"): None,
    ("security", "local_only"): "MERKLE_LOCAL_ONLY",
}
STORE_URL_VARIABLE = "MERKLE_STORE_URL"
PROVIDER_KEYS: dict[str, Check] = {
    "type": _choice(*PROVIDER_TYPES),
    "base_url": _url,
    "model": _text,
    "api_key_env": _env_name,
    "timeout_s": _number(0, 3600, above=True),
    "max_tokens": _integer(1, 1_000_000),
    "temperature": _number(0, 2),
    "context_window_tokens": _integer(512, 100_000_000),
}
PROMPT_KEYS = ("system_prompt", "user_prompt_file", "user_prompt_directory", "response_template")
AGENT_KEYS: dict[str, Check] = {
    "role": _choice(*ROLES),
    **{key: _text for key in PROMPT_KEYS},
    **{f"{key}_path": _text for key in PROMPT_KEYS},
    "provider": _identifier,
    "frame_type": _identifier,
    "max_concurrent": _integer(1, 256),
    "requests_per_minute": _number(0, 1_000_000, above=True),
    "min_interval_s": _number(0, 3600),
}
# The architecture's spelling of a system prompt read from a file.
AGENT_ALIASES = {"system_prompt_file": "system_prompt_path"}
NAMED_TABLES: dict[str, dict[str, Check]] = {"providers": PROVIDER_KEYS, "agents": AGENT_KEYS}


@dataclass(frozen=True, slots=True)
class Source:
    """One source of configuration: where it came from, its values, and the base of
    its relative paths."""

    label: str
    values: Mapping[str, Any]
    base_dir: Path | None = None


def _fail(source: Source, key: str, problem: str, hint: str | None = None) -> ConfigError:
    return ConfigError(
        f"{source.label}: {key}: {problem}",
        hint=hint or "fix the value, or remove it to use the default",
    )


def _check_table(
    source: Source, prefix: str, table: object, keys: dict[str, Check]
) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(source, prefix, "must be a table")
    checked: dict[str, Any] = {}
    for key, value in table.items():
        name = AGENT_ALIASES.get(key, key) if keys is AGENT_KEYS else key
        if key == "api_key":
            raise _fail(
                source,
                f"{prefix}.{key}",
                "API keys are never read from configuration files",
                hint="put the key in an environment variable and name it with api_key_env",
            )
        if name not in keys:
            raise _fail(source, f"{prefix}.{key}", f"unknown key; known: {', '.join(keys)}")
        try:
            checked[name] = keys[name](value)
        except _Invalid as error:
            raise _fail(source, f"{prefix}.{key}", str(error)) from None
        if name.endswith("_path"):
            checked[name[: -len("_path")]] = _read_prompt(source, f"{prefix}.{key}", value)
            del checked[name]
    return checked


def _read_prompt(source: Source, key: str, value: object) -> str:
    """A prompt file's text: a regular file inside the directory its configuration
    belongs to (the workspace, or the user's configuration directory), not a link out
    of it, and no larger than `MAX_PROMPT_BYTES`. It is sent to providers, so nothing
    else on the machine may be named here."""
    base = source.base_dir
    path = Path(str(value))
    if not path.is_absolute() and base is not None:
        path = base / path
    real = Path(os.path.realpath(path))
    if base is None or not real.is_relative_to(os.path.realpath(base)):
        raise _fail(
            source,
            key,
            f"{path} is outside {base or 'the configuration directory'}",
            hint="keep prompt files inside the workspace (or beside the user configuration)",
        )
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _fail(source, key, f"cannot read {path}: {error.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _fail(source, key, f"{path} is not a regular file")
        data = handle.read(MAX_PROMPT_BYTES + 1)
    if len(data) > MAX_PROMPT_BYTES:
        raise _fail(source, key, f"{path} is larger than {MAX_PROMPT_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(source, key, f"{path} is not UTF-8 text") from None


def check_source(source: Source) -> dict[str, Any]:
    """The source's values, each checked against the schema; prompt files read in."""
    checked: dict[str, Any] = {}
    for section, table in source.values.items():
        if section in SECTIONS:
            checked[section] = _check_table(source, section, table, SECTIONS[section])
        elif section in NAMED_TABLES:
            if not isinstance(table, dict):
                raise _fail(source, section, "must be a table of named tables")
            checked[section] = {}
            for name, entry in table.items():
                try:
                    _identifier(name)
                except _Invalid as error:
                    raise _fail(source, f"{section}.{name}", f"the name {error}") from None
                keys = NAMED_TABLES[section]
                checked[section][name] = _check_table(source, f"{section}.{name}", entry, keys)
        else:
            known = ", ".join([*SECTIONS, *NAMED_TABLES])
            raise _fail(source, section, f"unknown section; known: {known}")
    return checked


def read_toml(path: Path, *, base_dir: Path) -> Source | None:
    """The configuration file at `path` as a source; None when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}", hint="check the file") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}", hint="fix the syntax") from None
    return Source(str(path), values, base_dir)


def environment_source(environ: Mapping[str, str]) -> list[Source]:
    """`MERKLE_<KEY>` variables for the keys of [defaults] and [generation], and
    `MERKLE_STORE_URL` for [store] url."""
    sources = []
    for section in ENVIRONMENT_SECTIONS:
        for key in SECTIONS[section]:
            variable = _ENVIRONMENT_NAMES.get((section, key), f"MERKLE_{key.upper()}")
            raw = environ.get(variable) if variable is not None else None
            if variable is None or raw is None:
                continue
            label = f"environment variable {variable}"
            value: object = raw
            check = SECTIONS[section][key]
            if check is _boolean:
                value = _environment_boolean(label, variable, raw)
            elif check is _patterns:
                value = [item.strip() for item in raw.split(",") if item.strip()]
            elif section == "generation" and check is not _identifier:
                value = _environment_number(label, variable, raw)
            sources.append(Source(label, {section: {key: value}}))
    url = environ.get(STORE_URL_VARIABLE)
    if url:
        label = f"environment variable {STORE_URL_VARIABLE}"
        sources.append(Source(label, {"store": {"url": url}}))
    return sources


def _environment_number(label: str, variable: str, raw: str) -> int | float:
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            continue
    raise ConfigError(
        f"{label}: must be a number (got {raw!r})",
        hint=f"set {variable} to a number, or unset it",
    )


def _environment_boolean(label: str, variable: str, raw: str) -> bool:
    words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if raw.strip().lower() not in words:
        raise ConfigError(
            f"{label}: must be true or false (got {raw!r})", hint=f"set {variable} to 1 or 0"
        )
    return words[raw.strip().lower()]


def _merge(target: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _provider(name: str, values: Mapping[str, Any], origin: str) -> ProviderSettings:
    kind = values.get("type")
    if kind is None:
        raise ConfigError(
            f"{origin}: providers.{name}.type: is required",
            hint=f"set type to one of {', '.join(PROVIDER_TYPES)}",
        )
    if kind != "local" and "model" not in values:
        raise ConfigError(
            f"{origin}: providers.{name}.model: is required for a provider of type {kind}",
            hint='name the model to use, e.g. model = "gpt-4o-mini"',
        )
    if kind == "anthropic" and values.get("temperature") is not None:
        raise ConfigError(
            f"{origin}: providers.{name}.temperature: the Anthropic API no longer takes it",
            hint="remove temperature from this provider",
        )
    window = values.get("context_window_tokens")
    if window is not None and values.get("max_tokens", 1024) * 2 > window:
        raise ConfigError(
            f"{origin}: providers.{name}.max_tokens: the answer would take more than half"
            f" of the {window}-token window, leaving too little for the prompt",
            hint="lower max_tokens, or raise context_window_tokens if the model has more",
        )
    return ProviderSettings(name=name, origin=origin, **values)


def _origins(checked: list[tuple[Source, dict[str, Any]]]) -> dict[tuple[str, str], str]:
    """For each named table entry, the sources that declare it."""
    found: dict[tuple[str, str], list[str]] = {}
    for source, values in checked:
        for section in NAMED_TABLES:
            for name in values.get(section, {}):
                found.setdefault((section, name), []).append(source.label)
    return {key: ", ".join(labels) for key, labels in found.items()}


def load_settings(
    *,
    workspace_config: Path | None,
    workspace_root: Path | None,
    user_config: Path | None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Read every source, check each, merge them (later wins) and build the settings."""
    sources: list[Source] = []
    if workspace_config is not None:
        found = read_toml(workspace_config, base_dir=workspace_root or workspace_config.parent)
        sources += [found] if found else []
    if user_config is not None:
        found = read_toml(user_config, base_dir=user_config.parent)
        sources += [found] if found else []
    sources += environment_source(os.environ if environ is None else environ)
    if flags:
        sources.append(Source("command-line flags", {"defaults": dict(flags)}))
    checked = [(source, check_source(source)) for source in sources]
    merged: dict[str, Any] = {}
    for _, values in checked:
        _merge(merged, values)
    origins = _origins(checked)
    defaults = merged.get("defaults", {})
    return Settings(
        agent=defaults.get("agent", DEFAULT_AGENT),
        provider=defaults.get("provider", DEFAULT_PROVIDER),
        frame_type=defaults.get("frame_type", DEFAULT_FRAME_TYPE),
        providers={
            n: _provider(n, v, origins[("providers", n)])
            for n, v in merged.get("providers", {}).items()
        },
        agents={
            n: AgentSettings(agent_id=n, origin=origins[("agents", n)], **v)
            for n, v in merged.get("agents", {}).items()
        },
        generation=GenerationSettings(**merged.get("generation", {})),
        sessions=SessionSettings(**merged.get("sessions", {})),
        egress=EgressSettings(**merged.get("egress", {})),
        security=SecuritySettings(**merged.get("security", {})),
        store=StoreSettings(**merged.get("store", {})),
        sources=tuple(s.label for s in sources),
    )
