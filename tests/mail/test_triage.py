"""The triage inbox (`lanterne.mail.triage`): the list of mail waiting for a
person with its stored suggestions, each action (a suggestion, the dossier
picker, a new dossier, "not dossier-related", the selection), who may see and
do what, and a list page whose cost does not grow with the backlog.

Messages are received through the real pipeline; their suggestions are
written as the file stage stores them (`Message.suggestions`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DossierStatus, DossierType, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.mail import triage
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process

from ..conftest import ROLES, World
from ..factories import (
    CompanyDomainFactory,
    CompanyFactory,
    CondominiumFactory,
    DossierFactory,
    PersonFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRIAGE = reverse("mail:triage")


def mail(
    message_id: str,
    *,
    sender: str = "Jeanne Martin <jeanne.martin@orange.fr>",
    to: str = "gestion@cabinet-lumiere.fr",
    subject: str = "Question sur les charges",
    body: str = "Bonjour,\n\nPouvez-vous m'envoyer le détail des charges ?\n\nJeanne",
    date: datetime | None = MONDAY,
    in_reply_to: str = "",
    attachments: int = 0,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """An e-mail to the agency's shared mailbox, with `attachments` PDF files."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    if date is not None:
        email["Date"] = format_datetime(date)
    email["Message-ID"] = message_id
    if in_reply_to:
        email["In-Reply-To"] = in_reply_to
        email["References"] = in_reply_to
    for name, value in (extra_headers or {}).items():
        email[name] = value
    email.set_content(body)
    for number in range(attachments):
        email.add_attachment(
            b"%PDF-1.4 devis " + str(number).encode(),
            maintype="application",
            subtype="pdf",
            filename=f"devis-{number}.pdf",
        )
    return email.as_bytes()


def receive(agency: Any, data: bytes) -> Message:
    result = mail_receive_and_process(agency=agency, data=data)
    message = Message.objects.get(raw=result.raw)
    # Nothing in these mails lets the file stage place them: they wait.
    assert message.dossier_id is None and not message.not_dossier_related
    return message


def suggest(message: Message, *entries: tuple[Dossier | int, float | None, str]) -> None:
    """Store suggestions on `message` as the file stage does."""
    stored = []
    for dossier, score, reason in entries:
        dossier_id = dossier if isinstance(dossier, int) else dossier.pk
        reference = "" if isinstance(dossier, int) else dossier.reference
        stored.append(
            {"dossier_id": dossier_id, "reference": reference, "score": score, "reason": reason}
        )
    Message.objects.filter(pk=message.pk).update(suggestions=stored)
    message.refresh_from_db()


def staff_client(world: World) -> Client:
    client = Client()
    client.force_login(world.users["staff"])
    return client


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


@pytest.fixture
def invalidated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The agencies whose learned suggestions were told to retrain: the real
    `suggester_invalidate` still runs, the calls are recorded."""
    calls: list[int] = []
    real = triage.suggester_invalidate

    def record(agency_id: int) -> None:
        calls.append(agency_id)
        real(agency_id)

    monkeypatch.setattr(triage, "suggester_invalidate", record)
    return calls


@pytest.fixture
def works(world: World) -> Dossier:
    return DossierFactory(
        condominium=world.condominium,
        reference="DOS-2026-0042",
        title="Ravalement de façade",
        type=DossierType.WORKS,
        status=DossierStatus.QUOTES,
    )


# ---------------------------------------------------------------------------
# The list


def test_the_list_shows_waiting_mail_with_its_suggestions(world: World, works: Dossier) -> None:
    waiting = receive(
        world.agency,
        mail(
            "<attente@orange.fr>",
            subject="Échafaudage devant ma fenêtre",
            body="Bonjour,\n\nL'échafaudage bloque ma fenêtre depuis lundi.\n\n> ancien message",
            attachments=2,
        ),
    )
    suggest(
        waiting,
        (works, 0.83, "l'entreprise de l'expéditeur est partie à 2 dossiers ; mentionne le lot 12"),
        (world.dossier, 0.1, "même copropriété"),
    )
    filed = receive(world.agency, mail("<classe@orange.fr>", subject="Déjà classé"))
    message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        message=filed,
        dossier=works,
        method=FilingMethod.RULE,
        reason="règle",
    )
    unrelated = receive(world.agency, mail("<pub@orange.fr>", subject="Publicité chaudières"))
    Message.objects.filter(pk=unrelated.pk).update(not_dossier_related=True)

    response = staff_client(world).get(TRIAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Échafaudage devant ma fenêtre" in page
    assert "L&#x27;échafaudage bloque ma fenêtre depuis lundi." in page
    assert "ancien message" not in page  # the preview is the new text
    assert "2 pièces jointes" in page
    assert "DOS-2026-0042" in page and "Ravalement de façade" in page
    assert "83 %" in page
    assert "partie à 2 dossiers ; mentionne le lot 12" in page
    assert "Déjà classé" not in page
    assert "Publicité chaudières" not in page
    items = response.context["page"].items
    assert [item.message.pk for item in items] == [waiting.pk]
    assert [s.dossier.pk for s in items[0].suggestions] == [works.pk, world.dossier.pk]


def test_newest_first_and_undated_mail_last(world: World) -> None:
    old = receive(world.agency, mail("<vieux@orange.fr>", date=MONDAY - timedelta(days=3)))
    undated = receive(world.agency, mail("<sans-date@orange.fr>", date=None))
    new = receive(world.agency, mail("<neuf@orange.fr>", date=MONDAY))
    Message.objects.filter(pk=undated.pk).update(date=None)

    response = staff_client(world).get(TRIAGE)

    assert [i.message.pk for i in response.context["page"].items] == [new.pk, old.pk, undated.pk]


def test_pages_follow_each_other_without_gap_or_repeat(world: World) -> None:
    received = [
        receive(world.agency, mail(f"<page-{n}@orange.fr>", date=MONDAY - timedelta(hours=n)))
        for n in range(5)
    ]
    undated = receive(world.agency, mail("<page-x@orange.fr>", date=None))
    Message.objects.filter(pk=undated.pk).update(date=None)
    viewer = policy.Viewer.for_user(world.users["staff"])

    seen: list[int] = []
    after = None
    for _ in range(10):
        page = triage.triage_page(viewer, after=after, page_size=2)
        seen += [item.message.pk for item in page.items]
        assert page.total == 6
        after = page.next_cursor
        if after is None:
            break

    assert seen == [m.pk for m in received] + [undated.pk]
    # A cursor that is not ours is ignored, not an error.
    client = staff_client(world)
    assert client.get(TRIAGE, {"apres": "pas-un-curseur"}).status_code == 200
    second = client.get(TRIAGE, {"apres": triage.triage_page(viewer, page_size=2).next_cursor})
    assert [i.message.pk for i in second.context["page"].items][:2] == [
        received[2].pk,
        received[3].pk,
    ]


def test_suggestions_are_checked_against_the_agencys_dossiers(world: World) -> None:
    closed = DossierFactory(
        condominium=world.condominium, title="Ascenseur en panne", status=DossierStatus.CLOSED
    )
    foreign = DossierFactory(
        condominium=CondominiumFactory(agency=world.other_agency), title="Dossier du voisin"
    )
    deleted = DossierFactory(condominium=world.condominium, title="Dossier supprimé")
    deleted_id = deleted.pk
    deleted.delete()
    message = receive(world.agency, mail("<controle@orange.fr>"))
    suggest(
        message,
        (deleted_id, 0.7, "supprimé"),
        (foreign, 0.6, "autre cabinet"),
        (closed, 0.5, "clos depuis"),
        (world.dossier, None, "référence dans l'objet, expéditeur inconnu du dossier"),
    )
    Message.objects.filter(pk=message.pk).update(
        suggestions=[*message.suggestions, "pas un dict", {"dossier_id": "12"}, {"score": 1}]
    )

    response = staff_client(world).get(TRIAGE)

    (item,) = response.context["page"].items
    assert [(s.rank, s.dossier.pk) for s in item.suggestions] == [
        (1, closed.pk),
        (2, world.dossier.pk),
    ]
    page = response.content.decode()
    assert "Dossier du voisin" not in page
    assert "clos" in page
    assert item.suggestions[1].score_percent is None


def test_staff_of_two_agencies_never_mix_them(world: World) -> None:
    """A manager working for both agencies sees both inboxes, but a message of
    one is never offered, nor filed into, a dossier of the other."""
    StaffFactory(agency=world.other_agency, user=world.users["staff"])
    theirs = DossierFactory(
        condominium=CondominiumFactory(agency=world.other_agency), title="Dossier du voisin"
    )
    message = receive(world.agency, mail("<deux-cabinets@orange.fr>"))
    suggest(message, (theirs, 0.95, "piège"), (world.dossier, 0.4, "bon cabinet"))
    client = staff_client(world)

    response = client.get(TRIAGE)
    refused = client.post(
        reverse("mail:triage_file", args=[message.pk]), {"dossier": theirs.pk}, follow=True
    )
    typed = client.post(
        reverse("mail:triage_file", args=[message.pk]), {"query": "voisin"}, follow=True
    )

    (item,) = response.context["page"].items
    assert [s.dossier.pk for s in item.suggestions] == [world.dossier.pk]
    assert response.context["spans_agencies"]
    assert any("n'existe pas" in str(m) for m in refused.context["messages"])
    assert any("Aucun dossier" in str(m) for m in typed.context["messages"])
    assert reload(message).dossier_id is None


def test_flags_and_machine_mail_filter(world: World) -> None:
    person = receive(world.agency, mail("<personne@orange.fr>", subject="Fuite cave"))
    robot = receive(
        world.agency,
        mail(
            "<robot@orange.fr>",
            subject="Réponse automatique : absent",
            extra_headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    assert robot.is_auto_reply
    client = staff_client(world)

    everything = client.get(TRIAGE)
    assert "Réponse automatique" in everything.content.decode()
    assert {i.message.pk for i in everything.context["page"].items} == {person.pk, robot.pk}
    persons = client.get(TRIAGE, {"filtre": "personnes"})
    assert [i.message.pk for i in persons.context["page"].items] == [person.pk]
    machines = client.get(TRIAGE, {"filtre": "automatiques"})
    assert [i.message.pk for i in machines.context["page"].items] == [robot.pk]


def test_the_list_costs_the_same_queries_for_3_or_30_messages(
    world: World, works: Dossier, django_assert_max_num_queries: Any
) -> None:
    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            message = receive(
                world.agency,
                mail(
                    f"<cout-{n}@orange.fr>",
                    subject=f"Demande {n}",
                    date=MONDAY + timedelta(minutes=n),
                    attachments=n % 2,
                ),
            )
            suggest(message, (works, 0.5, "raison"), (world.dossier, 0.2, "autre"))

    client = staff_client(world)
    client.get(TRIAGE)  # the session and the login are read once for all
    add(3, 0)
    with CaptureQueriesContext(connection) as few:
        assert client.get(TRIAGE).status_code == 200
    add(27, 3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(TRIAGE)
    assert len(response.context["page"].items) == 30
    assert len(many) == len(few)
    # The session and its user, the viewer's roles (three), then the total,
    # the page and the suggested dossiers.
    with django_assert_max_num_queries(8):
        client.get(TRIAGE)


def test_reading_a_message_in_full(world: World) -> None:
    message = receive(
        world.agency,
        mail(
            "<lire@orange.fr>",
            body="Bonjour,\n\nLe texte entier du courriel.\n\nJeanne",
            attachments=1,
        ),
    )
    attachment = message.attachments.get()
    client = staff_client(world)
    url = reverse("mail:triage_message", args=[message.pk])

    page = client.get(url)
    partial = client.get(url, headers={"HX-Request": "true"})

    assert page.status_code == 200 and partial.status_code == 200
    assert "Le texte entier du courriel." in page.content.decode()
    assert "Le texte entier du courriel." in partial.content.decode()
    assert "<html" not in partial.content.decode()
    # The attachment is listed, and downloads (staff may read unfiled mail).
    download = reverse("mail:attachment_download", args=[attachment.pk])
    assert download in partial.content.decode()
    assert client.get(download).status_code == 200
    # Filed meanwhile: read in its dossier.
    message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="classé",
    )
    moved = client.get(url)
    assert moved.status_code == 302
    assert moved["Location"] == reverse("dossiers:detail", args=[world.dossier.pk])


# ---------------------------------------------------------------------------
# Who may see and do what


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("staff", "anonymous")])
def test_only_the_agencys_staff_see_its_triage(world: World, client_for: Any, role: str) -> None:
    message = receive(world.agency, mail("<secret@orange.fr>", subject="Sujet confidentiel"))
    client = client_for(role)

    response = client.get(TRIAGE)

    if role == "staff_other_agency":
        assert response.status_code == 200
        assert "Sujet confidentiel" not in response.content.decode()
        assert response.context["page"].items == []
    else:
        assert response.status_code == 403
    viewer = policy.Viewer.for_user(world.users[role])
    assert not policy.unfiled_messages_visible_to(viewer).filter(pk=message.pk).exists()
    assert (
        policy.unfiled_messages_visible_to(policy.Viewer.for_user(world.users["staff"]))
        .filter(pk=message.pk)
        .exists()
    )


def test_anonymous_is_sent_to_the_login_page(world: World) -> None:
    response = Client().get(TRIAGE)
    assert response.status_code == 302 and "/connexion/" in response["Location"]


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("staff", "anonymous")])
def test_nobody_else_acts_on_the_agencys_mail(
    world: World, client_for: Any, role: str, works: Dossier
) -> None:
    message = receive(world.agency, mail("<intouchable@orange.fr>"))
    suggest(message, (works, 0.9, "raison"))
    client = client_for(role)
    expected = 404 if role == "staff_other_agency" else 403
    dossier_count = Dossier.objects.count()

    attempts = [
        client.post(reverse("mail:triage_file", args=[message.pk]), {"dossier": works.pk}),
        client.post(reverse("mail:triage_not_related", args=[message.pk])),
        client.get(reverse("mail:triage_dossier_create", args=[message.pk])),
        client.post(
            reverse("mail:triage_dossier_create", args=[message.pk]),
            {"title": "Pris", "condominium": world.condominium.pk, "type": "works"},
        ),
        client.get(reverse("mail:triage_message", args=[message.pk])),
    ]

    assert [r.status_code for r in attempts] == [expected] * len(attempts)
    bulk = client.post(
        reverse("mail:triage_bulk"),
        {"messages": [message.pk], "action": "not_related"},
    )
    if role == "staff_other_agency":
        # Not theirs: as if it did not exist, and nothing done.
        assert bulk.status_code == 302
    else:
        assert bulk.status_code == 403
    message = reload(message)
    assert message.dossier_id is None and not message.not_dossier_related
    assert Dossier.objects.count() == dossier_count


def test_the_search_ignores_case_and_accents_and_puts_open_dossiers_first(world: World) -> None:
    closed = DossierFactory(
        condominium=world.condominium, title="Élagage 2024", status=DossierStatus.CLOSED
    )
    open_ = DossierFactory(condominium=world.condominium, title="ÉLAGAGE des tilleuls")
    DossierFactory(condominium=world.other_condominium, title="Ascenseur")
    viewer = policy.Viewer.for_user(world.users["staff"])

    found = triage.triage_dossier_search(viewer, agency_ids=[world.agency.pk], query="elagage")
    by_condominium = triage.triage_dossier_search(
        viewer, agency_ids=[world.agency.pk], query="belvedere ascenseur"
    )
    nothing = triage.triage_dossier_search(viewer, agency_ids=[world.agency.pk], query="   ")

    assert found == [open_, closed]
    assert [d.title for d in by_condominium] == ["Ascenseur"]
    assert nothing == []


def test_the_search_never_offers_another_agencys_dossier(world: World) -> None:
    DossierFactory(condominium=world.condominium, title="Toiture à refaire")
    DossierFactory(
        condominium=CondominiumFactory(agency=world.other_agency), title="Toiture du voisin"
    )
    message = receive(world.agency, mail("<toit@orange.fr>"))
    client = staff_client(world)

    found = client.get(
        reverse("mail:triage_dossier_search"), {"query": "toiture", "courriel": message.pk}
    )
    everywhere = client.get(reverse("mail:triage_dossier_search"), {"query": "toiture"})
    stranger = Client()
    stranger.force_login(world.users["staff_other_agency"])
    theirs = stranger.get(
        reverse("mail:triage_dossier_search"), {"query": "toiture", "courriel": message.pk}
    )

    assert [d.title for d in found.context["dossiers"]] == ["Toiture à refaire"]
    # A message's picker offers buttons that file at once; the selection's, choices.
    assert 'type="submit" name="dossier"' in found.content.decode()
    radios = client.get(
        reverse("mail:triage_dossier_search"), {"query": "toiture", "choix": "radio"}
    )
    assert 'type="radio" name="dossier"' in radios.content.decode()
    assert [d.title for d in everywhere.context["dossiers"]] == ["Toiture à refaire"]
    assert theirs.context["dossiers"] == []


# ---------------------------------------------------------------------------
# Filing one message


def test_one_click_on_a_suggestion_files_the_message_and_its_conversation(
    world: World, works: Dossier, invalidated: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    first = receive(world.agency, mail("<fil-1@orange.fr>", subject="Échafaudage"))
    reply = receive(
        world.agency,
        mail(
            "<fil-2@orange.fr>",
            subject="RE : Échafaudage",
            date=MONDAY + timedelta(hours=1),
            in_reply_to="<fil-1@orange.fr>",
        ),
    )
    assert first.thread_id is not None and reply.thread_id == first.thread_id
    suggest(reply, (world.dossier, 0.4, "autre"), (works, 0.83, "mentionne l'échafaudage"))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client(world).post(
            reverse("mail:triage_file", args=[reply.pk]),
            {"dossier": works.pk, "filtre": "personnes"},
        )

    assert response.status_code == 302
    assert response["Location"] == f"{TRIAGE}?filtre=personnes"
    reply, first = reload(reply), reload(first)
    assert reply.dossier_id == works.pk
    assert reply.filing_method == FilingMethod.MANUAL
    assert reply.filing_score == pytest.approx(0.83)
    staff_name = str(world.users["staff"])
    assert reply.filing_reason == (
        f"Classé par {staff_name} depuis le tri (suggestion n° 2, score 83 %)"
    )
    assert reply.filed_by == world.users["staff"]
    assert reply.audience == Audience.INTERNAL
    assert first.dossier_id == works.pk and first.filing_method == FilingMethod.THREAD
    assert (
        TimelineEntry.objects.filter(
            dossier=works, kind=EntryKind.MESSAGE, message__in=[first, reply]
        ).count()
        == 2
    )
    assert AuditLog.objects.filter(
        action=AuditAction.FILED, object_id=str(reply.pk), actor=world.users["staff"]
    ).exists()
    assert invalidated == [world.agency.pk]
    follow = staff_client(world).get(TRIAGE)
    assert follow.context["page"].items == []


def test_the_audience_chosen_at_filing_is_the_entrys(world: World, works: Dossier) -> None:
    message = receive(world.agency, mail("<public@orange.fr>"))
    suggest(message, (works, 0.6, "raison"))

    staff_client(world).post(
        reverse("mail:triage_file", args=[message.pk]),
        {"dossier": works.pk, "audience": Audience.OWNERS},
    )

    assert reload(message).audience == Audience.OWNERS
    assert TimelineEntry.objects.get(message=message).audience == Audience.OWNERS


def test_an_unknown_audience_files_nothing(world: World, works: Dossier) -> None:
    message = receive(world.agency, mail("<audience@orange.fr>"))

    response = staff_client(world).post(
        reverse("mail:triage_file", args=[message.pk]),
        {"dossier": works.pk, "audience": "tout-le-monde"},
        follow=True,
    )

    assert reload(message).dossier_id is None
    assert any("tout-le-monde" in str(m) for m in response.context["messages"])


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("dos-2026-0042", True),  # an exact reference, in any case
        ("  Ravalement   façade ", True),  # the only dossier with these words
        ("Tilleuls", False),  # two dossiers of that condominium: which one?
        ("piscine", False),  # no dossier at all
    ],
)
def test_the_dossier_picker(
    world: World,
    works: Dossier,
    typed: str,
    found: bool,
    invalidated: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = receive(world.agency, mail("<choix@orange.fr>"))
    # Nothing suggested: the manager finds the dossier by searching (a
    # suggestion naming it would lend the filing its score).
    Message.objects.filter(pk=message.pk).update(suggestions=[])

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client(world).post(
            reverse("mail:triage_file", args=[message.pk]), {"query": typed}, follow=True
        )

    message = reload(message)
    flashes = [str(m) for m in response.context["messages"]]
    if found:
        assert message.dossier_id == works.pk
        assert message.filing_score is None
        assert message.filing_reason == f"Classé par {world.users['staff']} depuis le tri"
        assert invalidated == [world.agency.pk]
    else:
        assert message.dossier_id is None
        assert invalidated == []
        if typed == "Tilleuls":
            assert any("Plusieurs dossiers" in f and "DOS-2026-0042" in f for f in flashes)
        else:
            assert any("Aucun dossier ne correspond à « piscine »" in f for f in flashes)


def test_a_dossier_of_another_agency_is_refused(world: World) -> None:
    foreign = DossierFactory(condominium=CondominiumFactory(agency=world.other_agency))
    message = receive(world.agency, mail("<fuite@orange.fr>"))
    suggest(message, (foreign, 0.99, "piège"))

    response = staff_client(world).post(
        reverse("mail:triage_file", args=[message.pk]), {"dossier": foreign.pk}, follow=True
    )

    assert reload(message).dossier_id is None
    assert not TimelineEntry.objects.filter(dossier=foreign).exists()
    assert any("n'existe pas" in str(m) for m in response.context["messages"])


def test_mail_filed_meanwhile_is_not_moved(world: World, works: Dossier) -> None:
    message = receive(world.agency, mail("<course@orange.fr>"))
    suggest(message, (works, 0.7, "raison"))
    # Another manager files it first, from another tab.
    message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="classé ailleurs",
    )

    response = staff_client(world).post(
        reverse("mail:triage_file", args=[message.pk]), {"dossier": works.pk}, follow=True
    )

    assert reload(message).dossier_id == world.dossier.pk
    assert any("classé entre-temps" in str(m) for m in response.context["messages"])


def test_htmx_gets_the_list_back_with_its_status(world: World, works: Dossier) -> None:
    message = receive(world.agency, mail("<htmx@orange.fr>", subject="Par htmx"))
    other = receive(world.agency, mail("<reste@orange.fr>", subject="Il reste celui-ci"))
    suggest(message, (works, 0.7, "raison"))

    response = staff_client(world).post(
        reverse("mail:triage_file", args=[message.pk]),
        {"dossier": works.pk},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "triage-changed"
    body = response.content.decode()
    assert "<html" not in body
    assert 'hx-swap-oob="innerHTML:#triage-status"' in body
    assert "classé dans le dossier" in body and "DOS-2026-0042" in body
    assert f'id="courriel-{message.pk}"' not in body
    assert f'id="courriel-{other.pk}"' in body


# ---------------------------------------------------------------------------
# Not dossier-related


def test_not_related_leaves_the_inbox_and_can_be_undone(
    world: World, works: Dossier, invalidated: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    message = receive(world.agency, mail("<promo@orange.fr>", subject="Promotion chaudières"))
    client = staff_client(world)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mail:triage_not_related", args=[message.pk]))

    message = reload(message)
    assert message.not_dossier_related and message.dossier_id is None
    assert message.filing_method == FilingMethod.MANUAL
    assert AuditLog.objects.filter(object_id=str(message.pk), action=AuditAction.FILED).exists()
    assert invalidated == [world.agency.pk]
    assert client.get(TRIAGE).context["page"].items == []
    aside = client.get(TRIAGE, {"filtre": "sans-rapport"})
    assert [i.message.pk for i in aside.context["page"].items] == [message.pk]
    assert "Mis de côté par" in aside.content.decode()

    # A mistake: filed after all, from the list of mail set aside.
    client.post(
        reverse("mail:triage_file", args=[message.pk]),
        {"dossier": works.pk, "filtre": "sans-rapport"},
    )
    message = reload(message)
    assert message.dossier_id == works.pk and not message.not_dossier_related


def test_a_filed_message_is_not_pulled_out_of_its_dossier(world: World) -> None:
    message = receive(world.agency, mail("<garde@orange.fr>"))
    message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="classé",
    )

    staff_client(world).post(reverse("mail:triage_not_related", args=[message.pk]))

    message = reload(message)
    assert message.dossier_id == world.dossier.pk and not message.not_dossier_related


# ---------------------------------------------------------------------------
# A new dossier from a mail


def test_the_new_dossier_form_is_prefilled_from_the_mail(world: World, works: Dossier) -> None:
    message = receive(
        world.agency,
        mail("<nouveau@orange.fr>", subject="RE : TR: [EXT] Infiltration cage d'escalier B"),
    )
    suggest(message, (works, 0.3, "raison"))

    response = staff_client(world).get(reverse("mail:triage_dossier_create", args=[message.pk]))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["title"] == "Infiltration cage d'escalier B"
    assert form.initial["condominium"] == world.condominium.pk
    # Only the agency's condominiums are offered.
    assert set(form.fields["condominium"].queryset) == {
        world.condominium,
        world.other_condominium,
    }


def test_a_new_dossier_is_opened_and_the_mail_filed_there(
    world: World, invalidated: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    company = CompanyFactory(agency=world.agency, name="Étanchéité Rhône")
    CompanyDomainFactory(company=company, domain="etancheite-rhone.fr")
    sender = PersonFactory(
        agency=world.agency,
        first_name="Paul",
        last_name="Couvreur",
        email="paul@etancheite-rhone.fr",
    )
    message = receive(
        world.agency,
        mail(
            "<infiltration@etancheite-rhone.fr>",
            sender="Paul Couvreur <paul@etancheite-rhone.fr>",
            subject="Infiltration terrasse",
        ),
    )
    client = staff_client(world)
    before = set(Dossier.objects.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("mail:triage_dossier_create", args=[message.pk]),
            {
                "title": "Infiltration terrasse du 5e",
                "condominium": world.condominium.pk,
                "type": DossierType.WATER_DAMAGE,
                "dossier_audience": "",
                "audience": Audience.INTERNAL,
                "add_sender": "on",
                "add_company": "on",
            },
        )

    assert response.status_code == 302 and response["Location"] == TRIAGE
    (dossier,) = Dossier.objects.exclude(pk__in=before)
    assert dossier.title == "Infiltration terrasse du 5e"
    assert dossier.condominium == world.condominium
    assert dossier.audience == Audience.PARTIES  # the type's default
    assert list(dossier.party_persons.all()) == [sender]
    assert list(dossier.party_companies.all()) == [company]
    message = reload(message)
    assert message.dossier_id == dossier.pk
    assert message.filing_method == FilingMethod.MANUAL
    assert "Dossier ouvert par" in message.filing_reason
    assert AuditLog.objects.filter(action=AuditAction.CREATED, object_id=str(dossier.pk)).exists()
    assert invalidated == [world.agency.pk]


def test_an_invalid_new_dossier_writes_nothing(world: World) -> None:
    message = receive(world.agency, mail("<invalide@orange.fr>"))
    foreign = CondominiumFactory(agency=world.other_agency)
    count = Dossier.objects.count()

    missing_type = staff_client(world).post(
        reverse("mail:triage_dossier_create", args=[message.pk]),
        {"title": "Sans type", "condominium": world.condominium.pk, "type": ""},
    )
    foreign_condominium = staff_client(world).post(
        reverse("mail:triage_dossier_create", args=[message.pk]),
        {"title": "Ailleurs", "condominium": foreign.pk, "type": DossierType.WORKS},
    )

    assert missing_type.status_code == 400 and foreign_condominium.status_code == 400
    assert "type" in missing_type.context["form"].errors
    assert "condominium" in foreign_condominium.context["form"].errors
    assert Dossier.objects.count() == count
    assert reload(message).dossier_id is None


def test_opening_and_filing_happen_together_or_not_at_all(world: World) -> None:
    message = receive(world.agency, mail("<atomique@orange.fr>"))
    viewer = policy.Viewer.for_user(world.users["staff"])
    count = Dossier.objects.count()

    # The filing fails after the dossier was opened: the dossier goes too.
    with pytest.raises(ValidationError):
        triage.triage_dossier_open(
            viewer=viewer,
            actor=world.users["staff"],
            message=message,
            condominium=world.condominium,
            title="Ne doit pas rester",
            type=DossierType.WORKS,
            audience="n'importe qui",
        )

    assert Dossier.objects.count() == count
    assert reload(message).dossier_id is None


# ---------------------------------------------------------------------------
# The selection


def test_bulk_file_into_one_dossier(
    world: World, works: Dossier, invalidated: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    chosen = [receive(world.agency, mail(f"<lot-{n}@orange.fr>")) for n in range(3)]
    left = receive(world.agency, mail("<pas-coche@orange.fr>"))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client(world).post(
            reverse("mail:triage_bulk"),
            {
                "messages": [m.pk for m in chosen],
                "action": "file",
                "query": "DOS-2026-0042",
                "audience": Audience.COUNCIL,
            },
            follow=True,
        )

    for message in chosen:
        message = reload(message)
        assert message.dossier_id == works.pk
        assert message.audience == Audience.COUNCIL
        assert message.filing_method == FilingMethod.MANUAL
    assert reload(left).dossier_id is None
    assert any("3 courriels classés" in str(m) for m in response.context["messages"])
    assert invalidated == [world.agency.pk]


def test_bulk_skips_what_is_not_the_viewers_to_file(world: World, works: Dossier) -> None:
    mine = receive(world.agency, mail("<mien@orange.fr>"))
    theirs = receive(world.other_agency, mail("<sien@orange.fr>", to="gestion@voisin.fr"))

    response = staff_client(world).post(
        reverse("mail:triage_bulk"),
        {"messages": [mine.pk, theirs.pk], "action": "file", "dossier": works.pk},
        follow=True,
    )

    assert reload(mine).dossier_id == works.pk
    theirs = reload(theirs)
    assert theirs.dossier_id is None and not theirs.not_dossier_related
    assert any("laissé tel quel" in str(m) for m in response.context["messages"])


def test_bulk_not_related(world: World) -> None:
    chosen = [receive(world.agency, mail(f"<news-{n}@orange.fr>")) for n in range(2)]

    staff_client(world).post(
        reverse("mail:triage_bulk"),
        {"messages": [m.pk for m in chosen], "action": "not_related"},
    )

    assert all(reload(m).not_dossier_related for m in chosen)


def test_bulk_without_a_selection_or_a_dossier_does_nothing(world: World) -> None:
    message = receive(world.agency, mail("<rien@orange.fr>"))
    client = staff_client(world)

    nothing = client.post(reverse("mail:triage_bulk"), {"action": "file"}, follow=True)
    no_dossier = client.post(
        reverse("mail:triage_bulk"), {"messages": [message.pk], "action": "file"}, follow=True
    )
    garbage = client.post(
        reverse("mail:triage_bulk"), {"messages": ["1; DROP"], "action": "file"}, follow=True
    )

    assert any("Cochez d'abord" in str(m) for m in nothing.context["messages"])
    assert any("Choisissez un dossier" in str(m) for m in no_dossier.context["messages"])
    assert any("sélection de courriels est invalide" in str(m) for m in garbage.context["messages"])
    assert reload(message).dossier_id is None


def test_bulk_is_all_or_nothing(world: World) -> None:
    foreign = DossierFactory(condominium=CondominiumFactory(agency=world.other_agency))
    waiting = [receive(world.agency, mail(f"<tout-{n}@orange.fr>")) for n in range(2)]
    viewer = policy.Viewer.for_user(world.users["staff"])

    with pytest.raises(ValidationError):
        triage.triage_bulk_file(
            viewer=viewer, actor=world.users["staff"], messages=waiting, dossier=foreign
        )

    assert all(reload(m).dossier_id is None for m in waiting)


def test_bulk_with_a_whole_conversation(world: World, works: Dossier) -> None:
    first = receive(world.agency, mail("<conv-1@orange.fr>", subject="Devis toiture"))
    second = receive(
        world.agency,
        mail(
            "<conv-2@orange.fr>",
            subject="RE : Devis toiture",
            date=MONDAY + timedelta(hours=2),
            in_reply_to="<conv-1@orange.fr>",
        ),
    )

    response = staff_client(world).post(
        reverse("mail:triage_bulk"),
        {"messages": [first.pk, second.pk], "action": "file", "dossier": works.pk},
        follow=True,
    )

    assert reload(first).dossier_id == works.pk and reload(second).dossier_id == works.pk
    assert any("2 courriels classés" in str(m) for m in response.context["messages"])


# ---------------------------------------------------------------------------
# The navigation


def test_the_navigation_counts_waiting_mail(world: World) -> None:
    for n in range(3):
        receive(world.agency, mail(f"<compte-{n}@orange.fr>"))
    receive(world.other_agency, mail("<compte-voisin@orange.fr>", to="gestion@voisin.fr"))
    count_url = reverse("mail:triage_count")

    staff = staff_client(world)
    home = staff.get("/")
    badge = staff.get(count_url)
    neighbour = Client()
    neighbour.force_login(world.users["staff_other_agency"])
    owner = Client()
    owner.force_login(world.users["owner_party"])

    assert count_url in home.content.decode() and TRIAGE in home.content.decode()
    assert ">3<" in badge.content.decode()
    assert ">1<" in neighbour.get(count_url).content.decode()
    assert owner.get(count_url).content.decode().strip() == ""
    assert TRIAGE not in owner.get("/").content.decode()


def test_another_staff_member_of_the_agency_can_triage(world: World, works: Dossier) -> None:
    assistant = StaffFactory(agency=world.agency, staff_role="assistant")
    message = receive(world.agency, mail("<assistante@orange.fr>"))
    client = Client()
    client.force_login(assistant.user)

    client.post(reverse("mail:triage_file", args=[message.pk]), {"dossier": works.pk})

    message = reload(message)
    assert message.dossier_id == works.pk and message.filed_by == assistant.user


# ---------------------------------------------------------------------------
# Helpers


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("RE : TR: [EXT] Fuite lot 12", "Fuite lot 12"),
        ("Réf. : Ravalement 2026", "Ravalement 2026"),
        ("AW: Fwd: Ascenseur", "Ascenseur"),
        ("Regards sur la façade", "Regards sur la façade"),
        ("", ""),
    ],
)
def test_title_from_subject(subject: str, title: str) -> None:
    assert triage.title_from_subject(subject) == title
