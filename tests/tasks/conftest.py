"""Lanterne installations run as separate processes, for the task queue tests.

A worker is a process of its own: it cannot see the test session's database
(on SQLite an in-memory one, on PostgreSQL a transaction never committed). Each
test here gets an installation of its own instead — a data folder, and a
SQLite file in it or, when the session runs on PostgreSQL (`DATABASE_URL`), a
database created for the test and dropped after it — copied from one migrated
once per session by `lanterne migrate`, fed by `installation_script.py`,
worked on by `lanterne worker`, and read straight from the database.

Redis is the real server on this machine: LANTERNE_TEST_REDIS_URL (default
database 11 of 127.0.0.1:6379), of which the tests delete only RQ's keys
(`rq:*`), holding a lock so that two test sessions do not share the queue at
the same time. Without Redis, the tests that need it are skipped — except in
CI (LANTERNE_TEST_REQUIRE_REDIS=1, set by .ci/run), where they fail."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from benchmarks.installations import DatabaseReader, with_database

REPOSITORY = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("LANTERNE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
REDIS_LOCK = "lanterne-tests:task-queue"
# A worker runs what is queued, then exits: a hung one fails the test instead.
WORKER_TIMEOUT = 300


@dataclass
class Installation(DatabaseReader):
    """A data folder, a database and a tasks backend, and the `lanterne`
    command pointed at them."""

    data_dir: Path
    database_url: str | None  # None: SQLite in the data folder
    backend: str  # LANTERNE_TASKS_BACKEND
    redis_url: str = REDIS_URL

    def environment(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LANTERNE_")
            and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            LANTERNE_MODE="test",
            LANTERNE_DATA_DIR=str(self.data_dir),
            LANTERNE_TASKS_BACKEND=self.backend,
            LANTERNE_REDIS_URL=self.redis_url,
            LANTERNE_LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="lanterne.settings",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(extra)
        return env

    def run(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`lanterne ARGUMENTS`, which must succeed."""
        done = subprocess.run(
            [sys.executable, "-m", "lanterne.cli", *arguments],
            cwd=REPOSITORY,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"lanterne {' '.join(arguments)}:\n{done.stdout}{done.stderr}"
        return done

    def script(self, *arguments: str) -> dict[str, Any]:
        """`installation_script.py ARGUMENTS`: its JSON report."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.tasks.installation_script", *arguments],
            cwd=REPOSITORY,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"script {arguments[0]}:\n{done.stdout}{done.stderr}"
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return report

    def start(self, *arguments: str, log: Path) -> subprocess.Popen[bytes]:
        """`lanterne ARGUMENTS` in the background, its output in `log`."""
        with log.open("ab") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "lanterne.cli", *arguments],
                cwd=REPOSITORY,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def work(self, *, processes: int = 1) -> str:
        """`lanterne worker --burst`: run what is queued, then exit."""
        done = self.run("worker", "--burst", "--processes", str(processes), timeout=WORKER_TIMEOUT)
        return done.stdout + done.stderr


@contextlib.contextmanager
def _postgresql_database(url: str, *, template: str | None = None) -> Iterator[str]:
    """A database created for the caller (a copy of `template`, if given),
    dropped afterwards; yields its URL."""
    import psycopg
    from psycopg import sql

    name = f"lanterne_tasks_{uuid.uuid4().hex[:12]}"
    maintenance = with_database(url, "postgres")
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(create)
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """An installation migrated once per session, which each test's copies:
    `lanterne migrate` takes seconds, copying its result does not."""
    url = os.environ.get("DATABASE_URL", "").strip() or None
    data_dir = tmp_path_factory.mktemp("tasks-template")
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(_postgresql_database(url)) if url else None
        template = Installation(data_dir=data_dir, database_url=database_url, backend="immediate")
        template.run("migrate", "--verbosity", "0")
        yield template


@pytest.fixture
def database_url(migrated: Installation, tmp_path: Path) -> Iterator[str | None]:
    """None on SQLite (the migrated file is copied into the test's data
    folder); on PostgreSQL, a database of this test's own, copied from the
    migrated one."""
    if migrated.database_url is None:
        (tmp_path / "data").mkdir()
        shutil.copyfile(
            migrated.data_dir / "lanterne.sqlite3", tmp_path / "data" / "lanterne.sqlite3"
        )
        yield None
        return
    url = os.environ["DATABASE_URL"].strip()
    template = urlsplit(migrated.database_url).path.lstrip("/")
    with _postgresql_database(url, template=template) as database_url:
        yield database_url


def _rq_keys_delete(client: Any) -> None:
    """Delete RQ's keys (queues, jobs, registries, workers) of the test
    database, and nothing else."""
    keys = list(client.scan_iter(match="rq:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """The test Redis database's URL, emptied of RQ's keys, held for this test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        message = f"Redis is not reachable at {REDIS_URL} ({error}): start redis-server"
        if os.environ.get("LANTERNE_TEST_REQUIRE_REDIS"):
            pytest.fail(message + " (LANTERNE_TEST_REQUIRE_REDIS is set: CI runs Redis)")
        pytest.skip(message + ", or set LANTERNE_TEST_REDIS_URL")
    # Another test session (SQLite and PostgreSQL at once) waits its turn.
    lock = client.lock(REDIS_LOCK, timeout=WORKER_TIMEOUT * 3, blocking_timeout=WORKER_TIMEOUT * 3)
    assert lock.acquire(), "another test session held the Redis test queue too long"
    try:
        _rq_keys_delete(client)
        yield REDIS_URL
        _rq_keys_delete(client)
    finally:
        lock.release()
        client.close()


@pytest.fixture(params=["database", "redis"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Installation:
    """A migrated installation whose tasks go to the database's queue or to
    Redis (each test runs with both)."""
    if request.param == "redis":
        request.getfixturevalue("redis_queue")  # first: skipped before migrating
    database_url: str | None = request.getfixturevalue("database_url")
    installed = Installation(
        data_dir=tmp_path / "data", database_url=database_url, backend=request.param
    )
    installed.data_dir.mkdir(exist_ok=True)
    return installed


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until a started `lanterne receive-mail` listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the receiver exited:\n{log.read_text()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the receiver did not listen on {port}:\n{log.read_text()}")
