"""Writes on reminders, and the daily run that acts on them.

`reminders_run` (what `lanterne send-reminders` calls) looks at every open
reminder:

- an answer arrived — an inbound mail in the conversation of the awaited
  mail, or from the awaited address in the dossier, written after the
  reminder was set (auto-replies, bounces and bulk mail are no answer) —
  it is closed as "answered";
- otherwise, on or after its due date, it is closed as "done" and acted
  on: a task for the manager on the dossier, an e-mail telling the manager
  (or the agency's managers when the dossier has none), and, when chosen, a
  polite reminder mail to the person waited for, in the same conversation,
  through `outbound.dossier_mail_send`.

Exactly once: each reminder is handled in its own transaction, and only the
run whose conditional UPDATE (… WHERE state = 'open') moves it out of "open"
acts on it — a second run, the same day or concurrently, finds nothing to
claim. The reminder mail's Message-ID is derived from the reminder, so even
a mail recorded twice would be one. A failure rolls that one reminder back
(it is tried again by the next run) and never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.choices import StaffRole
from lanterne.condominiums.models import Person, PersonEmail
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer
from lanterne.dossiers.services import task_create
from lanterne.mail.choices import Direction
from lanterne.mail.models import Message
from lanterne.mail.outbound import addresses_parse, dossier_mail_send

from .choices import ReminderState
from .models import Reminder

__all__ = [
    "ReminderRun",
    "reminder_answer",
    "reminder_cancel",
    "reminder_create",
    "reminder_mark_answered",
    "reminders_run",
]

logger = logging.getLogger(__name__)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# ---------------------------------------------------------------------------
# Staff's writes


@transaction.atomic
def reminder_create(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    waiting_for_address: str,
    due_on: dt.date,
    waiting_for_name: str = "",
    about: str = "",
    auto_send: bool = False,
    message: Message | None = None,
) -> Reminder:
    """Wait for an answer from `waiting_for_address` on `dossier` until
    `due_on` (included), about `message` (a mail of this dossier) when
    given. Staff only; audit-logged. An open reminder for the same mail and
    address is returned as it is: waiting twice for one answer means nothing
    more."""
    _require(policy.may_edit_dossier(viewer, dossier))
    people = addresses_parse(waiting_for_address)
    if len(people) != 1:
        raise ValidationError(_("Indiquez une seule adresse e-mail."))
    name, address = people[0]
    if due_on < timezone.localdate():
        raise ValidationError(_("Choisissez une date à venir."))
    if message is not None and (
        message.dossier_id != dossier.pk or message.agency_id != dossier.agency_id
    ):
        raise ValidationError(_("Ce courriel n'appartient pas à ce dossier."))
    if message is not None:
        # The same mail's form posted twice (a double click): one reminder.
        existing = Reminder.objects.filter(
            dossier=dossier,
            message=message,
            waiting_for_address=address,
            state=ReminderState.OPEN,
        ).first()
        if existing is not None:
            return existing
    reminder = Reminder.objects.create(
        dossier=dossier,
        message=message,
        waiting_for_name=" ".join((waiting_for_name or name).split())[:300],
        waiting_for_address=address,
        about=" ".join(about.split())[:300],
        due_on=due_on,
        auto_send=auto_send,
        created_by=_user(actor),
    )
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CREATED,
        target=reminder,
        summary=(
            f"Relance prévue au dossier {dossier.reference} : réponse de {address} "
            f"attendue avant le {due_on:%d/%m/%Y}" + (" (relance automatique)" if auto_send else "")
        ),
        changes={
            "due_on": due_on.isoformat(),
            "auto_send": auto_send,
            "message": message.pk if message is not None else None,
        },
    )
    return reminder


def _close_by_staff(
    *, viewer: Viewer, actor: Any, reminder: Reminder, state: ReminderState
) -> Reminder:
    _require(policy.may_edit_dossier(viewer, reminder.dossier))
    now = timezone.now()
    closed = Reminder.objects.filter(pk=reminder.pk, state=ReminderState.OPEN).update(
        state=state, closed_at=now, closed_by=_user(actor)
    )
    if not closed:
        reminder.refresh_from_db()
        return reminder
    audit_record(
        actor=actor,
        agency_id=reminder.dossier.agency_id,
        action=AuditAction.CHANGED,
        target=reminder,
        summary=(
            f"Relance du dossier {reminder.dossier.reference} ({reminder.waiting_for_address}) : "
            + ("annulée" if state == ReminderState.CANCELLED else "réponse reçue")
        ),
        changes={"state": [ReminderState.OPEN.value, state.value]},
    )
    reminder.state, reminder.closed_at, reminder.closed_by = state, now, _user(actor)
    return reminder


@transaction.atomic
def reminder_cancel(*, viewer: Viewer, actor: Any, reminder: Reminder) -> Reminder:
    """Stop waiting: nothing will be sent. Only an open reminder changes."""
    return _close_by_staff(
        viewer=viewer, actor=actor, reminder=reminder, state=ReminderState.CANCELLED
    )


@transaction.atomic
def reminder_mark_answered(*, viewer: Viewer, actor: Any, reminder: Reminder) -> Reminder:
    """The answer came another way (a phone call, a letter): close it."""
    return _close_by_staff(
        viewer=viewer, actor=actor, reminder=reminder, state=ReminderState.ANSWERED
    )


# ---------------------------------------------------------------------------
# The daily run


@dataclass
class ReminderRun:
    """What one run did: reminders closed as answered, reminded (manager
    told), reminder mails sent among those, and failures (retried next run)."""

    answered: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    mails: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def reminder_answer(reminder: Reminder) -> Message | None:
    """The first mail answering `reminder`, or None: an inbound mail written
    (or, undated, read) after the reminder was set, in the conversation of
    the awaited mail, or filed in the dossier from the awaited address.
    Mail written by no person (auto-replies — an out-of-office is no answer
    —, bounces, bulk mail, Lanterne's notifications) does not count. One
    query."""
    answers = Q(dossier_id=reminder.dossier_id, from_address__iexact=reminder.waiting_for_address)
    awaited = reminder.message
    if awaited is not None and awaited.thread_id is not None:
        answers |= Q(thread_id=awaited.thread_id)
    return (
        Message.objects.filter(
            agency_id=reminder.dossier.agency_id,
            direction=Direction.INBOUND,
            is_auto_reply=False,
            is_bounce=False,
            is_bulk=False,
            is_lanterne_notification=False,
        )
        .filter(answers)
        .annotate(written_at=Coalesce("date", "parsed_at"))
        .filter(written_at__gt=reminder.created_at)
        .order_by("written_at", "pk")
        .first()
    )


def reminders_run(*, today: dt.date | None = None, now: dt.datetime | None = None) -> ReminderRun:
    """Act on every open reminder (see the module's docstring). `today` and
    `now` default to the clock; `lanterne send-reminders --today` passes a
    date (a catch-up run, or a test's fake clock). Safe to run twice, or in
    two processes at once."""
    today = today or timezone.localdate()
    now = now or timezone.now()
    run = ReminderRun()
    pending = list(
        Reminder.objects.filter(state=ReminderState.OPEN)
        .order_by("due_on", "pk")
        .values_list("pk", flat=True)
    )
    for pk in pending:
        try:
            _reminder_process(pk, today=today, now=now, run=run)
        except Exception:  # noqa: BLE001 — one reminder must not stop the others
            logger.exception("Reminder %s could not be processed", pk)
            run.failed.append(pk)
    return run


@transaction.atomic
def _reminder_process(pk: int, *, today: dt.date, now: dt.datetime, run: ReminderRun) -> None:
    reminder = (
        Reminder.objects.select_related(
            "dossier", "dossier__agency", "dossier__condominium", "dossier__manager", "message"
        )
        .filter(pk=pk, state=ReminderState.OPEN)
        .first()
    )
    if reminder is None:
        return
    answer = reminder_answer(reminder)
    if answer is not None:
        if _claim(reminder, state=ReminderState.ANSWERED, now=now, answer=answer):
            _audit(reminder, "réponse reçue", ReminderState.ANSWERED, answer=answer.pk)
            run.answered.append(pk)
        return
    if reminder.due_on > today:
        return
    if not _claim(reminder, state=ReminderState.DONE, now=now, reminded_at=now):
        return
    dossier = reminder.dossier
    system = Viewer.system(dossier.agency_id)
    with translation.override(settings.LANGUAGE_CODE):
        task = task_create(
            viewer=system,
            actor=None,
            dossier=dossier,
            title=(_("Relancer %(who)s : pas de réponse") % {"who": reminder.waiting_for})[:200],
            description=_reminder_task_text(reminder),
            due_on=today,
            assignee=dossier.manager,
            audience=Audience.INTERNAL,
            occurred_at=now,
        )
        sent = None
        if reminder.auto_send:
            sent = dossier_mail_send(
                viewer=system,
                actor=None,
                dossier=dossier,
                to=[reminder.waiting_for_address],
                subject=_reminder_subject(reminder),
                body=_reminder_mail_text(reminder),
                audience=Audience.INTERNAL,
                reply_to=reminder.message,
                idempotency_key=f"relance-{reminder.pk:08d}",
                automatic=True,
            )
        notification = _manager_notification(reminder, sent=sent)
    Reminder.objects.filter(pk=pk).update(task=task, sent_message=sent)
    _audit(
        reminder,
        "échéance passée sans réponse, gestionnaire prévenu"
        + (", relance envoyée" if sent is not None else ""),
        ReminderState.DONE,
        task=task.pk,
        sent_message=sent.pk if sent is not None else None,
    )
    if notification is not None:
        transaction.on_commit(partial(_notification_send, notification))
    run.reminded.append(pk)
    if sent is not None:
        run.mails.append(sent.pk)


def _claim(reminder: Reminder, *, state: ReminderState, now: dt.datetime, **fields: Any) -> bool:
    """Move `reminder` out of "open", if no one else did: the one run that
    succeeds acts on it."""
    return bool(
        Reminder.objects.filter(pk=reminder.pk, state=ReminderState.OPEN).update(
            state=state, closed_at=now, **fields
        )
    )


def _audit(reminder: Reminder, what: str, state: ReminderState, **changes: Any) -> None:
    audit_record(
        actor=None,
        agency_id=reminder.dossier.agency_id,
        action=AuditAction.CHANGED,
        target=reminder,
        summary=(
            f"Relance du dossier {reminder.dossier.reference} ({reminder.waiting_for_address}) : "
            f"{what}"
        ),
        changes={"state": [ReminderState.OPEN.value, state.value], **changes},
    )


# ---------------------------------------------------------------------------
# Texts (in the site's language: they are stored, or sent to outsiders)


def _date(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return value.strftime("%d/%m/%Y")


def _awaited_subject(reminder: Reminder) -> str:
    if reminder.about:
        return reminder.about
    if reminder.message is not None and reminder.message.subject:
        return reminder.message.subject
    return reminder.dossier.title


def _reminder_subject(reminder: Reminder) -> str:
    subject = _awaited_subject(reminder)
    return _("Relance : %(subject)s") % {"subject": subject}


def _reminder_mail_text(reminder: Reminder) -> str:
    """The polite reminder sent to the person waited for."""
    awaited = reminder.message
    sent_on = _date(awaited.date or awaited.parsed_at) if awaited is not None else None
    lines = [_("Bonjour,"), ""]
    if sent_on is not None:
        lines.append(
            _(
                "Nous revenons vers vous au sujet de notre courriel du %(date)s "
                "« %(subject)s », resté sans réponse à ce jour."
            )
            % {"date": sent_on, "subject": _awaited_subject(reminder)}
        )
    else:
        lines.append(
            _("Nous revenons vers vous au sujet de « %(subject)s », resté sans réponse à ce jour.")
            % {"subject": _awaited_subject(reminder)}
        )
    lines += [
        "",
        _("Pourriez-vous nous faire part de votre retour dès que possible ?"),
        "",
        _("Nous vous remercions par avance."),
        "",
        _("Bien cordialement,"),
    ]
    dossier = reminder.dossier
    if dossier.manager is not None:
        lines.append(dossier.manager.full_name)
    lines.append(dossier.agency.name)
    if awaited is not None:
        text = (awaited.new_text or awaited.text).strip()
        if text:
            lines += ["", _("Le %(date)s, nous écrivions :") % {"date": sent_on}]
            lines += [f"> {line}" if line else ">" for line in text.splitlines()]
    return "\n".join(lines)


def _reminder_task_text(reminder: Reminder) -> str:
    return _(
        "Réponse de %(who)s <%(address)s> attendue avant le %(due)s (relance prévue le "
        "%(created)s) : « %(subject)s »."
    ) % {
        "who": reminder.waiting_for,
        "address": reminder.waiting_for_address,
        "due": _date(reminder.due_on),
        "created": _date(reminder.created_at),
        "subject": _awaited_subject(reminder),
    }


def _manager_addresses(dossier: Dossier) -> list[str]:
    """Where the manager is told: the dossier's manager, or the agency's
    managers when the dossier has none (the agency's staff when it has no
    manager at all). Their primary address, else any, else their login's."""
    if dossier.manager_id is not None:
        persons = [dossier.manager_id]
    else:
        staff = Person.objects.filter(agency_id=dossier.agency_id).exclude(staff_role="")
        persons = list(staff.filter(staff_role=StaffRole.MANAGER).values_list("pk", flat=True))
        if not persons:
            persons = list(staff.values_list("pk", flat=True))
    found: dict[int, str] = {}
    for person_id, address in (
        PersonEmail.objects.filter(person_id__in=persons)
        .order_by("person_id", "-is_primary", "pk")
        .values_list("person_id", "address")
    ):
        found.setdefault(person_id, address)
    for person_id, address in Person.objects.filter(
        pk__in=[pk for pk in persons if pk not in found], user__isnull=False
    ).values_list("pk", "user__email"):
        found.setdefault(person_id, address)
    return sorted(set(found.values()))


def _manager_notification(reminder: Reminder, *, sent: Message | None) -> EmailMessage | None:
    """The e-mail telling the manager a reminder fell due, or None when
    nobody at the agency has an address."""
    dossier = reminder.dossier
    addresses = _manager_addresses(dossier)
    if not addresses:
        logger.warning("Reminder %s: nobody at the agency has an address", reminder.pk)
        return None
    link = settings.SITE_URL + reverse("dossiers:detail", args=[dossier.pk])
    lines = [
        _(
            "Aucune réponse de %(who)s <%(address)s> n'est arrivée dans le dossier "
            "%(reference)s « %(title)s » (%(condominium)s) : elle était attendue avant le "
            "%(due)s."
        )
        % {
            "who": reminder.waiting_for,
            "address": reminder.waiting_for_address,
            "reference": dossier.reference,
            "title": dossier.title,
            "condominium": dossier.condominium.name,
            "due": _date(reminder.due_on),
        },
        "",
        _("Objet : %(subject)s") % {"subject": _awaited_subject(reminder)},
        "",
        (
            _("Une relance lui a été envoyée automatiquement.")
            if sent is not None
            else _("Aucune relance ne lui a été envoyée : à vous de le relancer.")
        ),
        _("Une tâche a été ajoutée au dossier."),
        "",
        link,
    ]
    return EmailMessage(
        subject=_("[%(reference)s] Sans réponse de %(who)s")
        % {"reference": dossier.reference, "who": reminder.waiting_for},
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=addresses,
        headers={
            # Lanterne's own notification (loop protection: never filed
            # again if it comes back), written by no person (RFC 3834).
            "X-Lanterne-Notification": "reminder",
            "Auto-Submitted": "auto-generated",
        },
    )


def _notification_send(notification: EmailMessage) -> None:
    """Send the manager's e-mail after the commit. A failure is logged: the
    task on the dossier tells the manager anyway."""
    try:
        notification.send(fail_silently=False)
    except Exception:  # noqa: BLE001 — the task on the dossier remains
        logger.exception("Reminder notification to %s failed", notification.to)
