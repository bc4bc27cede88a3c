"""Storing documents."""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Condominium
from lanterne.dossiers.choices import EntryKind
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer, may_manage_dossiers
from lanterne.dossiers.services import timeline_entry_record

from .models import Document


def _digest(file: File) -> tuple[str, int]:  # type: ignore[type-arg]
    sha = hashlib.sha256()
    size = 0
    file.seek(0)
    for chunk in file.chunks():
        sha.update(chunk)
        size += len(chunk)
    file.seek(0)
    return sha.hexdigest(), size


@transaction.atomic
def document_upload(
    *,
    viewer: Viewer,
    actor: Any,
    condominium: Condominium,
    file: File,  # type: ignore[type-arg]
    filename: str,
    kind: str,
    title: str = "",
    audience: str,
    dossier: Dossier | None = None,
    occurred_at: dt.datetime | None = None,
) -> Document:
    """Store a file for a condominium (and a dossier, which gets a timeline entry)."""
    if not may_manage_dossiers(viewer, condominium.agency_id):
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))
    if dossier is not None and dossier.condominium_id != condominium.pk:
        raise ValidationError(_("Le dossier n'appartient pas à cette copropriété."))
    sha256, size = _digest(file)
    if size == 0:
        raise ValidationError(_("Le fichier est vide."))
    if size > settings.DOCUMENT_MAX_BYTES:
        raise ValidationError(
            _("Le fichier dépasse la taille maximale de %(max)s Mo.")
            % {"max": settings.DOCUMENT_MAX_BYTES // (1024 * 1024)}
        )
    filename = get_valid_filename(filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]) or "document"
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    document = Document(
        agency_id=condominium.agency_id,
        condominium=condominium,
        dossier=dossier,
        kind=kind,
        title=title or filename,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        audience=audience,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        uploaded_at=occurred_at or timezone.now(),
    )
    document.file.save(filename, file, save=False)
    # If a later write fails, do not leave an orphan file behind.
    stored_name = document.file.name or ""

    def _remove_orphan() -> None:
        document.file.storage.delete(stored_name)

    try:
        document.save()
        if dossier is not None:
            timeline_entry_record(
                dossier=dossier,
                kind=EntryKind.DOCUMENT,
                audience=audience,
                actor=actor,
                occurred_at=document.uploaded_at,
                document=document,
            )
        audit_record(
            actor=actor,
            agency_id=condominium.agency_id,
            action=AuditAction.CREATED,
            target=document,
            summary=f"Document ajouté : {document.title}",
        )
    except Exception:
        _remove_orphan()
        raise
    return document
