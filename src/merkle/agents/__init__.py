"""Agents: prompts, response template and role; the registry and the built-in defaults."""

from merkle.agents.profile import AgentProfile, AgentRole, profile_problems, template_problems
from merkle.agents.registry import AgentRegistry

__all__ = ["AgentProfile", "AgentRegistry", "AgentRole", "profile_problems", "template_problems"]
