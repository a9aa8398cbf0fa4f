"""``sessionspec conform``: adapters, selection, budget, reports, saved cases, exit codes."""

from __future__ import annotations

import json
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sessionspec.cli import main
from sessionspec.conformance.runner import MACHINES

PLANTED = "tests.conformance.planted:usage_before_write"


@pytest.mark.req("CONF-050", "CONF-040")
def test_conform_runtime_writes_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([
        "conform", "--adapter", "runtime", "--examples", "5", "--steps", "8", "--seed", "3",
        "--report-json", str(tmp_path / "r.json"), "--report-junit", str(tmp_path / "r.xml"),
        "--report-text", str(tmp_path / "r.txt"), "--no-progress",
    ])
    assert status == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] and data["seed"] == 3
    assert [m["machine"] for m in data["machines"]] == list(MACHINES)
    assert ET.parse(tmp_path / "r.xml").getroot().tag == "testsuite"
    assert "PASSED" in (tmp_path / "r.txt").read_text()
    assert "PASSED" in capsys.readouterr().out


@pytest.mark.req("CONF-050", "CONF-020")
def test_machine_and_capability_selection(tmp_path: Path) -> None:
    status = main([
        "conform", "--adapter", "runtime", "--machine", "coordinator", "--without",
        "storage.simulated", "--examples", "4", "--steps", "6", "--quiet",
        "--report-json", str(tmp_path / "r.json"),
    ])
    assert status == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert [m["machine"] for m in data["machines"]] == ["coordinator"]
    assert "storage.simulated" not in data["capabilities"]
    rows = {r["id"]: r["status"] for r in data["requirements"]}
    assert rows["COORD-011"] == "skipped"


@pytest.mark.req("CONF-062", "CONF-040", "CONF-061")
def test_a_failing_python_implementation_saves_cases_that_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([
        "conform", "--adapter", PLANTED, "--machine", "coordinator", "--examples", "30",
        "--steps", "12", "--shrink-seconds", "2", "--save-case", str(tmp_path / "cases"),
        "--report-json", str(tmp_path / "r.json"),
    ])
    assert status == 1
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["failures"]
    for failure in data["failures"]:
        assert failure["requirement"] and failure["steps"]
        assert Path(failure["case"]).is_file()
        assert failure["replay"].startswith(f"sessionspec conform --adapter {PLANTED} --case ")
    capsys.readouterr()
    cases = [arg for f in data["failures"] for arg in ("--case", f["case"])]
    replayed = main(["conform", "--adapter", PLANTED, *cases])
    assert replayed == 1
    assert main(["conform", "--adapter", "runtime", "--case", data["failures"][0]["case"]]) == 0


@pytest.mark.req("CONF-073", "CONF-040")
def test_shipped_cases_through_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    command = shlex.join([sys.executable, "-m", "sessionspec.conformance.harness",
                          "--storage", "sim"])
    assert main(["conform", "--adapter", command, "--cases", "--quiet"]) == 0
    assert "passed" in capsys.readouterr().out


@pytest.mark.req("CONF-040")
def test_bad_adapters_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--adapter", "no_such_module_x:make"]) == 2
    assert main(["conform", "--adapter", "/nonexistent/harness --x"]) == 2
    assert "sessionspec conform:" in capsys.readouterr().err
