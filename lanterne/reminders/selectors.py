"""Reads on reminders, already filtered by the access policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.http import Http404

from lanterne.dossiers import policy
from lanterne.dossiers.models import Dossier

from .choices import ReminderState
from .models import Reminder

# Closed reminders shown under the open ones on a dossier page.
RECENT_CLOSED = 5


@dataclass(frozen=True)
class DossierReminders:
    """A dossier's reminders as its page shows them."""

    open: list[Reminder]
    recent_closed: list[Reminder]


def dossier_reminders(viewer: policy.Viewer, dossier: Dossier) -> DossierReminders:
    """The open reminders of `dossier` (soonest due first) and the last few
    closed ones (latest first) — for its staff only: reminders name
    outsiders' addresses and the agency's own follow-up. One query."""
    if not policy.may_edit_dossier(viewer, dossier):
        return DossierReminders(open=[], recent_closed=[])
    # The block links to the answer and the reminder sent by their keys
    # alone: no mail is read.
    rows = Reminder.objects.filter(dossier=dossier)
    recent_closed = (
        rows.exclude(state=ReminderState.OPEN)
        .order_by(F("closed_at").desc(nulls_last=True), "-pk")
        .values("pk")[:RECENT_CLOSED]
    )
    shown = list(
        rows.filter(Q(state=ReminderState.OPEN) | Q(pk__in=recent_closed)).order_by("due_on", "pk")
    )
    closed = [r for r in shown if r.state != ReminderState.OPEN]
    return DossierReminders(
        open=[r for r in shown if r.state == ReminderState.OPEN],
        recent_closed=sorted(closed, key=_by_closing, reverse=True),
    )


def _by_closing(reminder: Reminder) -> tuple[Any, ...]:
    """Latest closed first, as `recent_closed` chose them (no date last)."""
    return (reminder.closed_at is not None, reminder.closed_at, reminder.pk)


def reminder_for_staff(viewer: policy.Viewer, reminder_id: int) -> Reminder:
    """A reminder of a dossier the viewer manages; 404 otherwise."""
    reminder = (
        Reminder.objects.select_related("dossier", "dossier__agency").filter(pk=reminder_id).first()
    )
    if reminder is None or not policy.may_edit_dossier(viewer, reminder.dossier):
        raise Http404
    return reminder
