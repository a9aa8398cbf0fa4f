"""The harness over stdin/stdout: JSON lines in, JSON lines out (PROTOCOL.md §1).

``python -m sessionspec.conformance.harness`` runs :func:`main`, serving sessionspec's own
runtime; :func:`serve` serves any :class:`PythonHarness`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from typing import IO

from sessionspec.conformance.harness.answers import Json
from sessionspec.conformance.harness.core import PythonHarness
from sessionspec.conformance.harness.crashpoints import CrashPointFileSystem
from sessionspec.conformance.harness.runtime import runtime_implementation

__all__ = ["main", "serve"]


def serve(harness: PythonHarness, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Answer JSON lines from ``stdin`` until ``stop`` or end of input (PROTOCOL.md §1)."""
    from sessionspec.conformance.adapters import encode_line

    lock = threading.Lock()

    def write(message: Json) -> None:
        with lock:
            stdout.write(encode_line(message))
            stdout.flush()

    def at_point(point: str) -> None:
        write({"seq": harness.current_seq, "status": "at_crash_point", "point": point})
        # Wait to be killed (PROTOCOL.md §6): never continue the operation.
        threading.Event().wait()

    if isinstance(harness.fs, CrashPointFileSystem):
        harness.fs.on_point = at_point
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            write(
                {
                    "seq": 0,
                    "status": "errored",
                    "message": f"not JSON: {exc}",
                    "context": {"line": line[:200].decode("utf-8", "replace")},
                }
            )
            continue
        if not isinstance(request, dict):
            write(
                {
                    "seq": 0,
                    "status": "errored",
                    "message": "a request must be an object",
                    "context": {"line": line[:200].decode("utf-8", "replace")},
                }
            )
            continue
        write(harness.handle(request))
        if request.get("cmd") == "stop":
            return 0
    harness.stop({})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sessionspec.conformance.harness",
        description="Serve sessionspec's runtime over the driver protocol (spec/PROTOCOL.md).",
    )
    parser.add_argument(
        "--storage",
        choices=("real", "sim"),
        default="real",
        help="real files in the runner's workdir (default) or a simulated file system",
    )
    args = parser.parse_args(argv)
    harness = PythonHarness(runtime_implementation(), storage=args.storage)
    # Bytes: UTF-8 JSON lines whatever the locale.
    try:
        return serve(harness, sys.stdin.buffer, sys.stdout.buffer)
    finally:
        sys.stdout.buffer.flush()
