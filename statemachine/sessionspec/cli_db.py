"""``sessionspec db import`` and ``sessionspec db export``: move sessions between a JSONL file
and a database store (SQL-013).

* ``db import FILE --to STORE_URL``: reads the JSONL session strictly (damage other than a
  crash's torn or uncommitted tail refuses the import), creates the session in the store
  under its own id and appends every entry in ONE transaction: the session appears whole
  or not at all. Prints the session's URL.
* ``db export SESSION_URL --to DIR``: reads the session from the store and writes
  ``DIR/<id>.jsonl`` (created, never replaced) with the same header and the same entries,
  in one durable batch. Prints the file's path.

A round trip keeps the header and every entry (the same JSON values, in the same order),
so a coordinator resumed from either side shows the same context.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sessionspec.errors import CallerError
from sessionspec.storage.jsonl import JsonlLog, read_log, session_path
from sessionspec.storage.urls import create_store_log, is_store_url, parse_store_url, read_at

__all__ = ["add_db_commands", "export_session", "import_session"]


def import_session(file: str, store: str) -> str:
    """Copy a JSONL session into a database store; return the session's URL."""
    if not is_store_url(store):
        raise CallerError(f"--to takes a store URL (sqlite:// or postgresql://), not {store!r}")
    snapshot = read_log(file, strict=True)
    session_id = str(snapshot.header["id"])
    entries = [record.entry for record in snapshot.records]
    log = create_store_log(store, session_id, snapshot.header)
    try:
        if entries:
            log.append(entries, expected_head=0)
    finally:
        log.close()
    return log.path


def export_session(url: str, directory: str) -> str:
    """Copy a database session into ``directory/<id>.jsonl``; return the file's path."""
    parsed = parse_store_url(url)
    if parsed.session_id is None:
        raise CallerError(f"{url}: name the session to export: <store URL>#<session id>")
    snapshot = read_at(url)
    entries: list[dict[str, Any]] = [record.entry for record in snapshot.records]
    path = session_path(directory, parsed.session_id)
    log = JsonlLog.create(path, snapshot.header)
    try:
        if entries:
            log.append(entries, expected_head=0)
    finally:
        log.close()
    return path


def _cmd_import(args: argparse.Namespace) -> int:
    print(import_session(os.fspath(args.file), args.to))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    print(export_session(args.url, os.fspath(args.to)))
    return 0


def _cmd_db_help(args: argparse.Namespace) -> int:
    print("usage: sessionspec db {import,export} ...", file=sys.stderr)
    return 2


def add_db_commands(commands: Any) -> None:
    """Register ``db import`` and ``db export`` under the ``sessionspec`` command."""
    db = commands.add_parser("db", help="move sessions between JSONL files and a database")
    db.set_defaults(handler=_cmd_db_help)
    actions = db.add_subparsers(dest="db_command", metavar="ACTION")
    to_db = actions.add_parser("import", help="copy a JSONL session into a database store")
    to_db.add_argument("file", help="the JSONL session file")
    to_db.add_argument("--to", required=True, metavar="STORE_URL",
                       help="sqlite:///path/sessions.db or postgresql://user@host:port/db")
    to_db.set_defaults(handler=_cmd_import)
    from_db = actions.add_parser("export", help="copy a database session into a JSONL file")
    from_db.add_argument("url", metavar="SESSION_URL", help="<store URL>#<session id>")
    from_db.add_argument("--to", required=True, metavar="DIR", help="the directory to write")
    from_db.set_defaults(handler=_cmd_export)
