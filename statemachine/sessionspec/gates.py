"""``sessionspec gates``: the one command that runs every gate of the project, in order.

Rules:

1. The steps are, in this order: the environment matches ``constraints.txt``
   (``sessionspec pins``, GEN-008), lint (``ruff check``), types (``mypy --strict``), generated
   files up to date (``sessionspec generate --check``, GEN-005), CrossHair proofs with their
   known-bug gate and ``proofs/RESULTS.md`` up to date (``python -m proofs.run --check``),
   the browser the viewer's tests drive (``python -m sessionspec.viewer.browser``: Debian's
   ``chromium`` and ``chromium-driver`` installed when missing and root, VIEW-013),
   and the test suite (``pytest -q -n auto``, one worker per core with pytest-xdist, plus
   any arguments given after ``--``).
2. Every step runs even when an earlier one failed (unless ``--fail-fast``), so one run shows
   everything that is wrong; the command ends with a summary and exits non-zero if any step
   failed.
3. Every tool runs with the interpreter running this command (``sys.executable -m ...``),
   from the repository root, with that interpreter's ``bin`` directory first on ``PATH``, so
   the venv's tools are used whatever the caller's environment.

Types: ``mypy --strict`` covers ``statemachine``, ``proofs`` and ``tests`` alike (config in
pyproject.toml), with ``--explicit-package-bases`` so that test modules in different
directories may share a file name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = ["STEP_NAMES", "Step", "StepOutcome", "run_checks", "steps"]

STEP_NAMES = ("pins", "ruff", "mypy", "generate", "proofs", "browser", "pytest")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    #: The command, run from the repository root.
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step: Step
    #: The exit code, or ``None`` when the step was skipped.
    returncode: int | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def steps(root: Path, pytest_args: Sequence[str] = ()) -> list[Step]:
    """The gates of rule 1, as commands for this interpreter."""
    python = sys.executable
    return [
        Step("pins", (python, "-m", "sessionspec.cli", "pins", "--root", str(root))),
        Step("ruff", (python, "-m", "ruff", "check", "statemachine", "tests", "proofs")),
        Step(
            "mypy",
            (
                python,
                "-m",
                "mypy",
                "--strict",
                "--explicit-package-bases",
                "statemachine",
                "proofs",
                "tests",
            ),
        ),
        Step(
            "generate",
            (python, "-m", "sessionspec.cli", "generate", "--check", "--root", str(root)),
        ),
        Step("proofs", (python, "-m", "proofs.run", "--check")),
        # The viewer's browser tests need Debian's Chromium: installed here when missing
        # and root (VIEW-013); elsewhere a message, and those tests skip saying why.
        Step("browser", (python, "-m", "sessionspec.viewer.browser")),
        # One pytest worker per core (pytest-xdist): the suite is mostly one-core Hypothesis
        # and process tests, so two workers on CI's two cores took pytest from 685 s to
        # about half, which keeps the whole run inside its 15 minutes.
        Step("pytest", (python, "-m", "pytest", "-q", "-n", "auto", *pytest_args)),
    ]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    tools = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in (tools, env.get("PATH", "")) if p)
    return env


def _display(argv: Sequence[str]) -> str:
    shown = ["python" if i == 0 else arg for i, arg in enumerate(argv)]
    return " ".join(shown)


def run_checks(
    root: Path,
    pytest_args: Sequence[str] = (),
    *,
    skip: Sequence[str] = (),
    fail_fast: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run the gates (rules 1-3); 0 when every step that ran passed."""
    stream = out if out is not None else sys.stdout
    env = _environment()
    outcomes: list[StepOutcome] = []
    stop = False
    started = time.perf_counter()
    for step in steps(root, pytest_args):
        if stop or step.name in skip:
            outcomes.append(StepOutcome(step, None, 0.0))
            continue
        print(f"=== {step.name}: {_display(step.argv)}", file=stream, flush=True)
        begin = time.perf_counter()
        returncode = subprocess.call(step.argv, cwd=root, env=env)
        outcome = StepOutcome(step, returncode, time.perf_counter() - begin)
        outcomes.append(outcome)
        verdict = "passed" if outcome.passed else f"FAILED (exit {returncode})"
        print(f"=== {step.name}: {verdict} in {outcome.seconds:.1f} s", file=stream, flush=True)
        if fail_fast and not outcome.passed:
            stop = True
    failed = [o for o in outcomes if o.returncode is not None and not o.passed]
    print("\nsummary:", file=stream)
    for outcome in outcomes:
        if outcome.returncode is None:
            label = "skipped"
        else:
            label = "passed" if outcome.passed else "FAILED"
        print(f"  {label:<8} {outcome.step.name:<9} {outcome.seconds:7.1f} s", file=stream)
    total = time.perf_counter() - started
    if failed:
        names = ", ".join(o.step.name for o in failed)
        print(f"gates FAILED in {total:.1f} s: {names}", file=stream, flush=True)
        return 1
    print(f"gates passed in {total:.1f} s", file=stream, flush=True)
    return 0
