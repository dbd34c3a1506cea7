"""Every prompt fits a 16K window on real projects: rich and pygments, end to end.

Run it from the repository root with the project's virtual environment:

    .venv/bin/python bench/prompt_budget.py [--sdists SPEC ...] [--window N]

For each sdist (fetched once with `pip download --no-binary :all: --no-deps`
into `bench/.work/prompt_budget/`), a fresh workspace is generated twice with
the real command line:

1. against an OpenAI-compatible server on 127.0.0.1 that counts tokens with
   cl100k_base and refuses, as hosted APIs do, a request whose messages and
   `max_tokens` exceed the window; the provider is told that window;
2. with the embedded `local` provider.

It prints, per run: nodes, calls, failures, the largest prompt against the
window, refusals; whether every node up to the root has a frame; for the
largest Python module, whether its prompt holds its main class and the share
of that class's methods whose signature is in it (and whether the local frame
names the class); for every directory, whether its prompt names every child
(in its parts, for a directory summarised in parts) and whether its local
frame does. It exits 1 when a check fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, this file's directory comes first on the import path, where
# bench/queue.py would shadow the standard library's `queue`: take it off.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import ast
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.sdists import extracted_sdist  # noqa: E402
from bench.workspaces import (  # noqa: E402
    AGENT,
    Workspace,
    children_by_directory,
    missing_frames,
    report,
    unnamed_children,
    workspace_of,
)
from tests.support.generate_cli import node_of, user_message  # noqa: E402
from tests.support.llm_server import LlmServer, Reply  # noqa: E402

from merkle.providers.payload import parse_blocks  # noqa: E402

DEFAULT_CACHE = REPO_ROOT / "bench" / ".work" / "prompt_budget"
ANSWER_TOKENS = 1024
KEY_ENV = "MERKLE_BENCH_KEY"
# About 250 words, as long as a real model's note.
NOTE = (
    "This part of the project handles one concern and exposes a small interface. "
    + " ".join(f"Its step {n} validates the input and passes it on." for n in range(30))
    + "\n\n## Details\n\n"
    + "Further paragraphs describe the interface, the errors and the callers. " * 8
)


def main_class(source: str) -> tuple[str, list[str]] | None:
    """The class with the most methods, and their names."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    classes = [
        (node.name, [f.name for f in node.body if isinstance(f, ast.FunctionDef)])
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    ]
    return max(classes, key=lambda item: len(item[1]), default=None)


def largest_module(workspace: Workspace, paths: dict[str, str]) -> str:
    """The largest Python module that defines a class."""
    modules = [p for p, kind in paths.items() if kind == "file" and p.endswith(".py")]
    modules.sort(key=lambda p: (workspace.root / p).stat().st_size, reverse=True)
    text = lambda p: (workspace.root / p).read_text(encoding="utf-8", errors="replace")  # noqa: E731
    return next((p for p in modules if main_class(text(p))), modules[0])


def remote_run(source: Path, scratch: Path, window: int) -> bool:
    with LlmServer(context_window=window, keep_alive=True, default=Reply.answer(NOTE)) as server:
        workspace = workspace_of(source, scratch, "remote", env={KEY_ENV: "sk-bench-budget"})
        (workspace.root / ".merkle" / "config.toml").write_text(
            '[defaults]\nprovider = "remote"\n\n'
            f'[providers.remote]\ntype = "openai"\nbase_url = "{server.openai_url}"\n'
            f'model = "bench-model"\napi_key_env = "{KEY_ENV}"\ntimeout_s = 60\n'
            f"context_window_tokens = {window}\nmax_tokens = {ANSWER_TOKENS}\n\n"
            f"[agents.{AGENT}]\nmax_concurrent = 16\n",
            encoding="utf-8",
        )
        started = time.monotonic()
        done = workspace.merkle("context", "generate", "--json")
        wall = time.monotonic() - started
        requests = [r for r in server.requests if r.path == "/v1/chat/completions"]
        tokens = list(server.prompt_tokens)
    paths = workspace.paths()
    frames = workspace.frames()
    refused = sum(t + ANSWER_TOKENS > window for t in tokens)
    print(
        f"  remote: {len(paths):,} nodes, {len(requests):,} calls in {wall:.1f} s (exit"
        f" {done.returncode}); prompts: median {statistics.median(tokens):,.0f}, largest"
        f" {max(tokens):,} + {ANSWER_TOKENS:,} answer tokens against a {window:,} window"
    )
    ok = report("no request over the window", refused == 0, f"{refused} refused")
    ok &= report("every node has a frame", set(paths) == set(frames), missing_frames(paths, frames))
    sent: dict[str, list[str]] = defaultdict(list)
    for request in requests:
        sent[str(node_of(request))].append(user_message(request))
    module = largest_module(workspace, paths)
    ok &= _module_check(workspace, module, "\n".join(sent[module]))
    ok &= _directory_check(children_by_directory(paths), sent)
    return ok


def _module_check(workspace: Workspace, module: str, prompt: str) -> bool:
    source = (workspace.root / module).read_text(encoding="utf-8", errors="replace")
    found = main_class(source)
    if found is None:
        return report("largest module", False, f"{module} does not parse")
    name, methods = found
    shown = sum(f"def {method}(" in prompt for method in methods)
    size = len(source.encode())
    detail = f"{module} ({size:,} bytes): class {name}, {shown} of {len(methods)} methods"
    return report("its prompt holds its main class", f"class {name}" in prompt, detail)


def _directory_check(children: dict[str, set[str]], sent: dict[str, list[str]]) -> bool:
    short = []
    for directory, expected in children.items():
        named = {b.path for message in sent[directory] for b in parse_blocks(message)}
        if not expected <= named:
            short.append((directory, len(expected - named)))
    parted = sum(len(messages) > 1 for messages in sent.values())
    detail = f"{len(children):,} directories, {parted} in parts; short: {short[:3]}"
    return report("every directory prompt names every child", not short, detail)


def local_run(source: Path, scratch: Path) -> bool:
    workspace = workspace_of(source, scratch, "local")
    started = time.monotonic()
    done = workspace.merkle("context", "generate", "--json")
    wall = time.monotonic() - started
    paths, frames = workspace.paths(), workspace.frames()
    print(f"  local: {len(paths):,} nodes in {wall:.1f} s (exit {done.returncode})")
    ok = report("every node has a frame", set(paths) == set(frames), missing_frames(paths, frames))
    module = largest_module(workspace, paths)
    found = main_class((workspace.root / module).read_text(encoding="utf-8", errors="replace"))
    if found is not None:
        ok &= report("the local frame names the main class", found[0] in frames.get(module, ""),
                     f"{module}: {found[0]}")  # fmt: skip
    unnamed = unnamed_children(paths, frames)
    detail = f"{len(unnamed)} directories do not: {unnamed[:3]}"
    return ok & report("every local directory frame names every child", not unnamed, detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdists", nargs="*", default=["rich", "pygments"])
    parser.add_argument("--window", type=int, default=16_384)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    ok = True
    for spec in args.sdists:
        source = extracted_sdist(spec, args.cache)
        print(f"{source.name}:")
        with tempfile.TemporaryDirectory(prefix="merkle-budget-") as scratch:
            ok &= remote_run(source, Path(scratch), args.window)
            ok &= local_run(source, Path(scratch))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
