"""The SMTP/LMTP receiver: Lanterne as the final destination of an agency's mail.

An MTA (Postfix, Exim, a provider's relay) hands the agency's mail to this
receiver over SMTP or LMTP (RFC 2033), or the receiver is itself the MX of the
agency's domain. The order of things is the design's first rule:

1. RCPT TO is accepted only for an address some agency receives (its mail
   domain, plus-addressed local parts included, or its shared mailbox); any
   other gets 550 5.1.1: the receiver is a final destination, never a relay
   (RFC 5321 §3.6.2, §7.1).
2. After DATA the exact bytes are stored with `mail_receive` — blob fsync'ed,
   transaction committed — and only then does the receiver answer 250, taking
   responsibility for the message (RFC 5321 §6.1). Any storage failure answers
   451, so the sender keeps the message and retries (RFC 5321 §4.2.5); never 250
   for a message that was not stored.
3. Parsing and filing (`raw_message_ingest`) run afterwards in a worker thread: its
   failures quarantine the message, they never change the reply. With a task
   queue (`LANTERNE_TASKS_BACKEND` database or redis) that thread only
   enqueues their processing (`lanterne.mail.tasks`), for `lanterne worker`.

aiosmtpd runs its protocol on an asyncio loop; every Django ORM call runs in a
worker thread (the ORM is synchronous) and closes that thread's database
connections when it is done."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import AnyStr, ParamSpec, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q

from lanterne.condominiums.models import Agency
from lanterne.mail.choices import RawState, SourceKind
from lanterne.mail.models import MailSource, RawMessage
from lanterne.mail.services import mail_receive, raw_message_ingest
from lanterne.mail.tasks import raw_messages_ingest_enqueue, raw_messages_queued

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# The MailSource every message received here is recorded against, one per agency.
SMTP_SOURCE_NAME = "Réception SMTP"

# Replies, with RFC 3463 enhanced status codes. English, as SMTP replies are
# read by mail administrators, not by the agency's staff.
REPLY_RECIPIENT_OK = "250 2.1.5 Recipient OK"
REPLY_STORED = "250 2.0.0 OK: message stored"
# RFC 5321 §4.2.2: 550 "mailbox unavailable"; 5.1.1 "bad destination mailbox address".
REPLY_UNKNOWN_RECIPIENT = "550 5.1.1 No agency receives mail for this address"
# RFC 5321 §4.2.2: 451 "local error in processing"; the client keeps the
# message in its queue and tries again later (§4.5.4.1).
REPLY_NOT_STORED = "451 4.3.0 Local error in processing, message not stored: try again later"
REPLY_LOOKUP_FAILED = "451 4.3.0 Temporary failure looking up the recipient: try again later"
# A recipient two agencies claim is a configuration error: a temporary reply
# keeps the message queued at the sender while staff fix it, rather than
# filing it into the wrong agency (a data leak) or bouncing it.
REPLY_AMBIGUOUS_RECIPIENT = "451 4.3.0 Recipient claimed by several agencies: try again later"


class AmbiguousRecipientError(Exception):
    """Several agencies claim the same recipient address (a configuration error)."""


def _domain_forms(domain: str) -> set[str]:
    """The domain as written, lower-cased, and in its other IDNA form (A-label
    `xn--…` or U-label), so `cabinet-lumière.fr` matches either spelling."""
    domain = domain.strip().rstrip(".").lower()
    forms = {domain}
    with contextlib.suppress(UnicodeError):
        forms.add(domain.encode("idna").decode("ascii"))
    with contextlib.suppress(UnicodeError):
        forms.add(domain.encode("ascii").decode("idna"))
    return {form for form in forms if form}


def agency_for_recipient(address: str) -> Agency | None:
    """The agency that receives mail addressed to `address`, or None.

    An agency receives every address of its mail domain whatever the local
    part — so plus-addressed ones such as `gestion+dos-2026-0042@domain` too —
    and its shared mailbox, also plus-addressed (the shared mailbox may sit on
    another domain than `mail_domain`). A shared-mailbox match wins over a
    domain match; two agencies matching at the same level raise
    `AmbiguousRecipientError`."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    domains = _domain_forms(domain)
    base = local.split("+", 1)[0]
    mailboxes = {f"{part}@{form}" for part in {local, base} for form in domains}

    mailbox_query = Q()
    for mailbox in mailboxes:
        mailbox_query |= Q(shared_mailbox__iexact=mailbox)
    domain_query = Q()
    for form in domains:
        domain_query |= Q(mail_domain__iexact=form)
    for query in (mailbox_query, domain_query):
        agencies = list(Agency.objects.filter(query).order_by("pk")[:2])
        if len(agencies) > 1:
            raise AmbiguousRecipientError(
                f"{address} is claimed by agencies {agencies[0].pk} and {agencies[1].pk}"
            )
        if agencies:
            return agencies[0]
    return None


def recipients_by_agency(recipients: Sequence[str]) -> dict[Agency, list[str]]:
    """Group envelope recipients by the agency that receives them, in order;
    recipients no agency receives are left out."""
    groups: dict[int, tuple[Agency, list[str]]] = {}
    for recipient in dict.fromkeys(recipients):  # a recipient given twice counts once
        agency = agency_for_recipient(recipient)
        if agency is not None:
            groups.setdefault(agency.pk, (agency, []))[1].append(recipient)
    return {agency: addresses for agency, addresses in groups.values()}


def smtp_source_for(agency: Agency) -> MailSource:
    """The agency's SMTP/LMTP source, created on its first message."""
    source, _created = MailSource.objects.get_or_create(
        agency=agency, kind=SourceKind.SMTP, name=SMTP_SOURCE_NAME
    )
    return source


@dataclass(frozen=True)
class StoredDelivery:
    """One agency's copy of a received message, stored and committed."""

    agency_id: int
    recipients: tuple[str, ...]
    raw_id: int
    needs_processing: bool  # False when these bytes were already parsed (a resend)


def _agency_copy_store(
    agency: Agency, recipients: Sequence[str], *, data: bytes, envelope_from: str
) -> StoredDelivery:
    # Only this agency's recipients go into its delivery record: the others
    # belong to another tenant.
    with transaction.atomic():
        result = mail_receive(
            agency=agency,
            data=data,
            source=smtp_source_for(agency),
            envelope_from=envelope_from,
            envelope_to=recipients,
        )
    return StoredDelivery(
        agency_id=agency.pk,
        recipients=tuple(recipients),
        raw_id=result.raw.pk,
        needs_processing=result.raw.state == RawState.STORED,
    )


def received_message_store(
    *, data: bytes, envelope_from: str, recipients: Sequence[str]
) -> list[StoredDelivery]:
    """Store one SMTP transaction's message once per agency among its
    recipients, all or nothing: SMTP has one reply for the whole transaction
    (RFC 5321 §4.1.1.4), so either every agency's copy is committed (250) or
    none is (451, and the sender retries them all). Returns the stored copies;
    an empty list when no recipient belongs to an agency any more."""
    with transaction.atomic():
        return [
            _agency_copy_store(agency, addresses, data=data, envelope_from=envelope_from)
            for agency, addresses in recipients_by_agency(recipients).items()
        ]


def received_message_store_per_agency(
    *, data: bytes, envelope_from: str, recipients: Sequence[str]
) -> dict[str, StoredDelivery | Exception | None]:
    """Store an LMTP transaction's message once per agency, each agency in its
    own transaction: LMTP answers each recipient separately (RFC 2033 §4.2), so
    one agency's failure must not undo another's copy. Maps each recipient to
    its stored copy, the exception that prevented it, or None when no agency
    receives that recipient any more."""
    outcome: dict[str, StoredDelivery | Exception | None] = dict.fromkeys(recipients)
    for agency, addresses in recipients_by_agency(recipients).items():
        stored: StoredDelivery | Exception
        try:
            stored = _agency_copy_store(agency, addresses, data=data, envelope_from=envelope_from)
        except Exception as error:  # noqa: BLE001 — reported as 451 for these recipients
            logger.exception("Storing a message for agency %s failed", agency.pk)
            stored = error
        for address in addresses:
            outcome[address] = stored
    return outcome


def raw_messages_process(raw_ids: Sequence[int]) -> None:
    """Parse freshly stored messages. A failure is recorded on the message
    (quarantine) by `raw_message_ingest`; anything else is logged and the
    message stays `stored`, where `lanterne reprocess-mail` picks it up."""
    for raw in RawMessage.objects.filter(pk__in=raw_ids).select_related("agency"):
        try:
            raw_message_ingest(raw)
        except Exception:
            logger.exception("Processing raw message %s failed", raw.pk)


def _with_own_connection(function: Callable[P, T]) -> Callable[P, T]:
    """Run `function` (in a worker thread) and close the database connections
    the thread opened: a pool thread may sit idle for hours."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return wrapper


class MailReceiver:
    """The aiosmtpd handler: routes recipients at RCPT, stores at DATA, then
    hands the stored messages to a processing thread.

    Storage runs in a small pool of threads (one blocked disk or database does
    not stall the event loop); parsing runs in one more thread, one message at a
    time, after the reply has been sent."""

    def __init__(self, *, lmtp: bool = False, storage_threads: int = 4) -> None:
        self.lmtp = lmtp
        self._storage = concurrent.futures.ThreadPoolExecutor(
            max_workers=storage_threads, thread_name_prefix="lanterne-mail-store"
        )
        self._processing = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lanterne-mail-process"
        )
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._pending_lock = threading.Lock()

    async def _in_thread(self, function: Callable[..., T], /, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(_with_own_connection(function), **kwargs)
        return await loop.run_in_executor(self._storage, call)

    async def handle_RCPT(  # noqa: N802 — aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept the recipient only when an agency receives it."""
        try:
            agency = await self._in_thread(agency_for_recipient, address=address)
        except AmbiguousRecipientError as error:
            logger.error("Refusing recipient %s for now: %s", address, error)
            return REPLY_AMBIGUOUS_RECIPIENT
        except Exception:
            logger.exception("Looking up recipient %s failed", address)
            return REPLY_LOOKUP_FAILED
        if agency is None:
            logger.info("Refused recipient %s from %s: no agency", address, session.peer)
            return REPLY_UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return REPLY_RECIPIENT_OK

    async def handle_DATA(  # noqa: N802 — aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Store the message, then answer: one reply (SMTP) or one per
        recipient (LMTP, RFC 2033 §4.2)."""
        # The bytes as transmitted, dot-stuffing removed (RFC 5321 §4.5.2).
        # No Received or Return-Path line is prepended (RFC 5321 §4.4): the
        # envelope and the arrival time are kept in the Delivery record, so
        # that the same message sent twice keeps the same digest.
        data = envelope.original_content
        assert isinstance(data, bytes)  # decode_data=False
        envelope_from = envelope.mail_from or ""
        recipients = list(envelope.rcpt_tos)
        if self.lmtp:
            return await self._lmtp_data(data, envelope_from, recipients)
        try:
            stored = await self._in_thread(
                received_message_store,
                data=data,
                envelope_from=envelope_from,
                recipients=recipients,
            )
        except Exception:
            logger.exception("Storing a message from %s failed: answering 451", envelope_from)
            return REPLY_NOT_STORED
        if not stored:
            # Every recipient was accepted at RCPT but no agency receives it
            # any more (its configuration changed in between): nothing was
            # stored, so no 250.
            logger.error("No agency left for recipients %s: answering 451", recipients)
            return REPLY_NOT_STORED
        self._schedule_processing(stored)
        return REPLY_STORED

    async def _lmtp_data(self, data: bytes, envelope_from: str, recipients: list[str]) -> str:
        outcome: dict[str, StoredDelivery | Exception | None]
        try:
            outcome = await self._in_thread(
                received_message_store_per_agency,
                data=data,
                envelope_from=envelope_from,
                recipients=recipients,
            )
        except Exception as error:
            logger.exception("Storing a message from %s failed: answering 451", envelope_from)
            outcome = dict.fromkeys(recipients, error)
        replies: list[str] = []
        stored: dict[int, StoredDelivery] = {}
        for recipient in recipients:
            result = outcome[recipient]
            if isinstance(result, StoredDelivery):
                stored[result.raw_id] = result
                replies.append(REPLY_STORED)
            elif result is None:
                replies.append(REPLY_UNKNOWN_RECIPIENT)
            else:
                replies.append(REPLY_NOT_STORED)
        self._schedule_processing(list(stored.values()))
        # One reply line per accepted recipient, in RCPT order (RFC 2033 §4.2).
        return "\r\n".join(replies)

    def _schedule_processing(self, stored: Sequence[StoredDelivery]) -> None:
        raw_ids = [copy.raw_id for copy in stored if copy.needs_processing]
        if not raw_ids:
            return
        # Processed here, or queued for a worker: the storage has committed.
        process = raw_messages_ingest_enqueue if raw_messages_queued() else raw_messages_process
        future = self._processing.submit(_with_own_connection(process), raw_ids)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every scheduled processing has finished; False on timeout."""
        with self._pending_lock:
            pending = list(self._pending)
        _done, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        """Finish the storage and processing under way, then stop the threads.
        A message stored but not yet processed stays `stored`; `lanterne
        reprocess-mail` processes it."""
        self._storage.shutdown(wait=True)
        self._processing.shutdown(wait=True)


class _LMTPServer(LMTP):
    """aiosmtpd's LMTP, answering failures after the data once per recipient.

    RFC 2033 §4.2: after the final ".", an LMTP server sends one reply for
    each successful RCPT. aiosmtpd's own post-data failures (552 too much mail
    data, 500 line too long) are a single line, which would leave the client
    waiting for the other replies; they are repeated here. Replies from the
    handler are already one per recipient."""

    _data_recipients: int = 0
    _data_started: bool = False

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 — aiosmtpd's command name
        self._data_recipients = len(self.envelope.rcpt_tos) if self.envelope else 0
        self._data_started = False
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_recipients = 0
            self._data_started = False

    async def push(self, status: AnyStr) -> None:
        if self._data_recipients and isinstance(status, str):
            if status.startswith("354"):
                self._data_started = True
            elif self._data_started and "\r\n" not in status:
                status = "\r\n".join([status] * self._data_recipients)
        await super().push(status)


class MailReceiverController(Controller):
    """Runs the receiver's event loop in a background thread, listening on
    `host:port`; `stop()` also finishes the storage and processing under way.

    The server advertises SIZE with `settings.MAIL_MAX_BYTES` (RFC 1870) and
    answers 552 above it, at MAIL FROM when the client declares the size, at
    the end of DATA otherwise (RFC 5321 §4.5.3.1.10)."""

    def __init__(
        self,
        *,
        port: int,
        host: str = "127.0.0.1",
        lmtp: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        self.receiver = MailReceiver(lmtp=lmtp)
        self.lmtp = lmtp
        super().__init__(
            self.receiver,
            hostname=host,
            port=port,
            # Resolved once here: aiosmtpd would call getfqdn() per connection.
            server_hostname=server_hostname or socket.getfqdn(),
            ident="Lanterne",
            data_size_limit=settings.MAIL_MAX_BYTES,
            # The bytes are stored as they come; SMTPUTF8 (RFC 6531) addresses
            # are routed like any other.
            enable_SMTPUTF8=True,
            decode_data=False,
        )

    def factory(self) -> SMTP:
        """One protocol instance per connection: SMTP, or LMTP (RFC 2033)."""
        server_class = _LMTPServer if self.lmtp else SMTP
        return server_class(self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert=no_assert)
        self.receiver.close()


def mail_receiver_start(
    *, port: int, host: str = "127.0.0.1", lmtp: bool = False
) -> MailReceiverController:
    """Start the SMTP (or LMTP) receiver in a background thread; the caller
    stops it with `.stop()`. Raises OSError when the port cannot be bound."""
    controller = MailReceiverController(port=port, host=host, lmtp=lmtp)
    try:
        controller.start()
    except BaseException:
        controller.receiver.close()
        raise
    return controller
