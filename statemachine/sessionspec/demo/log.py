"""Demo chapter 1: the log survives a power cut mid-write, and damage stays visible.

A real session file is written with durable appends. A power cut during the next append
is simulated on the volatile-cache file layer (the only honest way to tear a write on
purpose), and the surviving bytes are put on disk. Then the real reader and writer take
over: the reader reports the torn tail with its line and byte offset; the writer cuts only
that tail and goes on. Last, a byte flipped in the middle of the file shows the other kind
of damage: reported, skipped, and never cut.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any, TextIO

from sessionspec.storage import JsonlLog, SimulatedCrash, SimulatedFileSystem, read_log

__all__ = ["run"]


def _header() -> dict[str, Any]:
    return {
        "type": "session",
        "version": 1,
        "id": "demo-log",
        "timestamp": "2026-11-21T12:00:00Z",
        "cwd": "/home/demo/project",
        "parent_session": None,
    }


def _turn(n: int, parent: str | None, text: str) -> list[dict[str, Any]]:
    message_id, leaf_id = f"msg-{2 * n - 1}", f"leaf-{2 * n}"
    return [
        {
            "type": "message",
            "id": message_id,
            "parent_id": parent,
            "timestamp": "2026-11-21T12:00:00Z",
            "message": {
                "role": "user",
                "content": [{"type": "text", "text": text}],
                "timestamp_ms": 1_795_000_000_000 + n,
            },
        },
        {
            "type": "leaf",
            "id": leaf_id,
            "parent_id": message_id,
            "timestamp": "2026-11-21T12:00:00Z",
            "entry_id": message_id,
        },
    ]


TEXTS = [
    "Summarise the build failures from last night.",
    "Now group them by package.",
    "Open an issue for the worst one.",
    "And tag the owner of that package, please; they asked to be told at once.",
]


def run(workdir: Path, out: TextIO) -> None:
    fs = SimulatedFileSystem()
    sim_path = "/disk/demo.jsonl"
    log = JsonlLog.create(sim_path, _header(), fs=fs)
    parent: str | None = None
    for n, text in enumerate(TEXTS[:3], start=1):
        log.append(_turn(n, parent, text))
        parent = f"msg-{2 * n - 1}"
    durable = len(fs.read_bytes(sim_path))
    print("   wrote 3 turns (a message and its leaf each): one write, one fsync per turn", file=out)

    # The power fails after the write of turn 4 reached the cache, before its fsync.
    fs.arm_crash(1)
    with contextlib.suppress(SimulatedCrash):
        log.append(_turn(4, parent, TEXTS[3]))
    fs.crash(random.Random(7))
    image = fs.read_bytes(sim_path)
    path = workdir / "demo.jsonl"
    path.write_bytes(image)
    torn = not image.endswith(b"\n")
    print(
        f"   power cut while turn 4 was being written: {len(image) - durable} of its bytes "
        f"survived{', torn mid-line' if torn else ''}",
        file=out,
    )

    snapshot = read_log(str(path))
    print(f"   a reader finds: {snapshot.report.summary()}", file=out)
    for finding in snapshot.report.damage:
        print(f"     {finding.describe()}", file=out)
    print(f"   and returns {len(snapshot.records)} entries: the 3 acknowledged turns", file=out)

    with JsonlLog.open(str(path)) as writer:
        cut = snapshot.report.file_bytes - snapshot.report.kept_bytes
        print(f"   a writer opens the file: it cuts those {cut} bytes and nothing else", file=out)
        writer.append(_turn(4, parent, TEXTS[3]))
        print("   ...and writes turn 4 again, durably", file=out)

    data = bytearray(path.read_bytes())
    second_line = data.index(b"\n") + 1
    flip = data.index(b"build", second_line)
    data[flip] ^= 0x20  # "build" becomes "Build": one bit on the disk went wrong
    path.write_bytes(bytes(data))
    snapshot = read_log(str(path))
    found = snapshot.report.summary()
    print(f"   one bit flips in line 2 on the disk; a reader finds: {found}", file=out)
    for finding in snapshot.report.damage:
        print(f"     {finding.describe()}", file=out)
    with JsonlLog.open(str(path)) as writer:
        print(
            f"   a writer keeps the damaged line on disk (nothing is rewritten) and goes on at "
            f"entry {writer.head + 1}",
            file=out,
        )
    print(f"   the file: {path}", file=out)
