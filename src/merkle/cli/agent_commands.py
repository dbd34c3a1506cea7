"""`merkle agent list|show|validate`: the agents and their prompts."""

from __future__ import annotations

from typing import Any

import typer

from merkle.agents import AgentProfile, AgentRegistry, profile_problems
from merkle.cli.output import JSON_OPTION, print_json, reporting, state_of
from merkle.errors import WorkFailed

agent_app = typer.Typer(help="List, show and check agents.", no_args_is_help=True)


def _summary(agent: AgentProfile) -> dict[str, Any]:
    return {
        "agent_id": agent.agent_id,
        "role": agent.role.value,
        "provider": agent.provider,
        "frame_type": agent.frame_type,
        "max_concurrent": agent.max_concurrent,
        "requests_per_minute": agent.requests_per_minute,
        "min_interval_s": agent.min_interval_s,
        "builtin": agent.builtin,
    }


def _registry(ctx: typer.Context, json_output: bool) -> AgentRegistry:
    state = state_of(ctx)
    with reporting(state, json_output=json_output):
        settings = state.settings(state.optional_workspace())
        return AgentRegistry(settings.agents)


@agent_app.command("list")
def list_agents(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """List every agent: built-in and configured."""
    agents = _registry(ctx, json_output).all()
    if json_output:
        print_json({"agents": [_summary(a) for a in agents]})
        return
    state = state_of(ctx)
    state.echo(f"{'agent':<24} {'role':<7} {'provider':<16} {'frame type':<12} origin")
    for agent in agents:
        origin = "built-in" if agent.builtin else "configured"
        state.echo(
            f"{agent.agent_id:<24} {agent.role.value:<7} {agent.provider or '(default)':<16}"
            f" {agent.frame_type or '(default)':<12} {origin}"
        )


@agent_app.command("show")
def show(ctx: typer.Context, agent_id: str, json_output: bool = JSON_OPTION) -> None:
    """Show an agent with its prompts."""
    state = state_of(ctx)
    registry = _registry(ctx, json_output)
    with reporting(state, json_output=json_output):
        agent = registry.get(agent_id)
    prompts = {
        "system_prompt": agent.system_prompt,
        "user_prompt_file": agent.user_prompt_file,
        "user_prompt_directory": agent.user_prompt_directory,
        "response_template": agent.response_template,
    }
    if json_output:
        print_json({**_summary(agent), **prompts})
        return
    for key, value in _summary(agent).items():
        state.echo(f"{key:<20} {value if value is not None else '(default)'}")
    for key, text in prompts.items():
        state.echo(f"\n[{key}]")
        state.echo(text if text else "(none)")


@agent_app.command("validate")
def validate(
    ctx: typer.Context,
    agent_id: str | None = typer.Argument(None, help="One agent (default: all)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Check agents: prompts present, only known placeholders; exit 1 on any problem."""
    state = state_of(ctx)
    registry = _registry(ctx, json_output)
    with reporting(state, json_output=json_output):
        agents = [registry.get(agent_id)] if agent_id else registry.all()
    found = {agent.agent_id: profile_problems(agent) for agent in agents}
    if json_output:
        print_json(
            {
                "ok": not any(found.values()),
                "agents": [{"agent_id": a, "problems": p} for a, p in found.items()],
            }
        )
    else:
        for name, problems in found.items():
            state.echo(f"{name}: {'ok' if not problems else 'invalid'}")
            for problem in problems:
                state.echo(f"  {problem}")
    if any(found.values()):
        with reporting(state, json_output=False):
            raise WorkFailed(
                "some agents cannot generate",
                hint="fix the prompts named above in .merkle/config.toml",
            )
