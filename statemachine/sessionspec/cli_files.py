"""The file commands of ``sessionspec``: check, replay, tree, usage, import, sessions (FILES).

Each command reads session files written by any tool this package knows (the format is
detected, or named with ``--format``) and prints what :mod:`sessionspec.codecs`,
:mod:`sessionspec.reports` and :mod:`sessionspec.importer` compute; nothing here decides
anything about a file. With ``rich`` installed (the ``cli`` extra) long runs show a progress
bar on standard error and summaries are tables; without it the same facts print as text.

Exit codes (FILES-017): 0 when every file was read and no finding is an error; 1 when a
finding is an error (a rule is violated, or a file cannot be read); 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TextIO, TypeVar

from sessionspec.codecs import FORMATS, Finding, SessionRead, Severity, read_session
from sessionspec.errors import SessionSpecError

__all__ = ["DEFAULT_USAGE_ROOTS", "register"]

T = TypeVar("T")

#: Where ``usage`` looks when no path is given: the session folders of the known tools.
DEFAULT_USAGE_ROOTS = ("~/.claude/projects", "~/.codex/sessions", "~/.pi/agent/sessions")


# -- output helpers ------------------------------------------------------------------------


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:  # pragma: no cover - rich is in the dev install
        return False
    return True


def _progress(items: Sequence[T], description: str) -> Iterator[T]:
    """``items`` with a progress bar on standard error when there are enough of them."""
    if len(items) < 2 or not _rich_available() or not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=len(items))
        for item in items:
            yield item
            progress.advance(task)


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """A summary table: rich when available, aligned text otherwise."""
    materialized = [[str(cell) for cell in row] for row in rows]
    if _rich_available():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for index, column in enumerate(columns):
            if index == 0:  # names and paths wrap rather than lose their end
                table.add_column(column, justify="left", overflow="fold")
            else:
                table.add_column(column, justify="right", no_wrap=True)
        for row in materialized:
            table.add_row(*row)
        Console(file=out, width=max(100, min(160, _terminal_width()))).print(table)
        return
    widths = [len(c) for c in columns]  # pragma: no cover - plain fallback
    for row in materialized:  # pragma: no cover
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    print(title, file=out)  # pragma: no cover
    for row in [list(columns), *materialized]:  # pragma: no cover
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)), file=out)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120


def _read(path: str, format: str | None) -> tuple[SessionRead | None, Finding | None]:
    """The read of one file, or the finding that says why it could not be read."""
    try:
        return read_session(path, format), None
    except (SessionSpecError, OSError) as exc:
        return None, Finding("FILES-001", "unreadable", Severity.ERROR, 0, 0, str(exc))


# -- check ---------------------------------------------------------------------------------


def _check_json(results: Sequence[tuple[str, SessionRead | None, list[Finding]]]) -> str:
    files = []
    for path, read, findings in results:
        files.append({
            "path": path,
            "format": read.format if read else None,
            "ok": not any(f.severity is Severity.ERROR for f in findings),
            "recovery": read.recovery if read else None,
            "entries": len(read.entries) if read else 0,
            "findings": [f.to_json() for f in findings],
        })
    errors = sum(1 for _, _, fs in results for f in fs if f.severity is Severity.ERROR)
    return json.dumps(
        {"files": files, "summary": {"files": len(results), "errors": errors}}, indent=2
    )


def _check_junit(results: Sequence[tuple[str, SessionRead | None, list[Finding]]]) -> str:
    """One test case per file; each error finding is a failure naming its requirement."""
    suites = ElementTree.Element("testsuites")
    failures = sum(
        1 for _, _, fs in results if any(f.severity is Severity.ERROR for f in fs)
    )
    suite = ElementTree.SubElement(
        suites, "testsuite", name="sessionspec check", tests=str(len(results)),
        failures=str(failures), errors="0",
    )
    for path, read, findings in results:
        case = ElementTree.SubElement(
            suite, "testcase", classname=f"sessionspec.check.{read.format if read else 'unknown'}",
            name=path,
        )
        for finding in findings:
            if finding.severity is not Severity.ERROR:
                continue
            failure = ElementTree.SubElement(
                case, "failure", type=finding.requirement,
                message=f"{finding.code} at line {finding.line}",
            )
            failure.text = (
                f"{path}:{finding.line} (byte {finding.offset}): {finding.requirement} "
                f"{finding.code}: {finding.message}"
            )
        others = [f for f in findings if f.severity is not Severity.ERROR]
        if others:
            out = ElementTree.SubElement(case, "system-out")
            out.text = "\n".join(
                f"{f.severity.value} {f.requirement} {f.code} line {f.line}: {f.message}"
                for f in others
            )
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)


def cmd_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from sessionspec.reports import find_session_files

    started = time.perf_counter()
    results: list[tuple[str, SessionRead | None, list[Finding]]] = []
    for path in _progress(find_session_files(args.files), "checking"):
        read, problem = _read(path, args.format)
        findings = list(read.findings) if read else []
        if problem is not None:
            findings.append(problem)
        results.append((path, read, findings))
    elapsed = time.perf_counter() - started
    failed = any(f.severity is Severity.ERROR for _, _, fs in results for f in fs)
    if args.output == "json":
        print(_check_json(results), file=out)
    elif args.output == "junit":
        print(_check_junit(results), file=out)
    else:
        for path, _read_result, findings in results:
            for f in findings:
                if f.severity is Severity.INFO and not args.verbose:
                    continue
                print(
                    f"{path}:{f.line}: byte {f.offset}: {f.severity.value} {f.requirement} "
                    f"{f.code}: {f.message}",
                    file=out,
                )
        rows = []
        for path, read, findings in results:
            errors = sum(1 for f in findings if f.severity is Severity.ERROR)
            warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
            rows.append((
                path, read.format if read else "?", len(read.entries) if read else 0,
                read.recovery if read else "unreadable", errors, warnings,
                "FAIL" if errors else "ok",
            ))
        _table(
            f"sessionspec check: {len(results)} file(s) in {elapsed:.2f}s",
            ("file", "format", "entries", "recovery", "errors", "warnings", "result"), rows,
            out,
        )
    return 1 if failed else 0


# -- replay and tree -----------------------------------------------------------------------


def _context_text(item: dict[str, Any]) -> str:
    if item.get("type") == "compaction_summary":
        return f"[summary of compacted history] {item.get('summary')}"
    role = item.get("role")
    parts: list[str] = []
    for block in item.get("content", ()):
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text")))
        elif kind == "thinking":
            parts.append(f"(thinking) {block.get('thinking')}")
        elif kind == "tool_call":
            call = block["tool_call"]
            parts.append(f"→ {call['name']}({call['arguments']}) [{call['id']}]")
        elif kind == "image":
            parts.append(f"[image {block.get('media_type')}]")
    if role == "tool_result":
        head = f"tool_result {item.get('tool_name')} [{item.get('tool_call_id')}]"
        if item.get("is_error"):
            head += " (error)"
        return head + ": " + "\n".join(parts)
    return f"{role}: " + "\n".join(parts)


def cmd_replay(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    read, problem = _read(args.file, args.format)
    if read is None:
        assert problem is not None
        print(f"sessionspec replay: {problem.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(list(read.context), indent=2, ensure_ascii=False), file=out)
    else:
        for item in read.context:
            print(_context_text(item), file=out)
            print(file=out)
        print(
            f"-- {len(read.context)} item(s) from the active branch ending at "
            f"{read.leaf_id} ({read.format})",
            file=out,
        )
    return 1 if read.errors else 0


def cmd_tree(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from sessionspec.reports import tree_lines

    read, problem = _read(args.file, args.format)
    if read is None:
        assert problem is not None
        print(f"sessionspec tree: {problem.message}", file=sys.stderr)
        return 1
    for line in tree_lines(read):
        print(line, file=out)
    print(
        f"-- {len(read.entries)} entries; * marks the active branch "
        f"({len(read.active_branch)} entries, leaf {read.leaf_id})",
        file=out,
    )
    return 1 if read.errors else 0


# -- usage, sessions, import ---------------------------------------------------------------


def _usage_paths(paths: Sequence[str]) -> list[str]:
    if paths:
        return list(paths)
    return [p for p in (os.path.expanduser(r) for r in DEFAULT_USAGE_ROOTS) if os.path.isdir(p)]


def cmd_usage(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from sessionspec.pricing import PricingTable
    from sessionspec.reports import find_session_files, usage_report

    table = PricingTable.from_file(args.pricing) if args.pricing else PricingTable.default()
    files = find_session_files(_usage_paths(args.paths))
    reads: list[SessionRead] = []
    unreadable: list[tuple[str, str]] = []
    for path in _progress(files, "reading sessions"):
        read, problem = _read(path, args.format)
        if read is None:
            assert problem is not None
            unreadable.append((path, problem.message))
        else:
            reads.append(read)
    report = usage_report(reads, table)
    if args.json:
        data = report.to_json()
        data["unreadable"] = [{"path": p, "reason": r} for p, r in unreadable]
        print(json.dumps(data, indent=2), file=out)
        return 0
    columns = ("", "requests", "input", "output", "cache read", "cache write", "cost USD")

    def rows(groups: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (name, row.requests, row.input_tokens, row.output_tokens, row.cache_read_tokens,
             row.cache_write_tokens,
             f"{row.cost:.4f}" + (f" (+{row.unpriced} unpriced)" if row.unpriced else ""))
            for name, row in sorted(groups.items())
        ]

    for by in args.by or ("day", "session", "model"):
        groups = {"day": report.by_day, "session": report.by_session, "model": report.by_model}
        _table(f"usage by {by}", (by, *columns[1:]), rows(groups[by]), out)
    total = report.total
    print(
        f"total: {total.requests} requests, {total.total_tokens} tokens, "
        f"${total.cost:.4f} ({report.files} files, {report.duplicates} repeated requests "
        f"counted once, pricing {report.pricing_version})",
        file=out,
    )
    for path, reason in unreadable:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def cmd_sessions(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from sessionspec.reports import list_sessions

    listing = list_sessions(args.folder)
    if args.json:
        print(json.dumps({
            "sessions": [
                {"path": s.path, "format": s.format, "session_id": s.session_id,
                 "title": s.title, "model": s.model, "turns": s.turns, "entries": s.entries,
                 "cost_usd": None if s.cost is None else str(s.cost),
                 "modified": s.modified, "errors": s.errors}
                for s in listing.sessions
            ],
            "skipped": [{"path": p, "reason": r} for p, r in listing.skipped],
        }, indent=2), file=out)
        return 0
    _table(
        f"sessions in {args.folder} (newest first)",
        ("title", "format", "model", "turns", "cost USD", "modified", "file"),
        [
            ((s.title or "")[:50], s.format, s.model or "", s.turns,
             "" if s.cost is None else f"{s.cost:.4f}",
             time.strftime("%Y-%m-%d %H:%M", time.localtime(s.modified)),
             os.path.basename(s.path))
            for s in listing.sessions
        ],
        out,
    )
    for path, reason in listing.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from sessionspec.importer import import_session

    try:
        result = import_session(
            args.file, args.to, format=args.format, session_id=args.session_id
        )
    except (SessionSpecError, OSError) as exc:
        print(f"sessionspec import: {exc}", file=sys.stderr)
        return 1
    print(
        f"imported {result.source} ({result.format}) -> {result.path}: {result.messages} "
        f"message(s), {result.compactions} compaction(s); replay verified",
        file=out,
    )
    return 0


# -- registration --------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add the file commands to the ``sessionspec`` parser's subcommands."""
    formats = sorted(FORMATS)

    def add(name: str, handler: Callable[[argparse.Namespace], int], **kwargs: Any) -> Any:
        parser = commands.add_parser(name, **kwargs)
        parser.set_defaults(handler=handler)
        return parser

    def with_format(parser: Any) -> None:
        parser.add_argument(
            "--format", choices=formats, default=None, help="the file format (default: detect)"
        )

    check = add(
        "check", cmd_check, help="validate session files written by any known tool",
        description="Validate session files (pi, Claude Code, Codex, opi, ours): recovery, "
        "parent links, leaf targets, first kept entries, tool pairing, duplicate ids, usage. "
        "Exit 1 if any finding is an error.",
    )
    check.add_argument(
        "files", nargs="+", metavar="PATH", help="session files, or folders to search for *.jsonl"
    )
    with_format(check)
    check.add_argument("--output", choices=("text", "json", "junit"), default="text")
    check.add_argument("-v", "--verbose", action="store_true", help="also print info findings")

    replay = add("replay", cmd_replay, help="print the context an agent would resume with")
    replay.add_argument("file", metavar="FILE")
    with_format(replay)
    replay.add_argument("--json", action="store_true", help="the context as JSON messages")

    tree = add("tree", cmd_tree, help="print the entry tree with the active branch marked")
    tree.add_argument("file", metavar="FILE")
    with_format(tree)

    usage = add(
        "usage", cmd_usage, help="tokens and cost by day, session and model",
        description="Tokens and cost across session files, each request counted once. "
        f"Default paths: {', '.join(DEFAULT_USAGE_ROOTS)}.",
    )
    usage.add_argument("paths", nargs="*", metavar="PATH", help="files or folders")
    with_format(usage)
    usage.add_argument("--by", action="append", choices=("day", "session", "model"))
    usage.add_argument("--json", action="store_true")
    usage.add_argument("--pricing", default=None, help="a pricing table JSON file")

    sessions = add("sessions", cmd_sessions, help="list the sessions in a folder, newest first")
    sessions.add_argument("folder", metavar="DIR")
    sessions.add_argument("--json", action="store_true")

    importing = add("import", cmd_import, help="convert a session file into our log, verified")
    importing.add_argument("file", metavar="FILE")
    importing.add_argument("--to", required=True, metavar="DIR", help="the sessions folder")
    importing.add_argument("--session-id", default=None, help="default: the source's id")
    with_format(importing)
