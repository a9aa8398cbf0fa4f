"""Once COORD-004 is reported and masked, ids are judged up to a renaming (CONF-161).

An implementation whose id counter is not COORD-004's (opi's counter is one per process)
shows every later session's ids renumbered. The run reports that once; masked, a renumbering
is no news, and the coordinator driver judges the rest of the run as it judges a harness
without ``coordinator.ids`` (CONF-002): so a first-hand run (CONF-160) is not abandoned at
the ids of every later example, and the implementation's other defects are reached. Nothing
else is forgiven: a defect behind the ids is still named by its own rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.cases import CoordinatorCase, iter_case_files, load_case
from sessionspec.conformance.checks import CheckContext, RequirementFailure, checking
from sessionspec.conformance.coordinator_charges import in_model_ids, learn_renaming
from sessionspec.conformance.coordinator_replay import run_steps
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.conformance.profiles.opi import OpiQuirk, opi_coordinator_class


def _connection(*quirks: OpiQuirk) -> InProcessConnection:
    cls = opi_coordinator_class(frozenset(quirks))
    return InProcessConnection(
        PythonHarness(runtime_implementation(coordinator_cls=cls), storage="sim")
    )


def _steps(name: str) -> list[dict[str, Any]]:
    for path in iter_case_files():
        case = load_case(path)
        if isinstance(case, CoordinatorCase) and case.name == name:
            return [s.model_dump(exclude_none=True) for s in case.steps]
    raise AssertionError(f"no case {name}")


def _first_failure(
    connection: InProcessConnection, steps: list[dict[str, Any]], masked: frozenset[str]
) -> str | None:
    with checking(CheckContext(masked=masked)):
        try:
            run_steps(connection, steps)
        except RequirementFailure as failure:
            return failure.requirement
    return None


def _coordinator_cases() -> list[str]:
    cases = (load_case(path) for path in iter_case_files())
    return sorted(case.name for case in cases if isinstance(case, CoordinatorCase))


@pytest.mark.req("CONF-161", "COORD-004", "CONF-002")
def test_a_renumbering_is_coord_004_until_it_is_masked() -> None:
    """Every shipped coordinator case against a process-wide counter already advanced: each
    fails COORD-004 first; with COORD-004 masked, none fails at all (a file, an observation,
    a twin, a fork, a reopen, a crash, a fault, an injection all judged up to the renaming)."""
    connection = _connection(OpiQuirk.PROCESS_GLOBAL_IDS)
    names = _coordinator_cases()
    assert len(names) >= 10
    _first_failure(connection, _steps(names[0]), frozenset())  # advances the counter
    for name in names:
        steps = _steps(name)
        assert _first_failure(connection, steps, frozenset()) == "COORD-004", name
        assert _first_failure(connection, steps, frozenset({"COORD-004"})) is None, name


@pytest.mark.req("CONF-161", "COORD-002", "COORD-061")
@pytest.mark.parametrize(
    ("quirk", "case", "requirement"),
    [
        (OpiQuirk.TIP_BEFORE_WRITE, "planted_tip_before_write", "COORD-002"),
        (OpiQuirk.U32_TOTALS, "usage_beyond_32_bits", "COORD-061"),
    ],
)
def test_a_defect_behind_renumbered_ids_is_named_by_its_own_rule(
    quirk: OpiQuirk, case: str, requirement: str
) -> None:
    connection = _connection(OpiQuirk.PROCESS_GLOBAL_IDS, quirk)
    steps = _steps(case)
    _first_failure(connection, steps, frozenset())  # advances the counter
    assert _first_failure(connection, steps, frozenset()) == "COORD-004"
    assert _first_failure(connection, steps, frozenset({"COORD-004"})) == requirement


@pytest.mark.req("CONF-161", "CONF-002")
def test_a_file_is_read_in_the_model_ids_entry_by_entry() -> None:
    model = (
        {"type": "message", "id": "msg-1", "parent_id": None, "message": {"text": "a"}},
        {"type": "leaf", "id": "leaf-2", "parent_id": "msg-1", "entry_id": "msg-1"},
        {
            "type": "compaction",
            "id": "cmp-3",
            "parent_id": "leaf-2",
            "first_kept_entry_id": "msg-1",
            "summary": "s",
        },
    )
    found = (
        {"type": "message", "id": "msg-7", "parent_id": None, "message": {"text": "a"}},
        {"type": "leaf", "id": "leaf-8", "parent_id": "msg-7", "entry_id": "msg-7"},
        # Cut elsewhere: the cut is the cut policy's to judge, its id still the renaming's.
        {
            "type": "compaction",
            "id": "cmp-9",
            "parent_id": "leaf-8",
            "first_kept_entry_id": "x-1",
            "summary": "t",
        },
    )
    mapping: dict[str, str] = {}
    learn_renaming(found, model, mapping)
    assert mapping == {"msg-1": "msg-7", "leaf-2": "leaf-8", "cmp-3": "cmp-9"}
    renamed = in_model_ids(found, mapping)
    assert renamed[:2] == model[:2]
    assert renamed[2] == {**model[2], "first_kept_entry_id": "x-1", "summary": "t"}
    # A pair that contradicts the renaming already learned teaches nothing: it stays one to
    # one, and the file keeps the difference for the driver to charge.
    other: dict[str, str] = {"msg-1": "msg-5"}
    learn_renaming(found, model, other)
    assert other["msg-1"] == "msg-5" and "msg-7" not in other.values()
    assert in_model_ids(found, other)[0]["id"] == "msg-7"


@pytest.mark.req("CONF-160", "CONF-161", "COORD-061")
def test_a_first_hand_case_run_carries_what_earlier_cases_reported() -> None:
    """``conform --cases --first-hand``: a case after one that reported COORD-004 starts with
    it masked, so it is judged up to a renaming and names its own rule; a failure of a
    requirement already reported ends a case with nothing new."""
    from sessionspec.conformance.cases import replay_case

    path = next(p for p in iter_case_files() if p.stem == "usage_beyond_32_bits")
    case = load_case(path)
    connection = _connection(OpiQuirk.PROCESS_GLOBAL_IDS, OpiQuirk.U32_TOTALS)
    _first_failure(connection, _steps(path.stem), frozenset())  # advances the counter
    alone = replay_case(case, connection, path=str(path), first_hand=True)
    assert [rule for rule, _ in alone.failures] == ["COORD-004"]
    after = replay_case(case, connection, path=str(path), first_hand=True,
                        reported=frozenset({"COORD-004"}))
    assert [rule for rule, _ in after.failures] == ["COORD-061"]
    nothing_new = replay_case(case, connection, path=str(path), first_hand=True,
                              reported=frozenset({"COORD-004", "COORD-061"}))
    assert nothing_new.status == "passed" and nothing_new.failures == []

