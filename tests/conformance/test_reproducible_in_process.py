"""A seed replays the same run in one process, whatever ran or was imported before (CONF-064).

Two causes had made a later run of a seed differ from the first in the same process, and
each is provoked here between two runs on fresh connections:

* Hypothesis mixes into its draws constants it collects from every local module imported
  so far; a module imported between the runs (here one written for the purpose, holding
  the integers the stateful machine's feature-flag draw ``integers(0, 254)`` admits) changed
  the examples of the second run. The runner empties that pool for its runs.
* The names the machines give what they create (journals, sessions, handles) were numbered
  per process, so the second run sent other names. They are numbered per connection.

About a second: 30 short examples of the recorder machine against the phi-core profile
whose flush order differs (a failure, so the runner's masked rerun is compared too).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis.internal.conjecture import providers

from sessionspec.conformance.adapters import Connection, Reply, connect
from sessionspec.conformance.profiles import PROFILES
from sessionspec.conformance.runner import Budget, run_conformance

BUDGET = Budget(examples=30, steps=10, shrinks=0, max_failures=4, first_hand=True)


def _run(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """The requests a seed-0 run sends on a fresh connection, and the ids it reports."""
    connection: Connection = connect(PROFILES["phi_flush_in_hash_order"].adapter)
    sent: list[str] = []
    send = connection.call

    def recording(cmd: str, **args: Any) -> Reply:
        sent.append(json.dumps([cmd, args], sort_keys=True, default=str))
        return send(cmd, **args)

    monkeypatch.setattr(connection, "call", recording)
    report = run_conformance(
        connection, adapter="phi", machines=("recorder",), budget=BUDGET, seed=0
    )
    return sent, [failure.requirement for failure in report.failures]


def _import_constants(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import a new local module full of constants, as a test file or a machine would be."""
    path.write_text(f"VALUES = {tuple(range(100, 255))!r}\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("reproducible_fresh_constants", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "reproducible_fresh_constants", module)
    spec.loader.exec_module(module)
    # What Hypothesis collected from it is forgotten after the test (restored pool).
    monkeypatch.setattr(providers, "_local_constants", providers._local_constants)


@pytest.mark.req("CONF-064")
def test_a_seed_replays_in_the_same_process_after_new_modules_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_requests, first_found = _run(monkeypatch)
    assert first_found == ["REC-050"], "the comparison should cover a failing run"
    _import_constants(tmp_path / "fresh_constants.py", monkeypatch)
    second_requests, second_found = _run(monkeypatch)
    assert second_found == first_found
    assert len(second_requests) == len(first_requests)
    assert second_requests == first_requests
