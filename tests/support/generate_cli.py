"""`merkle context generate` as real processes against the test LLM server.

- `GatedLlmServer` is the test server with two additions, both keyed by the
  node a request is for (read from the first content block of its user
  message): `hold(paths)` makes the answers for those nodes wait until the
  test releases the returned `Gate`, and `route(path, reply)` answers a node
  with a fixed reply (an error, say) instead of the default.
- `GenerateBench` is a scanned workspace whose `.merkle/config.toml` points
  the `remote` provider at the server; it runs the real CLI (`run`, or
  `start` for a process the test waits on later) with an isolated
  `XDG_CONFIG_HOME`, and reads the store as another program would (heads,
  frames, queue rows, plans).
- `finish_all` waits for processes and fails fast, with a diagnosis, when the
  store shows the active plan waiting on a request the queue will not run
  while that plan is open.
- `AppGeneration` (`GenerateBench.start_in_process`) is `merkle context generate
  --json` run in a thread of the test process through `MerkleApp`: the same
  plan, queue and store coordination, without a process start. The tests of
  several plans at once use it; the process boundary is kept where it is the
  point (dedup across processes, SIGKILL, SIGINT, the command's own output).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from merkle.app import MerkleApp
from merkle.config import load_settings
from merkle.context.generation.orchestrator import GenerationResult
from merkle.context.generation.plan import GenerationPlan
from merkle.errors import MerkleError
from merkle.workspace.init import init_workspace
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.cli import CliResult, merkle_executable, run_merkle
from tests.support.llm_server import LlmServer, RecordedRequest, Reply

AGENT = "docs-writer"
FRAME_TYPE = "context"
MODEL = "m"
PROVIDER = "remote"
BROKEN_PROVIDER = "remote-wrong-key"
KEY_ENV = "MERKLE_GEN_TEST_KEY"
WRONG_KEY_ENV = "MERKLE_GEN_TEST_WRONG_KEY"
# Fake keys, assembled so that no scanner mistakes this file for a leak.
API_KEY = "sk-" + "test-generate-3c1d"
WRONG_API_KEY = "sk-" + "test-wrong-9e2f"
CHAT_PATH = "/v1/chat/completions"

# A gate never holds longer than this: a test that forgets to release fails, it does not hang.
GATE_SAFETY_S = 60.0
# How long the store must show a stranded request before `finish_all` calls it a deadlock.
STRANDED_FOR_S = 1.0
POLL_S = 0.02

# Twelve nodes in four levels (depth 3 down to the root).
TREE: dict[str, bytes | str] = {
    "README.md": "# Shop\n\nA small shop.\n",
    "docs/guide.md": "# Guide\n\nRun `shop serve`.\n",
    "src/app.py": '"""The entry point."""\n\n\ndef main():\n    return 0\n',
    "src/util.py": "def total(prices):\n    return sum(prices)\n",
    "src/sub/c.py": "C = 3\n",
    "src/sub/d.py": "D = 4\n",
    "src/sub/deep/e.py": "E = 5\n",
}
TREE_NODES = (
    ".",
    "README.md",
    "docs",
    "docs/guide.md",
    "src",
    "src/app.py",
    "src/util.py",
    "src/sub",
    "src/sub/c.py",
    "src/sub/d.py",
    "src/sub/deep",
    "src/sub/deep/e.py",
)

_FIRST_BLOCK = re.compile(r'^<(file|child|directory) path="([^"]*)"', re.MULTILINE)


def parent_path(path: str) -> str:
    """The parent of a workspace path (`.` for a top-level name)."""
    return path.rsplit("/", 1)[0] if "/" in path else "."


def user_message(request: RecordedRequest) -> str:
    """The text of the user message of a chat completion request."""
    messages = request.body.get("messages", []) if isinstance(request.body, dict) else []
    return "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")


def node_of(request: RecordedRequest) -> str | None:
    """The node a generation request is for, from the first content block of its user
    message: a file's own block, a directory's first child or its empty-directory note."""
    if request.path != CHAT_PATH:
        return None
    found = _FIRST_BLOCK.search(user_message(request))
    if found is None:
        return None
    kind, path = found.groups()
    return parent_path(path) if kind == "child" else path


def subtree(path: str, nodes: Iterable[str] = TREE_NODES) -> set[str]:
    """`path` and every node below it."""
    if path == ".":
        return set(nodes)
    return {node for node in nodes if node == path or node.startswith(path + "/")}


class Gate:
    """Answers for some nodes wait on this until `release` (or the server stops)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self._open = threading.Event()

    def release(self) -> None:
        """Let every held answer go, and every later one through."""
        self._open.set()

    def wait(self) -> None:
        self._open.wait(GATE_SAFETY_S)


class GatedLlmServer(LlmServer):
    """The test server, with answers held or replaced by the node they are for.

    It extends `LlmServer._arrive`, where each request is recorded and takes
    its reply: a held request is recorded (so `wait_for_requests` sees it)
    and counted in flight before it waits.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gates: list[Gate] = []
        self._routes: dict[str, Reply] = {}
        self._rules = threading.Lock()

    def hold(self, paths: Iterable[str]) -> Gate:
        """Hold the answers for the nodes at `paths` until the gate is released."""
        gate = Gate(paths)
        with self._rules:
            self._gates.append(gate)
        return gate

    def route(self, path: str, reply: Reply) -> None:
        """Answer every request for the node at `path` with `reply`."""
        with self._rules:
            self._routes[path] = reply

    def stop(self) -> None:
        """Open every gate, then stop as the plain server does."""
        with self._rules:
            gates = list(self._gates)
        for gate in gates:
            gate.release()
        super().stop()

    def _arrive(self, request: RecordedRequest) -> Reply:
        reply = super()._arrive(request)
        node = node_of(request)
        with self._rules:
            routed = self._routes.get(node) if node is not None else None
            gates = [gate for gate in self._gates if node in gate.paths]
        for gate in gates:
            gate.wait()
        return routed or reply

    # -- what it saw ---------------------------------------------------------------------

    def calls(self) -> list[str]:
        """The node of every generation request, in arrival order."""
        return [node for node in map(node_of, self.requests) if node is not None]

    def call_counts(self) -> Counter[str]:
        """How many generation requests each node had."""
        return Counter(self.calls())

    def wait_for_calls(self, paths: Iterable[str], timeout_s: float = 30.0) -> None:
        """Return once a request for every node in `paths` has arrived."""
        wanted = set(paths)
        deadline = time.monotonic() + timeout_s
        while not wanted <= set(self.calls()):
            if time.monotonic() > deadline:
                missing = sorted(wanted - set(self.calls()))
                raise AssertionError(f"no request arrived within {timeout_s} s for {missing}")
            self.wait_for_requests(len(self.requests) + 1, timeout_s=POLL_S * 5)


def config_toml(server: LlmServer, *, extra: str = "", provider_extra: str = "") -> str:
    """A workspace configuration: `remote` (and a `remote-wrong-key`) aimed at `server`,
    with `provider_extra` TOML keys in each provider's table."""

    def provider(name: str, key_env: str) -> str:
        # A held answer must not time out on the client: 30 s, not the usual 5.
        return (
            f'[providers.{name}]\ntype = "openai"\nbase_url = "{server.openai_url}"\n'
            f'model = "{MODEL}"\napi_key_env = "{key_env}"\ntimeout_s = 30\n'
            f"{provider_extra}\n"
        )

    return (
        f'[defaults]\nprovider = "{PROVIDER}"\n\n'
        + provider(PROVIDER, KEY_ENV)
        + provider(BROKEN_PROVIDER, WRONG_KEY_ENV)
        + extra
    )


class CliProcess:
    """One running `merkle` command; its output goes to temporary files."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.args = list(args)
        self._stdout: IO[str] = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._stderr: IO[str] = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [merkle_executable(), *self.args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            text=True,
        )
        self.result: CliResult | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    def collect(self) -> CliResult:
        """The result of the exited process."""
        if self.result is None:
            code = self.process.wait()
            self._stdout.seek(0)
            self._stderr.seek(0)
            self.result = CliResult(code, self._stdout.read(), self._stderr.read())
        return self.result

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` if the process still runs, and reap it."""
        if self.running():
            self.process.send_signal(sig)
        self.process.wait(timeout=30)

    def close(self) -> None:
        """Kill the process if it still runs and close its output files."""
        try:
            self.kill()
        finally:
            self._stdout.close()
            self._stderr.close()


class AppGeneration:
    """`merkle context generate [PATH] --json` in a thread of this process, through the app.

    Its result reads as the command's would: the exit status and the `--json`
    document (an error: its message on stderr, with the error's exit status).
    `kill` cancels the run as Ctrl-C does.
    """

    def __init__(
        self, app: MerkleApp, path: str | None, *, recursive: bool, provider: str | None
    ) -> None:
        self.args = ["context", "generate", *([path] if path else [])]
        self.args += [*([] if recursive else ["--no-recursive"]), "--json"]
        self._app = app
        self._options: dict[str, Any] = {"path": path, "recursive": recursive, "provider": provider}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[GenerationResult] | None = None
        self._started = threading.Event()
        self.result: CliResult | None = None
        self._thread = threading.Thread(target=self._main, name="app-generation", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            with self._app as app:
                options = app.generate_options(**self._options)
                outcome = app.plan(options, cwd=app.workspace.root)
                result = None if outcome.plan is None else asyncio.run(self._execute(outcome.plan))
            document = result.to_json() if result is not None else {"plan_id": None}
            document |= {"target_path": outcome.target.path, "skipped": list(outcome.skipped)}
            failed = result is not None and bool(result.total_failed or result.error)
            self.result = CliResult(1 if failed else 0, json.dumps(document), "")
        except MerkleError as error:
            self.result = CliResult(error.exit_code, "", error.message)
        except (Exception, asyncio.CancelledError) as error:
            self.result = CliResult(
                130 if isinstance(error, asyncio.CancelledError) else 99, "", repr(error)
            )
        finally:
            self._started.set()

    async def _execute(self, plan: GenerationPlan) -> GenerationResult:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        self._started.set()
        return await self._app.execute(plan)

    def running(self) -> bool:
        """Whether the generation has not ended yet."""
        return self._thread.is_alive()

    def collect(self) -> CliResult:
        """The result of the ended generation."""
        self._thread.join(timeout=GATE_SAFETY_S)
        assert self.result is not None, "the generation did not end"
        return self.result

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Cancel the run (as an interrupt would) and wait for it."""
        self._started.wait(GATE_SAFETY_S)
        if self._loop is not None and self._task is not None and self.running():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=GATE_SAFETY_S)

    def close(self) -> None:
        """Cancel the run if it still goes on."""
        self.kill()


@dataclass
class GenerateBench:
    """A scanned workspace configured for the test server, and the processes started on it."""

    workspace: Workspace
    server: GatedLlmServer
    xdg: Path
    processes: list[CliProcess | AppGeneration] = field(default_factory=list)

    @property
    def root(self) -> Path:
        """The workspace root."""
        return Path(self.workspace.root)

    @property
    def env(self) -> dict[str, str]:
        """The environment of every command: no user configuration, no MERKLE_* leaks."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MERKLE_")}
        environment.update(
            NO_COLOR="1",
            COLUMNS="200",
            XDG_CONFIG_HOME=str(self.xdg),
            **{KEY_ENV: API_KEY, WRONG_KEY_ENV: WRONG_API_KEY},
        )
        return environment

    def configure(self, *, extra: str = "", provider_extra: str = "") -> None:
        """Rewrite `.merkle/config.toml` (the providers, and `extra` TOML)."""
        (self.root / ".merkle" / "config.toml").write_text(
            config_toml(self.server, extra=extra, provider_extra=provider_extra),
            encoding="utf-8",
        )

    def run(self, *args: str, timeout_s: float = 60.0) -> CliResult:
        """Run `merkle ARGS` in the workspace and wait for it."""
        return run_merkle(*args, cwd=self.root, env=self.env, timeout_s=timeout_s)

    def start(self, *args: str) -> CliProcess:
        """Start `merkle ARGS` in the workspace; it is killed when the bench closes."""
        process = CliProcess(args, cwd=self.root, env=self.env)
        self.processes.append(process)
        return process

    def app(self) -> MerkleApp:
        """The workspace's app with its configuration file only (no user file, no
        environment variables), as the bench's commands see it."""
        settings = load_settings(
            workspace_config=self.workspace.config_path,
            workspace_root=self.root,
            user_config=None,
            environ={},
        )
        return MerkleApp(self.workspace, settings)

    def start_in_process(
        self, path: str | None = None, *, recursive: bool = True, provider: str | None = None
    ) -> AppGeneration:
        """Start `merkle context generate [PATH] --json` in a thread of this process; it is
        cancelled when the bench closes. The keys the providers read must be in this
        process's environment (`keys_in_environment`)."""
        generation = AppGeneration(self.app(), path, recursive=recursive, provider=provider)
        self.processes.append(generation)
        return generation

    def scan(self) -> None:
        """Rescan the workspace (in this process)."""
        scan(self.workspace)

    # -- the store, read as another program would ------------------------------------

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows from the workspace database (a short read-only connection)."""
        uri = f"file:{self.workspace.database_path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as connection:
            return connection.execute(sql, parameters).fetchall()

    def node_ids(self) -> dict[str, str]:
        """The current tree: path -> node id."""
        return dict(self.query("SELECT path, node_id FROM tree_entries"))

    def heads(self, frame_type: str = FRAME_TYPE) -> dict[str, str]:
        """The head frame id of every node of the current tree that has one."""
        return dict(
            self.query(
                "SELECT t.path, h.frame_id FROM tree_entries t JOIN heads h"
                " ON h.node_id = t.node_id WHERE h.agent_id = ? AND h.frame_type = ?",
                (AGENT, frame_type),
            )
        )

    def head_created_ns(self, frame_type: str = FRAME_TYPE) -> dict[str, int]:
        """When the head frame of every node that has one was created."""
        return dict(
            self.query(
                "SELECT t.path, f.created_at_ns FROM tree_entries t JOIN heads h"
                " ON h.node_id = t.node_id JOIN frames f ON f.frame_id = h.frame_id"
                " WHERE h.agent_id = ? AND h.frame_type = ?",
                (AGENT, frame_type),
            )
        )

    def frame_content(self, frame_id: str) -> str:
        """The content of a stored frame."""
        [(content,)] = self.query("SELECT content FROM frames WHERE frame_id = ?", (frame_id,))
        return str(content)

    def request_rows(self) -> list[dict[str, Any]]:
        """Every queue request, oldest first."""
        names = ("request_id", "path", "plan_id", "state", "joined", "attempts", "error_class")
        rows = self.query(f"SELECT {', '.join(names)} FROM frame_requests ORDER BY request_id")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def open_plans(self) -> list[str]:
        """The open plans, oldest first."""
        return [
            plan
            for (plan,) in self.query(
                "SELECT plan_id FROM plans WHERE state = 'open' ORDER BY created_at_ns, plan_id"
            )
        ]

    def wait_until(self, what: str, condition: Any, timeout_s: float = 30.0) -> None:
        """Poll `condition()` until it holds; fail naming `what` after `timeout_s`.

        Bounded polling of an observable state, never a stand-in for one.
        """
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s} s waiting for {what};"
                    f" queue: {self.request_rows()}; open plans: {self.open_plans()}"
                )
            for process in self.processes:
                if not process.running() and process.collect().code not in (0, 1):
                    result = process.collect()
                    raise AssertionError(
                        f"`merkle {' '.join(process.args)}` exited {result.code} while waiting"
                        f" for {what}: {result.stderr}"
                    )
            time.sleep(POLL_S)

    def plan_of(self, path: str) -> str | None:
        """The plan of the newest request for `path`, if there is one."""
        rows = [row for row in self.request_rows() if row["path"] == path]
        return rows[-1]["plan_id"] if rows else None

    def joined(self, path: str) -> int:
        """How many requests joined the newest request for `path`."""
        rows = [row for row in self.request_rows() if row["path"] == path]
        return int(rows[-1]["joined"]) if rows else 0

    def stranded(self) -> list[str]:
        """Requests the active plan's process waits on that the queue will not run
        while that plan is open: runnable (pending and due, or processing under an
        expired lease) but not among the plan's requests (`request_plans`).

        The claim query takes only the active plan's requests while a plan is
        active, and the active plan cannot close while its process waits on
        one of these: nothing can make progress until its lease expires.
        """
        now_ns = time.time_ns()
        active = self.query(
            "SELECT plan_id, owner FROM plans WHERE state = 'open' AND lease_expires_at_ns > ?"
            " ORDER BY created_at_ns, plan_id LIMIT 1",
            (now_ns,),
        )
        if not active:
            return []
        [(plan_id, owner)] = active
        rows = self.query(
            "SELECT r.path, r.plan_id FROM frame_requests r JOIN request_waiters w"
            " ON w.request_id = r.request_id WHERE w.owner = ?"
            " AND ((r.state = 'pending' AND r.next_attempt_at_ns <= ?)"
            " OR (r.state = 'processing' AND r.lease_expires_at_ns <= ?))"
            " AND r.request_id NOT IN (SELECT request_id FROM request_plans WHERE plan_id = ?)",
            (owner, now_ns, now_ns, plan_id),
        )
        return [
            f"{path} (a request of plan {other} that is not part of active plan {plan_id},"
            " whose process waits on it)"
            for path, other in rows
        ]

    def finish_all(
        self, processes: Sequence[CliProcess | AppGeneration], *, timeout_s: float = 45.0
    ) -> list[CliResult]:
        """Wait for `processes` and return their results.

        Fails at once, naming the requests, when the store shows a stranded
        request (see `stranded`) for `STRANDED_FOR_S`; after `timeout_s` it
        fails with the queue's rows. Either way every process is killed first.
        """
        deadline = time.monotonic() + timeout_s
        stranded_since: float | None = None
        while any(process.running() for process in processes):
            now = time.monotonic()
            stranded = self.stranded()
            if not stranded:
                stranded_since = None
            elif stranded_since is None:
                stranded_since = now
            elif now - stranded_since >= STRANDED_FOR_S:
                self._fail(processes, "deadlock: the active plan waits on " + "; ".join(stranded))
            if now > deadline:
                self._fail(processes, f"not finished within {timeout_s} s")
            time.sleep(POLL_S)
        return [process.collect() for process in processes]

    def _fail(self, processes: Sequence[CliProcess | AppGeneration], why: str) -> None:
        rows = self.request_rows()
        plans = self.open_plans()
        for process in processes:
            process.kill()
        outputs = "\n".join(
            f"`merkle {' '.join(p.args)}` exit {p.collect().code}: {p.collect().stderr.strip()}"
            for p in processes
        )
        raise AssertionError(f"{why}\nqueue: {rows}\nopen plans: {plans}\n{outputs}")


@contextmanager
def generate_bench(
    tmp_path: Path,
    *,
    files: dict[str, bytes | str] | None = None,
    default: Reply | None = None,
    extra_config: str = "",
    provider_config: str = "",
    context_window: int | None = None,
) -> Iterator[GenerateBench]:
    """A scanned workspace with `files` (default `TREE`), the gated server (refusing
    prompts over `context_window` tokens, if given) and the config.

    Every process the bench started is killed, and the server stopped, on exit.
    """
    root = tmp_path / "ws"
    root.mkdir()
    workspace = init_workspace(root).workspace
    write_tree(root, dict(TREE if files is None else files))
    scan(workspace)
    server = GatedLlmServer(
        models={MODEL}, api_key=API_KEY, default=default, context_window=context_window
    )
    server.start()
    bench = GenerateBench(workspace=workspace, server=server, xdg=tmp_path / "xdg")
    try:
        bench.configure(extra=extra_config, provider_extra=provider_config)
        yield bench
    finally:
        try:
            for process in bench.processes:
                process.close()
        finally:
            server.stop()
