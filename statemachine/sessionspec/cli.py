"""The ``sessionspec`` command: a thin argparse front over the project's tools.

Subcommands (the logic lives in the modules named):

- ``demo [--workdir DIR]``: the story of every machine (:mod:`sessionspec.demo`).
- ``gates [--skip STEP] [--fail-fast] [-- PYTEST ARGS]``: every gate (:mod:`sessionspec.gates`).
- ``pins [--upgrade]``: the pinned development tools (:mod:`sessionspec.pins`).
- ``generate [--check] [--root DIR]``: spec/ diagrams, schemas, matrix
  (:mod:`sessionspec.generate`, GEN-005).
- ``proofs [--only SUBSTR] [--write | --check]``: the CrossHair proofs (``proofs/run.py``).
- ``bench [AREA ...] [--quick] [--full]``: the benchmarks of :mod:`sessionspec.bench`.
- ``check``, ``replay``, ``tree``, ``usage``, ``sessions``, ``import``: session files of any
  known format (:mod:`sessionspec.cli_files`, FILES).
- ``conform --adapter ADAPTER [...]``: the conformance suite against an implementation
  (:mod:`sessionspec.conformance.command`).
- ``view FILE [-o PAGE]``, ``conform-report REPORT.json ... [-o PAGE]``: a session file or
  conformance reports as one self-contained HTML page (:mod:`sessionspec.viewer`, VIEW).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from sessionspec.errors import SessionSpecError

__all__ = ["main"]


def _root(explicit: Path | None) -> Path:
    from sessionspec.generate import find_root

    return find_root(explicit)


def _cmd_demo(args: argparse.Namespace) -> int:
    demo = importlib.import_module("sessionspec.demo")
    demo_main = cast(Callable[[Path | None], int], demo.main)
    return demo_main(args.workdir)


def _cmd_gates(args: argparse.Namespace) -> int:
    from sessionspec.gates import run_checks

    return run_checks(
        _root(args.root), args.pytest_args, skip=args.skip or (), fail_fast=args.fail_fast
    )


def _cmd_pins(args: argparse.Namespace) -> int:
    from sessionspec.pins import check_pins, upgrade_pins

    root = _root(args.root)
    return upgrade_pins(root) if args.upgrade else check_pins(root)


def _cmd_generate(args: argparse.Namespace) -> int:
    from sessionspec.generate import run

    return run(_root(args.root), check_only=args.check, out=sys.stdout, err=sys.stderr)


def _cmd_proofs(args: argparse.Namespace) -> int:
    root = _root(args.root)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    runner = importlib.import_module("proofs.run")
    forwarded: list[str] = []
    if args.only is not None:
        forwarded += ["--only", args.only]
    if args.write:
        forwarded.append("--write")
    if args.check:
        forwarded.append("--check")
    if args.jobs is not None:
        forwarded += ["--jobs", str(args.jobs)]
    return cast(int, runner.main(forwarded))


def bench_areas() -> list[str]:
    """The benchmark modules of :mod:`sessionspec.bench` (all but ``common``)."""
    package = importlib.import_module("sessionspec.bench")
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.name != "common" and not info.name.startswith("_")
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    available = bench_areas()
    # Areas marked EXPLICIT_ONLY (peers installs an npm package; scaling runs for minutes)
    # run only when named.
    chosen = args.areas or [
        area for area in available
        if not getattr(importlib.import_module(f"sessionspec.bench.{area}"), "EXPLICIT_ONLY", False)
    ]
    unknown = [area for area in chosen if area not in available]
    if unknown:
        print(
            f"unknown benchmark area(s): {', '.join(unknown)}; "
            f"available: {', '.join(available) or 'none'}",
            file=sys.stderr,
        )
        return 2
    rows: list[tuple[str, Any]] = []
    for area in chosen:
        module = importlib.import_module(f"sessionspec.bench.{area}")
        print(f"== {area}", flush=True)
        accepts_full = "full" in inspect.signature(module.run).parameters
        results = module.run(args.quick, full=True) if args.full and accepts_full else (
            module.run(args.quick)
        )
        for result in results:
            print(f"  {result.line()}", flush=True)
            rows.append((area, result))
    print()
    print("| area | benchmark | value | baseline | unit | ratio | target |")
    print("|---|---|---|---|---|---|---|")
    for area, result in rows:
        print(
            f"| {area} | {result.name} | {result.value:,.1f} | {result.baseline:,.1f} | "
            f"{result.unit} | {result.ratio:.2f} | {result.judged_target} |"
        )
    return 0


def _cmd_conform(args: argparse.Namespace) -> int:
    from sessionspec.conformance.command import run

    return run(args)


def _parser() -> argparse.ArgumentParser:
    from sessionspec.gates import STEP_NAMES

    parser = argparse.ArgumentParser(
        prog="sessionspec", description="sessionspec: specified session-lifecycle machines"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the demonstration of every machine")
    demo.add_argument("--workdir", type=Path, default=None, help="where the demo writes")
    demo.set_defaults(handler=_cmd_demo)

    check = commands.add_parser(
        "gates",
        help="run every gate: ruff, mypy, generate --check, proofs, pytest",
        description="Run every gate in order and summarise; arguments after `--` go to pytest.",
    )
    check.add_argument("--root", type=Path, default=None, help="repository root")
    check.add_argument(
        "--skip",
        action="append",
        choices=STEP_NAMES,
        help="skip a step (repeatable; for local iteration only)",
    )
    check.add_argument("--fail-fast", action="store_true", help="stop at the first failure")
    check.set_defaults(handler=_cmd_gates)

    pins = commands.add_parser(
        "pins",
        help="check the environment against constraints.txt, or --upgrade the pins",
    )
    pins.add_argument(
        "--upgrade", action="store_true", help="resolve every extra afresh and rewrite the pins"
    )
    pins.add_argument("--root", type=Path, default=None, help="repository root")
    pins.set_defaults(handler=_cmd_pins)

    generate = commands.add_parser(
        "generate", help="write spec/schema, spec/diagrams and spec/MATRIX.md"
    )
    generate.add_argument(
        "--check", action="store_true", help="write nothing; fail if any file is stale"
    )
    generate.add_argument("--root", type=Path, default=None, help="repository root")
    generate.set_defaults(handler=_cmd_generate)

    proofs = commands.add_parser("proofs", help="run the CrossHair proofs")
    proofs.add_argument("--only", metavar="SUBSTR", help="only targets containing SUBSTR")
    proofs_mode = proofs.add_mutually_exclusive_group()
    proofs_mode.add_argument("--write", action="store_true", help="write proofs/RESULTS.md")
    proofs_mode.add_argument(
        "--check", action="store_true", help="fail when proofs/RESULTS.md is out of date"
    )
    proofs.add_argument("--jobs", type=int, default=None, help="parallel CrossHair runs")
    proofs.add_argument("--root", type=Path, default=None, help="repository root")
    proofs.set_defaults(handler=_cmd_proofs)

    bench = commands.add_parser("bench", help="run the benchmarks")
    bench.add_argument("areas", nargs="*", metavar="AREA", help="areas to run (default: all)")
    bench.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    bench.add_argument(
        "--full", action="store_true", help="the largest sizes too (scaling: 1M entries)"
    )
    bench.set_defaults(handler=_cmd_bench)

    from sessionspec.cli_files import register

    register(commands)
    from sessionspec.cli_db import add_db_commands  # db import / db export (SQL-013)

    add_db_commands(commands)
    from sessionspec.viewer.command import register as register_viewer  # view, conform-report

    register_viewer(commands)

    from sessionspec.conformance.command import add_arguments

    conform = commands.add_parser(
        "conform",
        help="run the conformance suite against an implementation",
        description="Run the conformance machines (or the case files) against an "
        "implementation through the driver protocol (spec/PROTOCOL.md) and report by "
        "requirement id.",
    )
    add_arguments(conform)
    conform.set_defaults(handler=_cmd_conform)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in arguments:
        cut = arguments.index("--")
        arguments, passthrough = arguments[:cut], arguments[cut + 1 :]
    parser = _parser()
    args = parser.parse_args(arguments)
    if passthrough and args.command != "gates":
        parser.error("arguments after `--` are only accepted by `gates` (they go to pytest)")
    args.pytest_args = passthrough
    handler = cast(Callable[[argparse.Namespace], int], args.handler)
    try:
        return handler(args)
    except SessionSpecError as exc:
        # GEN-009: a typed error is a one-line message and a non-zero exit, no traceback
        # (for instance a repository command run outside the repository).
        print(f"sessionspec {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
