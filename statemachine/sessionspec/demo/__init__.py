"""``sessionspec demo``: the story of each machine, on the embedded default (local files).

Each area has a module here with ``run(workdir, out)``; :func:`main` runs them in the order
of :data:`AREAS`, each in its own folder under the working directory, and prints what
happens. The demo does real work: real files, real fsyncs, a real writer process killed
with SIGKILL, the real recovery code.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, cast

__all__ = ["AREAS", "main"]

#: The demo's chapters, in order: (module name, title).
AREAS: tuple[tuple[str, str], ...] = (
    ("log", "The log: a power cut in the middle of a write"),
    ("coordinator", "The coordinator: a session with tools, a compaction, a kill -9, a resume"),
    ("realtime", "The realtime transcript: a voice exchange with a barge-in and a reconnect"),
    ("conversation", "The conversation: a fork, a stale rewrite, an image, a ledger, a CAS"),
    ("recorder", "The recorder: agent events into sessions, a restart mid-loop, a rotation"),
)

#: A file the demo leaves in its folder, so that a later run may safely clear it.
MARKER = ".sessionspec-demo"


def _prepare(workdir: Path) -> Path:
    if workdir.exists():
        if not (workdir / MARKER).exists() and any(workdir.iterdir()):
            raise SystemExit(f"{workdir} exists and is not a sessionspec demo folder")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("created by `sessionspec demo`; safe to delete\n")
    return workdir


def main(workdir: Path | None = None, out: TextIO | None = None) -> int:
    """Run every chapter; return 0 when all ran (the exit status of ``sessionspec demo``)."""
    out = out or sys.stdout
    folder = _prepare(workdir or Path.cwd() / "sessionspec-demo")
    print(f"sessionspec demo: all files go to {folder}", file=out)
    for number, (name, title) in enumerate(AREAS, start=1):
        print(f"\n== {number}. {title}", file=out)
        try:
            module = importlib.import_module(f"sessionspec.demo.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sessionspec.demo.{name}":
                raise
            print("   (this chapter is not written yet)", file=out)
            continue
        run = cast(Callable[[Path, TextIO], None], module.run)
        chapter = folder / name
        chapter.mkdir()
        run(chapter, out)
    print(f"\nDone. The session files are in {folder}.", file=out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(Path(tempfile.mkdtemp(prefix="sessionspec-demo-"))))
