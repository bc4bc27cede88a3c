"""Publishing filed mail (`lanterne.mail.publication`): the review step, the
audience proposed by dossier type and sender, automatic publication by a
dossier or a rule, personal data masked for non-staff readers (their own
data excepted), unmasking with a logged reason, and the pages that do it.

Every mail goes through the real pipeline (stored, parsed) and is filed with
`message_file`, as the file stage and staff do."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.condominiums.models import PersonEmail
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DossierType
from lanterne.dossiers.models import TimelineEntry
from lanterne.dossiers.services import entry_set_audience
from lanterne.mail import publication
from lanterne.mail.choices import Review
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World
from ..factories import DossierFactory

pytestmark = pytest.mark.django_db

NEIGHBOUR_MOBILE = "06 12 34 56 78"
PARTY_MOBILE = "07 81 22 33 44"
AGENCY_PHONE = "01 40 00 00 01"
CONTRACTOR_TEXT = (
    "Bonjour,\n\nNous interviendrons jeudi au lot 12. Merci de prévenir Mme Leroy, "
    f"voisine du dessous, joignable au {NEIGHBOUR_MOBILE}, et M. Partie au {PARTY_MOBILE}.\n"
    "Virement sur l'IBAN FR76 3000 6000 0112 3456 7890 189.\n"
)


def mail(
    *,
    sender: str = "Frédéric Martin <f.martin@plomberie-martin.fr>",
    subject: str = "Intervention au lot 12",
    text: str = CONTRACTOR_TEXT,
    message_id: str = "<intervention-1@plomberie-martin.fr>",
    in_reply_to: str | None = None,
    html: str | None = None,
    auto_reply: bool = False,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if auto_reply:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def receive(world: World, data: bytes) -> Message:
    result = mail_receive_and_process(agency=world.agency, data=data)
    return Message.objects.get(raw=result.raw)


def staff(world: World) -> policy.Viewer:
    return policy.Viewer.for_user(world.users["staff"])


def file(world: World, message: Message, *, dossier=None, audience=None) -> Message:  # type: ignore[no-untyped-def]
    return message_file(
        viewer=staff(world),
        actor=world.users["staff"],
        message=message,
        dossier=dossier or world.dossier,
        method=FilingMethod.MANUAL,
        reason="Réponse du plombier",
        audience=audience,
    )


def publish(world: World, message: Message, audience: str = Audience.OWNERS) -> Message:
    return publication.message_publish(
        viewer=staff(world), actor=world.users["staff"], message=message, audience=audience
    )


def texts_for(world: World, role: str, message: Message) -> publication.MessageTexts:
    message = Message.objects.select_related("dossier", "agency").get(pk=message.pk)
    return publication.message_texts_for(policy.Viewer.for_user(world.users[role]), message)


def entry_of(message: Message) -> TimelineEntry:
    return TimelineEntry.objects.get(message=message)


# --- Review ------------------------------------------------------------------------


def test_a_mail_filed_without_audience_waits_internal_for_review(world, client_for):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail()))
    message.refresh_from_db()
    assert message.review == Review.PENDING
    assert message.audience == Audience.INTERNAL
    assert entry_of(message).audience == Audience.INTERNAL
    for role in ("owner_party", "council_member"):
        page = client_for(role).get(reverse("dossiers:detail", args=[world.dossier.pk]))
        assert "Intervention au lot 12" not in page.content.decode()
    # Staff see it in the review list, with the audience proposed for a
    # contractor's mail on a water damage: the parties.
    body = client_for("staff").get(reverse("mail:review")).content.decode()
    assert f'id="a-publier-{message.pk}"' in body
    assert '<option value="parties" selected>' in body


def test_publishing_opens_the_mail_to_its_audience_and_logs_it(world, client_for):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail()))
    response = client_for("staff").post(
        reverse("mail:message_publish", args=[message.pk]),
        {"audience": Audience.PARTIES, "action": "publish"},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.review, message.audience) == (Review.PUBLISHED, Audience.PARTIES)
    assert entry_of(message).audience == Audience.PARTIES
    assert message.published_by == world.users["staff"]
    log = AuditLog.objects.get(action=AuditAction.PUBLISHED, object_id=str(message.pk))
    assert log.changes["audience"] == [Audience.INTERNAL, Audience.PARTIES]
    party_page = client_for("owner_party").get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert "Intervention au lot 12" in party_page.content.decode()
    neighbour = client_for("owner_not_party").get(
        reverse("dossiers:detail", args=[world.dossier.pk])
    )
    assert "Intervention au lot 12" not in neighbour.content.decode()
    assert not client_for("staff").get(reverse("mail:review")).context["rows"]


def test_keeping_internal_closes_the_review(world, client_for):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail()))
    client_for("staff").post(
        reverse("mail:message_publish", args=[message.pk]),
        {"audience": Audience.OWNERS, "action": "internal"},
    )
    message.refresh_from_db()
    assert (message.review, message.audience) == (Review.KEPT_INTERNAL, Audience.INTERNAL)


def test_only_staff_of_the_agency_publish(world, client_for):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail()))
    for role in ("owner_party", "council_chair", "staff_other_agency"):
        response = client_for(role).post(
            reverse("mail:message_publish", args=[message.pk]), {"audience": Audience.OWNERS}
        )
        assert response.status_code == 404
    assert client_for("owner_party").get(reverse("mail:review")).status_code == 404
    message.refresh_from_db()
    assert message.review == Review.PENDING


def test_machine_mail_needs_no_review_and_is_never_published(world):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail(auto_reply=True, subject="Absence du bureau")))
    message.refresh_from_db()
    assert message.review == ""
    with pytest.raises(Exception, match="reste interne"):
        publish(world, message)


def test_filing_with_an_audience_publishes_at_once(world):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail()), audience=Audience.OWNERS)
    message.refresh_from_db()
    assert (message.review, message.audience) == (Review.PUBLISHED, Audience.OWNERS)
    assert message.redactions["v"] == 1 and message.redactions["new_text"]


def test_entry_audience_change_of_a_mail_is_a_publication(world):  # type: ignore[no-untyped-def]
    message = file(world, receive(world, mail()))
    entry_set_audience(
        viewer=staff(world),
        actor=world.users["staff"],
        entry=entry_of(message),
        audience=Audience.COUNCIL,
    )
    message.refresh_from_db()
    assert (message.review, message.audience) == (Review.PUBLISHED, Audience.COUNCIL)
    assert "new_text" in message.redactions


# --- Proposed audiences ------------------------------------------------------------


def proposal(message: Message) -> str:
    message = Message.objects.select_related("dossier").get(pk=message.pk)
    return publication.proposed_audiences([message])[message.pk]


def test_proposals_follow_the_dossier_type_and_the_sender(world):  # type: ignore[no-untyped-def]
    works = DossierFactory(
        condominium=world.condominium, type=DossierType.WORKS, audience=Audience.OWNERS
    )
    arrears = DossierFactory(
        condominium=world.condominium, type=DossierType.ARREARS, audience=Audience.OWNERS
    )
    contractor_on_works = file(world, receive(world, mail()), dossier=works)
    assert proposal(contractor_on_works) == Audience.OWNERS
    contractor_on_arrears = file(
        world, receive(world, mail(message_id="<a-2@plomberie-martin.fr>")), dossier=arrears
    )
    assert proposal(contractor_on_arrears) == Audience.INTERNAL
    co_owner = world.persons["owner_not_party"]
    PersonEmail.objects.create(person=co_owner, agency=world.agency, address="voisin@exemple.fr")
    from_co_owner = file(
        world,
        receive(world, mail(sender="voisin@exemple.fr", message_id="<c-1@exemple.fr>")),
        dossier=works,
    )
    assert proposal(from_co_owner) == Audience.PARTIES
    council = world.persons["council_member"]
    PersonEmail.objects.create(person=council, agency=world.agency, address="cs@exemple.fr")
    from_council = file(
        world,
        receive(world, mail(sender="cs@exemple.fr", message_id="<cs-1@exemple.fr>")),
        dossier=works,
    )
    assert proposal(from_council) == Audience.COUNCIL
    # Never wider than the dossier: the water damage is for its parties.
    assert proposal(file(world, receive(world, mail(message_id="<w@x.fr>")))) == Audience.PARTIES


def test_a_reply_to_a_mail_kept_internal_stays_internal(world):  # type: ignore[no-untyped-def]
    works = DossierFactory(
        condominium=world.condominium, type=DossierType.WORKS, audience=Audience.OWNERS
    )
    first = file(world, receive(world, mail()), dossier=works)
    publication.message_keep_internal(
        viewer=staff(world), actor=world.users["staff"], message=first
    )
    reply = file(
        world,
        receive(
            world,
            mail(message_id="<suite@plomberie-martin.fr>", in_reply_to=first.message_id),
        ),
        dossier=works,
    )
    assert proposal(reply) == Audience.INTERNAL


def test_a_page_of_mail_gets_its_proposals_in_four_queries(world, django_assert_num_queries):  # type: ignore[no-untyped-def]
    works = DossierFactory(
        condominium=world.condominium, type=DossierType.WORKS, audience=Audience.OWNERS
    )
    kept = file(world, receive(world, mail()), dossier=works)
    publication.message_keep_internal(viewer=staff(world), actor=world.users["staff"], message=kept)
    senders = {"owner_not_party": "voisin@exemple.fr", "council_member": "cs@exemple.fr"}
    # An owner in another building writes as anyone would here.
    senders["owner_other_condominium"] = "ailleurs@exemple.fr"
    for role, address in senders.items():
        PersonEmail.objects.create(person=world.persons[role], agency=world.agency, address=address)
    page = [
        file(
            world,
            receive(world, mail(message_id="<suite@x.fr>", in_reply_to=kept.message_id)),
            dossier=works,
        ),
        *(
            file(
                world, receive(world, mail(sender=address, message_id=f"<{n}@x.fr>")), dossier=works
            )
            for n, address in enumerate(senders.values())
        ),
        file(world, receive(world, mail(message_id="<d@x.fr>")), dossier=works),
    ]
    page = list(
        Message.objects.select_related("dossier").filter(pk__in=[m.pk for m in page]).order_by("pk")
    )
    # Whatever the number of mails: their parents, senders, owners, council seats.
    with django_assert_num_queries(4):
        proposals = publication.proposed_audiences(page)
    assert [proposals[m.pk] for m in page] == [
        Audience.INTERNAL,
        Audience.PARTIES,
        Audience.COUNCIL,
        Audience.OWNERS,
        Audience.OWNERS,
    ]
    assert proposals == {m.pk: proposal(m) for m in page}


def test_a_dossier_that_publishes_automatically(world):  # type: ignore[no-untyped-def]
    works = DossierFactory(
        condominium=world.condominium,
        type=DossierType.WORKS,
        audience=Audience.OWNERS,
        auto_publish_audience=Audience.OWNERS,
    )
    message = file(world, receive(world, mail()), dossier=works)
    message.refresh_from_db()
    assert (message.review, message.audience) == (Review.PUBLISHED, Audience.OWNERS)
    assert message.redactions["new_text"]
    # …except what the rules keep internal: a reply to an internal mail.
    publication.message_keep_internal(
        viewer=staff(world), actor=world.users["staff"], message=message
    )
    reply = file(
        world,
        receive(world, mail(message_id="<r@plomberie-martin.fr>", in_reply_to=message.message_id)),
        dossier=works,
    )
    reply.refresh_from_db()
    assert (reply.review, reply.audience) == (Review.PENDING, Audience.INTERNAL)


# --- Redaction -----------------------------------------------------------------------


def test_non_staff_readers_get_third_parties_data_masked(world):  # type: ignore[no-untyped-def]
    message = publish(world, file(world, receive(world, mail())), Audience.OWNERS)
    staff_texts = texts_for(world, "staff", message)
    assert NEIGHBOUR_MOBILE in staff_texts.new_text and staff_texts.original
    for role in ("owner_not_party", "council_member"):
        texts = texts_for(world, role, message)
        assert NEIGHBOUR_MOBILE not in texts.new_text
        assert PARTY_MOBILE not in texts.new_text
        assert "FR76" not in texts.new_text
        assert "[téléphone masqué]" in texts.new_text
        assert texts.masked and not texts.original


def test_a_reader_sees_their_own_data(world):  # type: ignore[no-untyped-def]
    party = world.persons["owner_party"]
    party.phones = [PARTY_MOBILE]
    party.save(update_fields=["phones"])
    message = publish(world, file(world, receive(world, mail())), Audience.OWNERS)
    texts = texts_for(world, "owner_party", message)
    assert PARTY_MOBILE in texts.new_text
    assert NEIGHBOUR_MOBILE not in texts.new_text


def test_the_agency_phone_and_the_building_address_are_not_masked(world):  # type: ignore[no-untyped-def]
    manager = world.persons["staff"]
    manager.phones = [AGENCY_PHONE]
    manager.save(update_fields=["phones"])
    world.condominium.address = "12 rue des Tilleuls"
    world.condominium.save(update_fields=["address"])
    text = (
        f"Rendez-vous au 12 rue des Tilleuls. Appelez le cabinet au {AGENCY_PHONE}.\n"
        "M. Leroy habite 3 avenue Jean-Jaurès, 69007 Lyon.\n"
    )
    message = publish(world, file(world, receive(world, mail(text=text))), Audience.OWNERS)
    shown = texts_for(world, "owner_not_party", message).new_text
    assert "12 rue des Tilleuls" in shown and AGENCY_PHONE in shown
    assert "Jean-Jaurès" not in shown


def test_the_redaction_is_computed_once_at_publication(world):  # type: ignore[no-untyped-def]
    message = publish(world, file(world, receive(world, mail())), Audience.OWNERS)
    spans = message.redactions["new_text"]
    assert {row[2] for row in spans} >= {"phone", "iban"}
    # Reading it again scans nothing: the stored spans are applied.
    loaded = Message.objects.select_related("dossier", "agency").get(pk=message.pk)
    viewer = policy.Viewer.for_user(world.users["owner_not_party"])
    reveal = publication.viewer_reveal_keys(viewer)
    with CaptureQueriesContext(connection) as queries:
        publication.message_texts_for(viewer, loaded, reveal=reveal)
    assert len(queries) == 0


def test_the_dossier_page_serves_masked_text_and_no_html_to_co_owners(world, client_for):  # type: ignore[no-untyped-def]
    data = mail(html=f"<p>Appelez Mme Leroy au {NEIGHBOUR_MOBILE}</p>")
    message = publish(world, file(world, receive(world, data)), Audience.OWNERS)
    url = reverse("dossiers:detail", args=[world.dossier.pk])
    owner_page = client_for("owner_not_party").get(url).content.decode()
    assert "Intervention au lot 12" in owner_page
    assert NEIGHBOUR_MOBILE not in owner_page
    assert "[téléphone masqué]" in owner_page
    html_url = reverse("mail:message_html", args=[message.pk])
    assert html_url not in owner_page
    assert client_for("owner_not_party").get(html_url).status_code == 404
    staff_page = client_for("staff").get(url).content.decode()
    assert NEIGHBOUR_MOBILE in staff_page and html_url in staff_page
    assert client_for("staff").get(html_url).status_code == 200


def test_unmasking_needs_a_reason_and_is_logged(world, client_for):  # type: ignore[no-untyped-def]
    data = mail(html=f"<p>Appelez Mme Leroy au {NEIGHBOUR_MOBILE}</p>")
    message = publish(world, file(world, receive(world, data)), Audience.OWNERS)
    url = reverse("mail:message_unmask", args=[message.pk])
    client_for("staff").post(url, {"reason": "  "})
    message.refresh_from_db()
    assert not message.unmasked
    client_for("owner_not_party").post(url, {"reason": "moi"})
    message.refresh_from_db()
    assert not message.unmasked
    client_for("staff").post(url, {"reason": "Mme Leroy a donné son accord"})
    message.refresh_from_db()
    assert message.unmasked
    log = AuditLog.objects.get(action=AuditAction.UNMASKED, object_id=str(message.pk))
    assert "accord" in log.changes["reason"]
    assert NEIGHBOUR_MOBILE in texts_for(world, "owner_not_party", message).new_text
    html_url = reverse("mail:message_html", args=[message.pk])
    assert client_for("owner_not_party").get(html_url).status_code == 200
    # Moving the mail to another dossier starts over: masked, to review.
    other = DossierFactory(condominium=world.condominium, audience=Audience.OWNERS)
    file(world, message, dossier=other)
    message.refresh_from_db()
    assert (message.unmasked, message.review, message.redactions) == (False, Review.PENDING, {})


def test_the_timeline_costs_the_same_with_more_published_mail(world, client_for):  # type: ignore[no-untyped-def]
    url = reverse("dossiers:detail", args=[world.dossier.pk])

    def page_queries(role: str) -> int:
        client = client_for(role)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    publish(world, file(world, receive(world, mail(message_id="<m-0@x.fr>"))), Audience.OWNERS)
    file(world, receive(world, mail(message_id="<p-0@x.fr>")))
    before = {role: page_queries(role) for role in ("staff", "owner_party")}
    for number in range(1, 6):
        publish(
            world,
            file(world, receive(world, mail(message_id=f"<m-{number}@x.fr>"))),
            Audience.OWNERS,
        )
        file(world, receive(world, mail(message_id=f"<p-{number}@x.fr>")))
    after = {role: page_queries(role) for role in ("staff", "owner_party")}
    assert after == before


def test_a_companys_registered_contact_details_are_not_masked(world):  # type: ignore[no-untyped-def]
    from ..factories import CompanyFactory

    CompanyFactory(
        agency=world.agency,
        name="Plomberie Martin",
        phone="04 72 00 00 01",
        address="8 rue Garibaldi, 69006 Lyon",
        email="contact@plomberie-martin.fr",
    )
    text = (
        "Plomberie Martin — 8 rue Garibaldi, 69006 Lyon — 04 72 00 00 01 — "
        "contact@plomberie-martin.fr\n"
        f"Mon portable : {NEIGHBOUR_MOBILE}\n"
    )
    message = publish(world, file(world, receive(world, mail(text=text))), Audience.OWNERS)
    shown = texts_for(world, "owner_not_party", message).new_text
    assert "04 72 00 00 01" in shown and "8 rue Garibaldi" in shown
    assert "contact@plomberie-martin.fr" in shown
    assert NEIGHBOUR_MOBILE not in shown
