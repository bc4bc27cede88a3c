"""Lanterne served as in production: gunicorn with two workers
(lanterne/gunicorn_conf.py), production settings, static files collected.

The installation is a real one of its own — a SQLite file, or a PostgreSQL
database created for the module when DATABASE_URL is set — migrated and
filled by subprocesses, since the test database pytest-django keeps (in
memory for SQLite, inside a transaction otherwise) is out of the workers'
reach. What it shows: web processes keep no state of their own (a login made
by one worker holds on the other), the static files are served by the
workers themselves, hashed and cacheable for good, every response carries the
Content-Security-Policy, and behind a trusted proxy the access log names the
client rather than the proxy.
"""

from __future__ import annotations

import http.client
import http.cookies
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings

from benchmarks.installations import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
WORKERS = 2
# LANTERNE_TRUSTED_PROXIES of the server: one reverse proxy in front.
PROXY_CLIENT = "203.0.113.7"


# --- The installation -----------------------------------------------------------------


@dataclass
class Installation:
    """A data folder and a database, migrated, with static files collected
    and the seed's co-owner and dossier (tests/deploy/seed.py)."""

    environment: dict[str, str]
    seed: dict[str, Any]

    def run(self, *command: str) -> str:
        completed = subprocess.run(
            command,
            cwd=REPOSITORY,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        return completed.stdout


@pytest.fixture(scope="module")
def database_url() -> Iterator[str | None]:
    """A PostgreSQL database of its own when the suite runs on PostgreSQL
    (dropped afterwards); None for a SQLite file in the data folder."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        yield None
        return
    parts = urlsplit(url)
    name = f"test_{parts.path.lstrip('/') or 'lanterne'}_gunicorn_{uuid.uuid4().hex[:8]}"
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def installation(
    tmp_path_factory: pytest.TempPathFactory, database_url: str | None
) -> Installation:
    # The suite's own variables (test mode, its data folder, its settings
    # module) must not leak into a production installation.
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LANTERNE_", "DJANGO_", "DATABASE_URL"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="lanterne.settings",
        LANTERNE_MODE="production",
        LANTERNE_SECRET_KEY=uuid.uuid4().hex * 2,
        LANTERNE_DATA_DIR=str(tmp_path_factory.mktemp("installation")),
    )
    if database_url:
        environment["DATABASE_URL"] = database_url
    installation = Installation(environment=environment, seed={})
    lanterne = (sys.executable, "-m", "lanterne")
    installation.run(*lanterne, "migrate", "--verbosity", "0")
    installation.run(*lanterne, "collectstatic", "--noinput", "--verbosity", "0")
    installation.seed = json.loads(installation.run(sys.executable, "-m", "tests.deploy.seed"))
    return installation


# --- The server -----------------------------------------------------------------------

ACCESS_LINE = re.compile(
    r'^(?P<client>\S+) - \[[^\]]+\] "(?P<method>\S+) (?P<path>\S+) [^"]+" '
    r'(?P<status>\d{3}) \S+ (?P<ms>\d+)ms "[^"]*" <(?P<pid>\d+)>$'
)


@dataclass
class AccessLine:
    client: str
    method: str
    path: str
    status: int
    pid: int


@dataclass
class Server:
    """gunicorn running the installation, its log in a file."""

    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def access_lines(self) -> list[AccessLine]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            match = ACCESS_LINE.match(line)
            if match:
                lines.append(
                    AccessLine(
                        client=match["client"],
                        method=match["method"],
                        path=match["path"],
                        status=int(match["status"]),
                        pid=int(match["pid"]),
                    )
                )
        return lines

    def access_lines_of(self, method: str, path: str, *, count: int) -> list[AccessLine]:
        """The access log's lines for `method path`, once there are `count`
        of them: a worker writes its line just after sending the response."""
        deadline = time.monotonic() + 10
        while True:
            lines = [x for x in self.access_lines() if (x.method, x.path) == (method, path)]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(
    installation: Installation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    environment = {
        **installation.environment,
        "LANTERNE_WEB_BIND": f"127.0.0.1:{port}",
        "LANTERNE_WEB_WORKERS": str(WORKERS),
        "LANTERNE_TRUSTED_PROXIES": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:lanterne.gunicorn_conf"]
            + ["lanterne.wsgi"],
            cwd=REPOSITORY,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Server(port=port, log=log, process=process)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/static/lanterne/lanterne.css")
        return connection.getresponse().status > 0
    except OSError:
        return False


# --- A browser ------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str


@dataclass
class Browser:
    """One person's visits: cookies kept from one request to the next (each
    on a connection of its own, which any worker may take), redirects not
    followed."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = dict(headers or {})
        with self.lock:
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        with self.lock:
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in http.cookies.SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
        return Response(status=response.status, headers=response.headers, text=text)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def log_in(self, email: str, password: str) -> Response:
        form = self.get("/connexion/")
        assert form.status == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        return self.request(
            "POST",
            "/connexion/",
            form={"csrfmiddlewaretoken": token[1], "username": email, "password": password},
        )


# --- The tests ------------------------------------------------------------------------


def test_a_login_made_by_one_worker_holds_on_the_others(
    server: Server, installation: Installation
) -> None:
    seed = installation.seed
    browser = Browser(server.port)
    login = browser.log_in(seed["email"], seed["password"])
    assert login.status == 302, login.text
    assert login.headers["Location"] == "/"
    assert "sessionid" in browser.cookies
    [login_line] = server.access_lines_of("POST", "/connexion/", count=1)

    # Requests sent together keep both workers busy, so that each serves some.
    page = f"/dossiers/{seed['dossier_id']}/"
    served = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            responses = list(pool.map(lambda _: browser.get(page), range(8)))
            served += len(responses)
            for response in responses:
                assert response.status == 200, response.headers.get("Location")
                assert seed["dossier_title"] in response.text
            lines = server.access_lines_of("GET", page, count=served)
            if {line.pid for line in lines} - {login_line.pid}:
                break
    assert len(lines) == served
    assert all(line.status == 200 for line in lines)
    pids = {line.pid for line in lines}
    assert len(pids | {login_line.pid}) == WORKERS, "one worker served every request"


def test_static_files_are_served_hashed_and_cacheable_for_good(server: Server) -> None:
    page = Browser(server.port).get("/connexion/")
    # Production mode: collectstatic's manifest names each file by its hash.
    stylesheet = re.search(r'href="(/static/lanterne/lanterne\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, page.text

    response = Browser(server.port).get(stylesheet[1])

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert "body" in response.text
    assert "immutable" in response.headers["Cache-Control"]


def test_every_response_carries_the_content_security_policy(
    server: Server, installation: Installation
) -> None:
    browser = Browser(server.port)
    responses = [
        browser.get("/connexion/"),
        browser.log_in(installation.seed["email"], installation.seed["password"]),
        browser.get(f"/dossiers/{installation.seed['dossier_id']}/"),
        browser.get("/static/lanterne/lanterne.css"),
        browser.get("/page-qui-n-existe-pas/"),
    ]
    assert [r.status for r in responses] == [200, 302, 200, 200, 404]
    for response in responses:
        assert response.headers["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_behind_the_trusted_proxy_the_access_log_names_the_client(server: Server) -> None:
    browser = Browser(server.port)
    # What the client claimed (198.51.100.20), then the address the proxy
    # saw: only the latter counts.
    browser.get(
        "/mot-de-passe/oubli/", headers={"X-Forwarded-For": f"198.51.100.20, {PROXY_CLIENT}"}
    )
    # Not through the proxy: the socket's address stays.
    browser.get("/mot-de-passe/oubli/envoye/")

    [proxied] = server.access_lines_of("GET", "/mot-de-passe/oubli/", count=1)
    [direct] = server.access_lines_of("GET", "/mot-de-passe/oubli/envoye/", count=1)
    assert proxied.client == PROXY_CLIENT
    assert direct.client == "127.0.0.1"


def test_the_workers_stop_on_sigterm(server: Server) -> None:
    """Last (the module's server is stopped): systemd's stop ends the
    service, workers included, well within the graceful timeout."""
    worker_pids = {line.pid for line in server.access_lines()}
    assert worker_pids

    server.process.terminate()

    assert server.process.wait(timeout=40) == 0
    for pid in worker_pids:
        assert not Path(f"/proc/{pid}").exists()


def test_what_the_master_loaded_is_out_of_the_collectors_sight() -> None:
    """`when_ready` freezes what the master loaded before it forks: the
    garbage collector's full passes in the workers do not walk it again."""
    import gc

    from lanterne import gunicorn_conf

    assert gc.get_freeze_count() == 0
    try:
        gunicorn_conf.when_ready(server=None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
