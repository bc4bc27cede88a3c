"""Stored files: quotes, invoices, reports, photos, minutes…"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Condominium
from lanterne.dossiers.choices import Audience

from .choices import DocumentKind


def document_storage_path(instance: Document, filename: str) -> str:
    """A random path: stored names reveal neither the file name nor a sequence."""
    return f"documents/{instance.agency_id}/{secrets.token_hex(16)}"


class Document(models.Model):
    """An uploaded file of a condominium, in a dossier or not, with its own audience."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="documents")
    condominium = models.ForeignKey(Condominium, on_delete=models.PROTECT, related_name="documents")
    dossier = models.ForeignKey(
        "dossiers.Dossier",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="documents",
    )
    kind = models.CharField(_("type de document"), max_length=30, choices=DocumentKind.choices)
    title = models.CharField(_("titre"), max_length=200)
    file = models.FileField(upload_to=document_storage_path, max_length=300)
    filename = models.CharField(_("nom du fichier"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("taille"))
    sha256 = models.CharField(max_length=64)
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [models.Index(fields=["agency", "sha256"], name="document_sha256")]

    def __str__(self) -> str:
        return self.title
