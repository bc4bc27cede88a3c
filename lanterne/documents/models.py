"""Stored files: quotes, invoices, reports, photos, minutes…"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Condominium, Lot
from lanterne.dossiers.choices import Audience

from .choices import DocumentKind, DocumentSpace, TextState


class TextDeferredManager(models.Manager):  # type: ignore[type-arg]
    """The default manager of models carrying a file's text (`Document`,
    `mail.Attachment`): the text (up to 200,000 characters) is left out of
    every query unless asked for, so that a timeline page, a document list
    or an export listing files does not carry their texts along. Search
    reads it with `values()`, which this does not affect."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return super().get_queryset().defer("text")


def document_storage_path(instance: Document, filename: str) -> str:
    """A random path: stored names reveal neither the file name nor a sequence."""
    return f"documents/{instance.agency_id}/{secrets.token_hex(16)}"


class Document(models.Model):
    """An uploaded file of a condominium, in a dossier or not, with its own audience.

    Outside any dossier, a document sits in one space of the condominium's
    online space (décret n° 2019-502): « Tous les copropriétaires » (audience
    `owners`), « Conseil syndical » (`council`) or « Mon lot » (a `lot`, with the
    audience `parties`: the owners of that lot)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="documents")
    condominium = models.ForeignKey(Condominium, on_delete=models.PROTECT, related_name="documents")
    dossier = models.ForeignKey(
        "dossiers.Dossier",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="documents",
    )
    lot = models.ForeignKey(
        Lot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("lot"),
    )
    kind = models.CharField(_("type de document"), max_length=30, choices=DocumentKind.choices)
    title = models.CharField(_("titre"), max_length=200)
    file = models.FileField(upload_to=document_storage_path, max_length=300)
    filename = models.CharField(_("nom du fichier"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("taille"))
    sha256 = models.CharField(max_length=64)
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    # What the checklist of required documents judges freshness by: the date of
    # the meeting for minutes, of the statement or the diagnostic; the end of a
    # contract or of a diagnostic's validity.
    document_date = models.DateField(_("date du document"), null=True, blank=True)
    valid_until = models.DateField(_("valable jusqu'au"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    # The file's text for search, read after the upload by a task
    # (`texts.documents_text_extract`): at most `extraction.MAX_CHARACTERS`.
    text = models.TextField(blank=True)
    text_state = models.CharField(
        max_length=20, choices=TextState.choices, default=TextState.PENDING
    )
    text_error = models.CharField(max_length=300, blank=True)

    objects = TextDeferredManager()

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [
            models.Index(fields=["agency", "sha256"], name="document_sha256"),
            models.Index(fields=["condominium", "kind"], name="document_condominium_kind"),
            # `lanterne extract-text --pending`.
            models.Index(
                fields=["id"],
                condition=Q(text_state=TextState.PENDING),
                name="document_text_pending",
            ),
        ]
        constraints = [
            # A document of a lot is the lot owners' only: never in a dossier,
            # never with an audience wider than the lot's owners.
            models.CheckConstraint(
                condition=Q(lot__isnull=True) | Q(dossier__isnull=True, audience=Audience.PARTIES),
                name="document_lot_outside_dossiers",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def space(self) -> DocumentSpace | None:
        """The space of the condominium this document is filed in, or None (a
        document of a dossier, or one for staff only)."""
        if self.dossier_id is not None:
            return None
        if self.lot_id is not None:
            return DocumentSpace.LOT
        if self.audience == Audience.OWNERS:
            return DocumentSpace.OWNERS
        if self.audience == Audience.COUNCIL:
            return DocumentSpace.COUNCIL
        return None
