"""Writes of the notifications app: follows, preferences, unsubscribing, and the
outbox — queueing notifications when entries are published, sending them.

The flow (DESIGN.md, "publish → timeline entry → notifications to followers"):

1. An entry becomes visible beyond the agency: it is recorded with an audience
   other than internal (`entry_recorded`, called by
   `dossiers.services.timeline_entry_record`), or a mail is published or an
   entry's audience widens (`entries_published`, called by the mail app).
   In the same transaction, one `Notification` row is written per follower
   who may see the entry — never its actor, never for machine mail.
2. Immediate rows are sent once the transaction commits
   (`transaction.on_commit`; by a worker, `tasks.entry_notifications_send`,
   when a task queue is configured); whatever is left (a crash, a mail server down)
   is sent by `lanterne send-notifications`. Digest rows wait for
   `lanterne send-digests`, one mail per login and day.
3. At send time each row is checked again with the recipient's rights then
   (the audience may have narrowed, the login unfollowed or chose no mail):
   a row that no longer holds is dropped, not sent. What the mail shows is
   what the recipient may read (`emails`).

Rows are claimed by a conditional UPDATE before sending, so two senders (the
on-commit hook and the command, or two commands) never send the same row.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry

from . import emails
from .choices import Delivery, Frequency, NotificationStatus
from .models import Follow, Notification, NotificationPreference
from .selectors import followers_of

logger = logging.getLogger(__name__)

# The salt of unsubscribe tokens: a signature made for anything else with
# SECRET_KEY (sessions, password resets) is never accepted as one.
UNSUBSCRIBE_SALT = "lanterne.notifications.unsubscribe"
# A claim older than this is taken over: its sender died mid-way. Sending a
# batch takes seconds; a mail sent twice after a crash is better than none.
CLAIM_TIMEOUT = dt.timedelta(minutes=30)
# After this many failed attempts a row is given up (`failed`, with its error).
MAX_ATTEMPTS = 8
# Rows claimed at once by a sender.
BATCH_SIZE = 200
# The most entries one digest gathers; the rest waits for the next day's.
DIGEST_MAX_ENTRIES = 500
# An entry recorded as having happened longer ago than this is history being
# written down (an import, the demo), not news: `entry_recorded` tells nobody.
# Publishing such an entry later (`entries_published`) does notify.
NEWS_WINDOW = dt.timedelta(days=7)

_MACHINE_FLAGS = ("is_auto_reply", "is_bounce", "is_bulk", "is_lanterne_notification")
_ENTRY_RELATIONS = (
    "dossier",
    "dossier__agency",
    "dossier__condominium",
    "task",
    "decision",
    "note",
    "status_change",
    "document",
    "message",
)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


# --- Follows and preferences ----------------------------------------------------


@transaction.atomic
def follow_set(*, viewer: policy.Viewer, actor: Any, dossier: Dossier, following: bool) -> Follow:
    """Follow `dossier`, or stop following it, for the login of `viewer`.

    Anyone who may see the dossier may follow it; the choice overrides the
    implicit follow of parties, owners of its lots, the council and its
    manager (`selectors.followers_of`). Logged."""
    user_id = viewer.user_id
    _require(user_id is not None and policy.may_see_dossier(viewer, dossier))
    assert user_id is not None
    follow, created = Follow.objects.select_for_update().get_or_create(
        user_id=user_id, dossier=dossier, defaults={"following": following}
    )
    if not created and follow.following != following:
        follow.following = following
        follow.created_at = timezone.now()
        follow.save(update_fields=["following", "created_at", "updated_at"])
    elif not created:
        return follow
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CHANGED,
        target=follow,
        summary=(
            f"Suivi du dossier {dossier.reference}"
            if following
            else f"Fin du suivi du dossier {dossier.reference}"
        ),
        changes={"following": following},
    )
    return follow


def preference_for(user: Any) -> str:
    """The `Frequency` a login chose, immediate when it never chose."""
    preference = NotificationPreference.objects.filter(user_id=user.pk).first()
    return preference.frequency if preference is not None else Frequency.IMMEDIATE


@transaction.atomic
def preference_set(*, actor: Any, frequency: str) -> NotificationPreference:
    """Choose how often the login `actor` gets mail about what it follows. Logged."""
    if frequency not in Frequency.values:
        raise ValidationError(_("Fréquence inconnue."))
    preference, created = NotificationPreference.objects.get_or_create(user_id=actor.pk)
    before = preference.frequency
    if before != frequency or created:
        preference.frequency = frequency
        preference.save(update_fields=["frequency", "updated_at"])
        audit_record(
            actor=actor,
            agency_id=None,
            action=AuditAction.CHANGED,
            target=preference,
            summary=f"Notifications : {frequency}",
            changes={"frequency": [before, frequency]},
        )
    return preference


# --- Unsubscribing ------------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeScope:
    """What an unsubscribe link stops: one login's mail about one dossier, or
    (`dossier_id` None) all its notification mail."""

    user_id: int
    dossier_id: int | None


def unsubscribe_token_make(*, user_id: int, dossier_id: int | None) -> str:
    """A token for the unsubscribe link of a notification mail: signed
    (django.core.signing, a salt of its own), so that nobody can unsubscribe
    someone else or another dossier; no expiry, as a List-Unsubscribe link
    must keep working (RFC 8058 §3)."""
    return signing.dumps({"u": user_id, "d": dossier_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> UnsubscribeScope | None:
    """The scope of a token, or None when it is not one Lanterne signed."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, dossier_id = data.get("u"), data.get("d")
    if not isinstance(user_id, int) or not (dossier_id is None or isinstance(dossier_id, int)):
        return None
    return UnsubscribeScope(user_id=user_id, dossier_id=dossier_id)


@transaction.atomic
def unsubscribe_apply(*, scope: UnsubscribeScope) -> None:
    """Stop the mail a link's scope names, without a login (the link is the
    proof): unfollow the dossier, or choose no mail at all. Pending
    notifications it covers are dropped. Doing it twice changes nothing.
    Logged, with the login as actor."""
    user = get_user_model().objects.filter(pk=scope.user_id).first()
    if user is None:
        return
    pending = Notification.objects.filter(user=user, status=NotificationStatus.PENDING)
    if scope.dossier_id is None:
        preference_set(actor=user, frequency=Frequency.NONE)
        pending.update(status=NotificationStatus.DROPPED, detail="unsubscribed from all mail")
        return
    dossier = Dossier.objects.filter(pk=scope.dossier_id).first()
    if dossier is None:
        return
    follow, created = Follow.objects.select_for_update().get_or_create(
        user=user, dossier=dossier, defaults={"following": False}
    )
    pending.filter(dossier=dossier).update(
        status=NotificationStatus.DROPPED, detail="unsubscribed from the dossier"
    )
    if not created and not follow.following:
        return
    if not created:
        follow.following = False
        follow.created_at = timezone.now()
        follow.save(update_fields=["following", "created_at", "updated_at"])
    audit_record(
        actor=user,
        agency_id=dossier.agency_id,
        action=AuditAction.CHANGED,
        target=follow,
        summary=f"Désabonnement du dossier {dossier.reference} par le lien d'un courriel",
        changes={"following": False},
    )


# --- Queueing ---------------------------------------------------------------------------


def _is_machine_mail(entry: TimelineEntry) -> bool:
    message = entry.message if entry.kind == EntryKind.MESSAGE else None
    return message is not None and any(getattr(message, flag) for flag in _MACHINE_FLAGS)


def _reaches_beyond_agency(entry: TimelineEntry) -> bool:
    """Only what leaves the agency is news to anyone: an internal entry, an
    entry of an internal dossier, and machine mail (auto-replies, bounces,
    bulk mail, Lanterne's own notifications come back) are never announced."""
    return (
        entry.audience != Audience.INTERNAL
        and entry.dossier.audience != Audience.INTERNAL
        and not _is_machine_mail(entry)
    )


def _wrote_it(user: Any, entry: TimelineEntry) -> bool:
    """The login caused the entry: recorded it, or wrote the mail."""
    if entry.actor_id is not None and entry.actor_id == user.pk:
        return True
    message = entry.message if entry.kind == EntryKind.MESSAGE else None
    return bool(
        message is not None
        and message.from_address
        and message.from_address.strip().lower() == (user.email or "").lower()
    )


def entry_recorded(entry: TimelineEntry) -> None:
    """The hook of `dossiers.services.timeline_entry_record`: a new entry with
    an audience other than internal is news for the dossier's followers,
    unless it records something that happened long ago (`NEWS_WINDOW`)."""
    if entry.audience == Audience.INTERNAL:
        return
    if entry.occurred_at < timezone.now() - NEWS_WINDOW:
        return
    entries_published([entry], actor=entry.actor)


def entries_published(entries: Iterable[TimelineEntry], *, actor: Any = None) -> None:
    """Queue a notification per (follower, entry) for entries that have just
    become visible beyond the agency, in the caller's transaction; immediate
    ones are sent once it commits. `actor`: who published them, when it is
    not the entries' own actor (staff publishing a mail the pipeline filed).

    A follower is told only if the access policy lets them see the entry
    (`policy.may_see_entry`, with their own `Viewer`), never about an entry
    they caused (recorded, filed, published, or wrote the mail of), never
    about an internal entry or machine mail, and never
    twice about the same entry (its audience widened again). Followers who
    chose no mail get nothing; the others an immediate row or a digest row,
    as they chose.

    Queries: the entries and their dossiers (with parties) are read once,
    followers twice per dossier, the logins and their preferences once, then
    the policy's three reads of each follower's roles (`Viewer.for_user`),
    and one INSERT — nothing else per follower or per entry."""
    ids = {entry.pk for entry in entries if entry.pk is not None}
    if not ids:
        return
    # Read again: the caller's objects may predate an UPDATE of the audience.
    fresh = list(
        TimelineEntry.objects.filter(pk__in=ids)
        .exclude(audience=Audience.INTERNAL)
        .select_related("message")
        .order_by("occurred_at", "pk")
    )
    if not fresh:
        return
    dossiers = {
        dossier.pk: dossier
        for dossier in Dossier.objects.filter(pk__in={e.dossier_id for e in fresh})
        .exclude(audience=Audience.INTERNAL)
        .prefetch_related("party_persons", "party_lots")
    }
    by_dossier: dict[int, list[TimelineEntry]] = defaultdict(list)
    for entry in fresh:
        dossier = dossiers.get(entry.dossier_id)
        if dossier is None:
            continue
        entry.dossier = dossier
        if _reaches_beyond_agency(entry):
            by_dossier[dossier.pk].append(entry)
    if not by_dossier:
        return
    followers = {pk: followers_of(dossiers[pk]) for pk in by_dossier}
    users = {
        user.pk: user
        for user in get_user_model()
        .objects.filter(pk__in=set().union(*followers.values()), is_active=True)
        .select_related("notification_preference")
    }
    publisher_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    viewers: dict[int, policy.Viewer] = {}
    rows: list[Notification] = []
    for dossier_id, dossier_entries in by_dossier.items():
        for user_id in sorted(followers[dossier_id]):
            user = users.get(user_id)
            if user is None or user_id == publisher_id:
                continue
            frequency = _frequency(user)
            if frequency == Frequency.NONE:
                continue
            for entry in dossier_entries:
                if _wrote_it(user, entry):
                    continue
                if user_id not in viewers:
                    viewers[user_id] = policy.Viewer.for_user(user)
                if not policy.may_see_entry(viewers[user_id], entry):
                    continue
                rows.append(
                    Notification(
                        user_id=user_id,
                        entry_id=entry.pk,
                        dossier_id=dossier_id,
                        delivery=(
                            Delivery.DIGEST if frequency == Frequency.DIGEST else Delivery.IMMEDIATE
                        ),
                    )
                )
    if not rows:
        return
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(row.delivery == Delivery.IMMEDIATE for row in rows):
        entry_ids = sorted({row.entry_id for row in rows if row.delivery == Delivery.IMMEDIATE})
        # robust: a mail server (or a task queue) that is down must not turn
        # a saved publication into an error page; the rows stay pending for
        # `send-notifications`.
        transaction.on_commit(lambda: _notifications_send_soon(entry_ids), robust=True)


def _notifications_send_soon(entry_ids: list[int]) -> None:
    """Send these entries' immediate notifications now, or enqueue their
    sending for a worker when a task queue is configured (the request that
    published does not wait for the mail server)."""
    from lanterne.core.tasks import side_work_in_process

    if side_work_in_process():
        notifications_send(entry_ids=entry_ids)
        return
    from .tasks import entry_notifications_send

    entry_notifications_send.enqueue(entry_ids)


def _frequency(user: Any) -> str:
    try:
        return str(user.notification_preference.frequency)
    except NotificationPreference.DoesNotExist:
        return Frequency.IMMEDIATE


# --- Sending ----------------------------------------------------------------------------


@dataclass
class SendReport:
    """What a sending run did, for the commands' output and the tests."""

    mails: int = 0
    sent: int = 0
    dropped: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        self.mails += other.mails
        self.sent += other.sent
        self.dropped += other.dropped
        self.failed += other.failed
        self.retried += other.retried
        self.errors.extend(other.errors)


def _claimable(run_started: dt.datetime) -> Q:
    """Rows a sender may take: pending ones not already tried in this run
    (a row put back after a failure waits for the next run), and rows whose
    sender died (claimed longer ago than `CLAIM_TIMEOUT`)."""
    pending = Q(status=NotificationStatus.PENDING) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=run_started)
    )
    abandoned = Q(status=NotificationStatus.SENDING, claimed_at__lt=timezone.now() - CLAIM_TIMEOUT)
    return pending | abandoned


def _claim(
    candidates: QuerySet[Notification], run_started: dt.datetime, *, limit: int = BATCH_SIZE
) -> str | None:
    """Take the candidate rows for this sender with one conditional UPDATE:
    only rows still claimable when it runs are taken, so a concurrent sender
    that took some first keeps them. Each claim counts as an attempt.
    Returns the claim ("" when a concurrent sender took every candidate), or
    None when there was no candidate left."""
    ids = list(candidates.values_list("pk", flat=True)[:limit])
    if not ids:
        return None
    claim = secrets.token_hex(16)
    taken = Notification.objects.filter(_claimable(run_started), pk__in=ids).update(
        status=NotificationStatus.SENDING,
        claim=claim,
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    return claim if taken else ""


def _claimed(claim: str) -> list[Notification]:
    """The rows of a claim, with everything the checks and the mails need."""
    rows = list(
        Notification.objects.filter(claim=claim, status=NotificationStatus.SENDING)
        .select_related(
            "user", "user__notification_preference", *(f"entry__{r}" for r in _ENTRY_RELATIONS)
        )
        .order_by("created_at", "pk")
    )
    prefetch_related_objects([row.entry.dossier for row in rows], "party_persons", "party_lots")
    for row in rows:
        if row.entry.message is not None:
            # The message is read in its entry's dossier (`may_read_message`).
            row.entry.message.dossier = row.entry.dossier
    return rows


class _Checker:
    """Decides, at send time, whether a claimed row still holds."""

    def __init__(self, rows: Sequence[Notification]):
        self.viewers: dict[int, policy.Viewer] = {}
        self.unfollowed = set(
            Follow.objects.filter(
                following=False,
                user_id__in={row.user_id for row in rows},
                dossier_id__in={row.dossier_id for row in rows},
            ).values_list("user_id", "dossier_id")
        )

    def viewer(self, user: Any) -> policy.Viewer:
        if user.pk not in self.viewers:
            self.viewers[user.pk] = policy.Viewer.for_user(user)
        return self.viewers[user.pk]

    def drop_reason(self, row: Notification) -> str | None:
        user, entry = row.user, row.entry
        if not user.is_active or not user.email:
            return "no active login with an address"
        if _frequency(user) == Frequency.NONE:
            return "the login chose no mail"
        if (user.pk, row.dossier_id) in self.unfollowed:
            return "the login unfollowed the dossier"
        if not _reaches_beyond_agency(entry):
            return "the entry is internal now"
        viewer = self.viewer(user)
        if not policy.may_see_entry(viewer, entry):
            return "the login may no longer see the entry"
        if entry.message is not None and not policy.may_read_message(viewer, entry.message):
            return "the login may no longer read the mail"
        return None


def _finish(
    sent: Sequence[int], dropped: dict[str, list[int]], failed: dict[str, list[int]]
) -> SendReport:
    """Record the outcome of a claim's rows (a few UPDATEs)."""
    now = timezone.now()
    report = SendReport()
    if sent:
        Notification.objects.filter(pk__in=sent).update(
            status=NotificationStatus.SENT, sent_at=now, claim="", detail=""
        )
        report.sent = len(sent)
    for reason, ids in dropped.items():
        Notification.objects.filter(pk__in=ids).update(
            status=NotificationStatus.DROPPED, claim="", detail=reason
        )
        report.dropped += len(ids)
    for error, ids in failed.items():
        rows = Notification.objects.filter(pk__in=ids)
        # Given up after MAX_ATTEMPTS; otherwise pending again, for a later
        # run (`claimed_at` keeps it out of this one).
        rows.filter(attempts__gte=MAX_ATTEMPTS).update(
            status=NotificationStatus.FAILED, claim="", detail=error
        )
        report.retried += rows.filter(attempts__lt=MAX_ATTEMPTS).update(
            status=NotificationStatus.PENDING, claim="", detail=error
        )
        report.failed += len(ids)
        report.errors.append(error)
    return report


def _send(messages: Sequence[mail.EmailMessage]) -> list[str | None]:
    """Send `messages` over one connection; the error of each, or None."""
    outcomes: list[str | None] = []
    with mail.get_connection() as connection:
        for message in messages:
            message.connection = connection
            try:
                message.send()
            except Exception as error:  # any failure of the backend: the row is retried
                logger.warning("notification mail to %s failed: %s", message.to, error)
                outcomes.append(f"{type(error).__name__}: {error}"[:500])
            else:
                outcomes.append(None)
    return outcomes


def notifications_send(*, entry_ids: Iterable[int] | None = None) -> SendReport:
    """Send the immediate notifications still pending (those of `entry_ids`
    only, when given: what a publication just queued). Safe to run twice or
    concurrently: rows are claimed before sending.

    A mail server that cannot be reached at all raises (the rows go back to
    pending, for the next run)."""
    run_started = timezone.now()
    report = SendReport()
    candidates = Notification.objects.filter(
        _claimable(run_started), delivery=Delivery.IMMEDIATE
    ).order_by("created_at", "pk")
    if entry_ids is not None:
        candidates = candidates.filter(entry_id__in=list(entry_ids))
    while (claim := _claim(candidates, run_started)) is not None:
        if claim:
            report.add(_send_immediate(_claimed(claim)))
    return report


def _send_immediate(rows: Sequence[Notification]) -> SendReport:
    checker = _Checker(rows)
    dropped: dict[str, list[int]] = defaultdict(list)
    ready: list[tuple[Notification, mail.EmailMessage]] = []
    failed: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        reason = checker.drop_reason(row)
        if reason is not None:
            dropped[reason].append(row.pk)
            continue
        try:
            message = emails.immediate_mail(
                user=row.user, viewer=checker.viewer(row.user), entry=row.entry
            )
        except Exception as error:  # a row that cannot be written must not stop the others
            logger.exception("notification %s could not be written", row.pk)
            failed[f"{type(error).__name__}: {error}"[:500]].append(row.pk)
            continue
        ready.append((row, message))
    try:
        outcomes = _send([message for _row, message in ready])
    except Exception as error:
        # The connection itself failed: nothing was sent, everything waits.
        for row, _message in ready:
            failed[f"{type(error).__name__}: {error}"[:500]].append(row.pk)
        report = _finish([], dropped, failed)
        raise NotificationSendError(str(error), report) from error
    sent = []
    for (row, _message), outcome in zip(ready, outcomes, strict=True):
        if outcome is None:
            sent.append(row.pk)
        else:
            failed[outcome].append(row.pk)
    report = _finish(sent, dropped, failed)
    report.mails = len(sent)
    return report


class NotificationSendError(Exception):
    """The mail server could not be reached; `report` says what was recorded."""

    def __init__(self, message: str, report: SendReport):
        super().__init__(message)
        self.report = report


def digest_cutoff(day: dt.date) -> dt.datetime:
    """The end of `day` in Lanterne's time zone: a digest gathers what was
    queued before it."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return timezone.make_aware(midnight, timezone.get_default_timezone())


def digests_send(*, day: dt.date) -> SendReport:
    """Send the daily digest of `day`: one mail per login gathering its digest
    notifications queued until the end of that day (older ones a missed run
    left behind included), grouped by dossier. Safe to run twice: the second
    run finds nothing left to claim."""
    run_started = timezone.now()
    report = SendReport()
    queued = Notification.objects.filter(
        _claimable(run_started), delivery=Delivery.DIGEST, created_at__lt=digest_cutoff(day)
    )
    user_ids = list(queued.order_by("user_id").values_list("user_id", flat=True).distinct())
    for user_id in user_ids:
        # All of a login's rows in one claim: one mail per login and day.
        claim = _claim(
            queued.filter(user_id=user_id).order_by("created_at", "pk"),
            run_started,
            limit=DIGEST_MAX_ENTRIES,
        )
        if claim:
            report.add(_send_digest(_claimed(claim), day=day))
    return report


def _send_digest(rows: Sequence[Notification], *, day: dt.date) -> SendReport:
    if not rows:
        return SendReport()
    checker = _Checker(rows)
    dropped: dict[str, list[int]] = defaultdict(list)
    kept: list[Notification] = []
    for row in rows:
        reason = checker.drop_reason(row)
        if reason is not None:
            dropped[reason].append(row.pk)
        else:
            kept.append(row)
    failed: dict[str, list[int]] = defaultdict(list)
    sent: list[int] = []
    if kept:
        user = kept[0].user
        try:
            message = emails.digest_mail(
                user=user,
                viewer=checker.viewer(user),
                entries=[row.entry for row in kept],
                day=day,
            )
            outcome = _send([message])[0]
        except Exception as error:
            logger.exception("digest for login %s could not be sent", user.pk)
            outcome = f"{type(error).__name__}: {error}"[:500]
        if outcome is None:
            sent = [row.pk for row in kept]
        else:
            failed[outcome] = [row.pk for row in kept]
    report = _finish(sent, dropped, failed)
    report.mails = 1 if sent else 0
    return report
