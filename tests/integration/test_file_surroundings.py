"""A file's prompt says where the file sits: its directory, the other entries there,
and the workspace files it imports and that import it, from the import map the
scan stored. Through the real command line against the test server."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.generate_cli import generate_bench, node_of, user_message

pytestmark = pytest.mark.timeout(120)

SECRET = "sk_live_51HxYzAbCdEfGhIjKlMnOpQrSt"
FILES: dict[str, bytes | str] = {
    "pkg/__init__.py": '"""The package."""\n',
    "pkg/core.py": "def thing():\n    return 1\n",
    "pkg/a.py": "import os\nfrom . import core\n",
    "pkg/b.py": "from pkg.core import thing\n",
    "web/app.js": f"const u = require('./util');\nconst k = require('./{SECRET}');\n",
    "web/util.js": "module.exports = {};\n",
}


def stored_imports(root: Path) -> dict[str, str]:
    with closing(sqlite3.connect(root / ".merkle" / "merkle.db")) as db:
        return dict(db.execute("SELECT content_hash, refs FROM file_imports").fetchall())


def test_a_file_prompt_names_its_directory_siblings_imports_and_importers(tmp_path: Path) -> None:
    with generate_bench(tmp_path, files=FILES) as bench:
        result = bench.run("context", "generate", "--json")
        prompts = {node_of(r): user_message(r) for r in bench.server.requests if node_of(r)}
        imports = stored_imports(bench.root)

    assert result.code == 0, result.stderr
    core = prompts["pkg/core.py"]
    around = core.split('<surroundings path="pkg/core.py">\n', 1)[1].split("\n</surroundings>")[0]
    assert around.splitlines() == [
        "Directory: `pkg/`",
        "Other entries there (3): `__init__.py`, `a.py`, `b.py`",
        "Imported by (2): `pkg/a.py`, `pkg/b.py`",
    ]
    # The task first, then where the file sits, then the file.
    assert core.index("Write the context note") < core.index("<surroundings") < core.index("<file")
    assert "Imports from this workspace (1): `pkg/core.py`" in prompts["pkg/a.py"]
    assert "Imported by: no file of this workspace" in prompts["pkg/a.py"]
    assert "Imports from this workspace (1): `web/util.js`" in prompts["web/app.js"]
    # An import spelt with a secret is neither stored nor sent as a path.
    assert all(SECRET not in refs for refs in imports.values())
    assert all(SECRET not in prompt.split("<file")[0] for prompt in prompts.values())


def test_content_scanned_before_the_import_map_is_read_for_it_once(tmp_path: Path) -> None:
    with generate_bench(tmp_path, files=FILES) as bench:
        before = stored_imports(bench.root)
        with closing(sqlite3.connect(bench.root / ".merkle" / "merkle.db")) as db, db:
            db.execute("DELETE FROM file_imports")
        rescanned = bench.run("scan", "--json")
        after = stored_imports(bench.root)

    assert rescanned.code == 0, rescanned.stderr
    assert len(before) == 6  # every Python and JavaScript file's content
    assert after == before
