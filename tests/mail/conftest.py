"""A real IMAP server for the mail tests: a throw-away Dovecot, started once
per test session with its own configuration, on a free port of 127.0.0.1.

Any user name logs in with `Dovecot.password` and gets its own empty maildir,
so each test takes a fresh mailbox by using a new user name."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from benchmarks.installations import free_port

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong passwords are part of the tests: answer them at once.
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
# The dovecot system user owns the mail; its uid is below Dovecot's default floor.
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
# No growing delay after failed logins from 127.0.0.1 (Dovecot's auth penalty).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    """The running server, and helpers to fill its mailboxes over IMAP."""

    host: str
    port: int
    password: str
    root: Path

    def new_user(self) -> str:
        """A user name nobody used yet: an empty mailbox."""
        return f"user-{uuid.uuid4().hex[:12]}"

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        # AUTHENTICATE PLAIN: the password is not ASCII (LOGIN would refuse it).
        client.plain_login(user, self.password)
        try:
            yield client
        finally:
            client.logout()

    def append(self, user: str, messages: Sequence[bytes], folder: str = "INBOX") -> None:
        """Deliver messages (one MULTIAPPEND command, RFC 3502), creating the folder."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for start in range(0, len(messages), 500):
                client.multiappend(folder, list(messages[start : start + 500]))

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        time.sleep(0.1)
    return False


def _stop(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot of our own (see DESIGN.md, "Running a throw-away Dovecot")."""
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if binary is None:
        pytest.fail(
            "Dovecot is not installed: the IMAP tests need a real server. "
            "Install Debian's dovecot-imapd (`make test` does: apt-get install dovecot-imapd)."
        )
    if os.geteuid() != 0:
        pytest.fail("The IMAP tests start Dovecot, which must run as root on this machine.")
    root = Path(tempfile.mkdtemp(prefix="lanterne-dovecot-"))
    # Dovecot's unprivileged processes (dovenull, dovecot) must reach into it.
    root.chmod(0o755)
    (root / "mail").mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    server = Dovecot(host="127.0.0.1", port=free_port(), password="Tilleuls-été-2026", root=root)
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(root=root, port=server.port, password=server.password), encoding="utf-8"
    )
    # Dovecot forks into the background, and its daemon keeps the standard
    # output open: to a file, never a pipe (reading a pipe would wait forever).
    output = root / "startup.log"
    with output.open("wb") as handle:
        started = subprocess.run(  # noqa: S603 — our own binary and config
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=30,
        )
    if started.returncode != 0 or not _wait_for_port(server.port, timeout=15):
        _stop(root / "run" / "master.pid")
        pytest.fail(
            f"Dovecot did not start (exit {started.returncode}):\n"
            f"{output.read_text(errors='replace')}\n{server.log()}"
        )
    try:
        yield server
    finally:
        _stop(root / "run" / "master.pid")
        shutil.rmtree(root, ignore_errors=True)
