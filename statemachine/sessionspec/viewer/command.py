"""``sessionspec view`` and ``sessionspec conform-report`` (VIEW-001, VIEW-011).

::

    sessionspec view ~/.pi/agent/sessions/x/2026-03-01.jsonl -o session.html
    sessionspec conform-report ours.json spec/reports/pi.json -o conformance.html

Exit codes: 0 when the page was written (a session with error findings still gets its
page: showing them is the point); 1 when an input cannot be read; 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from sessionspec.errors import SessionSpecError

__all__ = ["register"]


def _default_output(source: str, suffix: str) -> str:
    stem = os.path.splitext(os.path.basename(source))[0] or "session"
    return f"{stem}{suffix}"


def cmd_view(args: argparse.Namespace) -> int:
    from sessionspec.codecs import read_session
    from sessionspec.pricing import PricingTable
    from sessionspec.viewer.page import write_page
    from sessionspec.viewer.session_page import render_session_page

    try:
        read = read_session(args.file, args.format)
        table = PricingTable.from_file(args.pricing) if args.pricing else None
    except (SessionSpecError, OSError) as exc:
        print(f"sessionspec view: {exc}", file=sys.stderr)
        return 1
    output = args.output or _default_output(args.file, ".html")
    size = write_page(output, render_session_page(read, max_text=args.max_text, table=table))
    print(
        f"wrote {output} ({size:,} bytes): {len(read.entries):,} entries, "
        f"{len(read.active_branch):,} on the active branch, {len(read.findings)} finding(s)"
    )
    return 0


def cmd_conform_report(args: argparse.Namespace) -> int:
    from sessionspec.viewer.page import write_page
    from sessionspec.viewer.report_page import load_report, render_report_page

    try:
        reports = [load_report(path) for path in args.reports]
    except (SessionSpecError, OSError) as exc:
        print(f"sessionspec conform-report: {exc}", file=sys.stderr)
        return 1
    size = write_page(args.output, render_report_page(reports, title=args.title))
    print(f"wrote {args.output} ({size:,} bytes): {len(reports)} report(s) side by side")
    return 0


def register(commands: Any) -> None:
    """Add ``view`` and ``conform-report`` to the ``sessionspec`` parser's subcommands."""
    from sessionspec.codecs import FORMATS
    from sessionspec.viewer.session_page import DEFAULT_MAX_TEXT

    def add(name: str, handler: Callable[[argparse.Namespace], int], **kwargs: Any) -> Any:
        parser = commands.add_parser(name, **kwargs)
        parser.set_defaults(handler=handler)
        return parser

    view = add(
        "view",
        cmd_view,
        help="a session file of any known format as one HTML page",
        description="Write one self-contained HTML page (no network when opened) showing the "
        "entry tree with the active branch, compactions, tool calls with their results, usage "
        "and cost per turn, and the findings at their line and byte offset.",
    )
    view.add_argument("file", metavar="FILE")
    view.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="PAGE",
        help="where to write the page (default: FILE's name with .html, here)",
    )
    view.add_argument(
        "--format", choices=sorted(FORMATS), default=None, help="the file format (default: detect)"
    )
    view.add_argument(
        "--max-text",
        type=int,
        default=DEFAULT_MAX_TEXT,
        metavar="CHARS",
        help="characters kept of each text (0: all; default %(default)s)",
    )
    view.add_argument("--pricing", default=None, help="a pricing table JSON file")

    report = add(
        "conform-report",
        cmd_conform_report,
        help="conformance JSON reports side by side as one HTML page",
        description="Merge the JSON reports of `sessionspec conform --report-json` (ours, "
        "pi's, the seed profiles...) into one page: requirements by machine, one column per "
        "report, each failure expandable to its shrunk steps and replay command.",
    )
    report.add_argument("reports", nargs="+", metavar="REPORT.json")
    report.add_argument("-o", "--output", default="conformance.html", metavar="PAGE")
    report.add_argument("--title", default=None, help="the page's title")
