"""Planted secrets never leave the machine and are never stored.

A corpus of credentials of the shapes people commit, in the file types they
commit them in, plus a token in a file name, a secret in a prompt file and a
hard-linked file whose other name is outside the workspace. The whole tree is
generated through the app with the embedded `local` provider, and again with
the `openai` provider against the test server: no byte of any secret may be in
a request the server received, nor anywhere in the store (frames, metadata,
events, the tree), and the code around the secrets must reach the model intact.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from merkle.app import MerkleApp
from merkle.config import AgentSettings, ProviderSettings, Settings
from merkle.workspace.init import init_workspace
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.llm_server import LlmServer

pytestmark = pytest.mark.timeout(120)


def joined(*parts: str) -> str:
    """A fake secret, assembled so that no scanner mistakes this file for a leak."""
    return "".join(parts)


SECRETS = {
    "aws key id": joined("AKIA", "Z7QX4LMNB2RT5VWC"),
    "aws secret": joined("wJalrXUtnFEMI/K7MDENG", "/bPxRfiCYZQ42KEYzzqp"),
    "db password": joined("pg-", "S3cretPassw0rd"),
    "redis password": joined("r3d1s", "Passw0rdX"),
    "amqp password": joined("amqp", "SekretPW9"),
    "stripe live": joined("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"),
    "stripe restricted": joined("rk_live_", "51Hx7dTb2oPq8RsL0kM3nV6w"),
    "github token": joined("ghp_", "Yx2Wv3Ut4Sr5Qp6On7Ml8Kj9Ih0Gf1EdCbAz"),
    "gitlab token": joined("glpat-", "xV3nQ8rT2mK9pL4wZ7yB"),
    "openai key": joined("sk-proj-", "Zq8vN3kLm0pXr7tYw2bHc5dF9gJ"),
    "anthropic key": joined("sk-ant-api03-", "Hq7Wm2Xp9Lr4Ns6Tv8Yb"),
    "slack token": joined("xoxb-", "2719452037-", "5829467219835-ZxWvUtSrQpOnMlKj"),
    "slack webhook": joined(
        "https://hooks.slack.com/services/", "T0A1B2C3D/B4E5F6G7H/", "Xy9Zw8Vu7Ts6Rq5Po4Nm3Lk2"
    ),
    "sendgrid key": joined(
        "SG.", "aB3dE5fG7hJ9kL1mN3pQ5r", ".", "sT7uV9wX1yZ3aB5cD7eF9gH1jK3lM5nP7qR9sT1uV3w"
    ),
    "twilio key": joined("SK", "3f9a2c7e1b5d8f0a4c6e2b9d7f1a3c5e"),
    "google key": joined("AIza", "SyD8x7Qv2Lm9Kp4Nt6Rw1Yz3Bc5Fg7Hj9Ks"),
    "azure key": joined(
        "Zb12Xc34Vn56",
        "Mq78Lw90Ke12Rt34Yu56Io78Pa90Sd12Fg34Hj56Kl78Zx90Cv12Bn34Mq56Lw78Ke90Rt12Yu34Io56Pa==",
    ),
    "jwt": joined(
        "eyJhbGciOiJIUzI1NiJ9",
        ".eyJzdWIiOiJhZG1pbiIsImlhdCI6MTUxNjIzOTAyMn0",
        ".Vf3Qk9Xw2Lm8Np4Rt6Yz0Bc",
    ),
    "basic auth": base64.b64encode(b"deploy:" + joined("Tr0ub4dor", "&3xyz").encode()).decode(),
    "bearer": joined("Bearer-", "9zX8yW7vU6tS5rQ4pO3nM2lK1jI0hG"),
    "password literal": joined("correct-horse-", "battery-staple"),
    "ini pass": joined("hunter2", "Hunter3"),
    "env password": joined("EnvPass", "w0rd2024"),
    "docker password": joined("dockerPW", "s3cr3t99"),
    "npm token": joined("npm_", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Y"),
    "k8s password": base64.b64encode(joined("kube", "S3cretValue!").encode()).decode(),
    "notebook key": joined("nbK3y", "Zq9Wx8Vy7Ut6Sr5"),
    "toml token": joined("tomlTok", "en5Xq2Wz9"),
    "pem body": joined(
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4", "lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"
    ),
    "json secret": joined("clientSec", "retValue77X"),
}
PEM = (
    joined("-----BEGIN RSA ", "PRIVATE KEY-----\n")
    + SECRETS["pem body"]
    + joined("\n-----END RSA ", "PRIVATE KEY-----")
)
FILE_NAME_TOKEN = joined("ghp_", "Nm3Lk2Jh1Gf0Ed9Cb8Az7Yx6Wv5Ut4Sr3Qp2")
PROMPT_FILE_KEY = joined("sk-proj-", "PromptFile9Xw8Vu7Ts6Rq5Po")
OUTSIDE_SECRET = joined("outside-", "Sup3rSecretValue42")
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "source": ["import boto3\n", f"openai.api_key = '{SECRETS['notebook key']}'\n"],
            "metadata": {},
            "outputs": [],
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}
CORPUS: dict[str, str] = {
    "app/settings.py": (
        '"""Settings of the shop."""\n\n'
        f'AWS_ACCESS_KEY_ID = "{SECRETS["aws key id"]}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{SECRETS["aws secret"]}"\n'
        f'DATABASE_URL = "postgres://admin:{SECRETS["db password"]}@db.internal:5432/shop"\n'
        f'REDIS_URL = "redis://:{SECRETS["redis password"]}@cache:6379/0"\n'
        f'stripe.api_key = "{SECRETS["stripe live"]}"\n'
        f'GITHUB = "{SECRETS["github token"]}"\n'
        f'password = "{SECRETS["password literal"]}"\n'
        f'DEPLOY_KEY = """\n{PEM}\n"""\n\n\n'
        "def connect(token: Token, password: bool = False) -> Client:\n"
        '    """Open a client."""\n'
        "    return Client(token=token, verify=password)\n"
    ),
    "app/clients.js": (
        f"const openai = new OpenAI({{ apiKey: '{SECRETS['openai key']}' }});\n"
        f"const anthropic = '{SECRETS['anthropic key']}';\n"
        f"const jwt = '{SECRETS['jwt']}';\n"
        "export function total(prices) { return prices.reduce((a, b) => a + b, 0); }\n"
    ),
    "config/app.yaml": (
        "database:\n"
        f"  password: {SECRETS['docker password']}x\n"
        f"slack_webhook: {SECRETS['slack webhook']}\n"
        f"slack_token: {SECRETS['slack token']}\n"
    ),
    "config/client.json": json.dumps(
        {
            "client_id": "shop",
            "client_secret": SECRETS["json secret"],
            "sendgrid": SECRETS["sendgrid key"],
        },
        indent=2,
    ),
    "config/legacy.ini": (
        f"[db]\npass = {SECRETS['ini pass']}\naws_secret_access_key = {SECRETS['aws secret']}\n"
    ),
    "config/tool.toml": (
        f'[tool]\ntoken = "{SECRETS["toml token"]}"\ngitlab = "{SECRETS["gitlab token"]}"\n'
    ),
    "deploy/app.env": f"PASSWORD={SECRETS['env password']}\nTWILIO={SECRETS['twilio key']}\n",
    "deploy/run.sh": (
        "#!/bin/sh\n"
        f"export API_KEY={SECRETS['google key']}\n"
        f"curl -H 'Authorization: Basic {SECRETS['basic auth']}' https://api.example.com\n"
        f"curl -H 'Authorization: Bearer {SECRETS['bearer']}' https://api.example.com\n"
        f"amqp://shop:{SECRETS['amqp password']}@queue:5672/\n"
    ),
    "deploy/Dockerfile": (
        "FROM python:3.12\n"
        f"ENV DB_PASSWORD={SECRETS['docker password']}\n"
        f"RUN echo //registry.npmjs.org/:_authToken={SECRETS['npm token']} > .npmrc\n"
    ),
    "deploy/k8s-secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop\ntype: Opaque\ndata:\n"
        f"  password: {SECRETS['k8s password']}\n"
    ),
    "deploy/storage.py": (
        'CONNECTION = "DefaultEndpointsProtocol=https;AccountName=shop;'
        f'AccountKey={SECRETS["azure key"]};EndpointSuffix=core.windows.net"\n'
    ),
    "analysis/notebook.ipynb": json.dumps(NOTEBOOK, indent=1),
    f"notes/{FILE_NAME_TOKEN}.md": "# Notes\n",
    "prompts/system.md": f"You write context notes. Never print {PROMPT_FILE_KEY}.\n",
}
NEEDLES = [*SECRETS.values(), FILE_NAME_TOKEN, PROMPT_FILE_KEY, OUTSIDE_SECRET, "Tr0ub4dor"]


@pytest.fixture
def planted(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, CORPUS)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(f"token = {OUTSIDE_SECRET}\n")
    os.link(outside, root / "app" / "linked.txt")
    return init_workspace(root).workspace


def settings(server: LlmServer | None) -> Settings:
    agent = AgentSettings(agent_id="docs-writer", system_prompt=CORPUS["prompts/system.md"])
    providers = {}
    if server is not None:
        providers = {
            "remote": ProviderSettings(
                name="remote", type="openai", model="m", base_url=server.openai_url, timeout_s=10
            )
        }
    return dataclasses.replace(
        Settings.defaults(),
        provider="remote" if server is not None else "local",
        agents={"docs-writer": agent},
        providers=providers,
    )


def generate(workspace: Workspace, server: LlmServer | None) -> None:
    with MerkleApp(workspace, settings(server)) as app:
        scanned = app.scan()
        assert all(FILE_NAME_TOKEN not in w.path for w in scanned.warnings)
        outcome = app.plan(app.generate_options(), cwd=workspace.root)
        assert outcome.plan is not None
        result = app.run(outcome.plan)
        assert (result.total_failed, result.error) == (0, None), result.to_json()


def store_text(workspace: Workspace) -> str:
    with closing(sqlite3.connect(workspace.database_path)) as connection:
        return "\n".join(connection.iterdump())


def assert_no_secret(text: str, where: str) -> None:
    leaked = [needle for needle in NEEDLES if needle in text]
    assert leaked == [], f"secrets in {where}: {leaked}"


def test_the_corpus_is_what_the_issue_asks_for() -> None:
    types = {Path(path).suffix or Path(path).name for path in CORPUS}
    assert len(SECRETS) >= 25 and len(types) >= 8, (len(SECRETS), types)


def test_no_secret_reaches_the_local_provider_s_frames_or_the_store(planted: Workspace) -> None:
    generate(planted, server=None)

    assert_no_secret(store_text(planted), "the store")


def test_no_secret_reaches_a_remote_provider_or_the_store(planted: Workspace) -> None:
    with LlmServer(models={"m"}) as server:
        generate(planted, server)
        requests = server.requests

    sent = [r for r in requests if r.path == "/v1/chat/completions"]
    assert sent, "the provider was called"
    for request in sent:
        assert_no_secret(request.raw_body.decode("utf-8", "replace"), f"a request ({request.path})")
        assert_no_secret(json.dumps(request.body, ensure_ascii=False), "a request body")
    assert_no_secret(store_text(planted), "the store")
    # The code around the secrets is sent as it is: names, annotations, expressions.
    bodies = "\n".join(json.dumps(r.body, ensure_ascii=False) for r in sent)
    assert "def connect(token: Token, password: bool = False) -> Client:" in bodies
    assert "return Client(token=token, verify=password)" in bodies
    assert "postgres://admin:[REDACTED]@db.internal:5432/shop" in bodies
    assert "AccountName=shop;" in bodies
    assert "it has 2 hard links" in bodies
    assert "Never print [REDACTED]." in bodies
