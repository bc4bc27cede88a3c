"""Enumerations of the reminders app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReminderState(models.TextChoices):
    """Where a reminder stands. Only an open reminder is ever acted on."""

    OPEN = "open", _("En attente de réponse")
    # A reply arrived (found by `send-reminders`), or staff said one did.
    ANSWERED = "answered", _("Réponse reçue")
    # The due date passed without a reply: the manager was told (and the
    # reminder mail sent, when chosen).
    DONE = "done", _("Relancé")
    CANCELLED = "cancelled", _("Annulée")
