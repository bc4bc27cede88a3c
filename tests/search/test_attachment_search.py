"""The text of attached and uploaded files is searched: staff find a word
that is only inside a mail's PDF; readers outside the agency find it only
where they may read the mail or the document, with the personal data of
the file masked as the mail's own text is."""

from __future__ import annotations

import html
from email.message import EmailMessage

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from lanterne.documents.choices import DocumentKind, TextState
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers.choices import Audience
from lanterne.mail.models import Attachment, Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.search.models import SearchDocument
from lanterne.search.services import FILE_TEXT_MAX, search_documents_index

from ..documents import files
from .conftest import file, search, viewer

pytestmark = pytest.mark.django_db

NEIGHBOUR_MOBILE = "06 12 34 56 78"
READERS = ("owner_not_party", "owner_party", "council_member")


def shown(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The snippets of a page, marks removed."""
    return [
        html.unescape(str(result.snippet_html).replace("<mark>", "").replace("</mark>", ""))
        for result in page.results
    ]


def quote_mail(marker: str, pdf: bytes, *, filename: str = "devis-toiture.pdf") -> bytes:
    """A contractor's mail whose only mention of the works is in its PDF."""
    message = EmailMessage()
    message["From"] = "Frédéric Martin <f.martin@plomberie-martin.fr>"
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Subject"] = "Notre proposition"
    message["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = f"<{marker}@plomberie-martin.fr>"
    message.set_content("Bonjour, vous trouverez notre proposition ci-jointe.")
    message.add_attachment(pdf, "application", "pdf", filename=filename)
    return message.as_bytes()


def receive_and_read(world, data: bytes, capture) -> Message:  # type: ignore[no-untyped-def]
    """Receive a mail through the real pipeline; the text of its attachment
    is read once its transaction commits (the tests run tasks immediately)."""
    with capture(execute=True):
        result = mail_receive_and_process(agency=world.agency, data=data)
    return Message.objects.get(raw=result.raw)


def test_staff_find_a_word_only_inside_a_pdf_attachment(
    indexed_world, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    world = indexed_world
    pdf = files.pdf("Reprise de la zinguerie du brisis côté rue.", title="Devis 2026-041")
    message = receive_and_read(world, quote_mail("zinc", pdf), django_capture_on_commit_callbacks)

    (attachment,) = Attachment.objects.filter(message=message)
    assert attachment.text_state == TextState.EXTRACTED
    assert "zinguerie du brisis" in attachment.text
    page = search(world, "staff", "zinguerie")
    assert page.total == 1
    (result,) = page.results
    assert result.document.message_id == message.pk
    assert "<mark>zinguerie</mark>" in str(result.snippet_html).lower()
    assert result.found_in_file == "devis-toiture.pdf"
    # A word of the mail's own text is not said to be found in the file.
    (by_text,) = search(world, "staff", "proposition").results
    assert by_text.found_in_file == ""
    # In triage, nobody but staff finds it.
    for role in READERS:
        assert search(world, role, "zinguerie").total == 0, role


def test_co_owners_find_a_pdf_s_text_only_once_published_to_them_and_masked(
    indexed_world, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    world = indexed_world
    pdf = files.pdf(
        f"Reprise de la zinguerie. Contact sur place : M. Petit au {NEIGHBOUR_MOBILE}.",
        title="Devis",
    )
    message = receive_and_read(world, quote_mail("zinc", pdf), django_capture_on_commit_callbacks)

    # Filed, waiting for review: internal. No count, no snippet.
    file(world, message)
    for role in READERS:
        page = search(world, role, "zinguerie")
        assert (page.total, page.results) == (0, []), role
    # Published to every co-owner of the building.
    file(world, message, audience=Audience.OWNERS)
    for role in READERS:
        page = search(world, role, "zinguerie")
        assert page.total == 1, role
        (found,) = shown(page)
        assert "zinguerie" in found.lower()
        assert "56 78" not in found and "[téléphone masqué]" in found, role
        assert page.results[0].found_in_file == "devis-toiture.pdf", role
        # The masked number is not found either.
        assert search(world, role, f'"{NEIGHBOUR_MOBILE}"').total == 0, role
    (staff_view,) = shown(search(world, "staff", "zinguerie"))
    assert NEIGHBOUR_MOBILE in staff_view
    assert search(world, "staff", f'"{NEIGHBOUR_MOBILE}"').total == 1


def test_an_internal_mail_s_attachment_is_never_found_outside_the_agency(
    indexed_world, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    world = indexed_world
    pdf = files.pdf("Relance pour impayés de charges, procédure contentieuse.")
    message = receive_and_read(
        world, quote_mail("relance", pdf), django_capture_on_commit_callbacks
    )
    file(world, message, audience=Audience.INTERNAL)

    assert search(world, "staff", "contentieuse").total == 1
    for role in (*READERS, "council_chair", "staff_other_agency"):
        page = search(world, role, "contentieuse")
        assert (page.total, page.results) == (0, []), role
    row = SearchDocument.objects.get(message=message)
    assert "contentieuse" in row.more
    assert row.public_more == ""


def test_a_dossier_document_is_found_by_its_text(world, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    staff = viewer(world, "staff")
    pdf = files.pdf(f"Diagnostic des canalisations. Le gardien répond au {NEIGHBOUR_MOBILE}.")

    def upload(title: str, audience: str) -> Document:
        with django_capture_on_commit_callbacks(execute=True):
            return document_upload(
                viewer=staff,
                actor=world.users["staff"],
                condominium=world.condominium,
                dossier=world.dossier,
                file=ContentFile(pdf),
                filename=f"{title}.pdf",
                kind=DocumentKind.REPORT,
                title=title,
                audience=audience,
            )

    shared = upload("Rapport partagé", Audience.OWNERS)
    kept = upload("Rapport interne", Audience.INTERNAL)

    assert {d.text_state for d in Document.objects.filter(pk__in=[shared.pk, kept.pk])} == {
        TextState.EXTRACTED
    }
    assert search(world, "staff", "canalisations").total == 2
    for role in READERS:
        page = search(world, role, "canalisations")
        assert page.total == 1, role
        (result,) = page.results
        assert result.document.document_id == shared.pk
        (found,) = shown(page)
        assert "56 78" not in found and "[téléphone masqué]" in found, role


def test_an_index_row_holds_a_bounded_share_of_the_files_text(
    indexed_world, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    world = indexed_world
    message = receive_and_read(
        world, quote_mail("long", files.pdf("Court.")), django_capture_on_commit_callbacks
    )
    long_text = "ravalement " * 20_000  # 220,000 characters
    Attachment.objects.filter(message=message).update(text=long_text)

    search_documents_index(message_ids=[message.pk])

    row = SearchDocument.objects.get(message=message)
    assert FILE_TEXT_MAX <= len(row.more) < FILE_TEXT_MAX + 1_000


def test_the_results_page_says_which_attachment_a_mail_was_found_in(
    indexed_world, client_for, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    world = indexed_world
    pdf = files.pdf("Reprise de la zinguerie du brisis côté rue.")
    receive_and_read(world, quote_mail("zinc", pdf), django_capture_on_commit_callbacks)

    page = client_for("staff").get(reverse("search:search"), {"q": "zinguerie"})

    assert page.status_code == 200
    assert "Trouvé dans la pièce jointe devis-toiture.pdf" in page.content.decode()
