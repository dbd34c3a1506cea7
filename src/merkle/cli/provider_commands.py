"""`merkle provider list|show|test`: the providers, and a live check of one."""

from __future__ import annotations

import os
import time
from typing import Any

import typer

from merkle.cli.output import JSON_OPTION, print_json, reporting, state_of
from merkle.config import ProviderSettings
from merkle.providers.base import (
    Completion,
    CompletionOptions,
    Message,
    Provider,
    ProviderError,
    Role,
)
from merkle.providers.payload import file_block
from merkle.providers.registry import ProviderRegistry
from merkle.providers.windows import context_window

provider_app = typer.Typer(help="List, show and test providers.", no_args_is_help=True)
# A real, tiny payload: one file block, so that every provider (the local one
# reads blocks) answers it like a generation request.
TEST_MESSAGES = (
    Message(role=Role.SYSTEM, content="You are a connectivity check. Answer briefly."),
    Message(
        role=Role.USER,
        content=file_block("hello.txt", "hello") + "\n\nReply with the single word: ok",
    ),
)


def _summary(settings: ProviderSettings) -> dict[str, Any]:
    key_env = settings.api_key_env
    return {
        "name": settings.name,
        "type": settings.type,
        "model": settings.model,
        "base_url": settings.base_url,
        "api_key_env": key_env,
        # Whether the key is there, never what it is.
        "api_key_set": None if key_env is None else bool(os.environ.get(key_env)),
        "timeout_s": settings.timeout_s,
        "max_tokens": settings.max_tokens,
        "temperature": settings.temperature,
        "context_window_tokens": context_window(settings),
    }


def _registry(ctx: typer.Context, json_output: bool) -> ProviderRegistry:
    state = state_of(ctx)
    with reporting(state, json_output=json_output):
        return ProviderRegistry(state.settings(state.optional_workspace()).providers)


@provider_app.command("list")
def list_providers(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """List every provider: the built-in `local` and the configured ones."""
    providers = _registry(ctx, json_output).all()
    if json_output:
        print_json({"providers": [_summary(p) for p in providers]})
        return
    state = state_of(ctx)
    state.echo(f"{'provider':<20} {'type':<10} {'model':<28} key")
    for settings in providers:
        summary = _summary(settings)
        key = "-" if summary["api_key_set"] is None else f"${settings.api_key_env}"
        if summary["api_key_set"] is False:
            key += " (not set)"
        state.echo(f"{settings.name:<20} {settings.type:<10} {settings.model or '-':<28} {key}")


@provider_app.command("show")
def show(ctx: typer.Context, name: str, json_output: bool = JSON_OPTION) -> None:
    """Show a provider's settings (never its key)."""
    state = state_of(ctx)
    registry = _registry(ctx, json_output)
    with reporting(state, json_output=json_output):
        summary = _summary(registry.settings(name))
    if json_output:
        print_json(summary)
        return
    for key, value in summary.items():
        state.echo(f"{key:<12} {'-' if value is None else value}")


@provider_app.command("test")
def test(ctx: typer.Context, name: str, json_output: bool = JSON_OPTION) -> None:
    """Send a tiny completion and report the model and latency, or the classified error."""
    import asyncio  # deferred: with its network modules it costs every other command 25 ms

    state = state_of(ctx)
    registry = _registry(ctx, json_output)
    with reporting(state, json_output=json_output):
        provider = registry.build(name)
    started = time.perf_counter()
    try:
        completion = asyncio.run(_probe(provider))
    except ProviderError as error:
        if json_output:
            print_json(
                {
                    "name": name,
                    "ok": False,
                    "error_class": error.error_class.value,
                    "retryable": error.retryable,
                    "message": error.message,
                    "hint": error.hint,
                }
            )
        with reporting(state, json_output=False):
            raise
    latency_s = time.perf_counter() - started
    if json_output:
        print_json(
            {"name": name, "ok": True, "model": completion.model, "latency_s": round(latency_s, 3)}
        )
        return
    state.echo(f"{name}: ok, model {completion.model}, {latency_s * 1000:.0f} ms")


async def _probe(provider: Provider) -> Completion:
    # A fixed prompt of a few words, no workspace content: not an egress to record.
    from merkle.telemetry.egress import probing  # deferred: see `test`

    with probing():
        return await provider.complete(TEST_MESSAGES, CompletionOptions(max_tokens=16))
