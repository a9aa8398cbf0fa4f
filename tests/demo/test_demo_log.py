"""The demo's log chapter runs and tells the truth about what recovery found."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sessionspec.demo import log as log_chapter
from sessionspec.storage import DamageKind, read_log


@pytest.mark.req("LOG-007", "LOG-008")
def test_log_chapter_runs_and_leaves_a_file_with_one_reported_flip(tmp_path: Path) -> None:
    out = io.StringIO()
    log_chapter.run(tmp_path, out)
    text = out.getvalue()
    assert "torn_tail" in text and "checksum mismatch" in text
    snapshot = read_log(str(tmp_path / "demo.jsonl"))
    assert [d.kind for d in snapshot.report.damage] == [DamageKind.CORRUPT_ENTRY]
    assert len(snapshot.records) == 7  # 4 turns of 2 entries, one of them damaged
