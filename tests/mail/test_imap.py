"""IMAP sources against a real Dovecot (tests/mail/conftest.py): sync, restart,
UIDVALIDITY, Sent folder, refusal and quarantine, IDLE and polling, the
fetch-mail command, and the staff pages."""

from __future__ import annotations

import io
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse
from imapclient import IMAPClient

from lanterne.condominiums.models import Agency
from lanterne.mail.choices import Direction, RawState, SourceKind
from lanterne.mail.models import Delivery, ImapFolderState, MailSource, Message, RawMessage
from lanterne.mail.sources.imap import (
    ImapHostRefused,
    imap_host_check,
    imap_source_sync,
    imap_sync_folder,
    imap_watch,
)

from ..factories import AgencyFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
# Not an e-mail at all (no header field any mail has): the parser gives up on
# it. Such things do land in mailboxes — a scanner's log dropped by a script.
BROKEN_MESSAGE = (
    b"SCAN-2026-03-02 08:41 copieur du 2e etage\r\npages=12 resolution=300dpi erreur=aucune\r\n"
)


def mail(
    number: int,
    *,
    sender: str = "Plomberie Durand <contact@plomberie-durand.fr>",
    to: str = "Cabinet =?utf-8?q?Lumi=C3=A8re?= <gestion@cabinet-lumiere.fr>",
    subject: str | None = None,
    body: str | None = None,
) -> bytes:
    """A small, realistic message with CRLF line ends, as IMAP serves them;
    the same arguments give the same bytes. Written by hand: thousands are
    needed, and the email package would take seconds to compose them."""
    subject = subject or f"Devis n°{number} — fuite sur la colonne d'eau, Les Tilleuls"
    body = body or (
        f"Bonjour,\n\nVeuillez trouver notre devis n°{number} pour la reprise de la fuite.\n\n"
        "Cordialement,\nPlomberie Durand\n"
    )
    head = (
        f"From: {sender}\n"
        f"To: {to}\n"
        f"Subject: {Header(subject, 'utf-8').encode()}\n"
        f"Date: {format_datetime(START + timedelta(minutes=number))}\n"
        f"Message-ID: <devis-{number}@plomberie-durand.fr>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    )
    return (head + body).replace("\n", "\r\n").encode()


@pytest.fixture
def agency(db: None) -> Agency:
    return AgencyFactory(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")


def imap_source(agency: Agency, dovecot: Any, user: str, **fields: Any) -> MailSource:
    values: dict[str, Any] = {
        "agency": agency,
        "kind": SourceKind.IMAP,
        "name": f"Boîte {user}",
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_ssl": False,
        "imap_username": user,
        "imap_password": dovecot.password,
    }
    values.update(fields)
    return MailSource.objects.create(**values)


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], list[str]]]:
    """Every FETCH command sent: its UIDs and its data items."""
    calls: list[tuple[list[int], list[str]]] = []
    original = IMAPClient.fetch

    def fetch(self: IMAPClient, messages: Any, data: Any, modifiers: Any = None) -> Any:
        calls.append((list(messages), [str(item) for item in data]))
        return original(self, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    return calls


def seen_uids(dovecot: Any, user: str, folder: str = "INBOX") -> list[int]:
    with dovecot.client(user) as client:
        client.select_folder(folder, readonly=True)
        return list(client.search(["SEEN"]))


def delivered_uids(source: MailSource, folder: str = "INBOX") -> list[int]:
    return sorted(
        Delivery.objects.filter(source=source, folder=folder).values_list("uid", flat=True)
    )


# --- Sync -------------------------------------------------------------------------


def test_initial_sync_of_2000_messages_in_batches_then_nothing_twice(
    dovecot: Any, agency: Agency, fetches: list[tuple[list[int], list[str]]]
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(number) for number in range(2000)])
    source = imap_source(agency, dovecot, user)

    report = imap_sync_folder(source, "INBOX", batch_size=250)

    assert (report.fetched, report.new, report.duplicates, report.quarantined) == (2000, 2000, 0, 0)
    assert RawMessage.objects.filter(agency=agency, state=RawState.PARSED).count() == 2000
    assert Message.objects.filter(agency=agency).count() == 2000
    assert delivered_uids(source) == list(range(1, 2001))
    state = ImapFolderState.objects.get(source=source, folder="INBOX")
    assert (state.uidvalidity, state.last_uid) == (report.uidvalidity, 2000)
    # Eight batches: the sizes of 250 messages, then their bodies, never \Seen.
    assert len(fetches) == 16
    assert [items for _uids, items in fetches[:2]] == [["RFC822.SIZE"], ["BODY.PEEK[]"]]
    assert max(len(uids) for uids, _items in fetches) == 250
    fetches.clear()
    assert seen_uids(dovecot, user) == []

    fetches.clear()
    again = imap_sync_folder(source, "INBOX", batch_size=250)

    assert again.fetched == 0
    assert fetches == []
    assert Delivery.objects.filter(source=source).count() == 2000


def test_a_restart_resumes_from_the_database_and_reads_only_new_mail(
    dovecot: Any, agency: Agency
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(number) for number in range(5)])
    source = imap_source(agency, dovecot, user)
    assert imap_source_sync(source).folders[0].new == 5

    dovecot.append(user, [mail(number) for number in range(5, 8)])
    # A new process: nothing in memory but what the database holds.
    restarted = MailSource.objects.get(pk=source.pk)
    report = imap_source_sync(restarted)

    assert report.ok
    assert (report.folders[0].fetched, report.folders[0].new) == (3, 3)
    assert delivered_uids(source) == list(range(1, 9))
    assert Message.objects.filter(agency=agency).count() == 8
    restarted.refresh_from_db()
    assert restarted.last_error == "" and restarted.last_checked_at is not None


class StopAfter(threading.Event):
    """Set once it has been asked `checks` times."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks = checks

    def is_set(self) -> bool:
        self.checks -= 1
        return self.checks < 0


def test_an_interrupted_first_sync_resumes_where_it_stopped(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(number) for number in range(30)])
    source = imap_source(agency, dovecot, user)

    # Stopped (Ctrl-C) after two batches of ten.
    first = imap_sync_folder(source, "INBOX", batch_size=10, stop=StopAfter(2))
    assert (first.fetched, first.last_uid) == (20, 20)
    assert ImapFolderState.objects.get(source=source).last_uid == 20

    rest = imap_sync_folder(source, "INBOX", batch_size=10)
    assert (rest.fetched, rest.new, rest.duplicates) == (10, 10, 0)
    assert delivered_uids(source) == list(range(1, 31))


def test_a_lost_folder_state_refetches_without_doubling_anything(
    dovecot: Any, agency: Agency
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(number) for number in range(5)])
    source = imap_source(agency, dovecot, user)
    imap_source_sync(source)
    # As after a crash between storing and recording, or an old backup.
    ImapFolderState.objects.filter(source=source).update(last_uid=0)

    report = imap_source_sync(source).folders[0]

    assert (report.fetched, report.new, report.duplicates) == (5, 0, 5)
    assert Delivery.objects.filter(source=source).count() == 5
    assert RawMessage.objects.filter(agency=agency).count() == 5
    assert Message.objects.filter(agency=agency).count() == 5


def test_a_new_uidvalidity_reads_again_from_uid_1_as_duplicates(
    dovecot: Any, agency: Agency
) -> None:
    user = dovecot.new_user()
    archive = [mail(number) for number in range(10)]
    dovecot.append(user, archive, folder="Archives")
    source = imap_source(agency, dovecot, user, imap_folders=["Archives"])
    first = imap_sync_folder(source, "Archives")
    assert first.new == 10

    # The server renumbers the folder: here, it is deleted and created again.
    with dovecot.client(user) as client:
        client.delete_folder("Archives")
    dovecot.append(user, [*archive, mail(10)], folder="Archives")

    report = imap_sync_folder(source, "Archives")

    assert report.uidvalidity_changed and report.uidvalidity != first.uidvalidity
    assert (report.fetched, report.new, report.duplicates) == (11, 1, 10)
    assert RawMessage.objects.filter(agency=agency).count() == 11
    assert Message.objects.filter(agency=agency).count() == 11
    # Every arrival is kept: ten from the old numbering, eleven from the new.
    assert Delivery.objects.filter(source=source).count() == 21
    state = ImapFolderState.objects.get(source=source, folder="Archives")
    assert (state.uidvalidity, state.last_uid) == (report.uidvalidity, 11)


def test_the_sent_folder_is_recorded_as_outbound(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(1)])
    # Written from a domain Lanterne does not know as the agency's: only the
    # folder tells it was sent.
    sent = mail(
        2,
        sender="Claire Martin <claire.martin@syndic-lumiere.fr>",
        to="Plomberie Durand <contact@plomberie-durand.fr>",
        subject="Re: Devis n°1",
        body="Bonjour,\n\nNous acceptons votre devis. Merci de proposer une date.\n",
    )
    dovecot.append(user, [sent], folder="Sent")
    source = imap_source(agency, dovecot, user, imap_sent_folder="Sent")

    report = imap_source_sync(source)

    assert report.ok and [folder.folder for folder in report.folders] == ["INBOX", "Sent"]
    outbound = Message.objects.get(subject="Re: Devis n°1")
    assert outbound.direction == Direction.OUTBOUND
    assert outbound.raw.deliveries.get().is_sent_folder
    inbound = Message.objects.exclude(pk=outbound.pk).get()
    assert inbound.direction == Direction.INBOUND


def test_a_broken_message_is_quarantined_and_the_others_go_on(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(1), BROKEN_MESSAGE, mail(3)])
    source = imap_source(agency, dovecot, user)

    report = imap_source_sync(source)

    assert report.ok
    assert (report.folders[0].new, report.folders[0].quarantined) == (2, 1)
    quarantined = RawMessage.objects.get(state=RawState.QUARANTINED)
    assert quarantined.error and quarantined.storage_name
    assert Message.objects.filter(agency=agency).count() == 2
    assert delivered_uids(source) == [1, 2, 3]
    assert ImapFolderState.objects.get(source=source).last_uid == 3


def test_an_oversized_message_is_refused_without_being_downloaded(
    dovecot: Any,
    agency: Agency,
    fetches: list[tuple[list[int], list[str]]],
    settings: Any,
) -> None:
    settings.MAIL_MAX_BYTES = 20_000
    user = dovecot.new_user()
    big = mail(2, subject="Plans du sous-sol (PDF)", body="plan " * 10_000)
    dovecot.append(user, [mail(1), big, mail(3)])
    source = imap_source(agency, dovecot, user)

    report = imap_source_sync(source).folders[0]

    assert (report.fetched, report.new, report.refused) == (3, 2, 1)
    assert not any(2 in uids and "BODY.PEEK[]" in items for uids, items in fetches)
    refused = RawMessage.objects.get(state=RawState.REFUSED)
    assert refused.storage_name == ""
    assert refused.size == len(big)
    assert "Plans du sous-sol (PDF)" in refused.error
    assert "refusé sans être téléchargé" in refused.error
    assert delivered_uids(source) == [1, 2, 3]
    assert seen_uids(dovecot, user) == []

    # Read again (state lost): the same refusal, not a second one.
    ImapFolderState.objects.filter(source=source).update(last_uid=0)
    assert imap_source_sync(source).folders[0].duplicates == 3
    assert RawMessage.objects.filter(state=RawState.REFUSED).count() == 1


def test_a_missing_folder_is_reported_and_the_others_are_read(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(1)])
    source = imap_source(agency, dovecot, user, imap_sent_folder="Éléments envoyés")

    report = imap_source_sync(source)

    assert not report.ok and not report.failed
    assert report.folders[0].new == 1
    source.refresh_from_db()
    assert source.last_error == "Le dossier « Éléments envoyés » n'existe pas sur le serveur."


def test_a_wrong_password_is_recorded_in_french(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    source = imap_source(agency, dovecot, user, imap_password="pas-le-bon")

    report = imap_source_sync(source)

    assert report.failed
    source.refresh_from_db()
    assert source.last_checked_at is not None
    assert source.last_error == (f"Le serveur a refusé l'identifiant ou le mot de passe ({user}).")


# --- Watch ------------------------------------------------------------------------


def kick(dovecot: Any, user: str) -> None:
    """The server drops the user's connections, as on a restart."""
    subprocess.run(
        ["doveadm", "-c", str(dovecot.root / "dovecot.conf"), "kick", user],
        check=True,
        capture_output=True,
    )


def test_idle_brings_new_mail_at_once_and_survives_a_dropped_connection(
    dovecot: Any, agency: Agency, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(1)])
    source = imap_source(agency, dovecot, user)
    idling: queue.Queue[float] = queue.Queue()
    original_idle = IMAPClient.idle

    def idle(self: IMAPClient) -> Any:
        result = original_idle(self)
        idling.put(time.monotonic())
        return result

    monkeypatch.setattr(IMAPClient, "idle", idle)
    stop = threading.Event()
    problems: list[BaseException] = []

    def meanwhile() -> None:
        # The watcher polls only every minute: within seconds means IDLE woke it.
        try:
            idling.get(timeout=30)
            dovecot.append(user, [mail(2)])
            idling.get(timeout=10)
            kick(dovecot, user)
            idling.get(timeout=10)
            dovecot.append(user, [mail(3)])
            idling.get(timeout=10)
        except BaseException as error:  # noqa: BLE001 — reported by the test
            problems.append(error)
        finally:
            stop.set()

    helper = threading.Thread(target=meanwhile)
    helper.start()
    started = time.monotonic()
    # The watcher runs here (database access stays on the test's thread).
    imap_watch(source, stop=stop, poll_interval=60, backoff_initial=0.1)
    helper.join(timeout=5)

    assert problems == []
    assert time.monotonic() - started < 45
    assert delivered_uids(source) == [1, 2, 3]
    assert Message.objects.filter(agency=agency).count() == 3
    source.refresh_from_db()
    assert source.last_error == ""


class RecordingStop(threading.Event):
    """A stop event that records every pause of the watcher instead of
    sleeping, and lets the test act at each pause."""

    def __init__(self, on_wait: Any) -> None:
        super().__init__()
        self.waits: list[float | None] = []
        self.on_wait = on_wait

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self.on_wait(self)
        return self.is_set()


def test_polling_without_idle_and_backoff_until_the_password_is_fixed(
    dovecot: Any, agency: Agency, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient,
        "has_capability",
        lambda self, capability: capability != "IDLE" and original(self, capability),
    )
    user = dovecot.new_user()
    dovecot.append(user, [mail(1)])
    source = imap_source(agency, dovecot, user, imap_password="ancien-mot-de-passe")
    errors_seen: list[str] = []

    def on_wait(stop: RecordingStop) -> None:
        errors_seen.append(MailSource.objects.get(pk=source.pk).last_error)
        if len(stop.waits) == 3:
            # Staff fix the password: the watcher reads it before reconnecting.
            MailSource.objects.filter(pk=source.pk).update(imap_password=dovecot.password)
        elif len(stop.waits) == 4:
            dovecot.append(user, [mail(2)])
        elif len(stop.waits) == 5:
            stop.set()

    stop = RecordingStop(on_wait)
    imap_watch(source, stop=stop, poll_interval=30, backoff_initial=1, backoff_max=3)

    # Three failed logins, pausing 1, 2, then 3 s (the ceiling); then polling.
    assert stop.waits == [1, 2, 3, 30, 30]
    assert all("mot de passe" in error for error in errors_seen[:3])
    assert errors_seen[3:] == ["", ""]
    assert delivered_uids(source) == [1, 2]


def test_a_deactivated_source_is_no_longer_watched(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    source = imap_source(agency, dovecot, user, is_active=False)
    stop = threading.Event()
    imap_watch(source, stop=stop, poll_interval=30)  # returns at once
    assert not stop.is_set()


# --- fetch-mail ---------------------------------------------------------------------


def test_fetch_mail_once(dovecot: Any, agency: Agency) -> None:
    user = dovecot.new_user()
    dovecot.append(user, [mail(1), mail(2)])
    dovecot.append(user, [mail(3, sender="gestion@cabinet-lumiere.fr")], folder="Sent")
    imap_source(agency, dovecot, user, name="Boîte gestion", imap_sent_folder="Sent")
    neighbour = AgencyFactory(name="Cabinet Voisin")
    broken = imap_source(neighbour, dovecot, dovecot.new_user(), imap_password="faux")

    out = io.StringIO()
    call_command("fetch-mail", "--once", "--agency", "Cabinet Lumière", stdout=out)
    assert "Boîte gestion / INBOX: 2 fetched, 2 new" in out.getvalue()
    assert "Boîte gestion / Sent: 1 fetched, 1 new" in out.getvalue()
    broken.refresh_from_db()
    assert broken.last_checked_at is None  # another agency: not read

    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2 IMAP sources had errors"):
        call_command("fetch-mail", "--once", stdout=out, stderr=io.StringIO())
    assert "Boîte gestion / INBOX: 0 fetched" in out.getvalue()
    broken.refresh_from_db()
    assert "mot de passe" in broken.last_error

    with pytest.raises(CommandError, match="No active IMAP source named"):
        call_command("fetch-mail", "--once", "--source", "Inconnue")


def test_fetch_mail_watches_until_interrupted(dovecot: Any, tmp_path: Path) -> None:
    """The real command in its own process, on its own database: it reads the
    mailbox, takes new mail as it comes, and stops cleanly on Ctrl-C."""
    user = dovecot.new_user()
    dovecot.append(user, [mail(1)])
    env = {
        **os.environ,
        "LANTERNE_MODE": "test",
        "LANTERNE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "lanterne.settings",
    }
    env.pop("DATABASE_URL", None)
    lanterne = [sys.executable, "-m", "lanterne.cli"]
    subprocess.run([*lanterne, "migrate", "-v0"], env=env, check=True)
    setup = textwrap.dedent(
        f"""
        from lanterne.condominiums.models import Agency
        from lanterne.mail.models import MailSource
        agency = Agency.objects.create(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")
        MailSource.objects.create(
            agency=agency, kind="imap", name="Boîte gestion", imap_host="{dovecot.host}",
            imap_port={dovecot.port}, imap_ssl=False, imap_username="{user}",
            imap_password="{dovecot.password}",
        )
        """
    )
    subprocess.run([*lanterne, "shell", "-c", setup], env=env, check=True)

    def deliveries() -> int:
        with sqlite3.connect(tmp_path / "lanterne.sqlite3") as database:
            return int(database.execute("SELECT COUNT(*) FROM mail_delivery").fetchone()[0])

    def wait_for(count: int) -> bool:
        # Generous: a loaded CI machine starts Django and its apps slowly.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if deliveries() >= count:
                return True
            time.sleep(0.2)
        return False

    process = subprocess.Popen(
        [*lanterne, "fetch-mail"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(1)
        dovecot.append(user, [mail(2)])
        assert wait_for(2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Watching Cabinet Lumière / Boîte gestion" in out
    assert out.rstrip().endswith("Stopped.")
    assert deliveries() == 2


# --- Staff pages ------------------------------------------------------------------


@pytest.fixture
def world_source(world: Any, dovecot: Any) -> MailSource:
    user = dovecot.new_user()
    dovecot.append(user, [mail(1)])
    dovecot.append(user, [], folder="Sent")
    return imap_source(world.agency, dovecot, user, name="Boîte gestion")


def test_sources_are_for_the_agency_staff_only(
    world: Any, world_source: MailSource, client_for: Any
) -> None:
    edit = reverse("mail:source_edit", args=[world_source.pk])
    check = reverse("mail:source_test", args=[world_source.pk])
    assert client_for("anonymous").get(reverse("mail:sources")).status_code == 302
    for role in ("owner_party", "council_chair"):
        assert client_for(role).get(reverse("mail:sources")).status_code == 403
        assert client_for(role).get(reverse("mail:source_create")).status_code == 403
        assert client_for(role).get(edit).status_code == 404
    other = client_for("staff_other_agency")
    assert "Boîte gestion" not in other.get(reverse("mail:sources")).content.decode()
    assert other.get(edit).status_code == 404
    assert other.post(check).status_code == 404
    page = client_for("staff").get(reverse("mail:sources"))
    assert page.status_code == 200 and "Boîte gestion" in page.content.decode()
    assert reverse("mail:sources") in client_for("staff").get(reverse("home")).content.decode()


def test_create_then_edit_a_source_never_shows_the_password(
    world: Any, dovecot: Any, client_for: Any
) -> None:
    staff = client_for("staff")
    fields = {
        "name": "Boîte gestion",
        "host": "imap.cabinet-lumiere.fr",
        "port": "993",
        "use_tls": "on",
        "username": "gestion@cabinet-lumiere.fr",
        "password": "Secret-stocké-42",
        "folders": "INBOX\nDevis\n",
        "sent_folder": "Éléments envoyés",
        "is_active": "on",
    }
    response = staff.post(reverse("mail:source_create"), fields)
    source = MailSource.objects.get(agency=world.agency, name="Boîte gestion")
    assert response.status_code == 302
    assert response["Location"] == reverse("mail:source_edit", args=[source.pk])
    assert source.imap_password == "Secret-stocké-42"
    assert source.imap_folders == ["INBOX", "Devis"]
    assert (source.kind, source.imap_ssl, source.imap_sent_folder) == (
        SourceKind.IMAP,
        True,
        "Éléments envoyés",
    )

    page = staff.get(reverse("mail:source_edit", args=[source.pk])).content.decode()
    assert "Secret-stocké-42" not in page
    assert "Tester la connexion" in page

    # An empty password keeps the stored one; another server forgets the UIDs read.
    ImapFolderState.objects.create(source=source, folder="INBOX", uidvalidity=1, last_uid=40)
    staff.post(
        reverse("mail:source_edit", args=[source.pk]),
        {**fields, "password": "", "host": "imap.autre-hebergeur.fr"},
    )
    source.refresh_from_db()
    assert source.imap_password == "Secret-stocké-42"
    assert source.imap_host == "imap.autre-hebergeur.fr"
    assert not ImapFolderState.objects.filter(source=source).exists()

    # A new source needs a password; names are unique in the agency.
    response = staff.post(reverse("mail:source_create"), {**fields, "password": ""})
    body = response.content.decode()
    assert "Une autre source du cabinet porte déjà ce nom." in body
    assert "Ce champ est obligatoire." in body
    assert MailSource.objects.filter(agency=world.agency).count() == 1


def test_connection_test_lists_the_folders(
    world: Any, world_source: MailSource, client_for: Any
) -> None:
    world_source.imap_folders = ["INBOX", "Devis"]
    world_source.save()
    url = reverse("mail:source_test", args=[world_source.pk])
    staff = client_for("staff")
    assert staff.get(url).status_code == 405

    body = staff.post(url).content.decode()

    assert "Connexion réussie" in body
    assert "<code>Sent</code>" in body and "<code>INBOX</code>" in body
    assert "Le dossier « Devis » n'existe pas sur le serveur" in body
    partial = staff.post(url, headers={"HX-Request": "true"}).content.decode()
    assert "Connexion réussie" in partial and "<html" not in partial
    assert Delivery.objects.count() == 0  # a test reads nothing


def test_a_wrong_password_shows_a_clear_french_error(
    world: Any, world_source: MailSource, client_for: Any
) -> None:
    MailSource.objects.filter(pk=world_source.pk).update(imap_password="faux")
    world_source.refresh_from_db()
    imap_source_sync(world_source)
    staff = client_for("staff")

    body = staff.post(reverse("mail:source_test", args=[world_source.pk])).content.decode()

    expected = "Le serveur a refusé l&#x27;identifiant ou le mot de passe"
    assert "La connexion a échoué." in body and expected in body
    assert expected in staff.get(reverse("mail:sources")).content.decode()
    edit = reverse("mail:source_edit", args=[world_source.pk])
    assert expected in staff.get(edit).content.decode()


def test_an_unreachable_server_is_explained(
    world: Any, world_source: MailSource, client_for: Any
) -> None:
    MailSource.objects.filter(pk=world_source.pk).update(imap_host="imap.invalid")
    body = (
        client_for("staff")
        .post(reverse("mail:source_test", args=[world_source.pk]))
        .content.decode()
    )
    assert "Serveur « imap.invalid » introuvable : vérifiez son nom." in body


# --- The server's address ------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "169.254.169.254", "::1", "0.0.0.0"],  # noqa: S104
)
def test_private_and_reserved_servers_are_refused_in_production(host: str) -> None:
    with override_settings(IMAP_ALLOW_PRIVATE_HOSTS=False), pytest.raises(ImapHostRefused):
        imap_host_check(host, 993)


def test_a_server_on_the_internet_is_accepted() -> None:
    with override_settings(IMAP_ALLOW_PRIVATE_HOSTS=False):
        imap_host_check("93.184.215.14", 993)  # an address literal: no DNS needed


def test_the_connection_test_does_not_reach_a_private_server(
    world: Any, world_source: MailSource, client_for: Any
) -> None:
    """The real Dovecot listens on 127.0.0.1: with private servers refused,
    the connection test says why and never logs in."""
    url = reverse("mail:source_test", args=[world_source.pk])
    with override_settings(IMAP_ALLOW_PRIVATE_HOSTS=False):
        body = client_for("staff").post(url).content.decode()
        imap_source_sync(world_source)
    assert "La connexion a échoué." in body
    assert "a une adresse privée ou réservée (127.0.0.1)" in body
    world_source.refresh_from_db()
    assert "adresse privée ou réservée" in world_source.last_error
    assert Delivery.objects.filter(source=world_source).count() == 0
