"""Generation parity gates (seed 001, C6; seed 000, P1-P3).

Every scenario runs the real queue and generation units against the test
server and is compared with its checked-in artifact in
`tests/fixtures/generation_parity/`: the prompt, provider and wire requests,
the frame and its metadata (P2), and the attempts, backoff classes and
terminal error class of the failures (P3). A difference fails with a diff of
the two documents. To accept a change on purpose (P1, a new baseline):

    MERKLE_UPDATE_PARITY=1 .venv/bin/python -m pytest tests/integration/test_generation_parity.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from tests.support.generation_parity import SCENARIOS, render, run_scenario

pytestmark = pytest.mark.timeout(60)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generation_parity"
UPDATE = os.environ.get("MERKLE_UPDATE_PARITY") == "1"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_generation_matches_its_parity_baseline(scenario: str, tmp_path: Path) -> None:
    produced = render(run_scenario(scenario, tmp_path))
    artifact = FIXTURES / f"{scenario}.json"
    if UPDATE:
        artifact.write_text(produced, encoding="utf-8")
    assert artifact.exists(), f"no baseline {artifact.name}; see {FIXTURES / 'README.md'}"
    expected = artifact.read_text(encoding="utf-8")
    if produced != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                produced.splitlines(keepends=True),
                fromfile=f"baseline/{artifact.name}",
                tofile=f"this run/{artifact.name}",
            )
        )
        pytest.fail(f"generation drifted from the parity baseline:\n{diff}", pytrace=False)


def test_the_baseline_holds_one_artifact_per_scenario_and_nothing_else() -> None:
    artifacts = sorted(path.stem for path in FIXTURES.glob("*.json"))
    assert artifacts == sorted(SCENARIOS)
    for name in artifacts:
        document = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        assert document["scenario"] == name
