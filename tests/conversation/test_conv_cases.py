"""The conversation case files (spec/cases/conversation/*.json): meerkat's tests, replayed
through the driver protocol against the runtime (CONF-074)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conversation.conv_cases import CASE_DIR, build_cases

from sessionspec.conformance.adapters import Connection, connect
from sessionspec.conformance.cases import load_case, replay_case

CASE_FILES = sorted(CASE_DIR.glob("*.json"))
#: The hand-written ones (the others are saved traces, e.g. of a planted bug).
SCRIPT_FILES = [p for p in CASE_FILES if json.loads(p.read_text()).get("form") == "script"]


@pytest.fixture(scope="module")
def runtime() -> Iterator[Connection]:
    connection = connect("runtime")
    yield connection
    connection.close()


@pytest.mark.req("CONV-040")
def test_case_files_are_current() -> None:
    built = {item["name"]: item for item in build_cases()}
    on_disk = {path.stem: json.loads(path.read_text()) for path in SCRIPT_FILES}
    assert on_disk == built, "run: python tests/conversation/conv_cases.py"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
@pytest.mark.req("CONV-004", "CONV-010", "CONV-011", "CONV-030", "CONV-032", "CONV-033",
                 "CONV-034", "CONV-040", "CONV-041", "CONF-074")
def test_case_on_runtime(path: Path, runtime: Connection) -> None:
    result = replay_case(load_case(path), runtime, path=str(path))
    assert result.status == "passed", result.failures
