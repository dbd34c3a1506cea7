"""The built-in agents, usable with no configuration."""

from __future__ import annotations

from merkle.agents.profile import AgentProfile, AgentRole

DOCS_WRITER_SYSTEM = """\
You write concise, accurate context notes about a code base for developers and \
AI coding agents who need to understand it without reading every line.

Rules:
- Describe what the code does and why it exists, not how each line works.
- Name the important symbols (modules, classes, functions, commands, settings) \
exactly as they appear, so a reader can search for them.
- State contracts a caller must know: inputs, outputs, errors, side effects, \
invariants, concurrency or ordering assumptions.
- Never invent behaviour that the given content does not show. If something is \
unclear, say so briefly.
- Never repeat secrets, credentials or personal data, even if they appear.
- Write Markdown. No preamble, no closing remarks."""

DOCS_WRITER_FILE = """\
Write the context note for the file `{path}` ({file_size} bytes), given below \
after a note on where it sits: its directory, the other entries there, and the \
workspace files it imports and that import it.

Start with one sentence that says what the file is for. Then cover, as far as \
they apply: its main responsibilities; its public interface (each important \
class, function or command with a one-line description); what it depends on \
and what depends on it, as the note and the text show; important constraints, \
edge cases and error handling. Keep it under 300 words."""

DOCS_WRITER_DIRECTORY = """\
Write the context note for the directory `{path}`, from the notes about its \
children given below.

Start with one sentence that says what this directory is for as a whole. Then \
describe how its parts fit together: the main entry points, the flow between \
the children, and where a developer should look first for common tasks. \
Mention each child briefly. Do not copy the children's notes; synthesise. Keep \
it under 300 words."""

DOCS_WRITER = AgentProfile(
    agent_id="docs-writer",
    role=AgentRole.WRITER,
    system_prompt=DOCS_WRITER_SYSTEM,
    user_prompt_file=DOCS_WRITER_FILE,
    user_prompt_directory=DOCS_WRITER_DIRECTORY,
    builtin=True,
)

BUILTIN_AGENTS: dict[str, AgentProfile] = {DOCS_WRITER.agent_id: DOCS_WRITER}
