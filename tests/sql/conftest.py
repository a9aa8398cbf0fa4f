"""Fixtures of the SQL backend tests: a throwaway PostgreSQL server (SQL-012)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sessionspec.pgcluster import PostgresServer, postgres_bindir, running_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (pg_config --bindir has no initdb)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
    from sessionspec.storage.postgres import close_pools

    with running_server(bindir) as server:
        try:
            yield server
        finally:
            close_pools()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty store on the test server."""
    return pg_server.fresh_store()
