"""Filing documents in a condominium's space for the tests."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.utils.text import slugify

from lanterne.condominiums.models import Condominium, Lot
from lanterne.documents.models import Document
from lanterne.documents.services import condominium_document_upload
from lanterne.dossiers import policy

from ..conftest import World


def file_document(
    world: World,
    space: str,
    kind: str,
    title: str,
    *,
    lot: Lot | None = None,
    condominium: Condominium | None = None,
    dated: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> Document:
    """File a document as the world's staff member; its content is its title."""
    staff = world.users["staff"]
    return condominium_document_upload(
        viewer=policy.Viewer.for_user(staff),
        actor=staff,
        condominium=condominium or world.condominium,
        space=space,
        lot=lot,
        file=ContentFile(title.encode()),
        filename=f"{slugify(title)}.pdf",
        kind=kind,
        title=title,
        document_date=dated,
        valid_until=valid_until,
    )
