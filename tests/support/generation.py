"""The generation units over a real workspace: a test agent, requests, one-loop runs.

`generation(workspace, ...)` builds the app of the workspace with a test agent
and the given providers, and the `GenerationDeps` a queue worker would use,
through the real agent and provider registries. `Generation.run` makes one
`FrameWriter` call in a fresh event loop and closes the built providers
inside that same loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from merkle.app import MerkleApp
from merkle.config import AgentSettings, GenerationSettings, ProviderSettings, Settings
from merkle.context.api import ContextApi, FrameDraft, PutResult
from merkle.context.generation.frame_writer import FrameWriter, GenerationDeps, GenerationTrace
from merkle.context.generation.prompt import PromptPayload
from merkle.context.queue import FrameKey, FrameRequest
from merkle.metadata import Source, build_metadata
from merkle.store import NodeRecord, StorageBackend
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.llm_server import LlmServer

AGENT_ID = "tester"
READER_ID = "onlooker"
FRAME_TYPE = "context"
SYSTEM_PROMPT = "You write context notes for the tests."
FILE_TEMPLATE = "Describe the {node_type} {path} ({file_size} bytes)."
DIRECTORY_TEMPLATE = "Describe the {node_type} {path} from its children."
RESPONSE_TEMPLATE = "Answer in this shape:\n# Title\nOne paragraph."

MODEL = "gpt-test"
OPENAI_NAME = "openai-test"

# Fake credentials of the real shapes, assembled so that no scanner mistakes this file for a leak.
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
RSA_HEADER = "-----BEGIN RSA " + "PRIVATE KEY-----"
RSA_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
RSA_FOOTER = "-----END RSA " + "PRIVATE KEY-----"
PASSWORD = "hunter2" + "hunter2"
OPENAI_STYLE_KEY = "sk-" + "proj-" + "Zq8vN3kLm0pXr7tYw2bHc5dF"
SECRET_SOURCE = (
    '"""Settings for the billing client."""\n'
    "\n"
    f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\n'
    f'password = "{PASSWORD}"\n'
    f'DEPLOY_KEY = """\n{RSA_HEADER}\n{RSA_BODY}\n{RSA_FOOTER}\n"""\n'
    "\n"
    "def region():\n"
    '    return "eu-west-1"\n'
)
SECRET_FRAGMENTS = (AWS_KEY_ID, PASSWORD, RSA_HEADER, RSA_BODY, RSA_FOOTER)


def writer_agent(**changes: Any) -> AgentSettings:
    """A writer agent with short, recognisable prompts and a response template."""
    settings = AgentSettings(
        agent_id=AGENT_ID,
        role="writer",
        system_prompt=SYSTEM_PROMPT,
        user_prompt_file=FILE_TEMPLATE,
        user_prompt_directory=DIRECTORY_TEMPLATE,
        response_template=RESPONSE_TEMPLATE,
    )
    return dataclasses.replace(settings, **changes)


def reader_agent() -> AgentSettings:
    """A reader agent: it may read frames, never generate them."""
    return writer_agent(agent_id=READER_ID, role="reader")


def openai_settings(server: LlmServer, **changes: Any) -> ProviderSettings:
    """An `openai` provider aimed at the test server (keyless: the server is on loopback)."""
    settings = ProviderSettings(
        name=OPENAI_NAME,
        type="openai",
        model=MODEL,
        base_url=server.openai_url,
        timeout_s=5.0,
        max_tokens=256,
    )
    return dataclasses.replace(settings, **changes)


def scan_files(workspace: Workspace, files: dict[str, bytes | str]) -> None:
    """Write `files` into the workspace and scan it."""
    write_tree(workspace.root, files)
    scan(workspace)


@dataclass
class Generation:
    """A workspace's app, its store connection and the generation units' dependencies."""

    workspace: Workspace
    app: MerkleApp
    deps: GenerationDeps

    @property
    def store(self) -> StorageBackend:
        """The store connection the units read."""
        return self.deps.store

    @property
    def api(self) -> ContextApi:
        """The write boundary over the same connection."""
        return ContextApi(self.store)

    def node(self, path: str) -> NodeRecord:
        """The current tree's record at `path`."""
        nodes = self.store.nodes
        entry = nodes.entry(path)
        assert entry is not None, f"{path} is not in the scanned tree"
        record = nodes.get(entry.node_id)
        assert record is not None
        return record

    def request(
        self,
        path: str,
        *,
        agent_id: str = AGENT_ID,
        provider: str = "local",
        frame_type: str = FRAME_TYPE,
    ) -> FrameRequest:
        """A request for the node at `path`."""
        record = self.node(path)
        return FrameRequest(
            key=FrameKey(record.node_id, agent_id, frame_type),
            path=record.path,
            node_type=record.node_type,
            provider_name=provider,
        )

    def prompt(self, path: str, **request: Any) -> PromptPayload:
        """Unit C1 alone: the prompt for the node at `path`."""
        return FrameWriter(self.deps).prompt(self.request(path, **request))

    def run(
        self, path: str, *, attempt: int = 1, **request: Any
    ) -> tuple[FrameDraft, GenerationTrace]:
        """One `generate_traced` call for the node at `path`, in its own event loop."""
        return self.run_request(self.request(path, **request), attempt=attempt)

    def run_request(
        self, request: FrameRequest, *, attempt: int = 1
    ) -> tuple[FrameDraft, GenerationTrace]:
        """One `generate_traced` call for `request`; providers are closed in the same loop."""

        async def go() -> tuple[FrameDraft, GenerationTrace]:
            try:
                return await FrameWriter(self.deps).generate_traced(request, attempt=attempt)
            finally:
                await self.deps.aclose()

        return asyncio.run(go())

    def generate_and_put(self, path: str, **request: Any) -> tuple[PutResult, GenerationTrace]:
        """Generate the frame of `path` and write it through `put_frame`."""
        draft, trace = self.run(path, **request)
        return self.api.put_frame(draft), trace

    def put_manual(self, path: str, content: str, *, agent_id: str = AGENT_ID) -> PutResult:
        """Write a hand-made frame for `path` (the direct write path)."""
        metadata = build_metadata(agent_id=agent_id, frame_type=FRAME_TYPE, source=Source.MANUAL)
        draft = FrameDraft(
            key=FrameKey(self.node(path).node_id, agent_id, FRAME_TYPE),
            content=content,
            metadata=metadata,
        )
        return self.api.put_frame(draft)

    def frame_count(self) -> int:
        """How many frames are stored."""
        return self.store.frames.count()


@contextmanager
def generation(
    workspace: Workspace,
    *,
    providers: Iterable[ProviderSettings] = (),
    agents: Iterable[AgentSettings] = (),
    file_budget_bytes: int = 65_536,
) -> Iterator[Generation]:
    """The generation units' dependencies over `workspace`; the tester agent is always there."""
    configured: Mapping[str, AgentSettings] = {
        a.agent_id: a for a in (writer_agent(), reader_agent(), *agents)
    }
    settings = dataclasses.replace(
        Settings.defaults(),
        agents=configured,
        providers={p.name: p for p in providers},
        generation=GenerationSettings(file_budget_bytes=file_budget_bytes),
    )
    with MerkleApp(workspace, settings) as app:
        yield Generation(workspace=workspace, app=app, deps=app.new_generation_deps(app.store))
