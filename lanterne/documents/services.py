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
from lanterne.condominiums.models import Condominium, Lot
from lanterne.dossiers.choices import Audience, EntryKind
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer, may_manage_dossiers
from lanterne.dossiers.services import timeline_entry_record

from .checklist import space_refusal
from .choices import DocumentKind, DocumentSpace
from .models import Document
from .tasks import texts_extract_schedule

SPACE_AUDIENCES = {
    DocumentSpace.OWNERS: Audience.OWNERS,
    DocumentSpace.COUNCIL: Audience.COUNCIL,
    DocumentSpace.LOT: Audience.PARTIES,
}


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
    lot: Lot | None = None,
    document_date: dt.date | None = None,
    valid_until: dt.date | None = None,
    occurred_at: dt.datetime | None = None,
) -> Document:
    """Store a file for a condominium (and a dossier, which gets a timeline entry,
    or a lot, whose owners alone see it)."""
    if not may_manage_dossiers(viewer, condominium.agency_id):
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))
    if dossier is not None and dossier.condominium_id != condominium.pk:
        raise ValidationError(_("Le dossier n'appartient pas à cette copropriété."))
    if lot is not None:
        if lot.condominium_id != condominium.pk:
            raise ValidationError(_("Le lot n'appartient pas à cette copropriété."))
        if dossier is not None or audience != Audience.PARTIES:
            raise ValidationError(
                _("Un document de lot est réservé aux copropriétaires du lot, hors dossier.")
            )
    if document_date and valid_until and valid_until < document_date:
        raise ValidationError(_("La fin de validité ne peut pas précéder la date du document."))
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
        lot=lot,
        kind=kind,
        title=title or filename,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        audience=audience,
        document_date=document_date,
        valid_until=valid_until,
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
        texts_extract_schedule(document_ids=[document.pk])
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


def condominium_document_upload(
    *,
    viewer: Viewer,
    actor: Any,
    condominium: Condominium,
    space: str,
    file: File,  # type: ignore[type-arg]
    filename: str,
    kind: str,
    title: str = "",
    lot: Lot | None = None,
    document_date: dt.date | None = None,
    valid_until: dt.date | None = None,
    occurred_at: dt.datetime | None = None,
) -> Document:
    """File a document in one space of the condominium (décret n° 2019-502):
    for all co-owners, for the council, or for the owners of one lot.

    The space decides who sees it; a kind that names one person's accounts or
    personal data is refused in a wider space (`checklist.spaces_for_kind`)."""
    if not may_manage_dossiers(viewer, condominium.agency_id):
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))
    if space not in DocumentSpace.values:
        raise ValidationError(_("Choisissez un espace."))
    if kind not in DocumentKind.values:
        raise ValidationError(_("Choisissez un type de document."))
    refusal = space_refusal(kind, space)
    if refusal is not None:
        raise ValidationError(refusal)
    if space == DocumentSpace.LOT and lot is None:
        raise ValidationError(_("Choisissez le lot auquel ce document se rapporte."))
    if space != DocumentSpace.LOT and lot is not None:
        raise ValidationError(_("Seul un document de l'espace d'un lot se rapporte à un lot."))
    return document_upload(
        viewer=viewer,
        actor=actor,
        condominium=condominium,
        file=file,
        filename=filename,
        kind=kind,
        title=title,
        audience=SPACE_AUDIENCES[DocumentSpace(space)],
        lot=lot,
        document_date=document_date,
        valid_until=valid_until,
        occurred_at=occurred_at,
    )
