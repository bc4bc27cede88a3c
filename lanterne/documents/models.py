"""Stored files: quotes, invoices, reports, photos, minutes…"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Condominium, Lot
from lanterne.dossiers.choices import Audience

from .choices import DocumentKind, DocumentSpace


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

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [
            models.Index(fields=["agency", "sha256"], name="document_sha256"),
            models.Index(fields=["condominium", "kind"], name="document_condominium_kind"),
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
