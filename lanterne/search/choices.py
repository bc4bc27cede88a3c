"""Enumerations of the search app."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchKind(models.TextChoices):
    """What a search result is: the kinds of objects the index holds."""

    MESSAGE = "message", _("Courriels")
    NOTE = "note", _("Notes")
    DECISION = "decision", _("Décisions")
    TASK = "task", _("Tâches")
    DOCUMENT = "document", _("Documents")
    DOSSIER = "dossier", _("Dossiers")


class SearchOrder(models.TextChoices):
    RELEVANCE = "pertinence", _("Pertinence")
    DATE = "date", _("Date (récent d'abord)")


# One result's kind, as its badge says it.
KIND_LABELS = {
    SearchKind.MESSAGE: _("Courriel"),
    SearchKind.NOTE: _("Note"),
    SearchKind.DECISION: _("Décision"),
    SearchKind.TASK: _("Tâche"),
    SearchKind.DOCUMENT: _("Document"),
    SearchKind.DOSSIER: _("Dossier"),
}
