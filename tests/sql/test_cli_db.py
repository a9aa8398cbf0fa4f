"""``sessionspec db import`` / ``db export``: a JSONL session to a database and back (SQL-013)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.coordinator.coord_helpers import clock
from tests.sql.test_sql_coordinator import CONFIG, drive

from sessionspec.cli import main
from sessionspec.errors import SessionExistsError
from sessionspec.pgcluster import PostgresServer
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.jsonl import read_log
from sessionspec.storage.urls import read_at


def round_trip(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = SessionCoordinator.new(str(tmp_path / "a"), "/work", CONFIG, "m",
                                      session_id="s1", clock=clock)
    drive(original)
    context = original.context()
    original.close()
    source = str(tmp_path / "a" / "s1.jsonl")
    assert main(["db", "import", source, "--to", store]) == 0
    url = capsys.readouterr().out.strip()
    assert url == f"{store}#s1"
    assert main(["db", "export", url, "--to", str(tmp_path / "b")]) == 0
    exported = capsys.readouterr().out.strip()
    before, middle, after = read_log(source), read_at(url), read_log(exported)
    assert before.header == middle.header == after.header
    assert ([r.entry for r in before.records] == [r.entry for r in middle.records]
            == [r.entry for r in after.records])
    for path in (url, exported):
        resumed = SessionCoordinator.open_existing(path, clock=clock)
        assert resumed.context() == context
        resumed.close()
    assert main(["db", "import", source, "--to", store]) == 2  # the session exists
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SessionExistsError):
        from sessionspec.cli_db import import_session

        import_session(source, store)


@pytest.mark.req("SQL-013")
def test_import_export_round_trip_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    round_trip(f"sqlite://{tmp_path}/sessions.db", tmp_path, capsys)


@pytest.mark.req("SQL-013")
def test_import_export_round_trip_postgres(
    pg_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    round_trip(pg_server.fresh_store(), tmp_path, capsys)


@pytest.mark.req("SQL-013")
def test_import_refuses_a_plain_path_as_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "import", str(tmp_path / "x.jsonl"), "--to", str(tmp_path)]) == 2
    assert "store URL" in capsys.readouterr().err
    assert main(["db", "export", f"sqlite://{tmp_path}/s.db", "--to", str(tmp_path)]) == 2
