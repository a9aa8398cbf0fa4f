"""The ``sessionspec`` command line and ``sessionspec gates``'s sequencing.

The generate tests run the real command against a temporary repository with small schema
and table registries (GEN-005); the others replace the expensive parts (the gates, the
demo, the benchmarks) with stand-ins and check the wiring.
"""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import sessionspec.cli
import sessionspec.gates
import sessionspec.generate
from sessionspec.bench.common import BenchResult
from sessionspec.cli import main
from sessionspec.gates import Step, run_checks

SPEC = "# Spec\n\n## 1. General (GEN)\n\n- **GEN-001** A rule.\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny repository, and registries with nothing in them."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "SPEC.md").write_text(SPEC)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fixture'\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        'import pytest\n\n@pytest.mark.req("GEN-001")\ndef test_a():\n    pass\n'
    )
    monkeypatch.setattr(sessionspec.generate, "_default_schemas", lambda: {})
    monkeypatch.setattr(sessionspec.generate, "_default_tables", lambda: [])
    return tmp_path


@pytest.mark.req("GEN-005")
def test_generate_then_check_then_detect_staleness(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--check", "--root", str(repo)]) == 1
    assert "missing: spec/MATRIX.md" in capsys.readouterr().err
    assert main(["generate", "--root", str(repo)]) == 0
    assert "wrote spec/MATRIX.md" in capsys.readouterr().out
    assert main(["generate", "--check", "--root", str(repo)]) == 0
    capsys.readouterr()

    matrix = repo / "spec" / "MATRIX.md"
    matrix.write_text(matrix.read_text().replace("`tests/test_a.py::test_a`", "—"))
    assert main(["generate", "--check", "--root", str(repo)]) == 1
    err = capsys.readouterr().err
    assert "stale: spec/MATRIX.md" in err
    assert "run `sessionspec generate`" in err


@pytest.mark.req("GEN-005")
def test_an_undefined_id_fails_generate_and_check(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "tests" / "test_b.py").write_text(
        'import pytest\n\n@pytest.mark.req("GEN-002")\ndef test_b():\n    pass\n'
    )
    assert main(["generate", "--root", str(repo)]) == 1
    assert "problem: GEN-002 is referenced but not defined" in capsys.readouterr().err
    assert main(["generate", "--check", "--root", str(repo)]) == 1
    assert "problem: GEN-002 is referenced but not defined" in capsys.readouterr().err


@pytest.mark.req("GEN-005")
def test_generate_finds_the_root_from_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "tests")
    assert main(["generate"]) == 0
    assert (repo / "spec" / "MATRIX.md").is_file()


def test_arguments_after_a_double_dash_go_to_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run_checks(
        root: Path, pytest_args: Sequence[str], *, skip: Sequence[str], fail_fast: bool
    ) -> int:
        seen.update(root=root, pytest_args=list(pytest_args), skip=list(skip), ff=fail_fast)
        return 7

    monkeypatch.setattr(sessionspec.gates, "run_checks", fake_run_checks)
    assert main(["gates", "--skip", "mypy", "--", "-k", "wire", "-x"]) == 7
    assert seen["pytest_args"] == ["-k", "wire", "-x"]
    assert seen["skip"] == ["mypy"]
    assert seen["ff"] is False
    assert (seen["root"] / "spec" / "SPEC.md").is_file()
    with pytest.raises(SystemExit):
        main(["generate", "--", "-x"])


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_check_runs_every_step_and_summarises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = [
        Step("ruff", _python("pass")),
        Step("mypy", _python("import sys; sys.exit(3)")),
        Step("generate", _python("pass")),
    ]
    monkeypatch.setattr(sessionspec.gates, "steps", lambda root, args: fake)
    out = io.StringIO()
    assert run_checks(tmp_path, out=out) == 1
    text = out.getvalue()
    assert "=== mypy: FAILED (exit 3)" in text
    assert "=== generate: passed" in text  # a failure does not stop the run
    assert "gates FAILED" in text and ": mypy" in text

    out = io.StringIO()
    assert run_checks(tmp_path, fail_fast=True, out=out) == 1
    assert "=== generate" not in out.getvalue()
    assert "skipped  generate" in out.getvalue()

    out = io.StringIO()
    assert run_checks(tmp_path, skip=["mypy"], out=out) == 0
    assert "gates passed" in out.getvalue()


@pytest.mark.req("GEN-005")  # the test command runs `generate --check`
def test_the_real_steps_are_in_order_and_use_this_interpreter(tmp_path: Path) -> None:
    steps = sessionspec.gates.steps(tmp_path, ["-x"])
    assert [s.name for s in steps] == list(sessionspec.gates.STEP_NAMES)
    assert all(s.argv[0] == sys.executable for s in steps)
    # pytest runs one worker per core, and the arguments after `--` come last.
    assert steps[-1].argv[-4:] == ("-q", "-n", "auto", "-x")
    assert "--check" in steps[3].argv and "--check" in steps[4].argv


def test_demo_is_called_with_the_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path | None] = []

    def fake_main(workdir: Path | None) -> int:
        calls.append(workdir)
        return 0

    fake = types.ModuleType("sessionspec.demo")
    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sessionspec.demo", fake)
    assert main(["demo", "--workdir", str(tmp_path)]) == 0
    assert main(["demo"]) == 0
    assert calls == [tmp_path, None]


def test_bench_runs_the_chosen_areas_and_prints_a_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    quick_flags: list[bool] = []

    def fake_run(quick: bool = False) -> list[BenchResult]:
        quick_flags.append(quick)
        return [BenchResult("append", 90.0, 100.0, 0.9, "ops/s", "ratio >= 0.8")]

    fake = types.ModuleType("sessionspec.bench.fakearea")
    fake.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sessionspec.bench.fakearea", fake)
    monkeypatch.setattr(sessionspec.cli, "bench_areas", lambda: ["fakearea"])
    assert main(["bench", "--quick"]) == 0
    out = capsys.readouterr().out
    assert quick_flags == [True]
    assert "append: 90.0 ops/s vs baseline 100.0" in out
    assert "| fakearea | append | 90.0 | 100.0 | ops/s | 0.90 | ratio >= 0.8 |" in out
    assert main(["bench", "nosuch"]) == 2
    assert "unknown benchmark area" in capsys.readouterr().err


def test_bench_areas_exclude_common() -> None:
    assert "common" not in sessionspec.cli.bench_areas()
