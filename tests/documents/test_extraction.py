"""Reading the text of files for search (`lanterne.documents.extraction`),
on real files made here: what is read, and how hostile files are bounded —
never an exception, always a state and a reason."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import call_command

from lanterne.documents import extraction
from lanterne.documents.choices import DocumentSpace, TextState
from lanterne.documents.extraction import Extractor, extract_text, extract_texts
from lanterne.documents.models import Document
from lanterne.documents.texts import attachments_text_extract, documents_text_extract
from lanterne.mail.importing import mail_import
from lanterne.mail.models import Attachment
from lanterne.mail.services import mail_receive_and_process

# The task queue tests' installations (`lanterne` run as separate processes
# on a database of their own, with the database's queue or Redis).
from ..tasks.conftest import (
    Installation,
    database_url,  # noqa: F401 — fixtures of `installation`
    installation,  # noqa: F401
    migrated,  # noqa: F401
    redis_queue,  # noqa: F401
)
from . import files
from .helpers import file_document


def test_a_pdf_made_by_weasyprint_is_read_with_its_accents() -> None:
    data = files.pdf("Remplacement de la colonne d'eau chaude, façade côté cour.", title="Devis")

    result = extract_text(data, filename="devis.pdf", content_type="application/pdf")

    assert result.state == extraction.EXTRACTED
    assert "Devis" in result.text
    assert "façade côté cour" in result.text
    assert result.reason == ""


def test_word_opendocument_and_spreadsheet_files_are_read_from_their_xml() -> None:
    word = extract_text(
        files.docx(["Ordre de service pour la toiture", "Début des travaux le 3 mars"]),
        filename="ordre.docx",
    )
    assert word.state == extraction.EXTRACTED
    # Runs joined, the tab kept as a space, one line per paragraph.
    assert word.text.splitlines() == [
        "Ordre de service pour la toiture fin",
        "Début des travaux le 3 mars",
    ]

    writer = extract_text(files.odt(["Assemblée générale extraordinaire"]), filename="cr.odt")
    assert writer.state == extraction.EXTRACTED
    assert writer.text.splitlines() == ["Compte rendu", "Assemblée générale extraordinaire"]

    sheet = extract_text(files.xlsx(["Ascenseur", "Contrat d'entretien"]), filename="a.xlsx")
    assert sheet.state == extraction.EXTRACTED
    assert sheet.text.splitlines() == ["Ascenseur", "Contrat d'entretien"]


def test_plain_text_in_latin_1_is_decoded() -> None:
    text = (
        "Relevé des compteurs d'eau, bâtiment B.\n"
        "Le gardien a noté une fuite près de la chaufferie ; l'entreprise "
        "interviendra après la réunion du conseil syndical.\n"
    ) * 3

    result = extract_text(text.encode("latin-1"), filename="releve.txt", content_type="text/plain")

    assert result.state == extraction.EXTRACTED
    assert "Relevé des compteurs d'eau, bâtiment B." in result.text
    assert "chaufferie" in result.text


def test_a_broken_pdf_fails_with_its_reason() -> None:
    data = files.pdf("Un devis")[:400]

    result = extract_text(data, filename="devis.pdf")

    assert result.state == extraction.FAILED
    assert result.text == ""
    assert result.reason


def test_an_encrypted_pdf_is_read_only_without_a_password_to_open_it() -> None:
    clear = files.pdf("Rapport d'expertise après sinistre")
    locked = files.encrypted_pdf(clear, user_password="lecture", owner_password="gestion")
    open_to_all = files.encrypted_pdf(clear, user_password="", owner_password="gestion")

    refused = extract_text(locked, filename="rapport.pdf")
    read = extract_text(open_to_all, filename="rapport.pdf")

    assert refused.state == extraction.FAILED
    assert "encrypted" in refused.reason
    assert refused.text == ""
    assert read.state == extraction.EXTRACTED
    assert "Rapport d'expertise après sinistre" in read.text


def test_a_zip_bomb_is_read_up_to_its_bound() -> None:
    data = files.docx_bomb(megabytes=extraction.MAX_XML_BYTES // 2**20 + 8)
    assert len(data) < 1024 * 1024  # small on the wire

    result = extract_text(data, filename="piege.docx")

    assert result.state == extraction.TOO_LARGE
    assert "XML" in result.reason
    assert result.text == "Bonjour"


def test_xml_declaring_entities_is_refused() -> None:
    result = extract_text(files.docx_with_entities(), filename="piege.docx")

    assert result.state == extraction.FAILED
    assert "aaaaaaaaaa" not in result.text


def test_a_pdf_that_takes_too_long_is_stopped_and_the_next_file_still_read() -> None:
    slow = files.slow_pdf()
    assert len(slow) < 300 * 1024

    results = extract_texts(
        [
            (slow, "lent.pdf", "application/pdf"),
            (files.pdf("Procès-verbal de réception"), "pv.pdf", "application/pdf"),
        ],
        timeout=2,
    )

    assert results[0].state == extraction.FAILED
    assert results[0].reason == "took longer than 2 s"
    assert results[1].state == extraction.EXTRACTED
    assert "Procès-verbal de réception" in results[1].text


def test_text_beyond_the_bound_is_cut() -> None:
    line = "Appel de fonds travaux, ravalement de la façade nord.\n"
    data = (line * (extraction.MAX_TEXT_BYTES // len(line) + 10)).encode()

    result = extract_text(data, filename="appel.csv", content_type="text/csv")

    assert result.state == extraction.TOO_LARGE
    assert 0 < len(result.text) <= extraction.MAX_CHARACTERS
    assert result.text.startswith("Appel de fonds travaux")


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.png", "image/png"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "ancien.doc", "application/msword"),
    ],
)
def test_files_without_readable_text_are_unsupported(
    data: bytes, filename: str, content_type: str
) -> None:
    result = extract_text(data, filename=filename, content_type=content_type)

    assert result.state == extraction.UNSUPPORTED
    assert result.text == ""


def test_a_zip_archive_that_is_no_office_document_is_unsupported() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photos/facade.jpg", b"\xff\xd8\xff")

    result = extract_text(out.getvalue(), filename="photos.zip")

    assert result.state == extraction.UNSUPPORTED


def test_a_killed_extraction_process_is_replaced() -> None:
    with Extractor() as extractor:
        first = extractor.extract(files.pdf("Premier devis"), filename="a.pdf")
        process = extractor._process
        assert process is not None
        process.kill()
        process.wait()
        second = extractor.extract(files.pdf("Second devis"), filename="b.pdf")

    assert "Premier devis" in first.text
    assert second.state == extraction.EXTRACTED
    assert "Second devis" in second.text


# --- Stored with the documents ----------------------------------------------------------


@pytest.mark.django_db
def test_an_uploaded_document_gets_its_text_after_the_commit(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        document = file_document(world, DocumentSpace.OWNERS, "bylaws", "Règlement")
    document.refresh_from_db()
    # The helper's file is its title's bytes, named .pdf: read, nothing in it.
    assert document.text_state == TextState.UNSUPPORTED
    assert document.text == ""

    pdf_bytes = files.pdf("Article 12 : usage des parties communes")
    with document.file.storage.open(document.file.name, "wb") as handle:
        handle.write(pdf_bytes)
    Document.objects.filter(pk=document.pk).update(size=len(pdf_bytes))
    assert documents_text_extract([document.pk]) == 0  # not pending any more

    call_command("extract-text", "--all", stdout=io.StringIO())

    document.refresh_from_db()
    assert document.text_state == TextState.EXTRACTED
    assert "usage des parties communes" in document.text


def _mail_with_files(marker: str, report: str | bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "Expertises Rhône <rapport@expertises-rhone.fr>"
    message["To"] = "gestion@cabinet-lumiere.fr"
    message["Subject"] = f"Rapport {marker}"
    message["Message-ID"] = f"<{marker}@expertises-rhone.fr>"
    message.set_content("Bonjour, le rapport et une photo.")
    pdf = files.pdf(report) if isinstance(report, str) else report
    message.add_attachment(pdf, "application", "pdf", filename="rapport.pdf")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image", "png", filename="a.png")
    return message.as_bytes()


@pytest.mark.django_db
def test_a_received_mail_s_attachments_are_read_after_its_commit(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mail_receive_and_process(
            agency=world.agency, data=_mail_with_files("un", "Infiltration en toiture")
        )
    pdf, photo = Attachment.objects.order_by("position")
    # Saved: the photo is known to hold no text, the PDF waits for the commit.
    assert photo.text_state == TextState.UNSUPPORTED
    assert pdf.text_state == TextState.PENDING

    for callback in callbacks:
        callback()

    pdf.refresh_from_db()
    assert pdf.text_state == TextState.EXTRACTED
    assert "Infiltration en toiture" in pdf.text


@pytest.mark.django_db
def test_the_same_file_is_read_once_per_agency(world) -> None:  # type: ignore[no-untyped-def]
    pdf = files.pdf("Contrat d'entretien de l'ascenseur")
    for marker in ("premier", "second"):
        mail_receive_and_process(agency=world.agency, data=_mail_with_files(marker, pdf))
    first, second = Attachment.objects.filter(filename="rapport.pdf").order_by("pk")
    assert first.sha256 == second.sha256
    Attachment.objects.filter(pk=first.pk).update(
        text="Le texte lu la première fois", text_state=TextState.EXTRACTED
    )

    attachments_text_extract([second.pk])

    second.refresh_from_db()
    assert second.text == "Le texte lu la première fois"
    # Read again on request, from the file itself.
    attachments_text_extract([second.pk], again=True)
    second.refresh_from_db()
    assert "Contrat d'entretien de l'ascenseur" in second.text


@pytest.mark.django_db
def test_a_bulk_import_leaves_the_reading_to_extract_text(
    world, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    for index, report in enumerate(["Fissure en façade", "Fissure en façade", "Cage d'escalier"]):
        (tmp_path / f"{index}.eml").write_bytes(_mail_with_files(f"lot{index}", report))
    with django_capture_on_commit_callbacks(execute=True):
        mail_import(agency=world.agency, paths=[tmp_path])
    pdfs = Attachment.objects.filter(filename="rapport.pdf")
    # The tests run tasks immediately: an import reads no file itself.
    assert set(pdfs.values_list("text_state", flat=True)) == {TextState.PENDING}

    output = io.StringIO()
    call_command("extract-text", "--pending", stdout=output)

    assert "attachments: 3 read" in output.getvalue()
    texts = list(pdfs.values_list("text", flat=True))
    assert sum("Fissure en façade" in text for text in texts) == 2
    assert sum("Cage d'escalier" in text for text in texts) == 1
    assert set(pdfs.values_list("text_state", flat=True)) == {TextState.EXTRACTED}


# --- On a real queue ----------------------------------------------------------------


def test_a_worker_reads_the_text_of_imported_attachments(
    installation: Installation,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`lanterne import-mail` stores and parses the mail but reads no PDF:
    it queues that, and `lanterne worker` reads the texts, then indexes them."""
    installation.script("store", "0")  # the agency
    folder = tmp_path / "mail"
    folder.mkdir()
    for index in range(3):
        (folder / f"{index}.eml").write_bytes(
            _mail_with_files(f"queue{index}", f"Reprise de la zinguerie, devis {index}.")
        )

    installation.run("import-mail", str(folder))

    states = "SELECT filename, text_state FROM mail_attachment ORDER BY id"
    assert sorted(installation.query(states)) == sorted(
        [("rapport.pdf", "pending"), ("a.png", "unsupported")] * 3
    )

    installation.work()

    assert sorted(installation.query(states)) == sorted(
        [("rapport.pdf", "extracted"), ("a.png", "unsupported")] * 3
    )
    indexed = installation.count(
        "SELECT COUNT(*) FROM search_searchdocument WHERE more LIKE '%zinguerie%'"
    )
    assert indexed == 3
