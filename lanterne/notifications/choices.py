"""Enumerations of the notifications app: how often a person wants to be told,
and where one queued notification stands."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Frequency(models.TextChoices):
    """How a login wants to hear about the dossiers it follows."""

    IMMEDIATE = "immediate", _("Un courriel à chaque nouveauté")
    DIGEST = "digest", _("Un résumé par jour")
    NONE = "none", _("Aucun courriel")


class Delivery(models.TextChoices):
    """How one queued notification leaves: on its own, or in the daily digest.

    Fixed when the row is queued, from the recipient's `Frequency` then."""

    IMMEDIATE = "immediate", _("Immédiat")
    DIGEST = "digest", _("Résumé quotidien")


class NotificationStatus(models.TextChoices):
    """Where a queued notification stands in the outbox.

    `pending` → `sending` (claimed by one sender, by a conditional UPDATE) →
    `sent`; or `dropped` when, at send time, the recipient may no longer see
    the entry or no longer wants mail; or back to `pending` after a failed
    attempt, `failed` after too many."""

    PENDING = "pending", _("En attente")
    SENDING = "sending", _("En cours d'envoi")
    SENT = "sent", _("Envoyée")
    DROPPED = "dropped", _("Abandonnée")
    FAILED = "failed", _("Échec de l'envoi")
