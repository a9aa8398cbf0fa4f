"""The CrossHair proof runner: a proof must have a contract that can fail, CrossHair's output
is classified strictly, the known-bug gate bites, and RESULTS.md holds no timings (GEN-007).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from proofs.run import (
    KNOWN_BUG,
    ConditionResult,
    ProofResult,
    Status,
    classify,
    contract_problem,
    render_results,
    run_proof,
)

from sessionspec.generate import ProofEntry

pytestmark = pytest.mark.req("GEN-007")

FIXTURE = '''\
def with_contract(x: int) -> int:
    """Clamp at zero.

    post: __return__ >= 0
    """
    return x if x > 0 else 0


def with_indexed_post(xs: list[int]) -> None:
    """
    post[xs]: len(xs) == len(__old__.xs) + 1
    """
    xs.append(1)


def only_a_precondition(x: int) -> int:
    """
    pre: x > 0
    """
    return x


def no_docstring(x: int) -> int:
    return x


def mentions_post_in_prose(x: int) -> int:
    """The post: office is closed (not at the start of a line, so not a contract)."""
    return x


NOT_A_FUNCTION = 3
'''


@pytest.fixture
def fixture_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module of contract fixtures; its name is unique to this test."""
    name = f"tooling_contract_fixture_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(FIXTURE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for the CrossHair subprocess
    return name


def entry(target: str, effort: int = 5) -> ProofEntry:
    return ProofEntry(target, ("GEN-005",), effort, "fixture", "proofs/registry_fixture.py")


def test_a_target_needs_a_post_contract(fixture_module: str) -> None:
    assert contract_problem(f"{fixture_module}.with_contract") is None
    assert contract_problem(f"{fixture_module}.with_indexed_post") is None
    for name in ("only_a_precondition", "no_docstring", "mentions_post_in_prose"):
        problem = contract_problem(f"{fixture_module}.{name}")
        assert problem is not None and "no `post:` contract" in problem, name
    not_function = contract_problem(f"{fixture_module}.NOT_A_FUNCTION")
    assert not_function is not None and "not a function" in not_function
    missing = contract_problem(f"{fixture_module}.does_not_exist")
    assert missing is not None and "cannot resolve" in missing
    assert contract_problem("no_such_package_anywhere.f") is not None


def test_a_proof_without_contract_is_an_error_before_crosshair_runs(fixture_module: str) -> None:
    result = run_proof(entry(f"{fixture_module}.only_a_precondition"))
    assert result.status is Status.ERROR
    assert "no `post:` contract" in result.detail
    assert result.conditions == ()


CONFIRMED = "/x/m.py:4: info: Confirmed over all paths."
NOT_CONFIRMED = "/x/m.py:5: info: Not confirmed."
REFUTED = "/x/m.py:4: error: false when calling f(1) (which returns -1)"
UNMET = "/x/m.py:3: info: Unable to meet precondition."


@pytest.mark.parametrize(
    ("returncode", "stdout", "status"),
    [
        (0, CONFIRMED, Status.PROVED),
        (0, f"{CONFIRMED}\n{NOT_CONFIRMED}", Status.HOLDS_WITHIN_BOUND),
        (1, f"{REFUTED}\n{NOT_CONFIRMED}", Status.COUNTEREXAMPLE),
        (0, UNMET, Status.ERROR),
        (0, "", Status.ERROR),
        (0, "WARNING: Targets found, but contain no checkable functions.", Status.ERROR),
        (2, "", Status.ERROR),
        (1, "", Status.ERROR),
        (0, REFUTED, Status.ERROR),
    ],
)
def test_crosshair_output_is_classified_strictly(
    returncode: int, stdout: str, status: Status
) -> None:
    assert classify(returncode, stdout, "")[0] is status


def test_conditions_are_shown_with_their_source_line(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text('def f(x):\n    """\n    post: __return__ > 0\n    """\n')
    _, conditions, _ = classify(0, f"{source}:3: info: Not confirmed.", "")
    assert conditions == (ConditionResult("post: __return__ > 0", "info", "Not confirmed."),)


def test_the_known_bug_gate_bites() -> None:
    result = run_proof(KNOWN_BUG)
    assert result.status is Status.COUNTEREXAMPLE, result
    assert any(c.kind == "error" and "next_free_seq" in c.message for c in result.conditions)


def test_a_true_contract_passes_under_crosshair(fixture_module: str) -> None:
    result = run_proof(entry(f"{fixture_module}.with_contract"))
    assert result.status is Status.PROVED, result


def test_results_hold_no_timings() -> None:
    proof = entry("pkg.mod.f")
    condition = ConditionResult("post: __return__ >= 0", "info", "Not confirmed.")
    fast = ProofResult(proof, Status.HOLDS_WITHIN_BOUND, (condition,), "", 0.5)
    slow = ProofResult(proof, Status.HOLDS_WITHIN_BOUND, (condition,), "", 97.0)
    gate = ProofResult(KNOWN_BUG, Status.COUNTEREXAMPLE, (), "", 1.0)
    text = render_results([fast], gate)
    assert text == render_results([slow], gate)
    assert "| `pkg.mod.f` | GEN-005 | 5 | holds within bound |" in text
    assert "- `post: __return__ >= 0`: no counterexample within the bound" in text
    assert "the gate bites" in text
    failing_gate = ProofResult(KNOWN_BUG, Status.HOLDS_WITHIN_BOUND, (), "", 1.0)
    assert "FAILED" in render_results([fast], failing_gate)
