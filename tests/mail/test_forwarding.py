"""Mail staff forward to the agency's own mailbox (`lanterne.mail.forwarding`
and the forward step of `lanterne.mail.autofile`): the original — its sender,
date, text and attachments — is taken in and filed, the wrapper follows it;
attached (message/rfc822) and inline forwards (Gmail, Outlook, Apple Mail,
Thunderbird); forwards that are not staff's, or cannot be read, are ordinary
mail; running twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lanterne.condominiums.models import Agency
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import TimelineEntry
from lanterne.mail.autofile import message_autofile
from lanterne.mail.filing import message_file
from lanterne.mail.forwarding import (
    inline_forward,
    is_agency_address,
    is_staff_forward,
    subject_is_forward,
)
from lanterne.mail.models import Delivery, FilingMethod, Message, RawMessage
from lanterne.mail.references import dossier_message_id
from lanterne.mail.services import mail_receive, raw_message_process
from lanterne.mail.storage import _storage, blob_read

from ..conftest import World
from ..factories import (
    AgencyFactory,
    CompanyDomainFactory,
    CompanyFactory,
    CondominiumFactory,
    DossierFactory,
    PersonFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
CORPORA = Path(__file__).parent.parent / "corpora"
PARIS = ZoneInfo("Europe/Paris")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def receive(agency: Agency, data: bytes) -> Message:
    """Store, parse and thread a message — the pipeline up to the file stage."""
    result = mail_receive(agency=agency, data=data)
    raw_message_process(result.raw)
    return Message.objects.get(raw=result.raw)


@pytest.fixture
def manager(world: World):  # type: ignore[no-untyped-def]
    """A manager of the agency who reads mail in a personal mailbox."""
    return StaffFactory(
        agency=world.agency, first_name="Claire", last_name="Gestion", email="claire@gmail.com"
    )


@pytest.fixture
def plumber(world: World):  # type: ignore[no-untyped-def]
    company = CompanyFactory(agency=world.agency, name="Plomberie Martin")
    CompanyDomainFactory(company=company, domain="plomberie.fr")
    world.dossier.party_companies.add(company)
    return company


def original_mail(
    *,
    message_id: str = "<devis-77@plomberie.fr>",
    subject: str = "Devis fuite lot 12",
    in_reply_to: str = "",
    with_pdf: bool = True,
) -> EmailMessage:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = "Jean Dupont <jean@plomberie.fr>"
    mail["To"] = "claire@gmail.com"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    mail.set_content(
        "Bonjour Madame,\n\nVoici notre devis pour la fuite du lot 12.\n\nJean Dupont\n"
    )
    if with_pdf:
        mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="devis.pdf")
    return mail


def attached_forward(
    original: EmailMessage,
    *,
    sender: str = "Claire Gestion <claire@gmail.com>",
    to: str = "gestion@cabinet-lumiere.fr",
    subject: str = "TR: Devis fuite lot 12",
    message_id: str = "<fwd-1@gmail.com>",
) -> bytes:
    """A forward "as attachment": the manager's word, the original attached
    as message/rfc822 (RFC 2046 §5.2.1)."""
    wrapper = EmailMessage(policy=SMTP)
    wrapper["From"] = sender
    wrapper["To"] = to
    wrapper["Subject"] = subject
    wrapper["Date"] = format_datetime(datetime(2026, 3, 3, 18, 0, tzinfo=UTC))
    wrapper["Message-ID"] = message_id
    wrapper.set_content("Pour le dossier de la fuite.\n\nClaire\n")
    wrapper.add_attachment(original)
    return wrapper.as_bytes()


def inline_forward_mail(
    body: str,
    *,
    sender: str = "Claire Gestion <claire@gmail.com>",
    to: str = "gestion@cabinet-lumiere.fr",
    subject: str = "TR: Devis fuite lot 12",
    message_id: str = "<fwd-inline@gmail.com>",
    with_pdf: bool = True,
) -> bytes:
    wrapper = EmailMessage(policy=SMTP)
    wrapper["From"] = sender
    wrapper["To"] = to
    wrapper["Subject"] = subject
    wrapper["Date"] = format_datetime(datetime(2026, 3, 3, 18, 0, tzinfo=UTC))
    wrapper["Message-ID"] = message_id
    wrapper.set_content(body)
    if with_pdf:
        wrapper.add_attachment(PDF, maintype="application", subtype="pdf", filename="devis.pdf")
    return wrapper.as_bytes()


GMAIL_FR = """Pour le dossier de la fuite.

---------- Message transféré ---------
De : Jean Dupont <jean@plomberie.fr>
Date: lun. 2 mars 2026 à 09:30
Subject: Devis fuite lot 12 [{reference}]
To: Claire Gestion <claire@gmail.com>


Bonjour Madame,

Voici notre devis pour la fuite du lot 12.

Jean Dupont
"""

OUTLOOK_FR = """Pour le dossier de la fuite.

Claire

________________________________
De : Jean Dupont [mailto:jean@plomberie.fr]
Envoyé : lundi 2 mars 2026 09:30
À : Claire Gestion <claire@gmail.com>; Paul Martin
 <paul@plomberie.fr>
Objet : Devis fuite lot 12

Bonjour Madame,

Voici notre devis pour la fuite du lot 12.
"""

APPLE_FR = """Pour le dossier.

Début du message réexpédié :

De: Jean Dupont <jean@plomberie.fr>
Objet: Devis fuite lot 12
Date: 2 mars 2026 à 09:30:00 UTC+1
À: Claire Gestion <claire@gmail.com>

Bonjour Madame,

Voici notre devis pour la fuite du lot 12.
"""

THUNDERBIRD_FR = """

-------- Message transféré --------
Sujet : \tDevis fuite lot 12
Date : \tMon, 2 Mar 2026 09:30:00 +0100
De : \tJean Dupont <jean@plomberie.fr>
Pour : \tClaire Gestion <claire@gmail.com>

Bonjour Madame,

Voici notre devis pour la fuite du lot 12.
"""

NINE_THIRTY_PARIS = datetime(2026, 3, 2, 9, 30, tzinfo=PARIS)


# -- Recognising forwards -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (GMAIL_FR.format(reference="DOS-2026-0001"), "TR: Devis"),
        (OUTLOOK_FR, "TR : Devis fuite lot 12"),
        (APPLE_FR, "Fwd: Devis fuite lot 12"),
        (THUNDERBIRD_FR, "[Fwd: Devis fuite lot 12]"),
    ],
    ids=["gmail", "outlook", "apple-mail", "thunderbird"],
)
def test_inline_forwards_give_the_original_sender_date_subject_and_text(text, subject):  # type: ignore[no-untyped-def]
    forward = inline_forward(text, subject=subject)
    assert forward is not None
    assert (forward.from_name, forward.from_address) == ("Jean Dupont", "jean@plomberie.fr")
    assert forward.date == NINE_THIRTY_PARIS
    assert forward.subject.startswith("Devis fuite lot 12")
    assert forward.body.startswith("Bonjour Madame,\n\nVoici notre devis pour la fuite du lot 12.")
    assert "Pour le dossier" not in forward.body and "De :" not in forward.body
    assert ("Claire Gestion", "claire@gmail.com") in forward.to


def test_an_english_gmail_forward_from_a_public_corpus():  # type: ignore[no-untyped-def]
    text = (CORPORA / "crisp-email-reply-parser" / "email_tricky_17_forward_header.txt").read_text()
    forward = inline_forward(text, subject="Fwd: Important update")
    assert forward is not None
    assert forward.from_address == "john@example.com" and forward.subject == "Important update"
    assert forward.date == datetime(2024, 12, 15, 15, 0, tzinfo=PARIS)
    assert forward.body.startswith("This is the forwarded content")


def test_a_reply_quoting_an_outlook_header_is_not_a_forward():  # type: ignore[no-untyped-def]
    text = OUTLOOK_FR.replace("Pour le dossier de la fuite.", "Merci, c'est noté.")
    assert inline_forward(text, subject="RE : Devis fuite lot 12") is None
    assert inline_forward(text, subject="TR : Devis fuite lot 12") is not None
    # A header block without an address cannot name the original's sender.
    nameless = OUTLOOK_FR.replace("[mailto:jean@plomberie.fr]", "")
    assert inline_forward(nameless, subject="TR : Devis fuite lot 12") is None
    assert subject_is_forward("TR : x") and subject_is_forward("Fwd: x")
    assert subject_is_forward("[Fwd: x]")
    assert not subject_is_forward("RE : TR : x") and not subject_is_forward("Travaux")


def test_only_staff_writing_to_the_agency_forward_into_it(world, manager):  # type: ignore[no-untyped-def]
    agency = world.agency
    assert is_agency_address(agency, "gestion@cabinet-lumiere.fr")
    assert is_agency_address(agency, "GESTION+dos.1-1a.abc@cabinet-lumiere.fr")
    assert is_agency_address(agency, "claire@cabinet-lumiere.fr")
    assert not is_agency_address(agency, "gestion@cabinet-lumiere.fr.pirate.fr")
    shared_elsewhere = AgencyFactory(mail_domain="", shared_mailbox="syndic.rhone@orange.fr")
    assert is_agency_address(shared_elsewhere, "syndic.rhone+dos.x@orange.fr")
    assert not is_agency_address(shared_elsewhere, "voisin@orange.fr")

    original = original_mail(with_pdf=False)
    cases = {
        "personal address of a manager": (attached_forward(original), True),
        "address on the agency's domain": (
            attached_forward(original, sender="claire@cabinet-lumiere.fr", message_id="<a@b>"),
            True,
        ),
        "a co-owner": (
            attached_forward(original, sender="proprietaire@exemple.fr", message_id="<c@d>"),
            False,
        ),
        "to a contractor": (
            attached_forward(original, to="jean@plomberie.fr", message_id="<e@f>"),
            False,
        ),
        "a personal address, but nothing that looks like a forward": (
            attached_forward(original, subject="Devis fuite lot 12", message_id="<i@j>"),
            False,
        ),
        "staff of another agency": (
            attached_forward(original, sender="claire@voisin.fr", message_id="<g@h>"),
            False,
        ),
    }
    PersonFactory(agency=world.agency, email="proprietaire@exemple.fr")
    StaffFactory(agency=world.other_agency, email="claire@voisin.fr")
    for name, (data, expected) in cases.items():
        assert is_staff_forward(receive(agency, data), agency) is expected, name


# -- Filing the original --------------------------------------------------------------------


def test_an_attached_original_is_filed_and_the_forward_follows_it(world, manager):  # type: ignore[no-untyped-def]
    original = original_mail(in_reply_to=dossier_message_id(world.dossier))
    wrapper = receive(world.agency, attached_forward(original))
    assert wrapper.attachments.filter(is_forwarded_message=True).exists()

    outcome = message_autofile(wrapper)

    taken = Message.objects.get(message_id="devis-77@plomberie.fr")
    assert outcome.original == taken and outcome.dossier == world.dossier
    # The original, as it was: sender, date, text, attachment.
    assert taken.from_address == "jean@plomberie.fr" and taken.from_name == "Jean Dupont"
    assert taken.date == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert "Voici notre devis" in taken.text
    assert [a.filename for a in taken.attachments.all()] == ["devis.pdf"]
    assert taken.dossier == world.dossier and taken.filing_method == FilingMethod.REFERENCE
    # The forward: linked, in the same conversation, filed with it, internal.
    wrapper.refresh_from_db()
    assert wrapper.forwarded_message == taken and list(taken.forwards.all()) == [wrapper]
    assert wrapper.thread_id == taken.thread_id
    assert wrapper.dossier == world.dossier and wrapper.filing_method == FilingMethod.THREAD
    assert wrapper.audience == Audience.INTERNAL
    # Filed with the original ("Transfert par Claire Gestion de …"), or — when
    # the thread stage had already joined them by subject and participants —
    # as its conversation ("Même conversation que …"): either way it names it.
    assert "« Devis fuite lot 12 » (Jean Dupont)" in wrapper.filing_reason
    assert outcome.reason == wrapper.filing_reason
    # The timeline shows the original at its own date.
    entry = TimelineEntry.objects.get(message=taken)
    assert entry.dossier == world.dossier and entry.occurred_at == taken.date
    # Its delivery says who forwarded it.
    delivery = Delivery.objects.get(raw=taken.raw)
    assert delivery.envelope_from == "claire@gmail.com" and delivery.source is None


def test_an_inline_forward_is_rebuilt_and_filed(world, manager, plumber):  # type: ignore[no-untyped-def]
    body = GMAIL_FR.format(reference=world.dossier.reference)
    wrapper = receive(world.agency, inline_forward_mail(body))

    outcome = message_autofile(wrapper)

    taken = outcome.original
    assert taken is not None and taken.pk != wrapper.pk
    taken.refresh_from_db()
    assert taken.from_address == "jean@plomberie.fr" and taken.from_name == "Jean Dupont"
    assert taken.date == NINE_THIRTY_PARIS
    assert taken.subject == f"Devis fuite lot 12 [{world.dossier.reference}]"
    assert taken.text.startswith("Bonjour Madame,") and "Pour le dossier" not in taken.text
    assert [a.filename for a in taken.attachments.all()] == ["devis.pdf"]
    assert taken.message_id.startswith("forward.") and taken.message_id.endswith(".invalid")
    # Rebuilt, and its bytes say so and from what.
    assert b"X-Lanterne-Rebuilt-From: <fwd-inline@gmail.com>" in blob_read(taken.raw.storage_name)
    # Filed on its own evidence: the plumber's tag.
    assert taken.dossier == world.dossier and taken.filing_method == FilingMethod.REFERENCE
    wrapper.refresh_from_db()
    assert wrapper.forwarded_message == taken and wrapper.dossier == world.dossier
    assert TimelineEntry.objects.filter(dossier=world.dossier).count() == 2


@pytest.mark.parametrize("body", [OUTLOOK_FR, APPLE_FR], ids=["outlook", "apple-mail"])
def test_a_manager_forwarding_with_the_dossier_reference_files_the_original_there(
    world, manager, body
):  # type: ignore[no-untyped-def]
    """A mail from someone Lanterne cannot place, forwarded by a manager who
    added the dossier's tag: the manager said where it goes."""
    subject = f"TR : Devis fuite lot 12 [{world.dossier.reference}]"
    wrapper = receive(world.agency, inline_forward_mail(body, subject=subject, with_pdf=False))

    outcome = message_autofile(wrapper)

    taken = outcome.original
    assert taken is not None
    taken.refresh_from_db()
    assert taken.from_address == "jean@plomberie.fr" and taken.date == NINE_THIRTY_PARIS
    assert taken.dossier == world.dossier and taken.filing_method == FilingMethod.REFERENCE
    assert taken.filing_reason.startswith("Transféré par Claire Gestion avec la référence")
    assert outcome.dossier == world.dossier and outcome.method == FilingMethod.THREAD


def test_an_original_nothing_places_waits_in_triage_and_the_forward_goes_with_it(world, manager):  # type: ignore[no-untyped-def]
    """The forwarded report of tests/mail/samples (a real .eml), sent by the
    agency's own address: both wait, in one conversation; a manager filing
    the original files the forward too."""
    agency = AgencyFactory(
        mail_domain="lanterne.example", shared_mailbox="gestion@lanterne.example"
    )
    dossier = DossierFactory(condominium=CondominiumFactory(agency=agency))
    wrapper = receive(agency, (SAMPLES / "forwarded_rfc822.eml").read_bytes())

    outcome = message_autofile(wrapper)

    taken = Message.objects.get(
        agency=agency, message_id="rapport-visite-883@ascenseurs-durand.example"
    )
    assert outcome.original == taken and outcome.method == FilingMethod.NONE
    assert taken.dossier is None and taken.from_address == "contact@ascenseurs-durand.example"
    assert [a.filename for a in taken.attachments.all()] == ["rapport-visite.pdf"]
    wrapper.refresh_from_db()
    assert wrapper.dossier is None and wrapper.forwarded_message == taken
    assert wrapper.thread_id == taken.thread_id
    assert wrapper.suggestions == taken.suggestions

    message_file(
        viewer=policy.Viewer.system(agency.pk),
        actor=None,
        message=taken,
        dossier=dossier,
        method=FilingMethod.MANUAL,
        reason="Classé à la main",
    )
    wrapper.refresh_from_db()
    assert wrapper.dossier == dossier and wrapper.filing_method == FilingMethod.THREAD


def test_running_again_takes_the_original_in_once(world, manager):  # type: ignore[no-untyped-def]
    original = original_mail(in_reply_to=dossier_message_id(world.dossier))
    wrapper = receive(world.agency, attached_forward(original))
    messages, raws, deliveries = (
        Message.objects.count(),
        RawMessage.objects.count(),
        Delivery.objects.count(),
    )
    first = message_autofile(wrapper)
    second = message_autofile(wrapper)
    assert first.original == second.original or second.original is None
    assert Message.objects.count() == messages + 1
    assert RawMessage.objects.count() == raws + 1 and Delivery.objects.count() == deliveries + 1
    assert TimelineEntry.objects.filter(dossier=world.dossier).count() == 2


def test_an_original_already_received_is_not_taken_twice(world, manager):  # type: ignore[no-untyped-def]
    """The plumber wrote to the shared mailbox too: the forwarded copy is the
    same message (same Message-ID), and the forward joins it."""
    original = original_mail(in_reply_to=dossier_message_id(world.dossier))
    direct = receive(world.agency, original.as_bytes())
    message_autofile(direct)
    wrapper = receive(world.agency, attached_forward(original))
    outcome = message_autofile(wrapper)
    assert outcome.original == direct and outcome.dossier == world.dossier
    assert Message.objects.filter(message_id="devis-77@plomberie.fr").count() == 1


def test_an_unreadable_date_falls_back_to_the_forward_s(world, manager):  # type: ignore[no-untyped-def]
    """The original is at least as old as its forward: better than the day
    Lanterne read it."""
    body = GMAIL_FR.format(reference="x").replace("lun. 2 mars 2026 à 09:30", "hier soir")
    wrapper = receive(world.agency, inline_forward_mail(body, with_pdf=False))
    outcome = message_autofile(wrapper)
    assert outcome.original is not None
    outcome.original.refresh_from_db()
    assert outcome.original.date == wrapper.date == datetime(2026, 3, 3, 18, 0, tzinfo=UTC)


# -- What is not a forward, or cannot be read -----------------------------------------------


def test_a_forward_by_a_co_owner_is_their_own_mail(world):  # type: ignore[no-untyped-def]
    before = Message.objects.count()
    wrapper = receive(
        world.agency,
        attached_forward(original_mail(), sender="Mme Partie <partie@exemple.fr>"),
    )
    outcome = message_autofile(wrapper)
    assert outcome.original is None and Message.objects.count() == before + 1


def test_a_broken_forward_is_filed_as_an_ordinary_mail(world, manager):  # type: ignore[no-untyped-def]
    # "TR :" but no header block: nothing to rebuild.
    wrapper = receive(
        world.agency,
        inline_forward_mail("Regarde ça, on en parle demain.", with_pdf=False),
    )
    before = Message.objects.count()
    outcome = message_autofile(wrapper)
    assert outcome.original is None and outcome.method == FilingMethod.NONE
    assert Message.objects.count() == before

    # The attached original's bytes are gone from the store: the forward
    # still waits in triage, nothing is lost, nothing raises.
    wrapper = receive(world.agency, attached_forward(original_mail(), message_id="<fwd-lost@x>"))
    attached = wrapper.attachments.get(is_forwarded_message=True)
    _storage().delete(attached.storage_name)
    outcome = message_autofile(wrapper)
    assert outcome.original is None and outcome.method == FilingMethod.NONE
    wrapper.refresh_from_db()
    assert wrapper.forwarded_message is None and wrapper.dossier is None
    assert not Message.objects.filter(message_id="devis-77@plomberie.fr").exists()


def test_a_forward_from_staff_to_a_contractor_is_filed_as_itself(world, manager):  # type: ignore[no-untyped-def]
    """Sent to the plumber with the shared mailbox in copy: a mail of the
    dossier in its own right (its reference files it), not a transport."""
    data = inline_forward_mail(
        GMAIL_FR.format(reference="x"),
        to="jean@plomberie.fr",
        subject=f"TR: Devis [{world.dossier.reference}]",
    )
    wrapper = receive(world.agency, data)
    outcome = message_autofile(wrapper)
    assert outcome.original is None
    assert outcome.method == FilingMethod.REFERENCE and outcome.dossier == world.dossier
