"""Mail and its attachments, documents and their downloads.

A mail is read by those `policy.messages_visible_to` admits — exactly those
who see its timeline entry, and the agency's staff for mail in no dossier —
and served as `lanterne.mail.publication` serves it to them: outside the
staff, its texts with other people's personal data masked and no HTML
version (which cannot be masked), unless staff unmasked it. Files are served
as the web serves them: always as attachments, with `nosniff` and a
sandboxing policy, so that an uploaded HTML or SVG file never runs."""

from __future__ import annotations

import re
from typing import IO, Any

from django.db.models import F, QuerySet
from django.http import FileResponse, HttpRequest
from ninja import Field, Query, Router, Schema

from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.mail.choices import Review
from lanterne.mail.models import Message
from lanterne.mail.publication import texts_attach
from lanterne.mail.storage import blob_open

from ..common import READ_ERRORS, PathId, found, not_found, paginate, responses, viewer_of
from ..schemas import MAX_ID, DocumentOut, MessageOut, Page, PageParams
from ..serializers import document_out, message_out, sees_staff_fields

router = Router(tags=["Courriels et documents"])

# What a file download answers, in the OpenAPI description: its bytes.
_FILE_RESPONSE = {
    "responses": {
        200: {
            "description": "Le fichier, en pièce jointe.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}
# Files served from Lanterne's origin: inert if opened (as the web's downloads).
FILE_CSP = "default-src 'none'; sandbox"
# A MIME type as stored; anything else is served as bytes.
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


class MessageFilters(Schema):
    dossier_id: int | None = Field(None, ge=1, le=MAX_ID)
    review: Review | None = Field(None, description="Pour le personnel : « pending », à relire.")


def _messages(viewer: policy.Viewer) -> QuerySet[Message]:
    return policy.messages_visible_to(viewer).select_related(
        "dossier", "dossier__condominium", "agency"
    )


def _messages_out(viewer: policy.Viewer, messages: list[Message]) -> list[MessageOut]:
    texts_attach(viewer, messages)
    return [
        message_out(message, staff=sees_staff_fields(viewer, message.agency_id))
        for message in messages
    ]


@router.get(
    "/messages",
    response=responses({200: Page[MessageOut]}, READ_ERRORS),
    summary="Les courriels",
    description="Ceux que le lecteur peut lire : pour le personnel, tous les courriels du "
    "cabinet (classés ou non) ; pour les autres, ceux publiés dans les dossiers qu'ils "
    "voient. Les plus récents d'abord.",
)
def message_list(
    request: HttpRequest, filters: Query[MessageFilters], page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    messages = _messages(viewer).prefetch_related("attachments")
    if filters.dossier_id is not None:
        messages = messages.filter(dossier_id=filters.dossier_id)
    if filters.review is not None:
        messages = messages.filter(review=filters.review)
    messages = messages.order_by(F("date").desc(nulls_last=True), "-id")
    return paginate(messages, page, lambda rows: _messages_out(viewer, rows))


@router.get("/messages/{message_id}", response=responses({200: MessageOut}), summary="Un courriel")
def message_detail(request: HttpRequest, message_id: PathId) -> MessageOut:
    viewer = viewer_of(request)
    message = found(_messages(viewer).prefetch_related("attachments").filter(pk=message_id).first())
    (served,) = _messages_out(viewer, [message])
    return served


def _file(handle: IO[bytes], *, filename: str, content_type: str) -> FileResponse:
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/attachments/{attachment_id}/download",
    response=responses({}),
    openapi_extra=_FILE_RESPONSE,
    summary="Télécharger une pièce jointe",
)
def attachment_download(request: HttpRequest, attachment_id: PathId) -> FileResponse:
    viewer = viewer_of(request)
    attachment = found(policy.attachments_visible_to(viewer).filter(pk=attachment_id).first())
    declared = (attachment.detected_type or attachment.content_type).lower()
    try:
        handle = blob_open(attachment.storage_name)
    except FileNotFoundError:
        not_found()
    return _file(
        handle,
        filename=attachment.filename,
        content_type=declared if _MIME_TYPE.match(declared) else "application/octet-stream",
    )


def _document(viewer: policy.Viewer, document_id: int) -> Document:
    document = found(
        Document.objects.select_related("dossier", "condominium").filter(pk=document_id).first()
    )
    if not policy.may_see_document(viewer, document):
        not_found()
    return document


@router.get(
    "/documents/{document_id}", response=responses({200: DocumentOut}), summary="Un document"
)
def document_detail(request: HttpRequest, document_id: PathId) -> DocumentOut:
    viewer = viewer_of(request)
    document = _document(viewer, document_id)
    return document_out(document, staff=sees_staff_fields(viewer, document.agency_id))


@router.get(
    "/documents/{document_id}/download",
    response=responses({}),
    openapi_extra=_FILE_RESPONSE,
    summary="Télécharger un document",
)
def document_download(request: HttpRequest, document_id: PathId) -> FileResponse:
    document = _document(viewer_of(request), document_id)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        not_found()
    return _file(handle, filename=document.filename, content_type=document.content_type)
