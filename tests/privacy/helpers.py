"""A small scene for the privacy tests, on top of the shared world: the
co-owner of lot 12 (« Partie ») and their neighbour of lot 14 (« Voisin »)
with e-mails and phones, mail between them and the agency, and documents of
their lots."""

from __future__ import annotations

from email.message import EmailMessage

from django.core.files.base import ContentFile

from lanterne.condominiums.models import Lot, Person, PersonEmail
from lanterne.documents.choices import DocumentKind
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail import publication
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World

PARTY_EMAIL = "m.partie@free.fr"
PARTY_MOBILE = "07 81 22 33 44"
PARTY_MOBILE_FORMS = ("07 81 22 33 44", "0781223344", "+33781223344", "07.81.22.33.44")
NEIGHBOUR_EMAIL = "voisin.lot14@orange.fr"
NEIGHBOUR_MOBILE = "06 12 34 56 78"
NEIGHBOUR_FORMS = ("06 12 34 56 78", "0612345678", "+33612345678", NEIGHBOUR_EMAIL)


def give_contacts(world: World) -> tuple[Person, Person]:
    """The party and the neighbour, with their e-mails and phones."""
    party = world.persons["owner_party"]
    neighbour = world.persons["owner_not_party"]
    for person, email, phone in (
        (party, PARTY_EMAIL, PARTY_MOBILE),
        (neighbour, NEIGHBOUR_EMAIL, NEIGHBOUR_MOBILE),
    ):
        PersonEmail.objects.create(
            person=person, agency=world.agency, address=email, is_primary=True
        )
        person.phones = [phone]
        person.save(update_fields=["phones"])
    return party, neighbour


def staff_viewer(world: World) -> policy.Viewer:
    return policy.Viewer.for_user(world.users["staff"])


def mail_bytes(
    *, sender: str, to: str, subject: str, text: str, message_id: str, cc: str | None = None
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = message_id
    message.set_content(text)
    return message.as_bytes()


def received(world: World, data: bytes) -> Message:
    result = mail_receive_and_process(agency=world.agency, data=data)
    return Message.objects.get(raw=result.raw)


def filed_and_published(
    world: World, message: Message, audience: str = Audience.OWNERS, *, unmask: bool = False
) -> Message:
    viewer = staff_viewer(world)
    staff = world.users["staff"]
    message_file(
        viewer=viewer,
        actor=staff,
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="Classé par le test",
    )
    publication.message_publish(viewer=viewer, actor=staff, message=message, audience=audience)
    if unmask:
        publication.message_unmask(
            viewer=viewer, actor=staff, message=message, reason="Le plombier doit appeler"
        )
    message.refresh_from_db()
    return message


def party_mail(world: World) -> Message:
    """The party writes to the agency, their mobile in the signature, the
    neighbour's number and address in the text, the neighbour in copy."""
    return received(
        world,
        mail_bytes(
            sender=f"Marc Partie <{PARTY_EMAIL}>",
            to="Cabinet Lumière <gestion@cabinet-lumiere.fr>",
            cc=f"Voisin <{NEIGHBOUR_EMAIL}>",
            subject="Fuite chez moi MARK-PARTY",
            text=(
                "Bonjour,\n\nL'eau coule encore au plafond. Mon voisin du 14 est joignable "
                f"au {NEIGHBOUR_MOBILE} ou à {NEIGHBOUR_EMAIL}.\n\n"
                f"Marc Partie\nTél. {PARTY_MOBILE}\n"
            ),
            message_id="<fuite-party@free.fr>",
        ),
    )


def neighbour_mail(world: World) -> Message:
    """A mail of the neighbour alone, which has nothing to do with the party."""
    return received(
        world,
        mail_bytes(
            sender=f"Voisin <{NEIGHBOUR_EMAIL}>",
            to="Cabinet Lumière <gestion@cabinet-lumiere.fr>",
            subject="Ma cave MARK-NEIGHBOUR",
            text=f"Bonjour, ma cave est humide. Rappelez-moi au {NEIGHBOUR_MOBILE}.\n",
            message_id="<cave-voisin@orange.fr>",
        ),
    )


def lot_document(world: World, lot: Lot, content: bytes, title: str) -> Document:
    return document_upload(
        viewer=staff_viewer(world),
        actor=world.users["staff"],
        condominium=lot.condominium,
        lot=lot,
        file=ContentFile(content),
        filename=f"{title}.pdf",
        kind=DocumentKind.CHARGES_STATEMENT,
        title=title,
        audience=Audience.PARTIES,
    )
