"""Reads on mail. Mail is staff-only until it is filed and published."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet

from lanterne.condominiums.models import Agency
from lanterne.dossiers.policy import Viewer

from .choices import RawState
from .models import Attachment, Message, RawMessage

EXPORT_BATCH = 500


def message_export_rows(agency: Agency) -> Iterator[dict[str, Any]]:
    """One dict per message of the agency, oldest first, read in batches (the
    export of a million messages must not hold them all in memory)."""
    last_id = 0
    while True:
        batch = list(
            Message.objects.filter(agency=agency, pk__gt=last_id)
            .select_related("raw", "dossier")
            .prefetch_related(
                Prefetch("attachments", queryset=Attachment.objects.order_by("position"))
            )
            .order_by("pk")[:EXPORT_BATCH]
        )
        if not batch:
            return
        for message in batch:
            yield {
                "message_id": message.message_id,
                "sha256": message.raw.sha256,
                "date": message.date.isoformat() if message.date else None,
                "from": {"name": message.from_name, "address": message.from_address},
                "to": message.to,
                "cc": message.cc,
                "subject": message.subject,
                "direction": message.direction,
                "flags": {
                    "auto_reply": message.is_auto_reply,
                    "bounce": message.is_bounce,
                    "bulk": message.is_bulk,
                },
                "new_text": message.new_text,
                "quoted_text": message.quoted_text,
                "attachments": [
                    {
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "size": a.size,
                        "sha256": a.sha256,
                    }
                    for a in message.attachments.all()
                ],
                "thread_id": message.thread_id,
                **_filing_fields(message),
            }
        last_id = batch[-1].pk


def _filing_fields(message: Message) -> dict[str, Any]:
    """Where the message is filed and why; for mail waiting in triage, the
    file stage's ranked suggestions (dossier references with scores)."""
    waiting = message.dossier_id is None and not message.not_dossier_related
    return {
        "dossier": message.dossier.reference if message.dossier is not None else None,
        "filing_method": message.filing_method or None,
        "filing_score": message.filing_score,
        "filing_reason": message.filing_reason or None,
        "audience": message.audience or None,
        "not_dossier_related": message.not_dossier_related,
        "suggestions": (
            [
                {"dossier": item.get("reference"), "score": item.get("score")}
                for item in message.suggestions
                if isinstance(item, dict)
            ]
            if waiting
            else []
        ),
    }


def quarantine_for(viewer: Viewer) -> QuerySet[RawMessage]:
    """Messages that failed a stage or were refused, for the viewer's agencies (staff only)."""
    return (
        RawMessage.objects.filter(
            agency_id__in=viewer.staff_agency_ids,
            state__in=[RawState.QUARANTINED, RawState.REFUSED],
        )
        .prefetch_related("deliveries__source")
        .order_by("-received_at", "-id")
    )
