"""A real S3-compatible server for the storage tests: moto in server mode,
started as its own process on a free port of 127.0.0.1 (once per test
session, with one bucket for the run), and the settings switched to it.

Each test gets its own prefix in the bucket (`S3Store.prefix`), so what one
test stores cannot satisfy another's assertions. The settings are those
lanterne/settings.py makes from the `LANTERNE_S3_*` variables (`s3_settings`),
with the prefix added; pytest-django's `settings` fixture sends
`setting_changed`, on which Django drops the storages it had built — the
storage handler caches them."""

from __future__ import annotations

import contextlib
import os
import runpy
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

import lanterne.settings
from benchmarks.installations import free_port

HOST = "127.0.0.1"
SETTINGS_FILE = lanterne.settings.__file__
ACCESS_KEY = "lanterne-test-key"
SECRET_KEY = "lanterne-test-secret"
REGION = "eu-west-3"


@dataclass
class S3Server:
    """A moto server process; `stop` and `start` it again on the same port
    (it then starts empty: moto keeps its objects in memory)."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    # Variables of moto's own (INITIAL_NO_AUTH_ACTION_COUNT: check keys).
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.environ},
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not answer on {self.endpoint}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            # A stopped server must fail the test at once, not after retries.
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=5),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )


def start_server(
    tmp_path_factory: pytest.TempPathFactory, environ: dict[str, str] | None = None
) -> S3Server:
    server = S3Server(
        port=free_port(), log=tmp_path_factory.mktemp("moto") / "moto.log", environ=environ or {}
    )
    server.start()
    return server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_server(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_server: S3Server) -> str:
    """The run's bucket."""
    name = f"lanterne-tests-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


def s3_settings(
    *, bucket: str, endpoint: str, environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """The settings lanterne/settings.py makes with `LANTERNE_STORAGE=s3` and
    these variables (run afresh, as a process starting would)."""
    variables = {
        "LANTERNE_STORAGE": "s3",
        "LANTERNE_S3_BUCKET": bucket,
        "LANTERNE_S3_ENDPOINT_URL": endpoint,
        "LANTERNE_S3_REGION": REGION,
        "LANTERNE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "LANTERNE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        **(environ or {}),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        return runpy.run_path(SETTINGS_FILE, run_name="lanterne_settings_s3")


@dataclass
class S3Store:
    """The bucket as the tests see it, under this test's prefix."""

    server: S3Server
    bucket: str
    prefix: str
    client: Any = field(repr=False)

    def key(self, storage: str, name: str) -> str:
        """The key of `name` of a storage ("files" or "mail")."""
        return f"{self.prefix}/{storage}/{name}"

    def get(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def keys(self, storage: str = "") -> set[str]:
        """Every key under the prefix (of one storage), without the prefix."""
        start = f"{self.prefix}/{storage}"
        found: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        ):
            found.update(item["Key"][len(self.prefix) + 1 :] for item in page.get("Contents", ()))
        return found


def use_s3(settings: Any, *, server: S3Server, bucket: str, client_config: Any = None) -> S3Store:
    """Switch the `default` and `mail` storages to the bucket, under a prefix
    of their own; return the store."""
    made = s3_settings(bucket=bucket, endpoint=server.endpoint)["STORAGES"]
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    storages = dict(settings.STORAGES)
    for alias, folder in (("default", "files"), ("mail", "mail")):
        options = {**made[alias]["OPTIONS"], "location": f"{prefix}/{folder}"}
        if client_config is not None:
            options["client_config"] = client_config
        storages[alias] = {**made[alias], "OPTIONS": options}
    settings.STORAGES = storages
    return S3Store(server=server, bucket=bucket, prefix=prefix, client=server.client())


@pytest.fixture
def s3(settings: Any, s3_server: S3Server, s3_bucket: str) -> S3Store:
    """Documents and mail in the run's bucket, under this test's prefix."""
    return use_s3(settings, server=s3_server, bucket=s3_bucket)


@pytest.fixture
def failing_s3(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """Documents and mail on a server of this test's own, which the test may
    stop (and start again). The storages give up at the first failed
    attempt, so that a stopped server fails the test's operation at once."""
    server = start_server(tmp_path_factory)
    bucket = "lanterne-failing"
    server.create_bucket(bucket)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)
    try:
        yield use_s3(settings, server=server, bucket=bucket, client_config=config)
    finally:
        with contextlib.suppress(Exception):
            server.stop()


def local_files(root: Path) -> set[Path]:
    """Every file under `root` (the local data folder)."""
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def refusing_s3(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """Documents and mail on a server that checks credentials and knows none
    of the storages' keys (moto then authenticates every request after the
    first one, which creates the bucket)."""
    server = start_server(tmp_path_factory, environ={"INITIAL_NO_AUTH_ACTION_COUNT": "1"})
    bucket = "lanterne-refusing"
    server.create_bucket(bucket)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)
    try:
        yield use_s3(settings, server=server, bucket=bucket, client_config=config)
    finally:
        server.stop()
