"""Outlines of every other format the local provider reads, from small samples."""

from __future__ import annotations

import pytest

from tests.unit.providers.local.support import summarise_file

MARKDOWN = """---
title: ignored front matter
---
[![build](https://ci/badge.svg)](https://ci)

Guide
=====

How to use the tool, in short.
Second line of the paragraph.

## Install

```sh
# not a heading
pip install tool
```

### From source

## Use
"""

TYPESCRIPT = """// Routing for the HTTP API.
import express from "express";
const fs = require("fs");

export interface Route<T> {
  path: string;
}

export async function handle(req: Request, res: Response): Promise<void> {
  if (req) {
  }
}

export const add = (a: number, b: number): number => a + b;

export default class Server extends Base implements Closeable {
}
"""

GO = """// Copyright 2024 The Authors.

// Package server serves the API over HTTP.
package server

import (
\t"context"
\tlog "log/slog"
)

type Server struct {
\taddr string
}

func New(addr string) *Server {
\treturn &Server{addr: addr}
}

func (s *Server) Start(ctx context.Context) error {
\treturn nil
}
"""

RUST = """//! A tiny key-value store.

use std::collections::HashMap;

pub struct Store<K> {
    map: HashMap<K, String>,
}

impl<K: Eq> Store<K> {
    pub fn get(&self, key: &K) -> Option<&str> {
        None
    }
}
"""

JAVA = """package com.example.app;

import java.util.List;

public final class Main extends Base implements Runnable {
    private final int count = compute(3);
    public static void main(String[] args) {
        new Main().run();
    }
}
"""

KOTLIN = """package com.example.util

data class Point(val x: Int, val y: Int)

suspend fun load(id: String): Point = Point(0, 0)
"""

C_HEADER = """/* Public API of the codec library. */
#include <stdint.h>
#define MAX_SIZE 1024

typedef struct codec {
    int level;
} codec_t;

int codec_init(codec_t *codec, int level);
static inline uint32_t codec_hash(const char *data, size_t size);
"""

SHELL = """#!/usr/bin/env bash
# Deploys the site to staging.
set -euo pipefail
export TARGET=staging

build() {
  make all
}

function upload {
  rsync -a dist/ "$TARGET:/srv"
}
"""

DOCKERFILE = """# syntax=docker/dockerfile:1
# Builds the API image.
FROM python:3.12-slim AS build
ARG VERSION=1.0
FROM gcr.io/distroless/python3
EXPOSE 8080
ENTRYPOINT ["python", "-m", "app"]
"""

MAKEFILE = """# Build and test tasks.
PYTHON ?= python3
.PHONY: all test

all: build test

test: build
\t$(PYTHON) -m pytest
"""

JSON = '{"name": "app", "description": "A demo app", "scripts": {"build": "tsc"}, "files": ["a"]}'

TOML = """title = "demo"

[project]
name = "demo"
description = "A demo project."

[tool.ruff.lint]
select = ["E"]

[[tool.mypy.overrides]]
module = ["x"]
"""

YAML = """# Service configuration.
name: api
server:
  host: 0.0.0.0
  port: 8080
  tls:
    enabled: true
features:
  - search
  - export
notes: |
  text: that is not a key
"""

INI = """; options
[metadata]
name = demo
version = 1.0
[options]
install_requires =
    requests
"""


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        pytest.param(
            "src/app.ts",
            TYPESCRIPT,
            [
                "Routing for the HTTP API.",
                "TypeScript source, 17 lines: 4 exports, 2 functions, 1 class, 1 type.",
                "- `express`\n- `fs`",
                "- `export async function handle(req: Request, res: Response): Promise<void>`",
                "- `export const add = (a: number, b: number): number`",
                "- `export default class Server extends Base implements Closeable`",
                "- `export interface Route<T>`",
            ],
            id="typescript",
        ),
        pytest.param(
            "server/server.go",
            GO,
            [
                "Package server serves the API over HTTP.",
                "Go source, 21 lines, `package server`: 1 type, 1 function, 1 method.",
                "- `context`\n- `log/slog`",
                "- `type Server struct`",
                "- `func New(addr string) *Server`",
                "- `func (s *Server) Start(ctx context.Context) error`",
            ],
            id="go",
        ),
        pytest.param(
            "src/lib.rs",
            RUST,
            [
                "A tiny key-value store.",
                "## Uses\n\n- `std::collections::HashMap`",
                "- `pub struct Store<K>`",
                "- `impl<K: Eq> Store<K>`",
                "- `pub fn get(&self, key: &K) -> Option<&str>`",
            ],
            id="rust",
        ),
        pytest.param(
            "src/Main.java",
            JAVA,
            [
                "Java source, 10 lines, `package com.example.app`: 1 type, 1 method.",
                "- `java.util.List`",
                "- `public final class Main extends Base implements Runnable`",
                "- `public static void main(String[] args)`",
            ],
            id="java",
        ),
        pytest.param(
            "src/Util.kt",
            KOTLIN,
            [
                "- `data class Point(val x: Int, val y: Int)`",
                "- `suspend fun load(id: String): Point`",
            ],
            id="kotlin",
        ),
        pytest.param(
            "include/codec.h",
            C_HEADER,
            [
                "Public API of the codec library.",
                "- `<stdint.h>`",
                "- `MAX_SIZE`",
                "- `typedef struct codec`",
                "- `int codec_init(codec_t *codec, int level)`",
                "- `static inline uint32_t codec_hash(const char *data, size_t size)`",
            ],
            id="c-header",
        ),
        pytest.param(
            "bin/deploy",
            SHELL,
            [
                "Deploys the site to staging.",
                "Shell script, 12 lines, `#!/usr/bin/env bash`: 2 functions, 1 exported variable.",
                "## Functions\n\n- `build`\n- `upload`",
                "- `TARGET`",
            ],
            id="shell-by-shebang",
        ),
        pytest.param(
            "Dockerfile",
            DOCKERFILE,
            [
                "Builds the API image.",
                "- `python:3.12-slim AS build`\n- `gcr.io/distroless/python3`",
                "- `8080`",
                '- `ENTRYPOINT ["python", "-m", "app"]`',
            ],
            id="dockerfile",
        ),
        pytest.param(
            "Makefile",
            MAKEFILE,
            [
                "Build and test tasks.",
                "## Targets\n\n- `all: build test`\n- `test: build`\n",
                "## Variables\n\n- `PYTHON`",
            ],
            id="makefile",
        ),
        pytest.param(
            "package.json",
            JSON,
            [
                "A demo app",
                "JSON object with 4 top-level keys, 1 line.",
                '- `name`: `"app"`',
                "- `scripts`: object with 1 key (`build`)",
                "- `files`: array of 1 item (string)",
            ],
            id="json",
        ),
        pytest.param(
            "pyproject.toml",
            TOML,
            [
                "A demo project.",
                "TOML document, 11 lines, 3 tables.",
                '- `title` = `"demo"`',
                "- `[project]`: `name`, `description`",
                "- `[tool.ruff.lint]`: `select`",
                "- `[[tool.mypy.overrides]]` (1 entry): `module`",
            ],
            id="toml",
        ),
        pytest.param(
            "deploy/config.yml",
            YAML,
            [
                "YAML document, 12 lines, 4 top-level keys.",
                "- `name`: `api`",
                "- `server`: `host`, `port`, `tls`",
                "- `features`: list of 2 items",
                "- `notes`: `(multi-line text)`",
            ],
            id="yaml",
        ),
        pytest.param(
            "setup.cfg",
            INI,
            [
                "INI configuration, 7 lines, 2 sections.",
                "- `[metadata]`: `name`, `version`",
                "- `[options]`: `install_requires`",
            ],
            id="ini",
        ),
        pytest.param(
            "data/scores.csv",
            "id,name,score\n1,ann,3\n2,bob,4\n",
            ["CSV table, 2 rows under a header of 3 columns.", "- `id`\n- `name`\n- `score`"],
            id="csv",
        ),
        pytest.param(
            "db/schema.sql",
            "-- The job queue.\nCREATE TABLE IF NOT EXISTS jobs (id INTEGER);\n",
            ["The job queue.", "- `CREATE TABLE IF NOT EXISTS jobs`"],
            id="sql",
        ),
        pytest.param(
            "NOTES.txt",
            "Release notes.\nShip on Friday.\n\nLater.\n",
            [
                "Release notes. Ship on Friday.",
                "Text file, 4 lines, 6 words.",
                "- `Release notes.`\n- `Ship on Friday.`\n- `Later.`",
            ],
            id="plain-text",
        ),
        pytest.param(
            "data/blob.xyz",
            "\n# first line\nsecond `line`\n",
            [
                "Text file with extension `.xyz`, 3 lines.",
                "- `# first line`\n- `` second `line` ``",
            ],
            id="unknown-text",
        ),
    ],
)
def test_each_format_gets_its_outline(path: str, text: str, expected: list[str]) -> None:
    summary = summarise_file(path, text)
    assert summary.startswith(f"# `{path}`\n\n")
    for fragment in expected:
        assert fragment in summary, f"{fragment!r} missing from:\n{summary}"


def test_markdown_gives_title_nested_headings_and_first_prose_paragraph() -> None:
    summary = summarise_file("docs/guide.md", MARKDOWN)
    lines = summary.splitlines()
    assert lines[2] == "How to use the tool, in short. Second line of the paragraph."
    assert lines[4] == "Markdown document titled `Guide`, 21 lines, 4 headings, 1 code block."
    headings = summary.split("## Headings\n\n")[1].strip().splitlines()
    assert headings == ["- Install", "  - From source", "- Use"]


def test_invalid_json_falls_back_to_the_plain_outline_with_a_note() -> None:
    summary = summarise_file("bad.json", '{"a": 1,,}')
    assert "Note: it does not parse as JSON (not valid JSON:" in summary
    assert '- `{"a": 1,,}`' in summary


def test_a_file_of_unknown_extension_without_one_is_still_outlined() -> None:
    summary = summarise_file("LICENSE", "MIT License\n\nCopyright (c) 2024\n")
    assert "MIT License" in summary
    assert "Text file, 3 lines, 5 words." in summary
