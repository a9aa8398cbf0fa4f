"""``sessionspec conform``: run the suite against an implementation and report (CONF-050).

::

    sessionspec conform --adapter 'node statemachine/harnesses/pi/harness.mjs'
    sessionspec conform --adapter mypackage.harness:make --machine coordinator --seconds 60
    sessionspec conform --adapter runtime --report-json out.json --report-junit out.xml
    sessionspec conform --adapter runtime --report-html out.html   # the report as a page
    sessionspec conform --adapter '...' --cases          # the shipped cases only, no Hypothesis
    sessionspec conform --adapter '...' --case saved.json

The adapter is ``runtime`` (sessionspec's own runtime, in process), ``module:factory`` (a
Python implementation: the factory returns a ``PythonImplementation`` or a harness object),
or a command line that speaks the protocol on stdin/stdout. Exit status: 0 when everything
that ran passed, 1 when a requirement failed, 2 for a usage error or a harness that broke
the protocol at start.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from sessionspec.conformance.adapters import Connection, HarnessError, connect
from sessionspec.errors import CallerError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sessionspec.conformance.runner import MACHINES

    parser.add_argument("--adapter", required=True,
                        help="'runtime', 'module:factory', or a command speaking the protocol")
    parser.add_argument("--machine", action="append", choices=MACHINES,
                        help="run only this machine (repeatable; default: all)")
    parser.add_argument("--without", action="append", default=[], metavar="CAPABILITY",
                        help="treat a declared capability as absent (repeatable)")
    parser.add_argument("--examples", type=int, default=100, help="examples per machine")
    parser.add_argument("--steps", type=int, default=30, help="steps per example")
    parser.add_argument("--seconds", type=float, default=None, help="wall-clock budget")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (repeatable runs)")
    parser.add_argument("--shrink-seconds", type=float, default=20.0,
                        help="time Hypothesis may spend shrinking one failure")
    parser.add_argument("--shrinks", type=int, default=None, metavar="N",
                        help="bound shrinking by N improvements as well: with it, a seed "
                        "replays the same run in any process while --shrink-seconds is "
                        "not reached (CONF-064)")
    parser.add_argument("--first-hand", action="store_true",
                        help="abandon an example at its first failure of a requirement "
                        "already reported: report only what examples broke first; with "
                        "--cases, only each case's first failure, earlier cases' requirements "
                        "masked (CONF-160)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for one answer of a subprocess harness")
    parser.add_argument("--cases", action="store_true",
                        help="replay the shipped case files instead of the machines")
    parser.add_argument("--case", action="append", default=[], type=Path, metavar="FILE",
                        help="replay this case file (repeatable)")
    parser.add_argument("--save-case", type=Path, default=None, metavar="DIR",
                        help="write every failure as a case file under DIR/<machine>/")
    parser.add_argument("--report-json", type=Path, default=None, metavar="FILE")
    parser.add_argument("--report-junit", type=Path, default=None, metavar="FILE")
    parser.add_argument("--report-text", type=Path, default=None, metavar="FILE")
    parser.add_argument("--report-html", type=Path, default=None, metavar="FILE",
                        help="the report as one HTML page (VIEW-012; merge several JSON "
                        "reports with `sessionspec conform-report`)")
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")
    parser.add_argument("--quiet", action="store_true", help="print only the summary line")


def _connect(args: argparse.Namespace) -> Connection:
    connection = connect(args.adapter, timeout=args.timeout)
    if args.without:
        connection.capabilities = frozenset(connection.capabilities - set(args.without))
    return connection


def _replay_cases(args: argparse.Namespace, connection: Connection) -> int:
    from sessionspec.conformance.cases import iter_case_files, load_case, replay_case

    files = list(args.case) or list(iter_case_files())
    counts: dict[str, int] = {}
    failed = 0
    reported: set[str] = set()  # first hand: carried from case to case (CONF-160)
    for path in files:
        result = replay_case(load_case(path), connection, path=str(path),
                             first_hand=args.first_hand, reported=frozenset(reported))
        counts[result.status] = counts.get(result.status, 0) + 1
        if result.status in ("failed", "errored"):
            failed += 1
            for requirement, message in result.failures:
                reported.add(requirement)
                print(f"{result.status.upper()} {path}: [{requirement}] {message}")
        elif not args.quiet:
            print(f"{result.status} {path}" + (f" ({result.reason})" if result.reason else ""))
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return 1 if failed else 0


def _progress(args: argparse.Namespace) -> tuple[Any, Any]:
    """A rich live display (stderr), or nothing when not wanted or not a terminal."""
    if args.no_progress or args.quiet or not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failing requirements: {task.fields[failures]}"),
        console=Console(stderr=True),
    )
    tasks: dict[str, Any] = {}

    def hook(machine: str, done: int, total: int, failures: int) -> None:
        if machine not in tasks:
            tasks[machine] = progress.add_task(machine, total=total, failures=0)
        progress.update(tasks[machine], completed=done, failures=failures)

    return progress, hook


def _table(report: Any) -> None:
    """The summary by requirement, as a rich table (stdout)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="requirements")
    for column in ("requirement", "status", "machines", "detail"):
        table.add_column(column)
    styles = {"passed": "green", "failed": "red", "flaky": "red", "errored": "magenta",
              "skipped": "yellow"}
    for rid, status, machines, detail in report.requirement_rows():
        table.add_row(rid, f"[{styles.get(status, '')}]{status}[/]", machines, detail)
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    from sessionspec.conformance import report as reports
    from sessionspec.conformance.cases import CASE_ADAPTER, replay_case, save_case
    from sessionspec.conformance.runner import (
        CAPABILITY_REQUIREMENTS,
        MACHINES,
        Budget,
        Failure,
        run_conformance,
    )

    try:
        connection = _connect(args)
    except (CallerError, HarnessError) as exc:
        print(f"sessionspec conform: {exc}", file=sys.stderr)
        return 2
    try:
        if args.cases or args.case:
            return _replay_cases(args, connection)

        def confirm(failure: Failure) -> bool | None:
            """Replay a flaky failure's steps in a fresh harness (CONF-063)."""
            base = failure.machine.split("-")[0]  # the -durable variants share a format
            case = CASE_ADAPTER.validate_python({
                "machine": base, "name": "flaky", "description": "replay",
                "requirements": [failure.requirement], "steps": failure.steps,
            })
            fresh = _connect(args)
            try:
                return replay_case(case, fresh).status == "failed"
            finally:
                fresh.close()

        progress, hook = _progress(args)
        budget = Budget(examples=args.examples, steps=args.steps, seconds=args.seconds,
                        shrink_seconds=args.shrink_seconds,
                        shrinks=args.shrinks, first_hand=args.first_hand)
        machines = tuple(args.machine or MACHINES)
        if progress is not None:
            with progress:
                report = run_conformance(connection, adapter=args.adapter, machines=machines,
                                         budget=budget, seed=args.seed, progress=hook,
                                         confirm=confirm)
        else:
            report = run_conformance(connection, adapter=args.adapter, machines=machines,
                                     budget=budget, seed=args.seed, confirm=confirm)
    finally:
        connection.close()
    gated = {r: c for c, rs in CAPABILITY_REQUIREMENTS.items() for r in rs}
    for failure in report.failures:
        if args.save_case is not None:
            capability = gated.get(failure.requirement)
            path = save_case(
                args.save_case, machine=failure.machine, requirement=failure.requirement,
                message=failure.message, steps=failure.steps,
                implementation=report.implementation,
                capabilities=[capability] if capability else [],
            )
            failure.case_path = str(path)
            failure.replay = (
                f"sessionspec conform --adapter {shlex.quote(args.adapter)} "
                f"--case {shlex.quote(str(path))}"
            )
        else:
            failure.replay = (
                f"sessionspec conform --adapter {shlex.quote(args.adapter)} "
                f"--seed {args.seed} --examples {args.examples} --steps {args.steps} "
                f"--machine {failure.machine} --save-case DIR  (then --case DIR/...)"
            )
    text = reports.render_text(report)
    if args.report_json is not None:
        args.report_json.write_text(reports.render_json(report), encoding="utf-8")
    if args.report_junit is not None:
        args.report_junit.write_text(reports.render_junit(report), encoding="utf-8")
    if args.report_text is not None:
        args.report_text.write_text(text, encoding="utf-8")
    if args.report_html is not None:
        from sessionspec.viewer.page import write_page
        from sessionspec.viewer.report_page import render_report_page

        page_data = reports.report_to_json(report)
        page_data["source"] = args.report_html.name
        write_page(args.report_html, render_report_page([page_data]))
    if args.quiet:
        print(text.strip().splitlines()[-1])
    else:
        print(text, end="")
        if sys.stdout.isatty():
            _table(report)
    return 0 if report.passed else 1
