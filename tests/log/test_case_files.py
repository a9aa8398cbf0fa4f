"""The language-neutral log cases in spec/cases/log/ replayed against the JSONL log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sessionspec.errors import BadHeaderError
from sessionspec.storage import JsonlLog, read_log

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
