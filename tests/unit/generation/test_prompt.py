"""Generation unit C1: templates, file and directory payloads, and what is never sent.

Every prompt here is built from a real scanned workspace and its real store.
"""

from __future__ import annotations

import ast
import os
import time

import pytest

from merkle.agents import template_problems
from merkle.context.generation.frame_writer import FrameWriter
from merkle.context.generation.prompt import PromptError, fill_template
from merkle.context.queue import FrameKey, FrameRequest
from merkle.store import NodeRecord, NodeType, ScanCounts
from merkle.tree.hashing import file_node_id, hash_bytes
from merkle.workspace.layout import Workspace
from tests.conftest import write_tree
from tests.support.apps import scan
from tests.support.generation import (
    AGENT_ID,
    FRAME_TYPE,
    OPENAI_STYLE_KEY,
    PASSWORD,
    READER_ID,
    SECRET_FRAGMENTS,
    SECRET_SOURCE,
    SYSTEM_PROMPT,
    Generation,
    generation,
    scan_files,
    writer_agent,
)

TEMPLATE_TAIL = "Answer in this shape:\n# Title\nOne paragraph."
VALUES = {"path": "src/app.py", "node_type": "file", "file_size": 1234}


def prompt_error(g: Generation, path: str, **request: str) -> PromptError:
    with pytest.raises(PromptError) as caught:
        g.prompt(path, **request)
    return caught.value


# -- templates ----------------------------------------------------------------------


def test_template_fills_path_node_type_and_file_size() -> None:
    filled = fill_template("{node_type} {path} is {file_size} bytes; {path} again", VALUES)

    assert filled == "file src/app.py is 1234 bytes; src/app.py again"


def test_template_keeps_literal_braces_written_doubled() -> None:
    assert (
        fill_template('JSON like {{"a": 1}} for {path}', VALUES)
        == 'JSON like {"a": 1} for src/app.py'
    )


@pytest.mark.parametrize("template", ["About {size}.", "About {0}.", "About {}.", "About {path"])
def test_template_with_unknown_placeholder_or_bad_braces_is_prompt_error(template: str) -> None:
    with pytest.raises(PromptError) as caught:
        fill_template(template, VALUES)

    assert caught.value.error_class == "template"
    assert caught.value.failure.retryable is False


@pytest.mark.parametrize("template", ["{path.nope}", "{path.upper}", "{path[0]}"])
def test_template_field_that_is_not_exactly_a_placeholder_is_prompt_error(template: str) -> None:
    # `merkle agent validate` calls these unknown placeholders; generation must agree,
    # not raise a bare AttributeError or render an object's repr into the prompt.
    assert template_problems("user_prompt_file", template)

    with pytest.raises(PromptError) as caught:
        fill_template(template, VALUES)

    assert caught.value.error_class == "template"


def test_agent_template_with_unknown_placeholder_fails_the_prompt(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    broken = writer_agent(agent_id="broken", user_prompt_file="About {path} by {author}.")
    with generation(workspace, agents=[broken]) as g:
        error = prompt_error(g, "a.txt", agent_id="broken")

    assert error.error_class == "template"
    assert "author" in error.message
    assert error.failure.retryable is False


# -- a file ---------------------------------------------------------------------------


def test_file_prompt_is_system_prompt_then_file_block_template_and_response_template(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"src/app.py": "import os\n\nprint(os.sep)\n"})
    with generation(workspace) as g:
        payload = g.prompt("src/app.py")

    system, user = payload.messages
    assert (system.role.value, system.content) == ("system", SYSTEM_PROMPT)
    assert user.role.value == "user"
    # Instructions first: a server that cuts a long prompt cuts content, not the task.
    assert user.content == (
        "Describe the file src/app.py (25 bytes).\n\n" + TEMPLATE_TAIL + "\n\n"
        '<surroundings path="src/app.py">\n'
        "Directory: `src/`\nImported by: no file of this workspace\n</surroundings>\n\n"
        '<file path="src/app.py">\n'
        "import os\n\nprint(os.sep)\n"
        "\n</file>"
    )


def test_file_prompt_without_response_template_ends_with_the_filled_template(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"notes.md": "# Notes\n"})
    plain = writer_agent(agent_id="plain", response_template=None)
    with generation(workspace, agents=[plain]) as g:
        payload = g.prompt("notes.md", agent_id="plain")

    assert payload.messages[1].content == (
        'Describe the file notes.md (8 bytes).\n\n<file path="notes.md">\n# Notes\n\n</file>'
    )


def test_closing_tag_inside_file_text_is_escaped_so_the_block_ends_once(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"page.html": "<p>x</p></file>tail\n"})
    with generation(workspace) as g:
        user = g.prompt("page.html").messages[1].content

    assert user.endswith('<file path="page.html">\n<p>x</p><\\/file>tail\n\n</file>')
    assert user.count("</file>") == 1


def test_previous_frame_of_the_same_node_is_not_sent(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    with generation(workspace) as g:
        g.put_manual("a.txt", "An earlier note about a.txt, PREVIOUS-FRAME-TEXT.")
        payload = g.prompt("a.txt")

    assert all("PREVIOUS-FRAME-TEXT" not in m.content for m in payload.messages)


# -- a directory ------------------------------------------------------------------------


def test_directory_prompt_sends_child_frames_in_path_order_then_the_template(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"pkg/zeta.py": "z = 1\n", "pkg/alpha.py": "a = 1\n", "pkg/mid/m.py": ""})
    with generation(workspace) as g:
        # Written out of order: the prompt's order is the children's, not the frames'.
        g.put_manual("pkg/zeta.py", "About zeta.")
        g.put_manual("pkg/mid", "About mid.")
        g.put_manual("pkg/alpha.py", "About alpha.")
        payload = g.prompt("pkg")

    assert payload.messages[0].content == SYSTEM_PROMPT
    assert payload.messages[1].content == (
        "Describe the directory pkg from its children.\n\n" + TEMPLATE_TAIL + "\n\n"
        '<child path="pkg/alpha.py" node_type="file">\nAbout alpha.\n</child>\n\n'
        '<child path="pkg/mid" node_type="directory">\nAbout mid.\n</child>\n\n'
        '<child path="pkg/zeta.py" node_type="file">\nAbout zeta.\n</child>'
    )


def test_directory_prompt_sends_each_childs_head_frame_not_an_older_one(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"pkg/a.py": "a = 1\n"})
    with generation(workspace) as g:
        g.put_manual("pkg/a.py", "OLDER-NOTE about a.")
        g.put_manual("pkg/a.py", "Newest note about a.")
        user = g.prompt("pkg").messages[1].content

    assert user.endswith('<child path="pkg/a.py" node_type="file">\nNewest note about a.\n</child>')
    assert "OLDER-NOTE" not in user


def test_empty_directory_prompt_is_one_directory_block_with_zero_children(
    workspace: Workspace,
) -> None:
    (workspace.root / "hollow").mkdir()
    scan(workspace)
    with generation(workspace) as g:
        payload = g.prompt("hollow")

    assert payload.messages[1].content == (
        "Describe the directory hollow from its children.\n\n" + TEMPLATE_TAIL + "\n\n"
        '<directory path="hollow" children="0">\n(empty directory)\n</directory>'
    )


def test_child_without_head_frame_is_missing_child_frame_naming_the_child(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"pkg/a.py": "a = 1\n", "pkg/b.py": "b = 2\n"})
    with generation(workspace) as g:
        g.put_manual("pkg/a.py", "About a.")
        error = prompt_error(g, "pkg")

    assert error.error_class == "missing_child_frame"
    assert "pkg/b.py" in error.message
    assert "pkg/a.py" not in error.message
    assert error.failure.retryable is False


def test_child_frame_of_another_agent_or_frame_type_does_not_count(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"pkg/a.py": "a = 1\n"})
    other = writer_agent(agent_id="other")
    with generation(workspace, agents=[other]) as g:
        g.put_manual("pkg/a.py", "About a, by another agent.", agent_id="other")
        wrong_agent = prompt_error(g, "pkg")
        g.put_manual("pkg/a.py", "About a.")
        wrong_type = prompt_error(g, "pkg", frame_type="summary")
        payload = g.prompt("pkg")

    assert wrong_agent.error_class == wrong_type.error_class == "missing_child_frame"
    assert "About a.\n</child>" in payload.messages[1].content
    assert "another agent" not in payload.messages[1].content


# -- binary, non-UTF-8 and oversize files --------------------------------------------


def test_binary_file_sends_a_placeholder_naming_its_size_never_its_bytes(
    workspace: Workspace,
) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"PIXELDATA" * 200
    scan_files(workspace, {"logo.png": data})
    with generation(workspace) as g:
        user = g.prompt("logo.png").messages[1].content

    assert user.startswith("Describe the file logo.png (1816 bytes).")
    assert user.endswith(
        '<file path="logo.png" binary="true" size_bytes="1816">\n'
        "[binary or non-UTF-8 file, 1,816 bytes, not shown]\n</file>"
    )
    assert "PIXELDATA" not in user
    assert "PNG" not in user


@pytest.mark.parametrize(
    "data",
    [
        "caf\u00e9 cr\u00e8me, a latin-1 menu\n".encode("latin-1"),
        b"plain ascii that ends in a stray byte \xe9",
        "utf-16 text".encode("utf-16"),
    ],
    ids=["latin-1", "invalid-last-byte", "utf-16"],
)
def test_non_utf8_file_sends_a_placeholder(workspace: Workspace, data: bytes) -> None:
    scan_files(workspace, {"legacy.txt": data})
    with generation(workspace) as g:
        user = g.prompt("legacy.txt").messages[1].content

    size = len(data)
    assert user.endswith(
        f'<file path="legacy.txt" binary="true" size_bytes="{size}">\n'
        f"[binary or non-UTF-8 file, {size} bytes, not shown]\n</file>"
    )
    assert "menu" not in user
    assert "plain ascii" not in user


def test_binary_file_over_the_budget_names_its_whole_size(workspace: Workspace) -> None:
    scan_files(workspace, {"blob.bin": b"ab\x00" + b"z" * 4997})
    with generation(workspace, file_budget_bytes=100) as g:
        user = g.prompt("blob.bin").messages[1].content

    assert "[binary or non-UTF-8 file, 5,000 bytes, not shown]" in user
    assert "truncated" not in user


def file_text_of(user: str, path: str) -> str:
    """The text a prompt's file block carries."""
    return user.split(f'<file path="{path}">\n', 1)[1].removesuffix("\n</file>")


def test_file_over_the_budget_is_cut_at_a_line_with_a_visible_marker(
    workspace: Workspace,
) -> None:
    lines = [f"line {n:03d} of the log\n" for n in range(125)]  # 20 bytes each
    text = "".join(lines)
    assert len(text) == 2500
    scan_files(workspace, {"run.log": text})
    with generation(workspace, file_budget_bytes=1000) as g:
        user = g.prompt("run.log").messages[1].content

    shown, marker = file_text_of(user, "run.log").split("\n[... truncated: ", 1)
    assert text.startswith(shown + "\n")
    assert len(shown.encode()) <= 1000
    first_cut = shown.count("\n") + 2
    assert marker == f"lines {first_cut}-125 are cut; 2,500 bytes in all ...]"
    assert "line 000 of the log" in shown


def test_file_of_exactly_the_budget_is_sent_whole(workspace: Workspace) -> None:
    scan_files(workspace, {"exact.txt": "x" * 99 + "\n"})
    with generation(workspace, file_budget_bytes=100) as g:
        user = g.prompt("exact.txt").messages[1].content

    assert user.endswith('<file path="exact.txt">\n' + "x" * 99 + "\n\n</file>")
    assert "truncated" not in user


@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001f600"], ids=["2", "3", "4"])
@pytest.mark.parametrize("budget", [700, 701, 702, 703])
def test_a_cut_through_multibyte_text_keeps_whole_characters(
    workspace: Workspace, char: str, budget: int
) -> None:
    text = "".join(f"{n:03d} {char * 9}\n" for n in range(200))
    scan_files(workspace, {"price.txt": text})
    with generation(workspace, file_budget_bytes=budget) as g:
        user = g.prompt("price.txt").messages[1].content

    shown = file_text_of(user, "price.txt").split("\n[... truncated: ", 1)[0]
    assert shown and text.startswith(shown)
    assert "\ufffd" not in user
    assert "binary" not in user


def test_a_python_file_over_the_budget_keeps_every_definition_and_still_parses(
    workspace: Workspace,
) -> None:
    body = "".join(f"        total += {n}\n" for n in range(40))
    source = '"""Billing: invoices and their totals."""\n\n\nclass Invoice:\n'
    source += '    """One invoice."""\n\n'
    source += "".join(
        f"    def line_{n}(self, amount: int) -> int:\n        total = amount\n{body}"
        "        return total\n\n"
        for n in range(30)
    )
    scan_files(workspace, {"billing.py": source})
    with generation(workspace, file_budget_bytes=6000) as g:
        user = g.prompt("billing.py").messages[1].content

    text = file_text_of(user, "billing.py")
    assert len(text.encode()) <= 6000 < len(source)
    code, marker = text.rsplit("\n", 1)
    ast.parse(code)
    assert "class Invoice:" in text
    for n in range(30):
        assert f"def line_{n}(self, amount: int) -> int:" in text
    assert "lines of the body]" in text
    assert marker.startswith("[... truncated: ") and "function bodies" in marker


# -- redaction --------------------------------------------------------------------------


def test_credentials_in_a_file_are_redacted_before_the_prompt(workspace: Workspace) -> None:
    scan_files(workspace, {"billing/settings.py": SECRET_SOURCE})
    with generation(workspace) as g:
        payload = g.prompt("billing/settings.py")

    user = payload.messages[1].content
    for fragment in SECRET_FRAGMENTS:
        assert fragment not in user
    assert 'AWS_ACCESS_KEY_ID = "[REDACTED]"' in user
    assert 'password = "[REDACTED]"' in user  # the value only: the code still reads
    assert 'DEPLOY_KEY = """\n[REDACTED]\n"""' in user
    assert "def region():" in user
    assert sorted(payload.redactions) == [
        "AWS access key id",
        "private key block",
        "secret assignment",
    ]


@pytest.mark.parametrize("kept", [14, 22], ids=["6-secret-chars", "14-secret-chars"])
def test_api_key_cut_by_the_truncation_is_not_sent_in_part(workspace: Workspace, kept: int) -> None:
    # The cut leaves fewer characters than the key rule needs to recognise a key;
    # what is left of the key must not be sent either.
    key = OPENAI_STYLE_KEY
    head = 'OPENAI_KEY = "'
    scan_files(workspace, {"keys.py": f'{head}{key}"\nrest = 1\n'})
    with generation(workspace, file_budget_bytes=len(head) + kept) as g:
        user = g.prompt("keys.py").messages[1].content

    assert key.startswith("sk-proj-")
    assert key[len("sk-proj-") : kept] not in user


def test_credentials_in_child_frames_are_redacted_in_a_directory_prompt(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"conf/db.py": "x = 1\n"})
    with generation(workspace) as g:
        g.put_manual("conf/db.py", f'Connects with password = "{PASSWORD}" to the primary.')
        payload = g.prompt("conf")

    assert PASSWORD not in payload.messages[1].content
    assert 'Connects with password = "[REDACTED]" to the primary.' in payload.messages[1].content
    assert payload.redactions == ("secret assignment",)


def test_clean_file_has_no_redactions(workspace: Workspace) -> None:
    scan_files(workspace, {"a.py": "def token_count(text):\n    return len(text.split())\n"})
    with generation(workspace) as g:
        payload = g.prompt("a.py")

    assert payload.redactions == ()
    assert "return len(text.split())" in payload.messages[1].content


# -- the file must be the one the scan hashed -------------------------------------------


def test_file_edited_since_the_scan_is_stale_node(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    (workspace.root / "a.txt").write_text("ALPHA\n")  # same size, other content
    with generation(workspace) as g:
        error = prompt_error(g, "a.txt")

    assert error.error_class == "stale_node"
    assert "a.txt" in error.message
    assert error.failure.retryable is False


def test_file_deleted_since_the_scan_is_stale_node(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    (workspace.root / "a.txt").unlink()
    with generation(workspace) as g:
        error = prompt_error(g, "a.txt")

    assert error.error_class == "stale_node"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_file_replaced_by_a_named_pipe_is_stale_node_without_blocking(
    workspace: Workspace,
) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    (workspace.root / "a.txt").unlink()
    os.mkfifo(workspace.root / "a.txt")
    with generation(workspace) as g:
        error = prompt_error(g, "a.txt")

    assert error.error_class == "stale_node"


def test_file_replaced_by_a_symlink_is_not_followed(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n", "other.txt": "LINK-TARGET-TEXT\n"})
    (workspace.root / "a.txt").unlink()
    (workspace.root / "a.txt").symlink_to(workspace.root / "other.txt")
    with generation(workspace) as g:
        error = prompt_error(g, "a.txt")

    assert error.error_class == "outside_workspace"
    assert "LINK-TARGET-TEXT" not in error.message


# -- files and agents that never make a prompt ----------------------------------------


def _store_record_the_scan_would_skip(workspace: Workspace, g: Generation, path: str) -> str:
    """Store a node record for `path` through the real store, as a database written before
    the built-in rules covered its name would hold. Returns its node id."""
    data = (workspace.root / path).read_bytes()
    content_hash = hash_bytes(data)
    record = NodeRecord(
        node_id=file_node_id(path, content_hash),
        path=path,
        node_type=NodeType.FILE,
        size_bytes=len(data),
        content_hash=content_hash,
    )
    nodes = g.store.nodes
    last = nodes.last_scan()
    assert last is not None
    now = time.time_ns()
    nodes.write_scan(
        records=[record],
        upserts=[],
        removed=[],
        started_at_ns=now,
        finished_at_ns=now,
        root_node_id=last.root_node_id,
        counts=ScanCounts(),
    )
    return record.node_id


@pytest.mark.parametrize("path", [".env", "deploy/.env.production", "certs/server.key"])
def test_secret_looking_file_is_never_read_into_a_prompt(workspace: Workspace, path: str) -> None:
    scan_files(workspace, {path: "API_TOKEN=tok_live_DOTENV-SECRET-VALUE\n", "a.txt": "alpha\n"})
    with generation(workspace) as g:
        # The scan's defence: the name is never part of the tree.
        assert path not in g.store.nodes.tree_paths()
        # The prompt's own defence, for a record that got into the store anyway. Its
        # content hash is right, so nothing but the name stops the read.
        node_id = _store_record_the_scan_would_skip(workspace, g, path)
        request = FrameRequest(
            key=FrameKey(node_id, AGENT_ID, FRAME_TYPE),
            path=path,
            node_type=NodeType.FILE,
            provider_name="local",
        )
        with pytest.raises(PromptError) as caught:
            FrameWriter(g.deps).prompt(request)

    assert caught.value.error_class == "secret_file"
    assert caught.value.failure.retryable is False
    assert "DOTENV-SECRET-VALUE" not in caught.value.message


def test_reader_agent_cannot_generate(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    with generation(workspace) as g:
        error = prompt_error(g, "a.txt", agent_id=READER_ID)

    assert error.error_class == "reader_agent"
    assert READER_ID in error.message
    assert error.failure.retryable is False


def test_node_that_is_not_stored_is_unknown_node(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    with generation(workspace) as g:
        request = FrameRequest(
            key=FrameKey("0" * 64, AGENT_ID, FRAME_TYPE),
            path="gone.txt",
            node_type=NodeType.FILE,
            provider_name="local",
        )
        with pytest.raises(PromptError) as caught:
            FrameWriter(g.deps).prompt(request)

    assert caught.value.error_class == "unknown_node"
    assert "gone.txt" in caught.value.message


# -- the digest ----------------------------------------------------------------------------


def test_prompt_digest_follows_the_messages(workspace: Workspace) -> None:
    scan_files(workspace, {"a.txt": "alpha\n"})
    terse = writer_agent(agent_id="terse", system_prompt="Be terse.")
    with generation(workspace, agents=[terse]) as g:
        first = g.prompt("a.txt")
        again = g.prompt("a.txt")
        other_agent = g.prompt("a.txt", agent_id="terse")
    write_tree(workspace.root, {"a.txt": "alpha, edited\n"})
    scan(workspace)
    with generation(workspace) as g:
        edited = g.prompt("a.txt")

    assert len(first.digest) == 64
    assert int(first.digest, 16) >= 0
    assert again.digest == first.digest
    assert other_agent.digest != first.digest
    assert edited.digest != first.digest
    assert "alpha" not in first.digest
