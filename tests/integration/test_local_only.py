"""No paid call without content: binary files, lock files and `local_only` paths are
summarised by the embedded provider, through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.generate_cli import TREE, generate_bench

pytestmark = pytest.mark.timeout(120)

FILES: dict[str, bytes | str] = {
    **TREE,
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + b"PIXELS" * 100,
    "package-lock.json": '{"lockfileVersion": 3, "packages": {}}\n',
    "web/app.min.js": "function a(){return 1}\n",
    "tests/fixtures/case.txt": "an expected output\n",
}
OFFLINE = {"assets/logo.png", "package-lock.json", "web/app.min.js", "tests/fixtures/case.txt"}


def test_binary_lock_minified_and_configured_paths_cost_no_provider_call(tmp_path: Path) -> None:
    extra = '[generation]\nlocal_only = ["tests/fixtures/**"]\n'
    with generate_bench(tmp_path, files=FILES, extra_config=extra) as bench:
        result = bench.run("context", "generate", "--json")
        documents = {
            path: bench.run("context", "get", path, "--json").json() for path in sorted(OFFLINE)
        }
        calls = bench.server.call_counts()

    assert result.code == 0, result.stderr
    assert OFFLINE.isdisjoint(calls), calls
    assert set(TREE) <= set(calls)  # the other files did go to the provider
    assert all(document["metadata"]["provider"] == "local" for document in documents.values())
    assert "binary" in documents["assets/logo.png"]["content"].lower()
