"""The SQL benchmarks run in quick mode (no timing asserted; the figures are in the report)."""

from __future__ import annotations

from pathlib import Path

from sessionspec.bench import sql as bench
from sessionspec.pgcluster import PostgresServer


def test_sql_benchmarks_run_in_quick_mode(pg_server: PostgresServer, tmp_path: Path) -> None:
    results = bench._sqlite(tmp_path, quick=True)
    url = pg_server.fresh_store()
    results.append(bench._scale_out(url, 0.5, writers=2, sessions=5))
    assert [r.unit for r in results] == ["batches/s", "ms", "turns/s"]
    assert all(r.value > 0 and r.baseline >= 0 for r in results)
