"""SIGTERM and SIGHUP stop `merkle context generate` as Ctrl-C does, through the real
command line: the session ends as cancelled, no lease or waiter of the stopped
process is left behind, and the next run finishes the work."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.generate_cli import TREE_NODES, generate_bench, subtree

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_terminated_generate_stops_cleanly_and_the_next_run_finishes(
    tmp_path: Path, sig: int
) -> None:
    with generate_bench(tmp_path) as bench:
        gate = bench.server.hold(subtree("src"))
        running = bench.start("context", "generate")
        bench.server.wait_for_calls(["src/sub/deep/e.py"])
        running.kill(sig)
        stopped = running.collect()
        leftovers = bench.query(
            "SELECT COUNT(*) FROM request_waiters UNION ALL"
            " SELECT COUNT(*) FROM frame_requests WHERE state = 'processing'"
        )
        sessions = bench.run("sessions", "list", "--json").json()["sessions"]
        gate.release()
        rerun = bench.run("context", "generate", "--json")

    assert stopped.code == 128 + sig, stopped.stderr
    assert "interrupted: every finished frame is kept" in stopped.stdout + stopped.stderr
    assert leftovers == [(0,), (0,)]
    assert (sessions[0]["status"], sessions[0]["outcome"]) == ("completed", "cancelled")
    assert rerun.code == 0, rerun.stderr
    assert rerun.json()["total_failed"] == 0
    assert set(TREE_NODES) <= set(bench.server.calls())
