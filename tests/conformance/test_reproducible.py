"""A seed replays the same run in any process (CONF-064).

Two interpreters with different string-hash seeds hunt the same planted bug with the same
seed and a shrink bounded by improvements; the requests they send and the failures they
report must be identical. Before the bound, two runs of one process already differed in
their shrinks (the shrinker stops on the clock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HUNT = """
import hashlib, json, sys
from tests.coordinator.coord_factories import UsageBeforeWriteCoordinator, runtime_connection
from sessionspec.conformance import adapters
from sessionspec.conformance.runner import Budget, run_conformance

sent = []
call = adapters.InProcessConnection.call
def recording(self, cmd, **args):
    sent.append(json.dumps([cmd, args], sort_keys=True, default=str))
    return call(self, cmd, **args)
adapters.InProcessConnection.call = recording
budget = Budget(examples=5, steps=10, shrink_seconds=120, shrinks=4, max_failures=2)
report = run_conformance(runtime_connection(UsageBeforeWriteCoordinator), adapter="planted",
                         machines=("coordinator",), budget=budget, seed=1)
print(json.dumps({"requests": hashlib.sha256("\\n".join(sent).encode()).hexdigest(),
                  "count": len(sent),
                  "failures": [[f.requirement, len(f.steps)] for f in report.failures]}))
"""


def _hunt(hash_seed: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", HUNT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.req("CONF-064")
def test_a_seed_replays_the_same_requests_and_failures_under_any_hash_order() -> None:
    # ~5 s each on a quiet machine: two fresh interpreters are the point of the test.
    first, second = _hunt("1"), _hunt("2")
    assert first["failures"], "the planted bug must be found for the comparison to mean much"
    assert first == second
