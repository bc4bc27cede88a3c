"""Reads on reminders, already filtered by the access policy."""

from __future__ import annotations

from dataclasses import dataclass

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
    closed ones — for its staff only: reminders name outsiders' addresses
    and the agency's own follow-up. Two queries."""
    if not policy.may_edit_dossier(viewer, dossier):
        return DossierReminders(open=[], recent_closed=[])
    # The block links to the answer and the reminder sent by their keys
    # alone: no mail is read.
    rows = Reminder.objects.filter(dossier=dossier)
    return DossierReminders(
        open=list(rows.filter(state=ReminderState.OPEN).order_by("due_on", "pk")),
        recent_closed=list(
            rows.exclude(state=ReminderState.OPEN).order_by("-closed_at", "-pk")[:RECENT_CLOSED]
        ),
    )


def reminder_for_staff(viewer: policy.Viewer, reminder_id: int) -> Reminder:
    """A reminder of a dossier the viewer manages; 404 otherwise."""
    reminder = (
        Reminder.objects.select_related("dossier", "dossier__agency").filter(pk=reminder_id).first()
    )
    if reminder is None or not policy.may_edit_dossier(viewer, reminder.dossier):
        raise Http404
    return reminder
