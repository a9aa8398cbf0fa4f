"""The file-reading benchmark runs (quick mode; no timing asserted) and its generated
sessions are valid, so the figures it reports are of clean reads."""

from __future__ import annotations

from sessionspec.bench.files import claude_code_lines, pi_session_lines, run
from sessionspec.codecs import read_session_bytes


def test_the_generated_sessions_check_clean() -> None:
    import json

    pi = b"".join(json.dumps(line).encode() + b"\n" for line in pi_session_lines(452))
    result = read_session_bytes(pi, "bench-pi.jsonl")
    assert result.format == "pi" and result.findings == ()
    assert result.context[0]["type"] == "compaction_summary"  # the compaction at 400
    claude = b"".join(json.dumps(line).encode() + b"\n" for line in claude_code_lines(30))
    assert read_session_bytes(claude, "bench-cc.jsonl").findings == ()


def test_the_benchmark_runs_in_quick_mode() -> None:
    results = run(quick=True)
    assert [r.unit for r in results] == ["files/s", "lines/s"]
    assert all(r.value > 0 and r.baseline > 0 for r in results)
