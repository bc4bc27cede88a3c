"""IMAP mailboxes as a mail source: configure, check, sync, watch.

Reading is strictly read-only on the server: folders are opened with EXAMINE
and bodies fetched with `BODY.PEEK[]`, so Lanterne never sets `\\Seen`, never
moves and never deletes anything (RFC 3501 §6.3.2, §6.4.5). Where a folder has
been read up to is kept in `ImapFolderState` (UIDVALIDITY and last UID), so a
restart resumes where the last run stopped, and a new UIDVALIDITY (the server
renumbered the folder, RFC 3501 §2.3.1.1) starts again from UID 1 — the
content-addressed raw store turns the re-fetched messages into duplicates.

For each message: `mail_receive` stores the bytes durably and records the
delivery; once it returned, the folder state advances in the same
transaction, so a message is either stored *and* counted as read, or neither
(a crash before the commit leaves at most an unreferenced blob, and the
message is fetched again; were a UID ever fetched twice, the delivery's unique
IMAP UID makes that a no-op). Only after that commit does the parse stage
(`raw_message_ingest`) run — or, with a task queue, is it enqueued for
`lanterne worker` (`lanterne.mail.tasks`).

The source's settings are edited by staff (`imap_source_save`); `imap_watch`
runs in `lanterne fetch-mail`, one thread per source."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from lanterne.condominiums.models import Agency
from lanterne.dossiers.policy import Viewer

from ..choices import RawState, SourceKind
from ..models import Delivery, ImapFolderState, MailSource, RawMessage
from ..services import mail_receive, raw_message_ingest
from ..tasks import raw_messages_ingest_enqueue, raw_messages_queued

logger = logging.getLogger(__name__)

DEFAULT_FOLDER = "INBOX"
# Messages per round of FETCH commands: one FETCH of sizes, then the bodies.
DEFAULT_BATCH_SIZE = 100
# At most this many bytes of bodies per FETCH command, so that a batch of large
# messages is never held in memory all at once.
FETCH_BYTES_BUDGET = 32 * 1024 * 1024
# Of an oversized message only the header is read, and at most this much of it.
OVERSIZED_HEADER_BYTES = 64 * 1024
CONNECT_TIMEOUT = 30.0
# How long the watcher waits between two syncs: the polling interval, and the
# longest IDLE before a fresh sync of every folder (RFC 2177 asks to re-issue
# IDLE at least every 29 minutes; NAT routers forget idle connections sooner).
DEFAULT_POLL_INTERVAL = 60.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 300.0


@dataclass
class SyncReport:
    """What one sync of one folder did."""

    folder: str
    uidvalidity: int = 0
    # The folder was renumbered since the last sync: read again from UID 1.
    uidvalidity_changed: bool = False
    # Messages read from the server in this run (of oversized ones, the header).
    fetched: int = 0
    new: int = 0  # bytes never stored before
    duplicates: int = 0  # bytes already in the raw store (re-fetch, same mail in two folders)
    refused: int = 0  # over LANTERNE_MAIL_MAX_BYTES
    quarantined: int = 0  # stored, but a pipeline stage failed on them
    last_uid: int = 0

    def __str__(self) -> str:
        renumbered = " (UIDVALIDITY changed: read again from UID 1)" * self.uidvalidity_changed
        return (
            f"{self.folder}: {self.fetched} fetched, {self.new} new, "
            f"{self.duplicates} duplicates, {self.refused} refused, "
            f"{self.quarantined} quarantined{renumbered}"
        )


@dataclass
class SourceSyncReport:
    """What one sync of every folder of a source did. `errors` holds French
    texts, the ones recorded in `source.last_error`."""

    source: MailSource
    folders: list[SyncReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # A connection or storage error stopped the sync.
    failed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class FolderInfo:
    """One folder of the mailbox, as listed by the server."""

    name: str
    is_sent: bool  # flagged \Sent by the server (RFC 6154)


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of "Tester la connexion": the folders, or a French error."""

    error: str = ""
    folders: tuple[FolderInfo, ...] = ()
    # Configured folders the server does not have.
    missing_folders: tuple[str, ...] = ()
    has_idle: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


# --- Configuration (staff) -------------------------------------------------------


def imap_sources_for(viewer: Viewer) -> QuerySet[MailSource]:
    """The IMAP sources of the agencies `viewer` is staff of, with their
    number of deliveries."""
    return (
        MailSource.objects.filter(agency_id__in=viewer.staff_agency_ids, kind=SourceKind.IMAP)
        .select_related("agency")
        .annotate(delivery_count=Count("deliveries"))
        .order_by("agency__name", "name")
    )


def imap_sources_to_fetch(
    *, agency: Agency | None = None, name: str | None = None
) -> QuerySet[MailSource]:
    """The active IMAP sources `lanterne fetch-mail` reads."""
    sources = MailSource.objects.filter(kind=SourceKind.IMAP, is_active=True).select_related(
        "agency"
    )
    if agency is not None:
        sources = sources.filter(agency=agency)
    if name:
        sources = sources.filter(name=name)
    return sources.order_by("agency__name", "name")


# Changing one of these points the source at another mailbox (or the same one
# by another road): the UIDs read so far may mean nothing there.
_MAILBOX_FIELDS = ("imap_host", "imap_port", "imap_username")


@transaction.atomic
def imap_source_save(
    *,
    viewer: Viewer,
    agency: Agency,
    source: MailSource | None = None,
    name: str,
    host: str,
    port: int,
    use_tls: bool,
    username: str,
    password: str | None,
    folders: Sequence[str],
    sent_folder: str,
    is_active: bool,
) -> MailSource:
    """Create or update an IMAP source of `agency`. A `password` of None keeps
    the stored one. Pointing the source at another mailbox forgets how far its
    folders were read: they are read again from UID 1, and the raw store keeps
    already-stored messages from doubling."""
    if not viewer.is_staff_of(agency.pk) or (source is not None and source.agency_id != agency.pk):
        raise PermissionDenied
    if source is None:
        source = MailSource(agency=agency, kind=SourceKind.IMAP)
        if password is None:
            raise ValueError("A new IMAP source needs a password.")
    elif source.kind != SourceKind.IMAP:
        raise ValueError("Only IMAP sources are edited here.")
    previous = tuple(getattr(source, attribute) for attribute in _MAILBOX_FIELDS)
    source.name = name
    source.imap_host = host
    source.imap_port = port
    source.imap_ssl = use_tls
    source.imap_username = username
    if password is not None:
        source.imap_password = password
    source.imap_folders = list(folders)
    source.imap_sent_folder = sent_folder
    source.is_active = is_active
    source.save()
    if tuple(getattr(source, attribute) for attribute in _MAILBOX_FIELDS) != previous:
        ImapFolderState.objects.filter(source=source).delete()
    return source


def imap_source_folders(source: MailSource) -> list[tuple[str, bool]]:
    """The folders to read, each with whether it is the Sent folder: the
    configured ones (INBOX by default), then the Sent folder."""
    sent = source.imap_sent_folder.strip()
    inbound = [
        folder.strip()
        for folder in (source.imap_folders or [DEFAULT_FOLDER])
        if isinstance(folder, str) and folder.strip() and folder.strip() != sent
    ]
    folders = [(folder, False) for folder in dict.fromkeys(inbound)]
    if sent:
        folders.append((sent, True))
    return folders


# --- Connection --------------------------------------------------------------------


class ImapHostRefused(ConnectionError):
    """The mailbox's server is an address of the machine or of a private
    network, which production refuses (`IMAP_ALLOW_PRIVATE_HOSTS`)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, a private or reserved address")
        self.host = host
        self.address = address


def imap_host_check(host: str, port: int) -> None:
    """Refuse a server that resolves to a loopback, private, link-local or
    otherwise reserved address, unless `IMAP_ALLOW_PRIVATE_HOSTS`: staff type
    the server's name, and the connection test and the fetcher must not
    become a way to reach the services of Lanterne's own network (its
    database, its cache, a cloud metadata endpoint). Raises
    `ImapHostRefused`, or `socket.gaierror` when the name does not resolve.

    The name is resolved again when the client connects; a name whose DNS
    answer changes in between is the remaining gap (the certificate check
    of a TLS connection still binds the connection to the name)."""
    if settings.IMAP_ALLOW_PRIVATE_HOSTS:
        return
    for *_rest, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise ImapHostRefused(host, str(address))


def imap_connect(source: MailSource, *, timeout: float = CONNECT_TIMEOUT) -> IMAPClient:
    """A logged-in connection to the source's mailbox. With TLS off, STARTTLS
    is still used when the server offers it; the certificate is verified.
    The server must be on the internet (`imap_host_check`)."""
    imap_host_check(source.imap_host, source.imap_port)
    client = IMAPClient(
        source.imap_host,
        port=source.imap_port,
        ssl=source.imap_ssl,
        ssl_context=ssl.create_default_context() if source.imap_ssl else None,
        timeout=timeout,
    )
    try:
        if not source.imap_ssl and client.has_capability("STARTTLS"):
            client.starttls(ssl.create_default_context())
        _login(client, source.imap_username, source.imap_password)
    except BaseException:
        _disconnect(client)
        raise
    return client


def _login(client: IMAPClient, username: str, password: str) -> None:
    """LOGIN takes ASCII only (RFC 3501 §9, quoted strings); a password with
    accents goes through AUTHENTICATE PLAIN, which is UTF-8 (RFC 4616)."""
    if not (username.isascii() and password.isascii()) and client.has_capability("AUTH=PLAIN"):
        client.plain_login(username, password)
    else:
        client.login(username, password)


def _disconnect(client: IMAPClient) -> None:
    """Log out, or at least close the socket: the connection may be dead already."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 — closing a broken connection
        with contextlib.suppress(Exception):
            client.shutdown()


def imap_error_text(error: BaseException, source: MailSource) -> str:
    """What went wrong, in words staff can act on (shown in `last_error` and
    on the connection test)."""
    server = f"{source.imap_host}:{source.imap_port}"
    if isinstance(error, ImapHostRefused):
        return _(
            "Le serveur « %(host)s » a une adresse privée ou réservée (%(address)s) : Lanterne "
            "ne se connecte qu'à des serveurs de messagerie joignables sur Internet."
        ) % {"host": error.host, "address": error.address}
    if isinstance(error, LoginError):
        return _("Le serveur a refusé l'identifiant ou le mot de passe (%(username)s).") % {
            "username": source.imap_username
        }
    if isinstance(error, UnicodeEncodeError):
        return _(
            "Le serveur n'accepte pas les caractères accentués dans l'identifiant ou le "
            "mot de passe."
        )
    if isinstance(error, socket.gaierror):
        return _("Serveur « %(host)s » introuvable : vérifiez son nom.") % {
            "host": source.imap_host
        }
    if isinstance(error, ConnectionRefusedError):
        return _("Le serveur %(server)s refuse la connexion : vérifiez le port.") % {
            "server": server
        }
    if isinstance(error, TimeoutError):
        return _("Le serveur %(server)s ne répond pas (délai dépassé).") % {"server": server}
    if isinstance(error, ssl.SSLCertVerificationError):
        return _("Le certificat TLS du serveur n'est pas valide : %(reason)s.") % {
            "reason": error.verify_message
        }
    if isinstance(error, ssl.SSLError):
        return _(
            "La connexion chiffrée (TLS) avec %(server)s a échoué : vérifiez le port et "
            "l'option TLS (993 avec TLS, 143 sans)."
        ) % {"server": server}
    if isinstance(error, IMAPClientAbortError | ConnectionError | EOFError):
        return _("La connexion avec %(server)s a été coupée : %(error)s") % {
            "server": server,
            "error": _error_detail(error),
        }
    if isinstance(error, IMAPClientError):
        return _("Le serveur IMAP a répondu par une erreur : %(error)s") % {
            "error": _error_detail(error)
        }
    if isinstance(error, OSError):
        return _("Connexion impossible avec %(server)s : %(error)s") % {
            "server": server,
            "error": error.strerror or _error_detail(error),
        }
    return _("Erreur inattendue : %(error)s") % {
        "error": f"{type(error).__name__}: {_error_detail(error)}"
    }


def _error_detail(error: BaseException) -> str:
    detail = error.args[0] if len(error.args) == 1 else str(error)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail) or type(error).__name__


def _folder_error_text(folder: str, error: BaseException) -> str:
    detail = _error_detail(error)
    # Servers word it differently; RFC 5530 gives the NONEXISTENT code.
    if any(sign in detail.lower() for sign in ("exist", "not found")):
        return _("Le dossier « %(folder)s » n'existe pas sur le serveur.") % {"folder": folder}
    return _("Dossier « %(folder)s » : %(error)s") % {"folder": folder, "error": detail}


def imap_connection_check(source: MailSource, *, timeout: float = 15.0) -> ConnectionCheck:
    """Log in and list the folders, without reading or recording anything."""
    try:
        client = imap_connect(source, timeout=timeout)
    except Exception as error:  # noqa: BLE001 — every failure becomes a message for staff
        return ConnectionCheck(error=imap_error_text(error, source))
    try:
        listed = client.list_folders()
        has_idle = client.has_capability("IDLE")
    except Exception as error:  # noqa: BLE001
        return ConnectionCheck(error=imap_error_text(error, source))
    finally:
        _disconnect(client)
    folders = tuple(
        sorted(
            (FolderInfo(name=str(name), is_sent=b"\\Sent" in flags) for flags, _d, name in listed),
            key=lambda folder: (folder.name.upper() != DEFAULT_FOLDER, folder.name.lower()),
        )
    )
    names = {folder.name for folder in folders}
    # Every mailbox has an INBOX, whatever its case (RFC 3501 §5.1).
    missing = tuple(
        folder
        for folder, _is_sent in imap_source_folders(source)
        if folder not in names and folder.upper() != DEFAULT_FOLDER
    )
    return ConnectionCheck(folders=folders, missing_folders=missing, has_idle=has_idle)


# --- Sync --------------------------------------------------------------------------


def imap_sync_folder(
    source: MailSource,
    folder: str,
    *,
    is_sent_folder: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    client: IMAPClient | None = None,
    stop: threading.Event | None = None,
) -> SyncReport:
    """Read every message of `folder` not read yet, oldest UID first, and send
    each down the pipeline. Connects (and logs out) unless given a `client`;
    returns early, between two batches, once `stop` is set.

    Raises the IMAP or network error that stopped it; what was read before the
    error stays read, and the next sync resumes after it."""
    if client is None:
        own_client = imap_connect(source)
        try:
            return imap_sync_folder(
                source,
                folder,
                is_sent_folder=is_sent_folder,
                batch_size=batch_size,
                client=own_client,
                stop=stop,
            )
        finally:
            _disconnect(own_client)

    selected = client.select_folder(folder, readonly=True)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    uidnext = selected.get(b"UIDNEXT")
    state, renumbered = _folder_state(source, folder, uidvalidity)
    report = SyncReport(
        folder=folder,
        uidvalidity=uidvalidity,
        uidvalidity_changed=renumbered,
        last_uid=state.last_uid,
    )
    # "n:*" always matches the highest UID, even below n (RFC 3501 §6.4.8):
    # keep only the UIDs really above the last one read.
    found = client.search(["UID", f"{state.last_uid + 1}:*"])
    uids = sorted(uid for uid in found if uid > state.last_uid)
    for start in range(0, len(uids), batch_size):
        if stop is not None and stop.is_set():
            return report  # the next sync resumes after the last UID read
        batch = uids[start : start + batch_size]
        _sync_batch(client, source, state, batch, is_sent_folder, report)
    if uidnext and int(uidnext) - 1 > report.last_uid:
        # UIDs below UIDNEXT that the search did not return were expunged
        # before we saw them: nothing left to read below UIDNEXT.
        _advance(state, int(uidnext) - 1)
        report.last_uid = int(uidnext) - 1
    return report


def _folder_state(
    source: MailSource, folder: str, uidvalidity: int
) -> tuple[ImapFolderState, bool]:
    """The folder's state, reset to UID 0 when the server renumbered it."""
    with transaction.atomic():
        state, created = ImapFolderState.objects.select_for_update().get_or_create(
            source=source, folder=folder, defaults={"uidvalidity": uidvalidity}
        )
        renumbered = not created and state.uidvalidity != uidvalidity
        if renumbered:
            logger.warning(
                "%s %s: UIDVALIDITY changed from %s to %s, reading again from UID 1",
                source,
                folder,
                state.uidvalidity,
                uidvalidity,
            )
            state.uidvalidity = uidvalidity
            state.last_uid = 0
            state.save(update_fields=["uidvalidity", "last_uid", "updated_at"])
    return state, renumbered


def _advance(state: ImapFolderState, uid: int) -> None:
    """Record that the folder is read up to `uid` — never backwards, and never
    under another UIDVALIDITY than the one read (two syncs may run at once)."""
    ImapFolderState.objects.filter(
        pk=state.pk, uidvalidity=state.uidvalidity, last_uid__lt=uid
    ).update(last_uid=uid, updated_at=timezone.now())
    state.last_uid = max(state.last_uid, uid)


def _sync_batch(
    client: IMAPClient,
    source: MailSource,
    state: ImapFolderState,
    uids: list[int],
    is_sent_folder: bool,
    report: SyncReport,
) -> None:
    """Sizes first, then the bodies of the messages under the size limit, a
    few megabytes per FETCH; every message is received in UID order."""
    sizes = {
        uid: int(data[b"RFC822.SIZE"])
        for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()
        if b"RFC822.SIZE" in data
    }
    # A UID without a size was expunged since the search: nothing to read.
    present = [uid for uid in uids if uid in sizes]
    for chunk in _fetch_chunks(present, sizes):
        first = chunk[0]
        if sizes[first] > settings.MAIL_MAX_BYTES:
            _receive_oversized(client, source, state, first, sizes[first], is_sent_folder, report)
            continue
        bodies = client.fetch(chunk, ["BODY.PEEK[]"])
        for uid in chunk:
            data = bodies.get(uid, {}).get(b"BODY[]")
            if data is None:
                logger.info("%s %s: UID %s expunged before its fetch", source, state.folder, uid)
                continue
            _receive(source, state, uid, bytes(data), is_sent_folder, report)
    if uids:
        _advance(state, uids[-1])
        report.last_uid = state.last_uid


def _fetch_chunks(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Consecutive runs of UIDs whose bodies together stay under the FETCH
    budget; an oversized message is a run of its own."""
    chunk: list[int] = []
    total = 0
    for uid in uids:
        size = sizes[uid]
        if size > settings.MAIL_MAX_BYTES:
            if chunk:
                yield chunk
            yield [uid]
            chunk, total = [], 0
            continue
        if chunk and total + size > FETCH_BYTES_BUDGET:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk


def _receive(
    source: MailSource,
    state: ImapFolderState,
    uid: int,
    data: bytes,
    is_sent_folder: bool,
    report: SyncReport,
) -> None:
    """Store durably and mark read (one transaction), then parse."""
    with transaction.atomic():
        result = mail_receive(
            agency=source.agency,
            data=data,
            source=source,
            folder=state.folder,
            uidvalidity=state.uidvalidity,
            uid=uid,
            is_sent_folder=is_sent_folder,
        )
        _advance(state, uid)
    report.fetched += 1
    report.last_uid = state.last_uid
    raw = result.raw
    if raw.state == RawState.STORED and raw_messages_queued():
        raw_messages_ingest_enqueue([raw.pk])  # a worker parses it: counted as new
    elif raw.state == RawState.STORED:
        try:
            raw_message_ingest(raw)
        except Exception:  # noqa: BLE001 — stored already; `reprocess-mail` will retry it
            logger.exception("Processing raw message %s failed", raw.pk)
    _count(report, raw, created=result.created)


def _count(report: SyncReport, raw: RawMessage, *, created: bool) -> None:
    if not created:
        report.duplicates += 1
    elif raw.state == RawState.REFUSED:
        report.refused += 1
    elif raw.state == RawState.QUARANTINED:
        report.quarantined += 1
    else:
        report.new += 1


def _receive_oversized(
    client: IMAPClient,
    source: MailSource,
    state: ImapFolderState,
    uid: int,
    size: int,
    is_sent_folder: bool,
    report: SyncReport,
) -> None:
    """Record a message over the size limit as refused, from its header only.

    Downloading a message only to refuse it is what the limit is there to
    avoid, so its digest cannot be that of its bytes: it is the digest of its
    size and header (prefixed, so it never equals a real message's digest).
    The same message read again (after a UIDVALIDITY change) gives the same
    digest, hence one refused record with two deliveries. The message stays
    untouched on the server."""
    key = b"BODY[HEADER]<0>"
    response = client.fetch([uid], [f"BODY.PEEK[HEADER]<0.{OVERSIZED_HEADER_BYTES}>"])
    if uid not in response:
        return
    header = bytes(response[uid].get(key) or b"")
    digest = hashlib.sha256(b"lanterne:imap-oversized\n%d\n" % size + header).hexdigest()
    with transaction.atomic():
        raw, created = RawMessage.objects.get_or_create(
            agency=source.agency,
            sha256=digest,
            defaults={
                "size": size,
                "storage_name": "",
                "state": RawState.REFUSED,
                "failed_stage": "receive",
                "error": _oversized_error(size, header),
            },
        )
        try:
            with transaction.atomic():
                Delivery.objects.create(
                    raw=raw,
                    source=source,
                    folder=state.folder,
                    uidvalidity=state.uidvalidity,
                    uid=uid,
                    is_sent_folder=is_sent_folder,
                )
        except IntegrityError:
            pass  # this very UID was recorded already
        _advance(state, uid)
    report.fetched += 1
    report.last_uid = state.last_uid
    _count(report, raw, created=created)


def _oversized_error(size: int, header: bytes) -> str:
    """Why the message was refused, with what identifies it for staff."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(header)
        subject = str(headers.get("Subject", ""))[:200]
        sender = str(headers.get("From", ""))[:200]
    except Exception:  # noqa: BLE001 — a broken header must not stop the refusal
        subject = sender = ""
    return _(
        "Message de %(size)d octets (de : %(sender)s ; objet : « %(subject)s »), au-delà de "
        "la limite de %(limit)d octets : refusé sans être téléchargé. Il reste sur le "
        "serveur IMAP."
    ) % {"size": size, "sender": sender, "subject": subject, "limit": settings.MAIL_MAX_BYTES}


def imap_source_sync(
    source: MailSource,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    client: IMAPClient | None = None,
    stop: threading.Event | None = None,
) -> SourceSyncReport:
    """Sync every folder of the source and record the outcome on it
    (`last_checked_at`, and `last_error`, emptied on success). Never raises:
    a folder the server refuses (a missing one, say) is reported and the
    other folders are still read; a connection or storage failure stops the
    sync (`failed`), and what was read before it stays read. Once `stop` is
    set, it returns between two batches."""
    report = SourceSyncReport(source=source)
    own_client = client is None
    try:
        if client is None:
            client = imap_connect(source)
        for folder, is_sent in imap_source_folders(source):
            if stop is not None and stop.is_set():
                break
            try:
                report.folders.append(
                    imap_sync_folder(
                        source,
                        folder,
                        is_sent_folder=is_sent,
                        batch_size=batch_size,
                        client=client,
                        stop=stop,
                    )
                )
            except IMAPClientError as error:
                if isinstance(error, IMAPClientAbortError | LoginError):
                    raise
                # The server said NO or BAD about this folder; the
                # connection itself is fine.
                logger.warning("%s %s: %s", source, folder, error)
                report.errors.append(_folder_error_text(folder, error))
    except Exception as error:  # noqa: BLE001 — recorded for staff, retried by the caller
        _log_failure(source, error)
        report.errors.append(imap_error_text(error, source))
        report.failed = True
    finally:
        if own_client and client is not None:
            _disconnect(client)
    _record_outcome(source, report.errors)
    return report


def _log_failure(source: MailSource, error: BaseException) -> None:
    if isinstance(error, IMAPClientError | OSError):
        logger.warning("%s: %s: %s", source, type(error).__name__, error)
    else:
        logger.exception("%s: sync failed", source)


def _record_outcome(source: MailSource, errors: list[str]) -> None:
    """Note the check on the source. An update, not a save: staff may be
    editing the source meanwhile. Bookkeeping only: should the database be
    the thing that failed, this is logged, not raised."""
    now = timezone.now()
    text = "\n".join(errors)
    source.last_checked_at, source.last_error = now, text
    try:
        MailSource.objects.filter(pk=source.pk).update(last_checked_at=now, last_error=text)
    except DatabaseError:
        logger.exception("%s: could not record the outcome of the check", source)


# --- Watch -------------------------------------------------------------------------


class _Ending(enum.Enum):
    """How one connection of a watcher ended."""

    STOPPED = "stopped"  # `stop` was set
    GONE = "gone"  # the source was deleted or deactivated
    RECONNECT = "reconnect"  # its connection settings changed
    FAILED = "failed"  # an error: pause, then reconnect


def imap_watch(
    source: MailSource,
    *,
    stop: threading.Event | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backoff_initial: float = BACKOFF_INITIAL,
    backoff_max: float = BACKOFF_MAX,
) -> None:
    """Keep the source read until `stop` is set, or the source is deactivated
    or deleted: sync every folder, then wait for new mail — with IDLE on the
    first folder where the server offers it (RFC 2177), by polling otherwise
    — and sync again. Every folder is synced at least every `poll_interval`
    seconds. Errors are recorded on the source and retried after a growing
    pause (`backoff_initial`, doubling up to `backoff_max`). The source's
    settings are read again before each round, so staff's changes apply
    without a restart."""
    stop = stop or threading.Event()
    backoff = 0.0
    while not stop.is_set():
        _close_stale_connections()
        if not _source_reload(source):
            logger.info("%s: no longer an active IMAP source, not watching it", source)
            return
        ending, synced = _watch_connection(source, stop, poll_interval, batch_size)
        if ending is _Ending.GONE:
            logger.info("%s: no longer an active IMAP source, not watching it", source)
            return
        if synced:
            backoff = 0.0
        if ending is _Ending.FAILED:
            backoff = min(max(backoff * 2, backoff_initial), backoff_max)
            stop.wait(backoff)


def _watch_connection(
    source: MailSource, stop: threading.Event, poll_interval: float, batch_size: int
) -> tuple[_Ending, bool]:
    """One connection's life: sync, wait for mail, sync again… Returns how it
    ended and whether at least one sync succeeded."""
    settings_seen = _connection_settings(source)
    try:
        client = imap_connect(source)
    except Exception as error:  # noqa: BLE001
        _log_failure(source, error)
        _record_outcome(source, [imap_error_text(error, source)])
        return _Ending.FAILED, False
    synced = False
    try:
        while not stop.is_set():
            report = imap_source_sync(source, batch_size=batch_size, client=client, stop=stop)
            for folder_report in report.folders:
                if folder_report.fetched:
                    logger.info("%s %s", source, folder_report)
            if report.failed:
                return _Ending.FAILED, synced
            synced = True
            _wait_for_mail(client, source, stop, poll_interval)
            _close_stale_connections()
            if not _source_reload(source):
                return _Ending.GONE, synced
            if _connection_settings(source) != settings_seen:
                return _Ending.RECONNECT, synced
        return _Ending.STOPPED, synced
    except Exception as error:  # noqa: BLE001 — a watcher never dies of an error
        _log_failure(source, error)
        _record_outcome(source, [imap_error_text(error, source)])
        return _Ending.FAILED, synced
    finally:
        _disconnect(client)


def _close_stale_connections() -> None:
    """What Django does between two requests: drop database connections that
    broke or outlived CONN_MAX_AGE, so a watcher running for weeks survives a
    database restart. A connection inside a transaction (the caller's, or a
    test's) is left alone: closing it would break that transaction."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def _source_reload(source: MailSource) -> bool:
    """Read the source's settings again; False when it is gone or inactive."""
    try:
        source.refresh_from_db()
    except MailSource.DoesNotExist:
        return False
    return source.is_active and source.kind == SourceKind.IMAP


def _connection_settings(source: MailSource) -> tuple[Any, ...]:
    return (
        source.imap_host,
        source.imap_port,
        source.imap_ssl,
        source.imap_username,
        source.imap_password,
    )


def _wait_for_mail(
    client: IMAPClient, source: MailSource, stop: threading.Event, timeout: float
) -> None:
    """Return when new mail may have arrived in the first folder (IDLE), when
    `timeout` seconds passed, or when `stop` is set."""
    folders = imap_source_folders(source)
    if not folders or not client.has_capability("IDLE"):
        stop.wait(timeout)
        return
    folder = folders[0][0]
    # Select again: the server then tells, in IDLE, of whatever arrives after
    # this point; what arrived during the sync shows in UIDNEXT.
    selected = client.select_folder(folder, readonly=True)
    state = ImapFolderState.objects.filter(source=source, folder=folder).first()
    uidnext = selected.get(b"UIDNEXT")
    if (
        state is None
        or state.uidvalidity != int(selected[b"UIDVALIDITY"])
        or (uidnext and int(uidnext) - 1 > state.last_uid)
    ):
        return
    deadline = time.monotonic() + timeout
    client.idle()
    try:
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Short waits, so that `stop` is noticed within a second.
            wait = min(1.0, remaining)
            started = time.monotonic()
            responses = client.idle_check(timeout=wait)
            if any(_is_bye(response) for response in responses):
                raise IMAPClientAbortError("the server closed the connection (BYE)")
            if any(_is_new_mail(response) for response in responses):
                return
            if not responses and wait >= 0.5 and time.monotonic() - started < wait / 2:
                # The socket was readable yet gave no line: the server hung up.
                raise IMAPClientAbortError("the connection was closed during IDLE")
    finally:
        client.idle_done()


def _is_new_mail(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _is_bye(response: tuple[Any, ...]) -> bool:
    return bool(response) and response[0] == b"BYE"


def imap_watch_sources(
    *,
    stop: threading.Event,
    agency: Agency | None = None,
    name: str | None = None,
    rescan_interval: float = 60.0,
    on_start: Callable[[MailSource], None] | None = None,
    **watch_options: Any,
) -> None:
    """Watch every active IMAP source (of `agency`, named `name`), one thread
    each, until `stop` is set. Sources added or re-activated later are picked
    up within `rescan_interval` seconds; a deactivated one stops by itself."""
    watchers: dict[int, threading.Thread] = {}
    try:
        while not stop.is_set():
            _close_stale_connections()
            for source in imap_sources_to_fetch(agency=agency, name=name):
                running = watchers.get(source.pk)
                if running is not None and running.is_alive():
                    continue
                thread = threading.Thread(
                    target=_watch_in_thread,
                    args=(source.pk, stop, watch_options),
                    name=f"imap-source-{source.pk}",
                    # Should a thread not stop in time, the process may still
                    # exit: nothing is acknowledged before it is stored.
                    daemon=True,
                )
                watchers[source.pk] = thread
                thread.start()
                if on_start is not None:
                    on_start(source)
            stop.wait(rescan_interval)
    finally:
        stop.set()
        for thread in watchers.values():
            thread.join(timeout=30)


def _watch_in_thread(source_id: int, stop: threading.Event, options: dict[str, Any]) -> None:
    """A watcher thread: takes an id, reads the source itself, and closes its
    own database connections when it ends."""
    try:
        source = MailSource.objects.select_related("agency").get(pk=source_id)
        imap_watch(source, stop=stop, **options)
    except Exception:
        logger.exception("Watching IMAP source %s failed", source_id)
    finally:
        connections.close_all()
