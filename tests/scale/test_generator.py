"""The scale data generator writes what the app would have written: mail
with its raw bytes, threads, filing and publication, timeline entries, the
search index, and one big dossier of exactly 2,000 entries."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

import pytest
from django.core.files.storage import storages
from django.db import connection
from django.test import Client
from django.urls import reverse

from lanterne.condominiums.models import Agency
from lanterne.core.scale import (
    BIG_DOSSIER_ENTRIES,
    BIG_DOSSIER_MIX,
    SCALE_AGENCY_NAME,
    SCALE_PASSWORD,
    ScaleDataExistsError,
    ScaleSize,
    ScaleSummary,
    scale_generate,
)
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Decision, Dossier, Note, Task, TimelineEntry
from lanterne.mail.choices import Review
from lanterne.mail.models import Message, RawMessage, ThreadLink
from lanterne.mail.parsing import parse_message
from lanterne.mail.publication import redactions_compute
from lanterne.mail.storage import blob_read
from lanterne.mail.triage import triage_messages
from lanterne.search.models import SearchDocument
from lanterne.search.services import search_documents_index

from .conftest import SMALL

pytestmark = pytest.mark.django_db


def test_sizes_and_the_big_dossier(scale: ScaleSummary) -> None:
    agency = Agency.objects.get(name=SCALE_AGENCY_NAME)
    assert Message.objects.filter(agency=agency).count() == SMALL.messages
    assert Dossier.objects.filter(agency=agency).count() == SMALL.dossiers
    entries = TimelineEntry.objects.filter(dossier_id=scale.big_dossier_id)
    assert entries.count() == BIG_DOSSIER_ENTRIES
    assert Counter(entries.values_list("kind", flat=True)) == BIG_DOSSIER_MIX
    # Every filed mail has its one timeline entry, with the mail's audience.
    filed = Message.objects.filter(agency=agency, dossier__isnull=False)
    assert TimelineEntry.objects.filter(message__in=filed).count() == filed.count()
    assert (
        not TimelineEntry.objects.filter(message__isnull=False)
        .exclude(audience=models_f("message__audience"))
        .exists()
    )


def models_f(name: str):  # type: ignore[no-untyped-def]
    from django.db.models import F

    return F(name)


def test_mail_is_stored_threaded_and_spread_like_a_mailbox(scale: ScaleSummary) -> None:
    agency = Agency.objects.get(name=SCALE_AGENCY_NAME)
    store = storages["mail"]
    for raw in RawMessage.objects.filter(agency=agency).order_by("?")[:50]:
        with store.open(raw.storage_name, "rb") as handle:
            data = handle.read()
        assert hashlib.sha256(data).hexdigest() == raw.sha256
        assert len(data) == raw.size
        assert raw.message.message_id.encode() in data
    messages = Message.objects.filter(agency=agency)
    assert ThreadLink.objects.filter(agency=agency).count() == SMALL.messages
    sizes = Counter(Counter(messages.values_list("thread_id", flat=True)).values())
    assert sizes[1] > sizes[2] > 0
    assert max(sizes) > 5
    # Replies name their parent, which is in the same thread.
    reply = messages.exclude(in_reply_to=[]).first()
    assert reply is not None
    parent = messages.get(message_id=reply.in_reply_to[0])
    assert parent.thread_id == reply.thread_id
    # Some wait in triage (machine mail among them), some were set aside.
    waiting = triage_messages(policy.Viewer(user_id=0, staff_agency_ids=frozenset({agency.pk})))
    assert waiting.filter(is_auto_reply=False, is_bounce=False, is_bulk=False).exists()
    assert waiting.filter(is_bulk=True).exists() or waiting.filter(is_auto_reply=True).exists()
    assert messages.filter(not_dossier_related=True).exists()
    reviews = Counter(messages.filter(dossier__isnull=False).values_list("review", flat=True))
    assert reviews[Review.PUBLISHED] > reviews[Review.KEPT_INTERNAL] > 0
    assert reviews[Review.PENDING] > 0


def test_raw_bytes_parse_into_the_stored_message(scale: ScaleSummary) -> None:
    """The `.eml` written for a mail is the mail: parsing it again gives
    the fields the generator stored (what `reprocess-mail` would find)."""
    messages = Message.objects.filter(agency__name=SCALE_AGENCY_NAME).select_related("raw")
    for message in messages.order_by("?")[:100]:
        parsed = parse_message(blob_read(message.raw.storage_name))
        assert parsed.from_ is not None
        assert (
            parsed.message_id,
            parsed.subject,
            parsed.from_.address,
            parsed.date,
            list(parsed.in_reply_to),
            parsed.text.strip(),
            parsed.new_text,
            parsed.quoted_text,
            parsed.signature,
        ) == (
            message.message_id,
            message.subject,
            message.from_address,
            message.date,
            message.in_reply_to,
            message.text,
            message.new_text,
            message.quoted_text,
            message.signature,
        ), message.pk


def test_redactions_are_what_publication_computes(scale: ScaleSummary) -> None:
    published = (
        Message.objects.filter(review=Review.PUBLISHED, agency__name=SCALE_AGENCY_NAME)
        .exclude(audience=Audience.INTERNAL)
        .select_related("dossier__condominium", "agency")
    )
    with_spans = 0
    for message in published:
        assert message.dossier is not None
        assert message.redactions == redactions_compute(message, message.dossier), message.pk
        with_spans += len(message.redactions) > 1
    assert with_spans > 0


def _index_rows(**ids: list[int]) -> dict[tuple[str, int | None], tuple[str, ...]]:
    fields = [
        "kind",
        "agency_id",
        "condominium_id",
        "dossier_id",
        "audience",
        "date",
        "title",
        "body",
        "more",
        "public_title",
        "public_body",
        "public_more",
        "vector",
        "public_vector",
    ]
    rows = {}
    for document in (
        SearchDocument.objects.filter(message_id__in=ids["message_ids"], kind="message")
        | SearchDocument.objects.filter(note_id__in=ids["note_ids"])
        | SearchDocument.objects.filter(task_id__in=ids["task_ids"])
        | SearchDocument.objects.filter(decision_id__in=ids["decision_ids"])
        | SearchDocument.objects.filter(dossier_id__in=ids["dossier_ids"], kind="dossier")
    ):
        key = (
            document.kind,
            document.message_id
            or document.note_id
            or document.task_id
            or document.decision_id
            or document.dossier_id,
        )
        rows[key] = tuple(str(getattr(document, name)) for name in fields)
    return rows


def test_search_index_is_what_the_index_service_writes(scale: ScaleSummary) -> None:
    """The rows written in bulk (and, on PostgreSQL, their tsvectors
    computed in SQL) equal those `search_documents_index` writes for the
    same objects."""
    agency = Agency.objects.get(name=SCALE_AGENCY_NAME)
    masked = list(
        Message.objects.filter(agency=agency, redactions__has_key="new_text").values_list(
            "pk", flat=True
        )[:100]
    )
    assert masked
    ids = {
        "message_ids": masked
        + list(
            Message.objects.filter(agency=agency).order_by("?").values_list("pk", flat=True)[:400]
        ),
        "note_ids": list(
            Note.objects.filter(dossier__agency=agency).values_list("pk", flat=True)[:50]
        ),
        "task_ids": list(
            Task.objects.filter(dossier__agency=agency).values_list("pk", flat=True)[:50]
        ),
        "decision_ids": list(
            Decision.objects.filter(dossier__agency=agency).values_list("pk", flat=True)[:50]
        ),
        "dossier_ids": list(
            Dossier.objects.filter(agency=agency).values_list("pk", flat=True)[:50]
        ),
    }
    generated = _index_rows(**ids)
    assert len(generated) == sum(len(set(v)) for v in ids.values())
    if connection.vendor == "postgresql":
        assert all(row[-2] not in ("None", "") for row in generated.values())
    search_documents_index(**ids)
    assert _index_rows(**ids) == generated


def _logged_in(email: str) -> Client:
    """A client logged in through the login page, with the printed password."""
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": email, "password": SCALE_PASSWORD}
    )
    assert response.status_code == 302, email
    return client


def test_logins_and_search_work(scale: ScaleSummary) -> None:
    party = _logged_in(scale.party_logins[0])
    response = party.get(reverse("dossiers:detail", args=[scale.big_dossier_id]))
    assert response.status_code == 200
    assert b"entry" in response.content
    response = party.get(reverse("search:search"), {"q": "fuite"})
    assert response.status_code == 200
    assert b"<mark>" in response.content
    staff = _logged_in(scale.staff_logins[0])
    assert staff.get(reverse("mail:triage")).status_code == 200
    # A co-owner of another building may not see the big dossier.
    outsider = _logged_in(scale.coowner_logins[-1])
    response = outsider.get(reverse("dossiers:detail", args=[scale.big_dossier_id]))
    assert response.status_code == 404


def test_refuses_to_run_twice_unless_replacing(scale: ScaleSummary) -> None:
    with pytest.raises(ScaleDataExistsError):
        scale_generate(size=SMALL, seed=7)
    tiny = ScaleSize(condominiums=2, lots=130, persons=220, dossiers=10, messages=1600)
    summary = scale_generate(size=tiny, seed=8, today=dt.date(2026, 6, 30), replace=True)
    assert Agency.objects.filter(name=SCALE_AGENCY_NAME).get().pk == summary.agency_id
    assert Message.objects.filter(agency__name=SCALE_AGENCY_NAME).count() == 1600
    assert not Message.objects.filter(agency_id=scale.agency_id).exists()
