"""The language-neutral log cases in spec/cases/log/ replayed against the JSONL log."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from sessionspec.errors import AppendFailedError, BadHeaderError, LogFailedError
from sessionspec.storage import JsonlLog, SimulatedFileSystem, read_log

CASES_FILE = Path(__file__).parents[2] / "spec" / "cases" / "log" / "recovery.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.req("LOG-002", "LOG-003", "LOG-007", "LOG-008", "LOG-009", "LOG-013", "LOG-017")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_recovery_case(case: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "case.jsonl"
    data = "".join(case["lines"]).encode("utf-8")
    path.write_bytes(data)
    expected = case["expected"]
    if expected.get("header_error"):
        with pytest.raises(BadHeaderError):
            read_log(str(path))
        with pytest.raises(BadHeaderError):
            JsonlLog.open(str(path))
        assert path.read_bytes() == data
        return
    snapshot = read_log(str(path))
    assert [r.entry["id"] for r in snapshot.records] == expected["records"]
    found = [
        {"kind": d.kind.value, "line": d.line, "offset": d.offset} for d in snapshot.report.damage
    ]
    assert found == expected["damage"]
    assert snapshot.head == expected["head"]
    assert snapshot.report.kept_bytes == expected["kept_bytes"]
    with JsonlLog.open(str(path)) as log:
        assert log.head == expected["head"]
    assert path.read_bytes() == data[: expected["kept_bytes"]]


STEP_CASES: list[dict[str, Any]] = json.loads(
    (CASES_FILE.parent / "crash_steps.json").read_text(encoding="utf-8")
)["cases"]


def _ids_entries(ids: list[str]) -> list[dict[str, Any]]:
    return [
        {"type": "extension_state", "id": i, "parent_id": None, "timestamp": "t", "state": i}
        for i in ids
    ]


class _NoUnsynced(random.Random):
    """A power cut that keeps no unsynced byte and no unsynced name."""

    def random(self) -> float:
        return 0.99

    def randint(self, a: int, b: int) -> int:
        return a


@pytest.mark.req("LOG-003", "LOG-005", "LOG-006", "LOG-014", "LOG-020")
@pytest.mark.parametrize("case", STEP_CASES, ids=[c["name"] for c in STEP_CASES])
def test_step_case(case: dict[str, Any]) -> None:
    fs = SimulatedFileSystem()
    path = "/cases/log.jsonl"
    header = {"type": "session", "version": 1, "id": "c", "timestamp": "t", "cwd": "/"}
    log: JsonlLog | None = None
    for step in case["steps"]:
        action = step["do"]
        if action == "create":
            log = JsonlLog.create(path, header, fs=fs)
        elif action == "arm_fault":
            fs.arm(step["operation"], step["nth"], partial=step.get("partial"))
        elif action == "append":
            assert log is not None
            outcome = "ok"
            try:
                log.append(_ids_entries(step["ids"]))
            except AppendFailedError:
                outcome = "append_failed"
            except LogFailedError:
                outcome = "log_failed"
            assert outcome == step["expect"]
        elif action == "close":
            assert log is not None
            log.close()
        elif action == "open":
            log = JsonlLog.open(path, fs=fs)
            if "expect_head" in step:
                assert log.head == step["expect_head"]
        elif action == "power_cut":
            assert step["keep_unsynced"] == 0
            fs.crash(_NoUnsynced())
            log = None
        elif action == "read":
            assert [r.entry["id"] for r in read_log(path, fs=fs).records] == step["expect_ids"]
        else:  # pragma: no cover - a case file this runner does not know
            raise AssertionError(f"unknown step {action!r}")
