"""A throwaway PostgreSQL server for tests and benchmarks (tooling; SQL-012).

``initdb`` and ``pg_ctl`` run in a temporary folder.

The server listens only on a Unix socket inside its folder (no TCP port to collide with),
runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses root), and keeps
``fsync`` on: the durability tests mean what they say. Startup takes about a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["PostgresServer", "postgres_bindir", "running_server"]


def postgres_bindir() -> str | None:
    """The folder of the server binaries (``pg_config --bindir``), or ``None``."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 check=True, timeout=30)
            candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates.append("/usr/lib/postgresql/15/bin")
    for folder in candidates:
        if os.path.exists(os.path.join(folder, "initdb")) and os.path.exists(
            os.path.join(folder, "pg_ctl")
        ):
            return folder
    return None


@dataclass(frozen=True)
class PostgresServer:
    folder: str
    socket_dir: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def fresh_store(self) -> str:
        """The URL of a fresh, empty store on this server.

        A schema of its own in database ``postgres``, made the connections' search path by
        the URL (``options=-csearch_path=…``): as isolated as a database for sessionspec's
        tables, at a fraction of the files a ``CREATE DATABASE`` writes (and deletes)."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {name}".encode())
        return f"{self.url()}&options=-csearch_path%3D{name}"


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def running_server(bindir: str) -> Iterator[PostgresServer]:
    folder = tempfile.mkdtemp(prefix="sessionspec-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    os.chmod(folder, 0o755)
    data = os.path.join(folder, "data")
    log = os.path.join(folder, "server.log")
    pg_ctl = os.path.join(bindir, "pg_ctl")
    subprocess.run(
        _as_server_user([os.path.join(bindir, "initdb"), "-D", data, "--no-sync", "-A",
                         "trust", "-U", "postgres", "-E", "UTF8", "--wal-segsize=1"]),
        check=True, capture_output=True, timeout=120,
    )
    options = (f"-k {folder} -c listen_addresses='' -c shared_buffers=16MB "
               "-c max_connections=200 -c fsync=on -c synchronous_commit=on "
               # Small WAL segments, recycled early: less to write and to delete at the end.
               "-c min_wal_size=4MB -c max_wal_size=32MB")
    started = False
    try:
        subprocess.run(
            _as_server_user([pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60",
                             "start"]),
            check=True, capture_output=True, timeout=120,
        )
        started = True
        yield PostgresServer(folder, folder)
    finally:
        if started:
            subprocess.run(_as_server_user([pg_ctl, "-D", data, "-m", "immediate", "-w",
                                            "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
