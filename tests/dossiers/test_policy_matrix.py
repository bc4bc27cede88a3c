"""The access matrix: every role × every object kind × every audience.

The expected visibility is written out here, independently of the policy
module, from the rules of GLOSSARY.md. Loosening any rule in
lanterne/dossiers/policy.py makes one of these tests fail. Each combination is
checked three ways: the policy's predicate, the policy's queryset, and the page
or download a real request gets."""

from __future__ import annotations

import itertools
from email.message import EmailMessage

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from lanterne.condominiums.models import Person
from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.services import condominium_document_upload, document_upload
from lanterne.dossiers import policy, services
from lanterne.dossiers.choices import Audience, DecisionBody, DossierType, EntryKind
from lanterne.dossiers.models import Dossier
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.search.services import search_index_flush

from ..conftest import ROLES, World
from ..factories import (
    CondominiumFactory,
    CouncilMembershipFactory,
    DossierFactory,
    LotFactory,
    OwnershipFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

AUDIENCES = [a.value for a in Audience]
KINDS = [k.value for k in EntryKind]

# Who belongs to each audience of a dossier of « Les Tilleuls » whose party is
# the owner of lot 12 (tests/conftest.py). Staff of *another* agency, and
# co-owners of another condominium, belong to none.
MEMBERS = {
    "internal": {"staff"},
    "council": {"staff", "council_member", "council_chair"},
    "owners": {"staff", "council_member", "council_chair", "owner_not_party", "owner_party"},
    "parties": {"staff", "owner_party"},
}
# With « le conseil syndical suit ce dossier », the council joins the parties.
MEMBERS_COUNCIL_FOLLOWS = {
    **MEMBERS,
    "parties": {"staff", "owner_party", "council_member", "council_chair"},
}

# What each role may do (object kind → roles allowed).
MAY_EDIT_DOSSIER = {"staff"}
MAY_RECORD_COUNCIL_OPINION = {"staff", "council_chair"}  # on a dossier they may see
MAY_IMPORT = {"staff"}  # the world's staff member is a manager
MAY_SEE_CONDOMINIUM = {"staff", "council_member", "council_chair", "owner_not_party", "owner_party"}
MAY_SEE_OTHER_CONDOMINIUM = {"staff", "owner_other_condominium"}
MAY_SEE_DOCUMENT_CHECKLIST = {"staff"}
# « Mon lot » (décret n° 2019-502): a document of a lot is its owners' and staff's,
# not the council's, not the other co-owners'.
LOT_MEMBERS = {"12": {"staff", "owner_party"}, "14": {"staff", "owner_not_party"}}


def viewer(world: World, role: str) -> policy.Viewer:
    return policy.Viewer.for_user(world.users[role])


def make_dossier(world: World, audience: str, *, council_follows: bool = False) -> Dossier:
    dossier = DossierFactory(
        condominium=world.condominium,
        type=DossierType.OTHER,
        status="open",
        audience=audience,
        council_sees_parties=council_follows,
        title=f"Dossier {audience} {council_follows}",
    )
    dossier.party_lots.add(world.party_lot)
    return dossier


def received_mail(world: World, marker: str) -> Message:
    """A mail received through the pipeline, its subject and text carrying `marker`."""
    data = (
        "From: Jean Dupont <jean@plomberie.fr>\r\nTo: gestion@cabinet-lumiere.fr\r\n"
        f"Subject: Devis {marker}\r\nDate: Tue, 3 Mar 2026 10:12:00 +0100\r\n"
        f"Message-ID: <{marker}@plomberie.fr>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\n{marker}\r\n"
    ).encode()
    result = mail_receive_and_process(agency=world.agency, data=data)
    return Message.objects.get(raw=result.raw)


def received_mail_with_files(world: World, marker: str) -> Message:
    """A mail received through the pipeline with an HTML version showing an
    inline image (cid:) and an attached PDF, each carrying `marker`."""
    mail = EmailMessage()
    mail["From"] = "Jean Dupont <jean@plomberie.fr>"
    mail["To"] = "gestion@cabinet-lumiere.fr"
    mail["Subject"] = f"Photos {marker}"
    mail["Date"] = "Tue, 3 Mar 2026 10:12:00 +0100"
    mail["Message-ID"] = f"<{marker}@plomberie.fr>"
    mail.set_content(f"Bonjour,\n{marker}\n")
    mail.add_alternative(f'<p>{marker}</p><img src="cid:photo-{marker}@plomberie.fr">', "html")
    mail.get_payload()[1].add_related(  # type: ignore[index]
        b"\x89PNG\r\n\x1a\n" + marker.encode(),
        "image",
        "png",
        cid=f"<photo-{marker}@plomberie.fr>",
        filename="photo.png",
    )
    mail.add_attachment(f"%PDF-1.4 {marker}".encode(), "application", "pdf", filename="devis.pdf")
    result = mail_receive_and_process(agency=world.agency, data=mail.as_bytes())
    return Message.objects.get(raw=result.raw)


def fill_timeline(world: World, dossier: Dossier) -> None:
    """One entry of every kind in every audience, each text carrying a marker.
    Mail enters the timeline the way it does in life: received through the
    pipeline, then filed (`message_file`) with the audience staff chose."""
    staff = world.users["staff"]
    v = viewer(world, "staff")
    for audience in AUDIENCES:
        services.note_add(
            viewer=v, actor=staff, dossier=dossier, text=f"MARK-note-{audience}", audience=audience
        )
        services.task_create(
            viewer=v, actor=staff, dossier=dossier, title=f"MARK-task-{audience}", audience=audience
        )
        services.decision_record(
            viewer=v,
            actor=staff,
            dossier=dossier,
            decided_by=DecisionBody.MANAGER,
            text=f"MARK-decision-{audience}",
            audience=audience,
        )
        document_upload(
            viewer=v,
            actor=staff,
            condominium=dossier.condominium,
            dossier=dossier,
            file=ContentFile(f"contenu {audience}".encode()),
            filename=f"devis-{audience}.pdf",
            kind=DocumentKind.QUOTE,
            title=f"MARK-document-{audience}",
            audience=audience,
        )
        message_file(
            viewer=v,
            actor=staff,
            message=received_mail(world, f"MARK-message-{audience}"),
            dossier=dossier,
            method=FilingMethod.MANUAL,
            reason="Classé par le test",
            audience=audience,
        )
    # open → in progress → open → in progress → closed: four moves, four audiences.
    for status, audience in zip(
        ["in_progress", "open", "in_progress", "closed"], AUDIENCES, strict=True
    ):
        services.dossier_change_status(
            viewer=v,
            actor=staff,
            dossier=dossier,
            status=status,
            comment=f"MARK-status_change-{audience}",
            audience=audience,
        )


@pytest.mark.parametrize("council_follows", [False, True])
@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_dossier_visibility(world, client_for, dossier_audience, council_follows):  # type: ignore[no-untyped-def]
    dossier = make_dossier(world, dossier_audience, council_follows=council_follows)
    members = MEMBERS_COUNCIL_FOLLOWS if council_follows else MEMBERS
    for role in ROLES:
        expected = role in members[dossier_audience]
        v = viewer(world, role)
        assert policy.may_see_dossier(v, dossier) is expected, (role, dossier_audience)
        listed = policy.dossiers_visible_to(v).filter(pk=dossier.pk).exists()
        assert listed is expected, (role, dossier_audience, "queryset")
        response = client_for(role).get(reverse("dossiers:detail", args=[dossier.pk]))
        if role == "anonymous":
            assert response.status_code == 302
        else:
            assert response.status_code == (200 if expected else 404), (role, dossier_audience)


def test_dossier_whose_party_is_a_person(world, client_for):  # type: ignore[no-untyped-def]
    """A party named in person, not through a lot: among the co-owners, that
    person only — here the owner of lot 14, with a person who has no login
    (every other dossier of the matrix has lot 12 as its party)."""
    dossier = DossierFactory(
        condominium=world.condominium,
        type=DossierType.OTHER,
        status="open",
        audience=Audience.PARTIES,
        title="Dossier d'une personne",
    )
    dossier.party_persons.add(
        world.persons["owner_not_party"], PersonFactory(agency=world.agency, last_name="Tiers")
    )
    note = services.note_add(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        dossier=dossier,
        text="Rendez-vous avec la partie",
        audience=Audience.PARTIES,
    )
    search_index_flush()  # what the commit of those writes would do
    for role in ROLES:
        expected = role in {"staff", "owner_not_party"}
        v = viewer(world, role)
        assert policy.may_see_dossier(v, dossier) is expected, role
        assert policy.dossiers_visible_to(v).filter(pk=dossier.pk).exists() is expected, role
        entries = policy.entries_visible_to(v, dossier)
        assert entries.filter(note=note).exists() is expected, (role, "entry")
        found = policy.search_documents_visible_to(v).filter(note=note).exists()
        assert found is expected, (role, "search")
        response = client_for(role).get(reverse("dossiers:detail", args=[dossier.pk]))
        if role != "anonymous":
            assert response.status_code == (200 if expected else 404), role


@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_timeline_entries_and_documents(world, client_for, dossier_audience):  # type: ignore[no-untyped-def]
    dossier = make_dossier(world, dossier_audience)
    fill_timeline(world, dossier)
    entries = list(
        dossier.timeline.select_related(
            "dossier", "note", "task", "decision", "status_change", "document", "message"
        )
    )
    documents = list(dossier.documents.select_related("dossier", "condominium"))
    assert len(entries) == len(KINDS) * len(AUDIENCES)
    for role in ROLES:
        v = viewer(world, role)
        client = client_for(role)
        visible_ids = set(policy.entries_visible_to(v, dossier).values_list("pk", flat=True))
        for entry in entries:
            expected = role in MEMBERS[dossier_audience] and role in MEMBERS[entry.audience]
            assert policy.may_see_entry(v, entry) is expected, (role, entry.kind, entry.audience)
            assert (entry.pk in visible_ids) is expected, (
                role,
                entry.kind,
                entry.audience,
                "queryset",
            )
        for kind in KINDS:
            response = client.get(reverse("dossiers:detail", args=[dossier.pk]), {"type": kind})
            body = response.content.decode() if response.status_code == 200 else ""
            for audience in AUDIENCES:
                expected = role in MEMBERS[dossier_audience] and role in MEMBERS[audience]
                assert (f"MARK-{kind}-{audience}" in body) is expected, (role, kind, audience)
        visible_documents = set(
            policy.documents_visible_to(v, dossier).values_list("pk", flat=True)
        )
        for document in documents:
            expected = role in MEMBERS[dossier_audience] and role in MEMBERS[document.audience]
            assert policy.may_see_document(v, document) is expected, (role, document.audience)
            assert (document.pk in visible_documents) is expected, (role, document.audience)
            response = client.get(reverse("documents:download", args=[document.pk]))
            if role == "anonymous":
                assert response.status_code == 302
                continue
            assert response.status_code == (200 if expected else 404), (role, document.audience)
            if expected:
                assert response["Content-Disposition"].startswith("attachment")
                assert (
                    b"".join(response.streaming_content) == f"contenu {document.audience}".encode()
                )


@pytest.mark.parametrize("audience", ["internal", "council", "owners"])
def test_condominium_documents(world, client_for, audience):  # type: ignore[no-untyped-def]
    """A document of the condominium outside any dossier (bylaws, minutes…)."""
    document = document_upload(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        condominium=world.condominium,
        file=ContentFile(b"reglement"),
        filename="reglement.pdf",
        kind=DocumentKind.BYLAWS,
        audience=audience,
    )
    for role in ROLES:
        expected = role in MEMBERS[audience]
        v = viewer(world, role)
        assert policy.may_see_document(v, document) is expected, (role, audience)
        listed = policy.condominium_documents_visible_to(v, world.condominium)
        assert listed.filter(pk=document.pk).exists() is expected, (role, audience, "queryset")
        if role != "anonymous":
            status = (
                client_for(role).get(reverse("documents:download", args=[document.pk])).status_code
            )
            assert status == (200 if expected else 404), (role, audience)
        # The space page lists the documents for all co-owners and the council's.
        space = client_for(role).get(reverse("documents:space", args=[world.condominium.pk]))
        body = space.content.decode() if space.status_code == 200 else ""
        shown = expected and audience != "internal"
        assert (document.title in body) is shown, (role, audience, "page")


@pytest.mark.parametrize("lot_number", sorted(LOT_MEMBERS))
def test_lot_documents(world, client_for, lot_number):  # type: ignore[no-untyped-def]
    """A document of the « Mon lot » space: the owners of that lot and staff only,
    by the predicate, the space's queryset, the space page and the download."""
    document = condominium_document_upload(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        condominium=world.condominium,
        space=DocumentSpace.LOT,
        lot=world.condominium.lots.get(number=lot_number),
        file=ContentFile(f"compte {lot_number}".encode()),
        filename="compte.pdf",
        kind=DocumentKind.OWNER_ACCOUNT,
        title=f"MARK-lot-{lot_number}",
    )
    for role in ROLES:
        expected = role in LOT_MEMBERS[lot_number]
        v = viewer(world, role)
        assert policy.may_see_document(v, document) is expected, (role, lot_number)
        listed = policy.condominium_documents_visible_to(v, world.condominium)
        assert listed.filter(pk=document.pk).exists() is expected, (role, lot_number, "queryset")
        client = client_for(role)
        download = client.get(reverse("documents:download", args=[document.pk]))
        space = client.get(reverse("documents:space", args=[world.condominium.pk]))
        if role == "anonymous":
            assert (download.status_code, space.status_code) == (302, 302)
            continue
        assert download.status_code == (200 if expected else 404), (role, lot_number)
        if expected:
            assert b"".join(download.streaming_content) == f"compte {lot_number}".encode()
        body = space.content.decode() if space.status_code == 200 else ""
        assert (f"MARK-lot-{lot_number}" in body) is expected, (role, lot_number, "page")


def test_document_checklist(world, client_for):  # type: ignore[no-untyped-def]
    for role in ROLES:
        expected = role in MAY_SEE_DOCUMENT_CHECKLIST
        for condominium in (world.condominium, world.other_condominium):
            v = viewer(world, role)
            assert policy.may_see_document_checklist(v, condominium) is expected, role
        if role != "anonymous":
            for name in ("documents:checklist", "documents:create"):
                response = client_for(role).get(reverse(name, args=[world.condominium.pk]))
                assert response.status_code == (200 if expected else 404), (role, name)


def test_condominiums_and_contact_book(world):  # type: ignore[no-untyped-def]
    for role in ROLES:
        v = viewer(world, role)
        assert policy.may_see_condominium(v, world.condominium) is (role in MAY_SEE_CONDOMINIUM), (
            role
        )
        assert policy.may_see_condominium(v, world.other_condominium) is (
            role in MAY_SEE_OTHER_CONDOMINIUM
        ), role
        listed = set(policy.condominiums_visible_to(v).values_list("pk", flat=True))
        assert (world.condominium.pk in listed) is (role in MAY_SEE_CONDOMINIUM), role
        # Contact details: staff of the agency see everyone's; others only their own.
        for other_role, person in world.persons.items():
            expected = (
                (role == "staff" and person.agency_id == world.agency.pk)
                or (role == "staff_other_agency" and person.agency_id == world.other_agency.pk)
                or role == other_role
            )
            assert policy.may_see_contact_details(v, person) is expected, (role, other_role)
        visible_people = set(policy.persons_visible_to(v).values_list("pk", flat=True))
        if role == "staff":
            assert visible_people == set(
                Person.objects.filter(agency=world.agency).values_list("pk", flat=True)
            )
        elif role == "anonymous":
            assert visible_people == set()
        else:
            assert world.persons[role].pk in visible_people
            others = {
                p.pk
                for r, p in world.persons.items()
                if r != role and p.agency_id == world.agency.pk
            }
            if role != "staff_other_agency":
                assert not (visible_people & others), role


# Lots as a list (the API): staff of the agency all of them, a co-owner their
# own, the council and the others none. Lots 12 and 14 are in « Les Tilleuls »,
# lot 3 in « Le Belvédère » (tests/conftest.py).
LOTS_LISTED = {
    "anonymous": set(),
    "staff_other_agency": set(),
    "staff": {"12", "14", "3"},
    "owner_other_condominium": {"3"},
    "owner_not_party": {"14"},
    "owner_party": {"12"},
    "council_member": set(),
    "council_chair": set(),
}


def test_lots(world):  # type: ignore[no-untyped-def]
    assert set(LOTS_LISTED) == set(ROLES)
    for role in ROLES:
        listed = {lot.number for lot in policy.lots_visible_to(viewer(world, role))}
        assert listed == LOTS_LISTED[role], role


def test_viewer_of_one_agency(world):  # type: ignore[no-untyped-def]
    """A login known to two agencies, read through one of them (an API token
    is scoped to one agency): the roles it holds in the other are left out."""
    user = world.users["owner_party"]
    before = viewer(world, "owner_party")
    neighbour = CondominiumFactory(agency=world.other_agency)
    elsewhere = PersonFactory(agency=world.other_agency, user=user, staff_role="manager")
    OwnershipFactory(person=elsewhere, lot=LotFactory(condominium=neighbour))
    CouncilMembershipFactory(person=elsewhere, condominium=neighbour)
    both = policy.Viewer.for_user(user)
    assert both.staff_agency_ids == {world.other_agency.pk}
    assert neighbour.pk in both.council_condominium_ids
    scoped = policy.Viewer.for_user(user, agency_id=world.agency.pk)
    assert scoped == before
    assert not scoped.is_staff_anywhere
    assert scoped.person_ids == {world.persons["owner_party"].pk}
    assert scoped.owned_lot_ids == {world.party_lot.pk}
    assert scoped.council_condominium_ids == frozenset()
    assert not policy.dossiers_visible_to(scoped).filter(agency=world.other_agency).exists()
    other = policy.Viewer.for_user(user, agency_id=world.other_agency.pk)
    assert other.staff_agency_ids == {world.other_agency.pk}
    assert other.owned_lot_ids == set(neighbour.lots.values_list("pk", flat=True))
    assert world.party_lot.pk not in other.owned_lot_ids


def test_a_viewers_roles_are_one_query_and_stay_in_their_agency(  # type: ignore[no-untyped-def]
    world, django_assert_num_queries
):
    chair = world.users["council_chair"]
    with django_assert_num_queries(1):
        seated = policy.Viewer.for_user(chair)
    assert seated.chair_condominium_ids == seated.council_condominium_ids == {world.condominium.pk}
    assert seated.person_ids == {world.persons["council_chair"].pk}
    assert not seated.is_staff_anywhere
    # A lot of another agency's building linked to this agency's person (a
    # stray row: imports never write one) gives no role over there.
    owner = world.users["owner_party"]
    before = policy.Viewer.for_user(owner)
    OwnershipFactory(
        person=world.persons["owner_party"],
        lot=LotFactory(condominium=CondominiumFactory(agency=world.other_agency)),
    )
    assert policy.Viewer.for_user(owner) == before
    assert before.owned_lot_ids == {world.party_lot.pk}
    assert before.owner_condominium_ids == {world.condominium.pk}
    staff = policy.Viewer.for_user(world.users["staff"])
    assert staff.staff_agency_ids == staff.agency_ids == {world.agency.pk}
    # A login switched off is nobody, without asking the database.
    owner.is_active = False
    with django_assert_num_queries(0):
        assert policy.Viewer.for_user(owner).is_anonymous


@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_actions(world, dossier_audience):  # type: ignore[no-untyped-def]
    dossier = make_dossier(world, dossier_audience)
    for role in ROLES:
        v = viewer(world, role)
        assert policy.may_edit_dossier(v, dossier) is (role in MAY_EDIT_DOSSIER), role
        assert policy.may_manage_dossiers(v, world.agency.pk) is (role in MAY_EDIT_DOSSIER), role
        assert policy.may_import(v, world.agency.pk) is (role in MAY_IMPORT), role
        expected_opinion = role in MAY_RECORD_COUNCIL_OPINION and role in MEMBERS[dossier_audience]
        assert policy.may_record_council_opinion(v, dossier) is expected_opinion, (
            role,
            dossier_audience,
        )
        for person in world.persons.values():
            assert policy.may_invite(v, person) is (
                (role == "staff" and person.agency_id == world.agency.pk)
                or (role == "staff_other_agency" and person.agency_id == world.other_agency.pk)
            ), role


@pytest.mark.parametrize("council_follows", [False, True])
@pytest.mark.parametrize("dossier_audience", AUDIENCES)
@pytest.mark.parametrize("unmasked", [False, True])
def test_mail_reads(world, client_for, dossier_audience, council_follows, unmasked):  # type: ignore[no-untyped-def]
    """A mail's attachments and inline images are read by exactly those who
    see its timeline entry (the dossier's and the mail's audiences both admit
    them); a mail in no dossier by the agency's staff only. Its HTML version,
    which cannot be masked, by the staff — and by the others who read the
    mail once staff unmasked it."""
    dossier = make_dossier(world, dossier_audience, council_follows=council_follows)
    members = MEMBERS_COUNCIL_FOLLOWS if council_follows else MEMBERS
    # audience (None: in no dossier) → the marker its mail carries, and the mail.
    mails: dict[str | None, tuple[str, Message]] = {}
    for audience in AUDIENCES:
        marker = f"MARK-mail-{audience}"
        mails[audience] = (
            marker,
            message_file(
                viewer=viewer(world, "staff"),
                actor=world.users["staff"],
                message=received_mail_with_files(world, marker),
                dossier=dossier,
                method=FilingMethod.MANUAL,
                reason="Classé par le test",
                audience=audience,
            ),
        )
    mails[None] = "MARK-mail-unfiled", received_mail_with_files(world, "MARK-mail-unfiled")
    if unmasked:
        Message.objects.filter(dossier=dossier).update(unmasked=True)
    for role in ROLES:
        v = viewer(world, role)
        client = client_for(role)
        readable = set(policy.messages_visible_to(v).values_list("pk", flat=True))
        downloadable = set(policy.attachments_visible_to(v).values_list("pk", flat=True))
        for audience, (marker, mail) in mails.items():
            if audience is None:
                expected = role == "staff"
            else:
                expected = role in members[dossier_audience] and role in members[audience]
            message = Message.objects.select_related("dossier").get(pk=mail.pk)
            assert policy.may_read_message(v, message) is expected, (role, audience)
            assert (message.pk in readable) is expected, (role, audience, "queryset")
            quote = message.attachments.get(filename="devis.pdf")
            photo = message.attachments.get(filename="photo.png")
            for item in (quote, photo):
                assert (item.pk in downloadable) is expected, (role, audience, item.filename)
            original = expected and (role == "staff" or (unmasked and audience is not None))
            assert policy.may_read_message_original(v, message) is original, (role, audience)
            reads = [
                (reverse("mail:message_html", args=[message.pk]), f"<p>{marker}</p>", original),
                (
                    reverse("mail:attachment_download", args=[quote.pk]),
                    f"%PDF-1.4 {marker}",
                    expected,
                ),
                (reverse("mail:attachment_inline", args=[photo.pk]), marker, expected),
            ]
            for url, content, served_to in reads:
                response = client.get(url)
                if role == "anonymous":
                    assert response.status_code == 302, url
                    continue
                assert response.status_code == (200 if served_to else 404), (role, audience, url)
                if served_to:
                    served = (
                        b"".join(response.streaming_content)
                        if response.streaming
                        else response.content
                    )
                    assert content.encode() in served, (role, audience, url)


def test_every_role_and_audience_is_covered():  # type: ignore[no-untyped-def]
    """Adding a role or an audience without extending the matrix fails here."""
    assert set(MEMBERS) == set(AUDIENCES)
    assert set(itertools.chain.from_iterable(MEMBERS.values())) < set(ROLES)
    assert set(KINDS) == {"note", "task", "decision", "status_change", "document", "message"}


# The journal (/journal/): staff, each of their own agency's rows.
AUDIT_LOG_AGENCY = {"staff": "agency", "staff_other_agency": "other_agency"}


def test_audit_log_and_personal_data(world, client_for):  # type: ignore[no-untyped-def]
    """The journal, a person's data export (staff of their agency, or
    themself) and their anonymisation (managers of their agency, never
    themselves: both staff members of the world are managers)."""
    from lanterne.audit.models import AuditAction, AuditLog

    for agency in (world.agency, world.other_agency):
        AuditLog.objects.create(
            agency=agency, action=AuditAction.CREATED, object_type="x", summary="x"
        )
    for role in ROLES:
        v = viewer(world, role)
        assert policy.may_see_audit_log(v) is (role in AUDIT_LOG_AGENCY), role
        agencies = set(policy.audit_log_visible_to(v).values_list("agency_id", flat=True))
        expected = (
            {getattr(world, AUDIT_LOG_AGENCY[role]).pk} if role in AUDIT_LOG_AGENCY else set()
        )
        assert agencies == expected, role
        journal = client_for(role).get(reverse("audit:journal")).status_code
        assert journal == (302 if role == "anonymous" else 200 if expected else 404), role
        for other_role, person in world.persons.items():
            staff_of_agency = (
                role in AUDIT_LOG_AGENCY
                and person.agency_id == getattr(world, AUDIT_LOG_AGENCY[role]).pk
            )
            may_export = staff_of_agency or role == other_role
            may_erase = staff_of_agency and role != other_role
            assert policy.may_export_person_data(v, person) is may_export, (role, other_role)
            assert policy.may_erase_person(v, person) is may_erase, (role, other_role)
            client = client_for(role)
            exported = client.post(reverse("privacy:export", args=[person.pk])).status_code
            erase_page = client.get(reverse("privacy:erase", args=[person.pk])).status_code
            if role == "anonymous":
                assert (exported, erase_page) == (302, 302)
                continue
            assert exported == (200 if may_export else 404), (role, other_role)
            # Staff see their own row, but may not erase themselves: 403.
            expected_page = 200 if may_erase else 403 if staff_of_agency else 404
            assert erase_page == expected_page, (role, other_role)


# Status changes are not searched; every other kind of entry is.
SEARCHED_KINDS = [kind for kind in KINDS if kind != EntryKind.STATUS_CHANGE]


@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_search(world, client_for, dossier_audience):  # type: ignore[no-untyped-def]
    """Search finds what the timeline shows, and nothing else: the policy's
    queryset of index rows, the search itself (results and count) and the
    search page, for every role, kind and audience — mail in no dossier for
    staff only."""
    from lanterne.search.selectors import SearchFilters, search_page
    from lanterne.search.services import search_documents_index, search_index_flush

    dossier = make_dossier(world, dossier_audience)
    search_documents_index(dossier_ids=[dossier.pk])
    fill_timeline(world, dossier)
    received_mail(world, "MARK-message-unfiled")
    search_index_flush()  # what the commit of those writes would do
    for role in ROLES:
        v = viewer(world, role)
        sees_dossier = role in MEMBERS[dossier_audience]
        expected = {
            f"MARK-{kind}-{audience}"
            for kind in SEARCHED_KINDS
            for audience in AUDIENCES
            if sees_dossier and role in MEMBERS[audience]
        }
        if role == "staff":
            expected.add("MARK-message-unfiled")
        rows = policy.search_documents_visible_to(v).select_related(
            "note", "task", "decision", "document", "message"
        )
        found = {
            row.note.text
            if row.note
            else row.task.title
            if row.task
            else row.decision.text
            if row.decision
            else row.document.title
            if row.document
            else row.message.subject.removeprefix("Devis ")
            for row in rows.exclude(kind="dossier")
        }
        assert found == expected, (role, dossier_audience, "queryset")
        assert rows.filter(kind="dossier").exists() is sees_dossier, (role, "dossier row")
        for kind in SEARCHED_KINDS:
            page = search_page(v, "MARK", SearchFilters(kinds=(kind,)))
            markers = {m for m in expected if m.startswith(f"MARK-{kind}-")}
            assert page.total == len(markers), (role, kind, "count")
            shown = " ".join(
                f"{result.title_html} {result.snippet_html}".replace("<mark>", "").replace(
                    "</mark>", ""
                )
                for result in page.results
            )
            for audience in [*AUDIENCES, "unfiled"]:
                marker = f"MARK-{kind}-{audience}"
                assert (marker in shown) is (marker in expected), (role, marker)
        response = client_for(role).get(reverse("search:search"), {"q": "MARK", "type": "note"})
        if role == "anonymous":
            assert response.status_code == 302
            continue
        body = response.content.decode().replace("<mark>", "").replace("</mark>", "")
        for audience in AUDIENCES:
            marker = f"MARK-note-{audience}"
            assert (marker in body) is (marker in expected), (role, marker, "page")


def test_search_rows_not_reindexed_after_narrowing_are_found_by_staff_only(world):  # type: ignore[no-untyped-def]
    """An object narrowed to « interne » by a queryset update, before its
    index row is rebuilt: the stale row still says « copropriétaires », and
    must not be found by them (the policy compares the row with its object)."""
    from lanterne.documents.models import Document
    from lanterne.dossiers.models import Decision, Note, Task
    from lanterne.search.services import search_documents_index, search_index_flush

    dossier = make_dossier(world, "owners")
    search_documents_index(dossier_ids=[dossier.pk])
    fill_timeline(world, dossier)
    search_index_flush()
    for model in (Note, Task, Decision, Document, Message):
        model.objects.filter(dossier=dossier, audience="owners").update(audience="internal")
    for role in ROLES:
        rows = policy.search_documents_visible_to(viewer(world, role)).filter(dossier=dossier)
        stale = rows.filter(audience="owners").exclude(kind="dossier")
        if role == "staff":
            assert stale.count() == len(SEARCHED_KINDS), role
        else:
            assert not stale.exists(), role
