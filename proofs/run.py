"""Run every registered CrossHair proof and report each contract with its status and bound.

Usage, from the repository root::

    python -m proofs.run [--only SUBSTR] [--write | --check] [--jobs N] [--timeout S]
    sessionspec proofs ...            (the same)

Rules of this runner (DESIGN §4, research/verification.md §3.6):

1. A proof is bounded by effort, never by time: each target is checked with
   ``crosshair check --analysis_kind=PEP316 --report_all --max_uninteresting_iterations=<effort>``
   so that a run repeats. The wall-clock ``--timeout`` is only a guard against a hang, and
   reaching it is a failure, never a pass.
2. A proof whose target has no ``post:`` line in its docstring is an error before CrossHair
   runs: CrossHair reports nothing for a function without contracts, so such a proof could
   never fail. A contract whose precondition CrossHair cannot meet is an error too (it is
   vacuously true), and so is a run in which CrossHair reports no condition at all.
3. The gate must bite: the deliberately wrong contract in :mod:`proofs.known_bug` is
   checked on every run, and the run fails unless CrossHair finds its counterexample.
4. Statuses, strongest first: ``proved`` (CrossHair confirmed every postcondition over all
   paths, a real proof), ``holds within bound`` (no counterexample within the effort bound;
   not a proof), ``counterexample`` and ``error`` (both fail the run).
5. ``proofs/RESULTS.md`` is generated from a full run (``--write``) and holds no timings, so
   it only changes when a contract, a bound or a status changes; ``--check`` fails when it
   is out of date (``sessionspec gates`` runs with ``--check``).

Theory of operation: load the registries (:func:`sessionspec.generate.load_proofs`),
resolve each target in this process to check that it carries a postcondition, then run one
CrossHair process per target, ``--jobs`` at a time, with the repository root on
``PYTHONPATH``. CrossHair prints ``<file>:<line>: info|error: <message>`` per condition
(``--report_all``); the line points into the docstring, so each result is shown next to the
text of its condition.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import importlib.metadata
import inspect
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from sessionspec.generate import ProofEntry, load_proofs

__all__ = [
    "ConditionResult",
    "ProofResult",
    "Status",
    "classify",
    "contract_problem",
    "main",
    "render_results",
    "run_proof",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "proofs" / "RESULTS.md"
#: The deliberately wrong contract that must be refuted on every run (rule 3).
KNOWN_BUG = ProofEntry(
    target="proofs.known_bug.next_free_seq",
    requirements=(),
    effort=20,
    claim="(the known-bug gate: CrossHair must find a counterexample)",
    source="proofs/known_bug.py",
)
DEFAULT_TIMEOUT = 300.0
DEFAULT_JOBS = 2

_REPORT_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<kind>info|error): (?P<message>.*)$")
_POST_LINE = re.compile(r"^\s*post(\[[^\]]*\])?\s*:")
_CONFIRMED = "Confirmed over all paths."
_NOT_CONFIRMED = "Not confirmed."
_UNMET_PRECONDITION = "Unable to meet precondition."


class Status(enum.Enum):
    PROVED = "proved"
    HOLDS_WITHIN_BOUND = "holds within bound"
    COUNTEREXAMPLE = "counterexample"
    ERROR = "error"

    @property
    def passed(self) -> bool:
        return self in (Status.PROVED, Status.HOLDS_WITHIN_BOUND)


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """What CrossHair said about one condition (or one raised exception)."""

    #: The source text of the reported line: the ``post:`` line, or the raising line.
    condition: str
    #: ``info`` or ``error``.
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class ProofResult:
    proof: ProofEntry
    status: Status
    conditions: tuple[ConditionResult, ...]
    #: Why an error is an error (empty otherwise).
    detail: str
    seconds: float


# ----------------------------------------------------------------------------- contracts


def _resolve(target: str) -> object:
    """The object a dotted path names: the longest importable module prefix, then
    attributes."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and not module_name.startswith(error.name):
                raise  # the module exists but one of its own imports is missing
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(f"no importable module in {target!r}")


def contract_problem(target: str) -> str | None:
    """Why ``target`` cannot be a proof target (rule 2), or ``None`` when it can: it must
    resolve to a function whose docstring has at least one ``post:`` line."""
    try:
        obj = _resolve(target)
    except Exception as error:  # any failure to resolve is reported as the reason
        return f"cannot resolve target: {type(error).__name__}: {error}"
    if not inspect.isroutine(obj):
        return f"target is not a function (it is a {type(obj).__name__})"
    doc = inspect.getdoc(obj) or ""
    if not any(_POST_LINE.match(line) for line in doc.splitlines()):
        return "target has no `post:` contract in its docstring, so this proof could never fail"
    return None


# ----------------------------------------------------------------------------- one run


def _source_line(file: str, line: int) -> str:
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except OSError:
        return f"{file}:{line}"
    return lines[line - 1].strip() if 0 < line <= len(lines) else f"{file}:{line}"


def classify(
    returncode: int, stdout: str, stderr: str
) -> tuple[Status, tuple[ConditionResult, ...], str]:
    """Turn one CrossHair run into a status (rules 2 and 4)."""
    conditions: list[ConditionResult] = []
    for raw in stdout.splitlines():
        match = _REPORT_LINE.match(raw.strip())
        if match:
            conditions.append(
                ConditionResult(
                    _source_line(match["file"], int(match["line"])),
                    match["kind"],
                    match["message"].strip(),
                )
            )
    found = tuple(conditions)
    errors = [c for c in found if c.kind == "error"]
    if returncode == 1 and errors:
        return Status.COUNTEREXAMPLE, found, ""
    if returncode != 0:
        tail = "\n".join((stderr.strip() or stdout.strip()).splitlines()[-15:])
        return Status.ERROR, found, f"crosshair exited with {returncode}: {tail}"
    if errors:
        return Status.ERROR, found, "crosshair reported errors but exited with 0"
    if not found:
        tail = " ".join((stdout.strip() + " " + stderr.strip()).split())
        return Status.ERROR, found, f"crosshair checked no condition ({tail or 'no output'})"
    if any(c.message == _UNMET_PRECONDITION for c in found):
        return (
            Status.ERROR,
            found,
            "CrossHair could not meet a precondition within the bound: the contract may be vacuous",
        )
    if all(c.message == _CONFIRMED for c in found):
        return Status.PROVED, found, ""
    return Status.HOLDS_WITHIN_BOUND, found, ""


def crosshair_command(proof: ProofEntry) -> list[str]:
    return [
        sys.executable,
        "-m",
        "crosshair",
        "check",
        "--analysis_kind=PEP316",
        "--report_all",
        f"--max_uninteresting_iterations={proof.effort}",
        proof.target,
    ]


def run_proof(proof: ProofEntry, *, timeout: float = DEFAULT_TIMEOUT) -> ProofResult:
    """Check one proof: its contract must exist (rule 2), then CrossHair runs on it."""
    start = time.perf_counter()
    problem = contract_problem(proof.target)
    if problem is not None:
        return ProofResult(proof, Status.ERROR, (), problem, time.perf_counter() - start)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(
        crosshair_command(proof),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the hang guard can end CrossHair and its children
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        detail = f"no answer within {timeout:.0f} s (hang guard); a timeout is a failure"
        return ProofResult(proof, Status.ERROR, (), detail, time.perf_counter() - start)
    status, conditions, detail = classify(process.returncode, stdout, stderr)
    return ProofResult(proof, status, conditions, detail, time.perf_counter() - start)


# ----------------------------------------------------------------------------- reports


def _condition_outcome(condition: ConditionResult) -> str:
    if condition.kind == "error":
        return f"counterexample: {condition.message}"
    if condition.message == _CONFIRMED:
        return "proved over all paths"
    if condition.message == _NOT_CONFIRMED:
        return "no counterexample within the bound"
    return condition.message


def _code(text: str) -> str:
    """``text`` as a Markdown code span, even when it holds a backtick."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _ids(proof: ProofEntry) -> str:
    return ", ".join(proof.requirements) or "—"


def format_result(result: ProofResult, *, gate: bool = False) -> str:
    """The console lines for one result (with timings)."""
    proof = result.proof
    if gate:
        verdict = (
            "counterexample found, the gate bites"
            if result.status is Status.COUNTEREXAMPLE
            else f"FAILED: expected a counterexample, got {result.status.value}"
        )
        head = f"gate      {proof.target}  effort {proof.effort}  {verdict}"
    else:
        head = (
            f"{result.status.value:<18} {proof.target}  [{_ids(proof)}]  "
            f"effort {proof.effort}  {result.seconds:.1f} s"
        )
    lines = [head]
    for condition in result.conditions:
        lines.append(f"    {condition.condition}  ->  {_condition_outcome(condition)}")
    if result.detail:
        lines += [f"    {line}" for line in result.detail.splitlines()]
    return "\n".join(lines)


def render_results(results: Sequence[ProofResult], gate: ProofResult) -> str:
    """proofs/RESULTS.md: each contract, its status and its bound. No timings (rule 5)."""
    try:
        version = importlib.metadata.version("crosshair-tool")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    ordered = sorted(results, key=lambda r: r.proof.target)
    counts = {status: sum(r.status is status for r in ordered) for status in Status}
    out = [
        "<!-- Generated by `python -m proofs.run --write` (or `sessionspec proofs --write`)."
        " Do not edit. -->",
        "",
        "# Proof results",
        "",
        f"CrossHair {version}; each target is checked with "
        "`crosshair check --analysis_kind=PEP316 --report_all "
        "--max_uninteresting_iterations=<effort>`. The bound is the effort: the number of "
        "consecutive iterations without new coverage before CrossHair stops. See "
        "[README.md](README.md) for what each status means.",
        "",
        f"{len(ordered)} proofs: " + ", ".join(f"{counts[s]} {s.value}" for s in Status) + ".",
        "",
        "| target | requirements | effort | status |",
        "|---|---|---|---|",
    ]
    for result in ordered:
        proof = result.proof
        out.append(f"| `{proof.target}` | {_ids(proof)} | {proof.effort} | {result.status.value} |")
    out += ["", "## Contracts", ""]
    for result in ordered:
        proof = result.proof
        out += [f"### `{proof.target}`", ""]
        out.append(
            f"Requirements {_ids(proof)}; effort {proof.effort}; status "
            f"**{result.status.value}**; registered in `{proof.source}`."
        )
        if proof.claim:
            out += ["", f"Claim: {proof.claim.rstrip('.')}."]
        out.append("")
        for condition in result.conditions:
            out.append(f"- {_code(condition.condition)}: {_condition_outcome(condition)}")
        if result.detail:
            out.append(f"- error: {' '.join(result.detail.split())}")
        out.append("")
    gate_verdict = (
        "CrossHair found the counterexample, as it must: the gate bites."
        if gate.status is Status.COUNTEREXAMPLE
        else f"FAILED: CrossHair did not refute the known bug ({gate.status.value})."
    )
    out += [
        "## Gate",
        "",
        f"`{gate.proof.target}` (effort {gate.proof.effort}) is deliberately wrong. "
        + gate_verdict,
        "",
    ]
    return "\n".join(out)


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m proofs.run",
        description="Check every registered CrossHair proof, bounded by effort.",
    )
    parser.add_argument("--only", metavar="SUBSTR", help="only targets containing SUBSTR")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write proofs/RESULTS.md")
    mode.add_argument(
        "--check", action="store_true", help="fail when proofs/RESULTS.md is out of date"
    )
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="parallel CrossHair runs")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="wall-clock hang guard per proof, in seconds (reaching it is a failure)",
    )
    args = parser.parse_args(argv)
    if args.only is not None and (args.write or args.check):
        parser.error("--write and --check need a full run: drop --only")

    proofs, problems = load_proofs(ROOT)
    if args.only is not None:
        proofs = [p for p in proofs if args.only in p.target]
    for problem in problems:
        print(f"registry problem: {problem}", file=sys.stderr)

    started = time.perf_counter()
    results: list[ProofResult] = []
    gate: ProofResult | None = None
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_proof, KNOWN_BUG, timeout=args.timeout): True}
        for proof in proofs:
            futures[pool.submit(run_proof, proof, timeout=args.timeout)] = False
        for future in as_completed(futures):
            result = future.result()
            is_gate = futures[future]
            print(format_result(result, gate=is_gate), flush=True)
            if is_gate:
                gate = result
            else:
                results.append(result)
    assert gate is not None

    failed = [r for r in results if not r.status.passed]
    gate_ok = gate.status is Status.COUNTEREXAMPLE
    counts = {status: sum(r.status is status for r in results) for status in Status}
    print(
        f"{len(results)} proofs in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{counts[s]} {s.value}" for s in Status)
        + f"; gate {'bites' if gate_ok else 'FAILED'}"
    )
    status = 0 if not failed and gate_ok and not problems else 1

    if args.write or args.check:
        text = render_results(results, gate)
        current = RESULTS_PATH.read_text(encoding="utf-8") if RESULTS_PATH.is_file() else None
        if args.write:
            if current != text:
                RESULTS_PATH.write_text(text, encoding="utf-8", newline="\n")
                print(f"wrote {RESULTS_PATH.relative_to(ROOT)}")
        elif current != text:
            print(
                f"{RESULTS_PATH.relative_to(ROOT)} is out of date: run "
                "`python -m proofs.run --write`",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
