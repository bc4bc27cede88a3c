"""A dossier worth exporting: the world's water damage (tests/conftest.py)
with mail received through the real pipeline — one published to the owners
and masked, one unmasked by staff, one kept internal — attachments, notes,
a task, a decision and documents, for the staff and for the owners."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.http import HttpResponse
from weasyprint import Document

from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DecisionBody
from lanterne.dossiers.services import decision_record, note_add, task_create
from lanterne.mail import publication
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World

NEIGHBOUR_MOBILE = "06 12 34 56 78"
# The same number as other writers put it: none may appear in a co-owner's export.
NEIGHBOUR_MOBILE_FORMS = (
    NEIGHBOUR_MOBILE,
    "0612345678",
    "06.12.34.56.78",
    "+33 6 12 34 56 78",
    "+33612345678",
)
NEIGHBOUR_EMAIL = "m.leroy.voisine@exemple-perso.fr"
CONTRACTOR_TEXT = (
    "Bonjour,\n\nNous interviendrons jeudi au lot 12 pour la recherche de fuite. "
    f"Merci de prévenir Mme Leroy, voisine du dessous, joignable au {NEIGHBOUR_MOBILE} "
    f"ou à {NEIGHBOUR_EMAIL}.\n\nCordialement,\nFrédéric Martin\n"
)
QUOTE_PDF = b"%PDF-1.4\n% devis de recherche de fuite\n" + bytes(range(256)) * 8
OLD_MAIL = (
    b"From: Ancien Syndic <contact@ancien-syndic.fr>\r\n"
    b"To: Mme Leroy <leroy@exemple.fr>\r\n"
    b"Subject: Ancien courrier joint\r\n"
    b"Message-ID: <ancien-1@ancien-syndic.fr>\r\n"
    b"Date: Mon, 02 Feb 2026 09:00:00 +0100\r\n\r\n"
    b"Un ancien courriel, joint comme fichier.\r\n"
)
INTERNAL_NOTE = "Le plombier facture trop cher : négocier."
OWNERS_NOTE = "Le plombier passe jeudi matin."
# A remote image in a mail's HTML version: nothing may fetch it.
REMOTE_HTML = '<p>Bonjour</p><img src="{url}" alt="pixel">'


def mail(
    *,
    sender: str,
    subject: str,
    text: str,
    message_id: str,
    date: str = "Tue, 03 Mar 2026 10:00:00 +0100",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    html: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Subject"] = subject
    message["Date"] = date
    message["Message-ID"] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@dataclass
class ExportWorld:
    world: World
    published: Message  # to the owners, masked
    unmasked: Message  # to the owners, unmasked by staff
    internal: Message  # kept internal
    documents: dict[str, Any]


def _staff(world: World) -> policy.Viewer:
    return policy.Viewer.for_user(world.users["staff"])


def receive_and_file(world: World, data: bytes, audience: str | None) -> Message:
    result = mail_receive_and_process(agency=world.agency, data=data)
    message = Message.objects.get(raw=result.raw)
    message_file(
        viewer=_staff(world),
        actor=world.users["staff"],
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="Réponse du plombier",
    )
    message.refresh_from_db()
    if audience is not None:
        publication.message_publish(
            viewer=_staff(world), actor=world.users["staff"], message=message, audience=audience
        )
    message.refresh_from_db()
    return message


def build_export_world(
    world: World, *, remote_url: str = "http://127.0.0.1:9/pixel.png"
) -> ExportWorld:
    staff = _staff(world)
    actor = world.users["staff"]
    day = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    note_add(
        viewer=staff,
        actor=actor,
        dossier=world.dossier,
        text=OWNERS_NOTE,
        audience=Audience.OWNERS,
        occurred_at=day,
    )
    note_add(
        viewer=staff,
        actor=actor,
        dossier=world.dossier,
        text=INTERNAL_NOTE,
        audience=Audience.INTERNAL,
        occurred_at=day,
    )
    task_create(
        viewer=staff,
        actor=actor,
        dossier=world.dossier,
        title="Obtenir le rapport de recherche de fuite",
        due_on=dt.date(2026, 3, 20),
        audience=Audience.OWNERS,
        occurred_at=day,
    )
    decision_record(
        viewer=staff,
        actor=actor,
        dossier=world.dossier,
        decided_by=DecisionBody.MANAGER,
        text="Mandater l'entreprise Martin pour la recherche de fuite.",
        audience=Audience.OWNERS,
        occurred_at=day,
    )
    documents = {
        "owners": document_upload(
            viewer=staff,
            actor=actor,
            condominium=world.condominium,
            dossier=world.dossier,
            file=ContentFile(b"%PDF-1.4 constat amiable"),
            filename="constat-amiable.pdf",
            kind="report",
            title="Constat amiable",
            audience=Audience.OWNERS,
        ),
        "internal": document_upload(
            viewer=staff,
            actor=actor,
            condominium=world.condominium,
            dossier=world.dossier,
            file=ContentFile(b"note interne du cabinet"),
            filename="note-interne.txt",
            kind="letter",
            title="Note interne du cabinet",
            audience=Audience.INTERNAL,
        ),
    }
    published = receive_and_file(
        world,
        mail(
            sender="Frédéric Martin <f.martin@plomberie-martin.fr>",
            subject="Recherche de fuite au lot 12",
            text=CONTRACTOR_TEXT,
            message_id="<fuite-1@plomberie-martin.fr>",
            attachments=(
                ("devis-recherche-fuite.pdf", "application/pdf", QUOTE_PDF),
                ("ancien-courrier.eml", "application/octet-stream", OLD_MAIL),
            ),
            html=REMOTE_HTML.format(url=remote_url),
        ),
        Audience.OWNERS,
    )
    unmasked = receive_and_file(
        world,
        mail(
            sender="Assurances Lumière <sinistres@assur-lumiere.fr>",
            subject="Prise en charge du sinistre",
            text="Nous prenons en charge le sinistre. Contact : 01 45 67 89 10.\n",
            message_id="<sinistre-7@assur-lumiere.fr>",
            date="Wed, 04 Mar 2026 11:00:00 +0100",
        ),
        Audience.OWNERS,
    )
    publication.message_unmask(
        viewer=staff, actor=actor, message=unmasked, reason="Numéro du service sinistres"
    )
    unmasked.refresh_from_db()
    internal = receive_and_file(
        world,
        mail(
            sender="Frédéric Martin <f.martin@plomberie-martin.fr>",
            subject="Nos conditions tarifaires confidentielles",
            text="Remise de 15 % réservée au cabinet.\n",
            message_id="<tarifs-2@plomberie-martin.fr>",
            date="Thu, 05 Mar 2026 08:30:00 +0100",
        ),
        None,
    )
    return ExportWorld(
        world=world, published=published, unmasked=unmasked, internal=internal, documents=documents
    )


@pytest.fixture
def export_world(world: World) -> ExportWorld:
    return build_export_world(world)


def zip_bytes(response: HttpResponse) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def zip_members(data: bytes) -> dict[str, bytes]:
    """Every member of a ZIP archive, decompressed (their CRCs checked)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def pdf_text(document: Document) -> str:
    """The text WeasyPrint laid out on the pages of a PDF, in reading order."""
    pieces: list[str] = []

    def walk(box: Any) -> None:
        text = getattr(box, "text", None)
        if isinstance(text, str):
            pieces.append(text)
        for child in getattr(box, "children", ()):
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return " ".join(" ".join(pieces).split())
