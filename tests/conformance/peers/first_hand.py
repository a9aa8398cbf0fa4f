"""Every distinct requirement a machine finds *first hand* against an implementation.

The rule lives in the runner (CONF-160, ``Budget.first_hand``): an example is abandoned at
its first failure of an already reported requirement, because after it the implementation
and the model have parted ways and a later check would only report the same divergence
again under another name. This helper runs one machine that way and returns what it found;
with ``cases=True`` it also replays the machine's shipped cases first hand (each case's
first failure, as ``sessionspec conform --cases --first-hand`` reports it): the boundaries
a generator does not reach, such as usage beyond 32 bits (COORD-061), live there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.cases import iter_case_files, load_case, replay_case
from sessionspec.conformance.runner import Budget, run_conformance


def first_hand_failures(
    connection: Connection,
    machine: str,
    *,
    examples: int,
    steps: int,
    seed: int = 0,
    shrink: bool = True,
) -> dict[str, str]:
    """``{requirement: message}`` of every requirement ``machine`` finds first hand.

    ``shrink=False`` reports each failing example as found: the same requirements (each is
    still the first failure of its example), without the time shrinking can take."""
    budget = Budget(
        examples=examples, steps=steps, shrink_seconds=2, shrinks=50 if shrink else 0,
        max_failures=12, first_hand=True,
    )
    report = run_conformance(
        connection, adapter="first-hand", machines=(machine,), budget=budget, seed=seed
    )
    return {failure.requirement: failure.message for failure in report.failures}


def first_hand_case_failures(connection: Connection, machine: str) -> dict[str, str]:
    """``{requirement: message}`` of the first failure of every shipped case of ``machine``
    (``sessionspec conform --cases --first-hand``)."""
    found: dict[str, str] = {}
    for path in iter_case_files():
        case = load_case(path)
        if getattr(case, "machine", None) != machine:
            continue
        result = replay_case(case, connection, path=str(path), first_hand=True,
                             reported=frozenset(found))
        for requirement, message in result.failures:
            found.setdefault(requirement, f"{path.name}: {message}")
    return found


_IN_FRESH_PROCESS = """
import json, sys
from tests.conformance.peers.first_hand import first_hand_case_failures, first_hand_failures
from sessionspec.conformance.adapters import connect
args = json.loads(sys.argv[1])
adapter = args.pop("adapter")
machine = args.pop("machine")
cases = args.pop("cases", False)
found = first_hand_failures(connect(adapter), machine, **args)
if cases:
    found = {**first_hand_case_failures(connect(adapter), machine), **found}
print(json.dumps(found))
"""


def first_hand_in_a_fresh_process(adapter: str, machine: str, **budget: Any) -> dict[str, str]:
    """:func:`first_hand_failures` in an interpreter of its own (with ``cases=True``, and
    :func:`first_hand_case_failures` on a connection of their own).

    A run replays from its seed in the same process as well (CONF-064; before the runner
    emptied Hypothesis's pool of constants from imported modules and the machines numbered
    their names per connection, a conversation machine run before it had made the
    ``opi_pair_blind_cut`` profile be named COORD-031 as well as COORD-104). A profile that
    keeps state in its process (``opi_process_global_ids``) still needs an interpreter of
    its own; the others can use :func:`first_hand_failures` directly.
    """
    payload = json.dumps({"adapter": adapter, "machine": machine, **budget})
    done = subprocess.run(
        [sys.executable, "-c", _IN_FRESH_PROCESS, payload],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"the first-hand run failed: {done.stderr[-2000:]}")
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
