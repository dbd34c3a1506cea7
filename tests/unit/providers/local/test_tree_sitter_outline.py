"""Source in every language tree-sitter reads: public interface first, docs, private names.

Each sample under `samples/` is a small realistic file with a header comment,
public and private declarations and a type with members. Its summary must
say what the file is for, name every public top-level symbol with its
signature as written, and keep private ones to a name in a `private:` line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from merkle.providers.local import tree_sitter_outline
from merkle.providers.local.code_specs import SPECS
from merkle.providers.local.formats import Format
from tests.unit.providers.local.support import summarise_file

SAMPLES = Path(__file__).parent / "samples"


def _summary(name: str) -> str:
    return summarise_file(f"src/{name}", (SAMPLES / name).read_text(encoding="utf-8"))


CASES = [
    pytest.param(
        "api.ts",
        "Client for the billing API.",
        "TypeScript source, 55 lines: 9 exports, 3 functions, 1 class, 3 types, 4 methods.",
        [
            '- `export function formatAmount(cents: number, currency = "EUR"): string`',
            "- `export const isPaid = (invoice: Invoice): boolean`",
            "- `export class BillingClient` — Talks to the billing service over HTTPS.",
            "  - `async getInvoice(id: InvoiceId, options: RequestOptions = {}): "
            "Promise<Invoice>` — Fetches one invoice by its id.",
            "  - private: `headers`",
            "- `export interface RequestOptions` — Options every request takes.",
            "  - fields: `timeoutMs`, `signal`",
            "- `export enum Status`\n  - members: `Draft`, `Paid`",
            '- `export const API_VERSION = "v2"`',
            "- `export { retryDelay as backoff }`",
            '- `export * from "./types"`',
            "## Imports\n\n- `./http`\n- `./types`",
        ],
        id="typescript",
    ),
    pytest.param(
        "Button.tsx",
        "A button that shows a spinner while its action runs.",
        "TypeScript source, 14 lines: 2 exports, 1 function, 1 type.",
        [
            "- `export function Button({ label, onClick }: ButtonProps): JSX.Element`",
            "- `export default Button`",
            "- `react`",
        ],
        id="tsx",
    ),
    pytest.param(
        "queue.js",
        "An in-memory job queue with retries.",
        "JavaScript source, 31 lines: 2 exports, 1 function, 1 class, 3 methods.",
        [
            "- `class Queue extends EventEmitter`",
            "  - `async push(job)` — Adds a job; resolves when it has run.",
            "  - private: `#run`",
            "- `function createQueue(worker, options)`",
            "- private: `DEFAULT_RETRIES`",
            "- `module.exports = { Queue, createQueue }`",
            "- `events`\n- `timers/promises`",
        ],
        id="javascript-commonjs",
    ),
    pytest.param(
        "pool.go",
        "Package pool manages a fixed set of reusable worker goroutines.",
        "Go source, 50 lines, `package pool`: 3 types, 2 functions, 4 methods.",
        [
            "- `type Pool struct` — Pool runs tasks on a fixed number of goroutines.",
            "  - `func (p *Pool) Submit(t Task) error` — Submit queues t, or fails with ErrClosed.",
            "  - private: `worker`",
            "- `type Runner interface` — Runner is anything that can run a Task.\n"
            "  - `Submit(t Task) error`",
            "- `func New(size int) *Pool` — New starts a pool of size workers.",
            "- private: `clamp`",
            '- `var ErrClosed = errors.New("pool: closed")`',
            "- `context`\n- `errors`\n- `sync`",
        ],
        id="go",
    ),
    pytest.param(
        "lib.rs",
        "Rate limiting with a token bucket.",
        "Rust source, 53 lines: 3 types, 2 impl blocks, 1 function, 1 macro, 1 module, 5 methods.",
        [
            "- `pub struct Bucket` — A token bucket that refills at a fixed rate.",
            "- `pub enum Refusal` — Why a request was refused.\n  - members: `Empty`, `TooLarge`",
            "- `impl Bucket`\n  - `pub fn new(capacity: u32) -> Self` — A full bucket of",
            "  - private: `refill`",
            "- `impl Limiter for Bucket`\n  - `fn try_acquire(&mut self, tokens: u32)",
            "- private: `elapsed_secs`",
            "- `pub const MAX_BURST: u32 = 1_000` — The largest burst any bucket allows.",
            "- `macro_rules! bucket`",
            "- `std::time::{Duration, Instant}`",
        ],
        id="rust",
    ),
    pytest.param(
        "OrderService.java",
        "Places and looks up customer orders.",
        "Java source, 48 lines, `package com.example.orders`: 3 types, 7 methods.",
        [
            "- `public class OrderService implements AutoCloseable`",
            "  - fields: `MAX_LINES`",
            "  - `public long place(List<OrderLine> lines) throws InvalidOrderException` — "
            "Places an order and returns its id.",
            "  - `public void close()`",
            "  - `public enum State` — The states an order goes through.\n"
            "    - members: `NEW`, `PAID`, `SHIPPED`",
            "  - private: `validate`",
            "- `interface OrderRepository`",
            "- `java.util.List`",
        ],
        id="java",
    ),
    pytest.param(
        "Scheduler.kt",
        "Schedules periodic jobs on a coroutine scope.",
        "Kotlin source, 44 lines, `package com.example.jobs`: 4 types, 2 functions, 5 methods.",
        [
            "- `data class Job(val name: String, val interval: Duration, "
            "val action: suspend () -> Unit)` — One job and how often it runs.",
            "- `class Scheduler(private val scope: CoroutineScope)`",
            "  - `fun schedule(job: Job): Scheduler` — Adds a job to run every `interval`.",
            "  - `fun default(scope: CoroutineScope)`",
            "  - private: `log`",
            "- `fun Duration.isTooShort(): Boolean`",
            "- private: `backoff`",
            "- `kotlinx.coroutines.CoroutineScope`",
        ],
        id="kotlin",
    ),
    pytest.param(
        "ring.c",
        "A fixed-size ring buffer of bytes.",
        "C source, 36 lines: 1 type, 4 functions, 1 macro.",
        [
            "- `struct ring`\n  - fields: `data`, `head`, `tail`, `size`",
            "- `struct ring *ring_new(size_t size)` — Allocates a ring of at least `size` bytes.",
            "- `void ring_free(struct ring *r)`",
            "- private: `ring_mask`",
            "- `RING_MIN`",
            '- `<stdlib.h>`\n- `<string.h>`\n- `"ring.h"`',
        ],
        id="c",
    ),
    pytest.param(
        "matrix.hpp",
        "Dense matrices of doubles with value semantics.",
        "C++ source, 38 lines, `namespace linalg`: 2 types, 2 functions, 5 methods.",
        [
            "- `class Matrix` — A row-major matrix.",
            "  - `double& at(std::size_t r, std::size_t c)` — The element at row `r`, column `c`.",
            "  - `Matrix operator*(const Matrix& other) const`",
            "  - private: `check`",
            "- `template <typename T> T dot(const std::vector<T>& a, const std::vector<T>& b)`",
            "- `struct Shape`\n  - fields: `rows`, `cols`",
        ],
        id="cpp",
    ),
    pytest.param(
        "Inventory.cs",
        "Inventory tracking for the warehouse service.",
        "C# source, 45 lines, `namespace Warehouse.Inventory`: 4 types, 7 methods.",
        [
            "- `public record Item(string Sku, int Quantity)` — A stock item with a quantity",
            "- `public sealed class StockLedger : IDisposable` — Keeps counts of items per SKU.",
            "  - `public void Receive(string sku, int quantity)` — Adds quantity units of a SKU.",
            "  - private: `Audit`",
            "- `public enum StockState`\n  - members: `InStock`, `Low`, `Out`",
            "- `System.Collections.Generic`",
        ],
        id="csharp",
    ),
    pytest.param(
        "store.rb",
        "A tiny key-value store backed by a Hash.",
        "Ruby source, 41 lines: 1 module, 1 class, 5 methods.",
        [
            "- `module Cache`\n  - constants: `VERSION`",
            "  - `class Store < Base` — Stores values under string keys, with an optional expiry.",
            "    - fields: `size`",
            "    - `def fetch(key, default = nil)` — The value stored under +key+, or nil.",
            "    - private: `evict!`",
            "  - `def self.default`",
            "- `json`\n- `errors`",
        ],
        id="ruby",
    ),
    pytest.param(
        "Router.php",
        "Routes HTTP requests to controller actions.",
        "PHP source, 54 lines, `namespace App\\Http`: 2 types, 1 function, 5 methods.",
        [
            "- `final class Router implements Middleware` — Matches a request's path",
            "  - `public function get(string $path, callable $handler): static` — Registers",
            "  - private: `normalise`",
            "- `function route_url(string $name, array $params = []): string`",
            "- `const DEFAULT_METHOD = 'GET'`",
            "- `Psr\\Http\\Message\\RequestInterface`",
        ],
        id="php",
    ),
    pytest.param(
        "Downloader.swift",
        "Downloads files in the background and reports progress.",
        "Swift source, 44 lines: 4 types, 1 extension, 1 function, 4 methods.",
        [
            "- `public final class Downloader` — Downloads one URL at a time.",
            "  - `public func start(_ url: URL, priority: Float = 0.5) async throws -> Data` — "
            "Starts downloading `url`.",
            "  - private: `log`",
            "- `public enum DownloadError: Error`\n  - members: `cancelled`, `failed`",
            "- `extension Downloader: CustomStringConvertible`",
            "- `func formatBytes(_ count: Int64) -> String`",
            "- `Foundation`",
        ],
        id="swift",
    ),
    pytest.param(
        "vector.lua",
        "Two-dimensional vectors with the usual arithmetic.",
        "Lua source, 26 lines: 4 functions.",
        [
            "- `function M.new(x, y)` — Makes a vector from its coordinates.",
            "- `function M:length()`",
            "- private: `clamp`",
            "- `math`",
        ],
        id="lua",
    ),
    pytest.param(
        "release.sh",
        "Builds and publishes a release of the project.",
        "Shell script, 25 lines, `#!/usr/bin/env bash`: 3 functions, 1 exported variable.",
        [
            "- `build` — Builds the wheel and the sdist.\n- `publish`\n- private: `_cleanup`",
            "## Exported variables\n\n- `DIST_DIR`",
            "## Sourced files\n\n- `./scripts/common.sh`",
        ],
        id="bash",
    ),
]


@pytest.mark.parametrize(("name", "summary_line", "facts", "fragments"), CASES)
def test_each_language_leads_with_its_purpose_and_public_interface(
    name: str, summary_line: str, facts: str, fragments: list[str]
) -> None:
    summary = _summary(name)
    lines = summary.splitlines()
    assert lines[2] == summary_line, summary
    assert lines[4] == facts, summary
    for fragment in fragments:
        assert fragment in summary, f"{fragment!r} missing from:\n{summary}"
    assert "Note:" not in summary


@pytest.mark.parametrize(
    ("name", "private"),
    [
        ("api.ts", ["headers"]),
        ("pool.go", ["worker", "clamp"]),
        ("lib.rs", ["refill", "elapsed_secs"]),
        ("Router.php", ["normalise"]),
        ("store.rb", ["evict!"]),
        ("ring.c", ["ring_mask"]),
    ],
)
def test_private_functions_are_named_but_never_shown_with_a_signature(
    name: str, private: list[str]
) -> None:
    summary = _summary(name)
    private_lines = [line for line in summary.splitlines() if "- private: " in line]
    for word in private:
        assert any(f"`{word}`" in line for line in private_lines), summary
        assert re.search(rf"`[^`\n]*{re.escape(word)}\(", summary) is None, summary


def test_public_declarations_come_before_the_private_line_of_their_section() -> None:
    functions = _summary("pool.go").split("## Functions\n\n")[1].split("\n\n")[0].splitlines()
    assert functions == ["- `func New(size int) *Pool` — New starts a pool of size workers.",
                         "- private: `clamp`"]  # fmt: skip


def test_a_file_without_a_header_comment_is_summarised_by_what_it_defines() -> None:
    text = (
        "package geo\n\ntype Point struct{ X, Y float64 }\n\n"
        "func Distance(a, b Point) float64 {\n\treturn 0\n}\n"
    )
    summary = summarise_file("geo/point.go", text)
    assert summary.splitlines()[2] == "Defines type `Point` and function `Distance`."


def test_a_c_header_keeps_static_inline_functions_as_interface() -> None:
    header = "/* Hashing. */\nstatic inline unsigned hash(const char *s) { return 0; }\n"
    assert "- `static inline unsigned hash(const char *s)`" in summarise_file("h/hash.h", header)
    assert "- private: `hash`" in summarise_file("h/hash.c", header)


def test_a_cpp_header_with_a_dot_h_name_is_read_as_cpp() -> None:
    text = "namespace ui {\nclass Widget {\npublic:\n  void draw();\n};\n}\n"
    summary = summarise_file("include/widget.h", text)
    assert "C++ source" in summary
    assert "- `class Widget`\n  - `void draw()`" in summary


def test_a_file_that_partly_fails_to_parse_is_outlined_with_a_note() -> None:
    text = "// Tools.\npackage tools\n\nfunc Good() int { return 1 }\n\nfunc Broken( {\n"
    summary = summarise_file("tools/tools.go", text)
    assert "- `func Good() int`" in summary
    assert "Note: part of it does not parse as Go (from line " in summary


def test_a_parser_failure_falls_back_to_the_line_patterns_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr("merkle.providers.local.file_summary.outline_tree", broken)
    summary = _summary("store.rb")
    assert "Note: the parser failed on this file (RuntimeError), so this outline is read" in summary
    assert "- `class Store < Base`" in summary
    assert "- `def fetch(key, default = nil)`" in summary


def test_a_parser_past_its_time_budget_gives_up_and_the_patterns_outline_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tree_sitter_outline, "PARSE_BUDGET_S", -1.0)
    summary = _summary("pool.go")
    assert "Note: the parser gave up on this file after " in summary
    assert ", so this outline is read from line patterns." in summary
    assert "- `func New(size int) *Pool`" in summary


def test_a_language_without_patterns_falls_back_to_the_plain_outline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("merkle.providers.local.file_summary.outline_tree", broken)
    monkeypatch.delitem(SPECS, Format.LUA)
    summary = _summary("vector.lua")
    assert "Text file with extension `.lua`" in summary
    assert "Note: the parser failed on this file (MemoryError)" in summary


def test_without_tree_sitter_installed_the_patterns_outline_the_file_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'tree_sitter'")

    monkeypatch.setattr("merkle.providers.local.file_summary.outline_tree", missing)
    summary = _summary("pool.go")
    assert "- `func New(size int) *Pool`" in summary
    assert "Note:" not in summary


def _imported_modules(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def test_tree_sitter_is_imported_only_when_a_file_in_another_language_is_summarised() -> None:
    summarise = (
        "from merkle.providers.local.provider import summarise\n"
        "from merkle.providers.payload import file_block\n"
    )
    python_only = _imported_modules(summarise + "summarise(file_block('a.py', 'x = 1'))")
    assert "tree_sitter" not in python_only
    assert "tree_sitter_language_pack" not in python_only
    go = _imported_modules(summarise + "summarise(file_block('a.go', 'package a'))")
    assert "tree_sitter" in go


def test_python_that_does_not_parse_is_read_by_its_grammar_with_docstrings() -> None:
    text = (
        '"""Jobs.\n\nMore."""\n\nclass Worker(Base):\n    """Runs jobs."""\n\n'
        "    def run(self, job):\n        pass\n\ndef broken(:\n    pass\n"
    )
    summary = summarise_file("pkg/jobs.py", text)
    assert summary.splitlines()[2] == "Jobs."
    assert "- `class Worker(Base)` — Runs jobs.\n  - `def run(self, job)`" in summary
    assert "Note: it does not parse as Python (SyntaxError at line 11" in summary
