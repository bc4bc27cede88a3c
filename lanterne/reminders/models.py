"""Reminders (relances): "waiting for an answer from X on this dossier until
such a date". When no reply arrives in time, the manager is told and, when
chosen, a polite reminder mail goes to X in the same conversation
(`services.reminders_run`, run daily by `lanterne send-reminders`)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import ReminderState


class Reminder(models.Model):
    """Waiting for an answer from someone (`waiting_for_*`) on a dossier,
    until `due_on`; usually about a mail sent from the dossier (`message`),
    whose conversation the answer is looked for in.

    Internal to the agency: it names an outsider's address and the agency's
    own follow-up. Acted on once: the run that moves it out of "open" (a
    conditional UPDATE) is the only one that notifies or sends."""

    dossier = models.ForeignKey(
        "dossiers.Dossier", on_delete=models.CASCADE, related_name="reminders"
    )
    # The mail an answer is awaited to (its conversation is searched for the
    # answer); None for a reminder set without one.
    message = models.ForeignKey(
        "mail.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reminders",
        verbose_name=_("courriel"),
    )
    waiting_for_name = models.CharField(_("nom"), max_length=300, blank=True)
    waiting_for_address = models.EmailField(_("adresse e-mail"), max_length=320)
    about = models.CharField(_("objet"), max_length=300, blank=True)
    due_on = models.DateField(_("réponse attendue avant le"))
    auto_send = models.BooleanField(_("relance automatique par courriel"), default=False)
    state = models.CharField(
        _("état"), max_length=20, choices=ReminderState.choices, default=ReminderState.OPEN
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # What closed it: the answer found, or the reminding (when, the task
    # added for the manager, the reminder mail sent), or a person.
    answer = models.ForeignKey(
        "mail.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    task = models.ForeignKey(
        "dossiers.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_message = models.ForeignKey(
        "mail.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("relance")
        verbose_name_plural = _("relances")
        ordering = ["due_on", "id"]
        indexes = [
            # What the daily run reads: the open reminders only.
            models.Index(
                fields=["due_on", "id"],
                condition=Q(state="open"),
                name="reminder_open_due",
            ),
            models.Index(fields=["dossier", "state"], name="reminder_dossier_state"),
        ]

    def __str__(self) -> str:
        return f"{self.waiting_for_address} → {self.due_on} ({self.state})"

    @property
    def waiting_for(self) -> str:
        """Who is waited for, as staff read it."""
        return self.waiting_for_name or self.waiting_for_address

    @property
    def is_open(self) -> bool:
        return self.state == ReminderState.OPEN
