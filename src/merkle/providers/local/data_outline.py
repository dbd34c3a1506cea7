"""Outlines of data and configuration files: JSON, TOML, YAML, INI and CSV.

JSON and TOML are parsed with the standard library and described by shape
(keys, tables, value kinds). YAML and INI are read with a line scan of their
top-level keys and sections, which is enough for an outline and needs no
third-party parser.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Iterator, Mapping

from merkle.providers.local.outline import (
    Outline,
    Section,
    UnparsableText,
    clip,
    code,
    count_lines,
    join_names,
    plural,
)

_MAX_KEYS_SHOWN = 8
_MAX_VALUE_CHARS = 60
_MAX_TABLE_DEPTH = 4

_YAML_KEY = re.compile(r"""^(["']?)([^"'#\s][^"'#]*?)\1\s*:(?:\s+(.*?))?\s*$""")
_INI_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_INI_KEY = re.compile(r"^\s*([^\s=:;#\[][^=:]*?)\s*[=:]")


def outline_json(path: str, text: str) -> Outline:
    """The shape of a JSON document: its top-level keys and what each holds."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UnparsableText(f"not valid JSON: {error}") from error
    lines = plural(count_lines(text), "line")
    if isinstance(value, dict):
        items = tuple(f"{code(str(key))}: {describe(item)}" for key, item in value.items())
        return Outline(
            summary=_description(value),
            facts=f"JSON object with {plural(len(value), 'top-level key')}, {lines}.",
            sections=(Section(title="Keys", items=items),),
        )
    return Outline(summary=None, facts=f"JSON document: {describe(value)}, {lines}.")


def describe(value: object) -> str:
    """A short description of a parsed value: a scalar itself, a container's shape."""
    if isinstance(value, dict):
        keys = [str(key) for key in value]
        shown = join_names(keys, limit=_MAX_KEYS_SHOWN)
        return f"object with {plural(len(keys), 'key')}" + (f" ({shown})" if keys else "")
    if isinstance(value, list):
        kinds = sorted({_kind(item) for item in value})
        return f"array of {plural(len(value), 'item')}" + (
            f" ({', '.join(kinds)})" if kinds else ""
        )
    if isinstance(value, str | bool | int | float) or value is None:
        return code(clip(json.dumps(value, ensure_ascii=False), _MAX_VALUE_CHARS))
    return code(clip(str(value), _MAX_VALUE_CHARS))


def _kind(value: object) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean"}
    if value is None:
        return "null"
    return kinds.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _description(document: Mapping[str, object]) -> str | None:
    # `description` is where package manifests (package.json, pyproject.toml,
    # Cargo.toml, composer.json) say what the project is.
    for table in (document, *(value for value in document.values() if isinstance(value, dict))):
        found = table.get("description")
        if isinstance(found, str) and found.strip():
            return found.strip()
    return None


def outline_toml(path: str, text: str) -> Outline:
    """The tables of a TOML document with the keys each sets."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UnparsableText(f"not valid TOML: {error}") from error
    scalars = tuple(
        f"{code(key)} = {describe(value)}"
        for key, value in document.items()
        if not isinstance(value, dict) and not _is_table_array(value)
    )
    tables = tuple(_table_items(document))
    return Outline(
        summary=_description(document),
        facts=f"TOML document, {plural(count_lines(text), 'line')}, "
        f"{plural(len(tables), 'table')}.",
        sections=(
            Section(title="Top-level keys", items=scalars),
            Section(title="Tables", items=tables),
        ),
    )


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _table_items(table: Mapping[str, object], prefix: str = "", depth: int = 0) -> Iterator[str]:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            keys = _keys_suffix(value)
            # `[tool]` in `[tool.ruff]` only holds tables: its children say it.
            if keys or not any(
                isinstance(item, dict) or _is_table_array(item) for item in value.values()
            ):
                yield f"{code(f'[{name}]')}{keys}"
            if depth < _MAX_TABLE_DEPTH:
                yield from _table_items(value, name, depth + 1)
        elif isinstance(value, list) and _is_table_array(value):
            keys = _keys_suffix({key: None for item in value for key in item})
            yield f"{code(f'[[{name}]]')} ({plural(len(value), 'entry', 'entries')}){keys}"


def _keys_suffix(table: Mapping[str, object]) -> str:
    keys = [
        key
        for key, value in table.items()
        if not isinstance(value, dict) and not _is_table_array(value)
    ]
    return f": {join_names(keys, limit=_MAX_KEYS_SHOWN)}" if keys else ""


def outline_yaml(path: str, text: str) -> Outline:
    """The top-level keys of a YAML document and what sits under each."""
    scan = _YamlScan()
    for line in text.splitlines():
        scan.feed(line)
    items = tuple(
        _yaml_item(key, children, scan.values.get(key)) for key, children in scan.children.items()
    )
    facts = f"YAML document, {plural(count_lines(text), 'line')}"
    facts += f", {plural(len(scan.children), 'top-level key')}"
    facts += f", {plural(scan.entries, 'top-level list item')}" if scan.entries else ""
    facts += f", {scan.documents} documents." if scan.documents > 1 else "."
    return Outline(
        summary=scan.values.get("description"),
        facts=facts,
        sections=(Section(title="Top-level keys", items=items),),
    )


class _YamlScan:
    """A line scan of top-level keys, their scalar values and their children."""

    def __init__(self) -> None:
        self.children: dict[str, list[str]] = {}
        self.values: dict[str, str] = {}
        self.documents = 0
        self.entries = 0
        self._current: str | None = None
        self._child_indent: int | None = None

    def feed(self, line: str) -> None:
        stripped = line.strip()
        if line.startswith("---"):
            self.documents += 1
            self._current = None
        elif not stripped or stripped.startswith("#"):
            return
        elif not line[0].isspace():
            self._top_level(line)
        elif self._current is not None:
            indent = len(line) - len(line.lstrip())
            # Only the first level under a key: deeper lines belong to children.
            if self._child_indent in (None, indent):
                self._child_indent = indent
                self.children[self._current].append(_yaml_child(stripped))

    def _top_level(self, line: str) -> None:
        self._current, self._child_indent = None, None
        found = _YAML_KEY.match(line)
        if line.startswith("-"):
            self.entries += 1
        if found is None or line.startswith("-"):
            return
        key, value = found.group(2), (found.group(3) or "").strip()
        self.children.setdefault(key, [])
        if value[:1] in ("|", ">"):
            # A block scalar: the indented lines below are its text, not keys.
            self.values[key] = "(multi-line text)"
        elif value:
            self.values[key] = value.strip("'\"")
        else:
            self._current = key


def _yaml_child(stripped: str) -> str:
    if stripped == "-" or stripped.startswith("- "):
        return "-"
    found = _YAML_KEY.match(stripped)
    return found.group(2) if found is not None else ""


def _yaml_item(key: str, children: list[str], value: str | None) -> str:
    if value is not None:
        return f"{code(key)}: {code(clip(value, _MAX_VALUE_CHARS))}"
    entries = children.count("-")
    names = list(dict.fromkeys(child for child in children if child not in ("-", "")))
    if names:
        return f"{code(key)}: {join_names(names, limit=_MAX_KEYS_SHOWN)}"
    if entries:
        return f"{code(key)}: list of {plural(entries, 'item')}"
    return code(key)


def outline_ini(path: str, text: str) -> Outline:
    """The sections of an INI-style configuration file and their keys."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";")):
            continue
        header = _INI_SECTION.match(line)
        if header:
            current = header.group(1).strip()
            sections.setdefault(current, [])
            continue
        key = _INI_KEY.match(line)
        if key and not line[:1].isspace():
            sections.setdefault(current, []).append(key.group(1))
    items = tuple(
        f"{code(f'[{name}]') if name else '(before any section)'}"
        + (f": {join_names(keys, limit=_MAX_KEYS_SHOWN)}" if keys else "")
        for name, keys in sections.items()
    )
    named = sum(1 for name in sections if name)
    return Outline(
        summary=None,
        facts=f"INI configuration, {plural(count_lines(text), 'line')}, "
        f"{plural(named, 'section')}.",
        sections=(Section(title="Sections", items=items),),
    )


def outline_csv(path: str, text: str) -> Outline:
    """The columns and row count of a CSV table with a header row."""
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        header = next(csv.reader(lines[:1]), [])
    except csv.Error as error:
        raise UnparsableText(f"not valid CSV: {error}") from error
    rows = max(len(lines) - 1, 0)
    return Outline(
        summary=None,
        facts=f"CSV table, {plural(rows, 'row')} under a header of "
        f"{plural(len(header), 'column')}.",
        sections=(Section(title="Columns", items=tuple(code(name) for name in header)),),
    )
