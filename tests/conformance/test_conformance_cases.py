"""Case files: every one validates, the schema is generated, the runner needs no Hypothesis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.coordinator.coord_factories import runtime_connection

from sessionspec.conformance.cases import (
    CASE_ADAPTER,
    iter_case_files,
    load_case,
    replay_case,
)
from sessionspec.errors import CallerError

ROOT = Path(__file__).resolve().parents[2]
CASE_ROOT = ROOT / "spec" / "cases"
CASES = list(iter_case_files(CASE_ROOT))


@pytest.mark.req("CONF-070", "CONF-071")
@pytest.mark.parametrize(
    "path", CASES, ids=[p.relative_to(CASE_ROOT).with_suffix("").as_posix() for p in CASES]
)
def test_every_case_file_validates_and_names_its_rules_version(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert data["machine"] == path.relative_to(CASE_ROOT).parts[0]
    load_case(path)


@pytest.mark.req("CONF-070")
def test_the_schema_file_is_the_models_schema() -> None:
    schema = json.loads((ROOT / "spec" / "cases" / "case.schema.json").read_text())
    assert schema["$defs"] == CASE_ADAPTER.json_schema()["$defs"]
    assert "Interpretation rules, version 1" in (ROOT / "spec" / "cases" / "README.md").read_text()


@pytest.mark.req("CONF-070")
def test_a_bad_case_is_a_caller_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "machine": "coordinator", "name": "x",
                               "description": "", "requirements": [], "steps": []}))
    with pytest.raises(CallerError, match=r"bad\.json"):
        load_case(bad)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CallerError, match=r"broken\.json"):
        load_case(tmp_path / "broken.json")


@pytest.mark.req("CONF-072", "CONF-010")
def test_crash_outcomes_can_be_narrowed_by_a_case() -> None:
    turn = {"mode": "crash", "op": "turn", "nth": 0, "resume_crash": None,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}],
                          "timestamp_ms": 1}],
            "usage": {"input_tokens": 1, "output_tokens": 0, "cache_read_tokens": 0,
                      "cache_write_tokens": 0}}
    start = {"mode": "start", "threshold": 1000, "policy": "count_tail", "seed": 0}
    base = {"version": 1, "machine": "coordinator", "name": "n", "description": "d",
            "requirements": ["CONF-010"]}
    # Crash before the first file operation: the turn is lost, the state is "before".
    before_only = CASE_ADAPTER.validate_python(
        {**base, "steps": [start, {**turn, "outcomes": ["before"]}]})
    after_only = CASE_ADAPTER.validate_python(
        {**base, "steps": [start, {**turn, "outcomes": ["after"]}]})
    assert replay_case(before_only, runtime_connection()).status == "passed"
    narrowed = replay_case(after_only, runtime_connection())
    assert narrowed.status == "failed" and narrowed.failures[0][0] == "CONF-010"


USER = {"role": "user", "content": [{"type": "text", "text": "a"}], "timestamp_ms": 1}
#: Saved traces of the conversation and ledger machines (CONF-124): each passes on the
#: runtime and fails on a planted bug (a fork whose pushes reach its source, CONV-010; a
#: ledger that counts a request id twice, STATE-033).
SAVED_TRACES = {
    "conversation": [{"op": "start"}, {"op": "push", "on": 0, "message": USER},
                     {"op": "fork", "on": 0}, {"op": "push", "on": 1, "message": USER}],
    "ledger": [{"op": "start"},
               {"op": "record", "on": 0, "source": "turn", "model": "m",
                "counts": [5, 0, 0, 0, 0], "request": "r1"},
               {"op": "copy", "on": 0},
               {"op": "record", "on": 1, "source": "turn", "model": "m",
                "counts": [5, 0, 0, 0, 0], "request": "r1"}],
}


@pytest.mark.req("CONF-073", "CONF-124", "CONV-010", "STATE-033")
def test_the_case_runner_needs_no_hypothesis(tmp_path: Path) -> None:
    """Every shipped case, and saved conversation and ledger traces, replay with Hypothesis
    unimportable (the traces on the runtime and on a planted bug). One fresh interpreter for
    all of it: about 3 s on 2 idle cores, 5 s under load (the import and ~110 replays)."""
    for machine, steps in SAVED_TRACES.items():
        (tmp_path / f"{machine}.json").write_text(json.dumps({
            "version": 1, "machine": machine, "name": machine, "description": "saved",
            "requirements": ["CONF-124"], "steps": steps}))
    script = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from pathlib import Path\n"
        "from sessionspec import TokenLedger\n"
        "from sessionspec.conformance.adapters import InProcessConnection, connect\n"
        "from sessionspec.conformance.cases import iter_case_files, load_case, replay_case\n"
        "from sessionspec.conformance.harness import PythonHarness, runtime_implementation\n"
        "from tests.conversation.conv_factories import shared_list_fork\n"
        "c = connect('runtime')\n"
        "r = [replay_case(load_case(p), c, path=str(p)).status for p in iter_case_files()]\n"
        "assert set(r) <= {'passed', 'skipped'}, r\n"
        "class Twice(TokenLedger):\n"
        "    def record(self, source, model, usage, request_id=None):\n"
        "        return super().record(source, model, usage, None)\n"
        "planted = {'conversation': InProcessConnection(PythonHarness(shared_list_fork())),\n"
        "           'ledger': InProcessConnection(PythonHarness(\n"
        "               runtime_implementation(ledger_cls=Twice)))}\n"
        "for machine, bad in planted.items():\n"
        f"    case = load_case(Path({str(tmp_path)!r}) / f'{{machine}}.json')\n"
        "    print(machine, replay_case(case, c).status,\n"
        "          [f[0] for f in replay_case(case, bad).failures])\n"
        "print(len(r))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    *traces, count = done.stdout.splitlines()
    assert int(count) == len(CASES)
    assert traces == ["conversation passed ['CONV-010']", "ledger passed ['STATE-033']"]
