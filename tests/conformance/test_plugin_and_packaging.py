"""The pytest plugin in a user's own test run, and the wheel that carries the cases."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )


@pytest.mark.req("CONF-080")
def test_the_plugin_adds_an_item_per_requirement_and_per_case(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert True\n")
    plain = _pytest(tmp_path)
    assert plain.returncode == 0 and "1 passed" in plain.stdout, plain.stdout
    run = _pytest(tmp_path, "--sessionspec-adapter=runtime", "--sessionspec-examples=6",
                  "--sessionspec-steps=8", "--sessionspec-machine=coordinator")
    assert run.returncode == 0, run.stdout + run.stderr
    listed = _pytest(tmp_path, "--collect-only", "--sessionspec-adapter=runtime",
                     "--sessionspec-machine=coordinator")
    assert "coordinator/CONF-001" in listed.stdout
    assert "cases/coordinator/planted_split_pair" in listed.stdout
    assert "test_mine" in listed.stdout


@pytest.mark.req("CONF-080", "CONF-060")
def test_a_failing_requirement_fails_its_item(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "--sessionspec-adapter=tests.conformance.planted:usage_before_write",
                  "--sessionspec-examples=30", "--sessionspec-steps=12", "-rf",
                  "--sessionspec-shrink-seconds=2",
                  "--sessionspec-machine=coordinator", "--sessionspec-no-cases",
                  f"--rootdir={tmp_path}", "-o", f"pythonpath={ROOT}")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED" in run.stdout and "shrunk steps" in run.stdout


@pytest.mark.slow
@pytest.mark.req("CONF-073")
def test_the_wheel_ships_the_cases_and_the_protocol(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
         str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if built.returncode != 0 and "Could not find a version" in built.stderr:
        pytest.skip("no package index to fetch the build backend from")
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("sessionspec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = "sessionspec/conformance/spec/"
    for case in (ROOT / "spec" / "cases").rglob("*.json"):
        assert shipped + case.relative_to(ROOT / "spec").as_posix() in names, case
    assert shipped + "cases/README.md" in names
    assert shipped + "PROTOCOL.md" in names
    assert shipped + "schema/protocol/start.request.json" in names
