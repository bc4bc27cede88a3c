"""What the benchmarks and the tests that run Lanterne as separate processes
share: reading an installation's database straight from its file or server
(the caller's own connection, if any, cannot see it), and naming another
database on the same PostgreSQL server; a free local port for a server one
starts."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class DatabaseReader:
    """For an installation with a `data_dir` and a `database_url` (None: the
    SQLite file in the data folder)."""

    data_dir: Path
    database_url: str | None

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query, read straight from the database."""
        if self.database_url is None:
            # Long enough to wait out an import's write transaction.
            connection = sqlite3.connect(self.data_dir / "lanterne.sqlite3", timeout=60)
            try:
                return connection.execute(sql).fetchall()
            finally:
                connection.close()
        import psycopg

        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]

    def count(self, sql: str) -> int:
        value: int = self.query(sql)[0][0]
        return value


def with_database(url: str, name: str) -> str:
    """`url` with its database replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now, for a server about to start."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
