"""Filing rules written by staff: their conditions (case- and
accent-insensitive, all of them must match), their order, the preview of the
recent mail they would match, and their pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail.filing import (
    mail_rule_save,
    rule_matches,
    rule_preview,
    rules_apply,
    text_fold,
)
from lanterne.mail.models import MailRule, Message
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World
from ..factories import CondominiumFactory, DossierFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_sequence = iter(range(10_000))


def receive(
    agency,  # type: ignore[no-untyped-def]
    *,
    sender: str = "Jean Dupont <jean@plomberie.fr>",
    to: str = "gestion@cabinet-lumiere.fr",
    cc: str = "",
    subject: str = "Devis fuite lot 12",
    body: str = "Bonjour,\n\nVoici notre devis.\n\nJean",
    date: datetime = MONDAY,
    extra_headers: str = "",
) -> Message:
    """Push a small e-mail through the pipeline and return it."""
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <m{next(_sequence)}@exemple.fr>",
    ]
    if cc:
        headers.append(f"Cc: {cc}")
    if extra_headers:
        headers.append(extra_headers)
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    data = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
    result = mail_receive_and_process(agency=agency, data=data)
    return Message.objects.get(raw=result.raw)


def rule(world: World, *, position: int = 0, **fields: object) -> MailRule:
    fields.setdefault("not_dossier_related", True)
    return MailRule.objects.create(
        agency=world.agency, name=f"Règle {position}", position=position, **fields
    )


# -- Conditions -------------------------------------------------------------------------------


def test_folding_ignores_case_accents_and_spacing() -> None:
    assert text_fold("Résidence  LES\u00a0Tilleuls") == "residence les tilleuls"
    assert text_fold("ÉLAGAGE — Œuvre") == text_fold("elagage — œuvre")


def test_sender_address_is_matched_whole_whatever_its_case(world):  # type: ignore[no-untyped-def]
    jean = receive(world.agency)
    jeanne = receive(world.agency, sender="Jeanne <jeanne@plomberie.fr>")
    by_address = rule(world, sender_address="JEAN@Plomberie.FR")
    assert rule_matches(by_address, jean)
    assert not rule_matches(by_address, jeanne)


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("jean@plomberie.fr", True),
        ("JEAN@PLOMBERIE.FR", True),
        ("devis@mail.plomberie.fr", True),
        ("jean@faux-plomberie.fr", False),
        ("jean@plomberie.fr.exemple.com", False),
        ("plomberie.fr@gmail.com", False),
    ],
)
def test_sender_domain_and_its_subdomains(world, sender, expected):  # type: ignore[no-untyped-def]
    message = receive(world.agency, sender=f"X <{sender}>")
    assert rule_matches(rule(world, sender_domain="plomberie.fr"), message) is expected
    assert rule_matches(rule(world, sender_domain="@Plomberie.fr"), message) is expected


def test_recipient_contains_reads_to_cc_and_the_delivery_mailbox(world):  # type: ignore[no-untyped-def]
    to_accounts = receive(world.agency, to="Service Comptabilité <compta@cabinet-lumiere.fr>")
    cc_accounts = receive(world.agency, cc="Compta <compta@cabinet-lumiere.fr>")
    bcc_claims = receive(world.agency, extra_headers="Delivered-To: sinistres@cabinet-lumiere.fr")
    plain = receive(world.agency, sender="Compta fournisseur <compta@plomberie.fr>")
    accounts = rule(world, recipient_contains="COMPTABILITE")
    assert rule_matches(accounts, to_accounts)
    assert not rule_matches(accounts, cc_accounts)
    by_address = rule(world, recipient_contains="compta@")
    assert rule_matches(by_address, to_accounts) and rule_matches(by_address, cc_accounts)
    # The sender is not a recipient.
    assert not rule_matches(by_address, plain)
    assert rule_matches(rule(world, recipient_contains="sinistres"), bcc_claims)


def test_subject_and_body_ignore_case_accents_and_spacing(world):  # type: ignore[no-untyped-def]
    message = receive(
        world.agency,
        subject="TR : RESIDENCE LES  TILLEULS – élagage des arbres",
        body="Bonjour,\nla CHAUDIERE est en panne\ndepuis hier.",
    )
    assert rule_matches(rule(world, subject_contains="Résidence les Tilleuls"), message)
    assert rule_matches(rule(world, subject_contains="ÉLAGAGE"), message)
    assert rule_matches(rule(world, body_contains="chaudière est en panne depuis"), message)
    assert not rule_matches(rule(world, subject_contains="chaudière"), message)
    assert not rule_matches(rule(world, body_contains="Tilleuls"), message)


def test_every_condition_given_must_match(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, subject="Contrat d'entretien chaudière")
    both = rule(world, sender_domain="plomberie.fr", subject_contains="contrat")
    assert rule_matches(both, message)
    wrong_subject = rule(world, sender_domain="plomberie.fr", subject_contains="facture")
    wrong_sender = rule(world, sender_domain="chauffage.fr", subject_contains="contrat")
    assert not rule_matches(wrong_subject, message)
    assert not rule_matches(wrong_sender, message)


def test_a_rule_without_condition_matches_nothing(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency)
    assert not rule_matches(rule(world), message)
    assert not rule_matches(rule(world, subject_contains="   ", body_contains=" "), message)
    assert rules_apply(message) is None


def test_a_rule_never_matches_mail_of_another_agency(world):  # type: ignore[no-untyped-def]
    foreign = receive(world.other_agency)
    ours = rule(world, sender_domain="plomberie.fr")
    assert not rule_matches(ours, foreign)
    assert rules_apply(foreign) is None


# -- Order --------------------------------------------------------------------------------------


def test_the_first_active_matching_rule_by_position_wins(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, subject="Devis ravalement")
    later = rule(world, position=5, sender_domain="plomberie.fr")
    first = rule(world, position=1, subject_contains="ravalement")
    rule(world, position=0, subject_contains="ascenseur")  # earlier, but no match
    assert rules_apply(message) == first
    first.is_active = False
    first.save()
    assert rules_apply(message) == later
    # Same position: the older rule first.
    same = rule(world, position=5, subject_contains="devis")
    assert rules_apply(message) == later
    later.delete()
    assert rules_apply(message) == same


# -- Preview ------------------------------------------------------------------------------------


def test_preview_lists_recent_matching_mail_of_the_agency_only(world):  # type: ignore[no-untyped-def]
    old = receive(world.agency, subject="Élagage résidence", date=MONDAY - timedelta(days=30))
    new = receive(world.agency, subject="ELAGAGE des tilleuls", date=MONDAY)
    receive(world.agency, subject="Fuite lot 12")
    receive(world.other_agency, subject="Élagage chez le voisin")
    unsaved = MailRule(agency=world.agency, subject_contains="élagage")
    assert rule_preview(unsaved) == [new, old]
    assert rule_preview(unsaved, limit=1) == [new]
    assert rule_preview(MailRule(agency=world.agency)) == []


# -- Validation ---------------------------------------------------------------------------------


def test_a_rule_needs_a_condition_and_an_action_in_french(world):  # type: ignore[no-untyped-def]
    empty = MailRule(agency=world.agency, name="Vide")
    with pytest.raises(ValidationError) as caught:
        empty.full_clean()
    text = " ".join(caught.value.messages)
    assert "Indiquez au moins une condition" in text
    assert "Indiquez au moins une action" in text


def test_a_rule_cannot_point_across_agencies_or_contradict_itself(world):  # type: ignore[no-untyped-def]
    foreign = DossierFactory(condominium=CondominiumFactory(agency=world.other_agency))
    across = MailRule(
        agency=world.agency, name="Ailleurs", sender_domain="plomberie.fr", dossier=foreign
    )
    with pytest.raises(ValidationError) as caught:
        across.full_clean()
    assert "dossier" in caught.value.message_dict
    elsewhere = DossierFactory(condominium=world.other_condominium)
    mismatch = MailRule(
        agency=world.agency,
        name="Mélange",
        sender_domain="plomberie.fr",
        condominium=world.condominium,
        dossier=elsewhere,
    )
    with pytest.raises(ValidationError):
        mismatch.full_clean()
    both = MailRule(
        agency=world.agency,
        name="Contradiction",
        subject_contains="publicité",
        not_dossier_related=True,
        dossier=world.dossier,
    )
    with pytest.raises(ValidationError) as caught:
        both.full_clean()
    assert "not_dossier_related" in caught.value.message_dict


def test_only_staff_of_the_agency_save_rules(world):  # type: ignore[no-untyped-def]
    new = MailRule(agency=world.agency, name="Plombier", sender_domain="plomberie.fr")
    new.dossier = world.dossier
    for role in ("staff_other_agency", "owner_party", "council_chair"):
        with pytest.raises(PermissionDenied):
            mail_rule_save(viewer=policy.Viewer.for_user(world.users[role]), actor=None, rule=new)
    saved = mail_rule_save(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        rule=new,
    )
    assert saved.pk and saved.created_by == world.users["staff"]
    assert AuditLog.objects.get(object_type="mail.mailrule").action == AuditAction.CREATED


# -- Pages --------------------------------------------------------------------------------------


def test_rule_pages_are_for_staff_of_the_agency(world, client_for):  # type: ignore[no-untyped-def]
    ours = rule(world, sender_domain="plomberie.fr")
    ours.name = "Plombier des Tilleuls"
    ours.save()
    staff = client_for("staff")
    listing = staff.get(reverse("mail:rules"))
    assert listing.status_code == 200 and "Plombier des Tilleuls" in listing.content.decode()
    assert staff.get(reverse("mail:rule_edit", args=[ours.pk])).status_code == 200
    assert staff.get(reverse("mail:rule_create")).status_code == 200
    # The staff navigation leads there.
    assert f'href="{reverse("mail:rules")}"' in staff.get(reverse("home")).content.decode()

    for role in ("owner_party", "council_chair", "owner_not_party"):
        client = client_for(role)
        assert client.get(reverse("mail:rules")).status_code == 403
        assert client.get(reverse("mail:rule_create")).status_code == 403
        assert client.get(reverse("mail:rule_edit", args=[ours.pk])).status_code == 403

    neighbour = client_for("staff_other_agency")
    listing = neighbour.get(reverse("mail:rules"))
    assert listing.status_code == 200 and "Plombier des Tilleuls" not in listing.content.decode()
    assert neighbour.get(reverse("mail:rule_edit", args=[ours.pk])).status_code == 404
    assert neighbour.post(reverse("mail:rule_edit", args=[ours.pk])).status_code == 404
    assert neighbour.post(reverse("mail:rule_edit_preview", args=[ours.pk])).status_code == 404
    assert neighbour.post(reverse("mail:rule_toggle", args=[ours.pk])).status_code == 404
    assert neighbour.post(reverse("mail:rule_delete", args=[ours.pk])).status_code == 404
    assert MailRule.objects.get(pk=ours.pk).is_active

    anonymous = client_for("anonymous").get(reverse("mail:rules"))
    assert anonymous.status_code == 302


def test_an_empty_rule_is_refused_in_french(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("staff").post(
        reverse("mail:rule_create"), {"name": "Vide", "position": "0", "is_active": "on"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Indiquez au moins une condition" in body
    assert "Indiquez au moins une action" in body
    assert not MailRule.objects.exists()


def test_creating_a_rule(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("staff").post(
        reverse("mail:rule_create"),
        {
            "name": "Plombier",
            "sender_domain": " Plomberie.FR ",
            "dossier": world.dossier.pk,
            "audience": Audience.PARTIES,
            "position": "3",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    saved = MailRule.objects.get()
    assert saved.sender_domain == "plomberie.fr" and saved.dossier == world.dossier
    assert saved.audience == Audience.PARTIES and saved.position == 3
    assert saved.created_by == world.users["staff"]


def test_the_form_offers_only_dossiers_of_the_agency(world, client_for):  # type: ignore[no-untyped-def]
    foreign = DossierFactory(condominium=CondominiumFactory(agency=world.other_agency))
    response = client_for("staff").post(
        reverse("mail:rule_create"),
        {"name": "Fuite", "subject_contains": "fuite", "dossier": foreign.pk, "position": "0"},
    )
    assert response.status_code == 200 and not MailRule.objects.exists()
    assert foreign.reference not in response.content.decode()


def test_live_preview_of_the_mail_a_rule_would_match(world, client_for):  # type: ignore[no-untyped-def]
    receive(world.agency, subject="Relevé des compteurs d'eau")
    receive(world.agency, subject="Fuite lot 12")
    receive(world.other_agency, subject="Relevé chez le voisin")
    staff = client_for("staff")
    partial = staff.post(
        reverse("mail:rule_create_preview"),
        {"subject_contains": "RELEVE"},
        headers={"HX-Request": "true"},
    )
    body = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in body
    assert "Relevé des compteurs d&#x27;eau" in body
    assert "Fuite lot 12" not in body and "chez le voisin" not in body
    assert "1 courriel récent correspond" in body
    # Without conditions, nothing is listed (the mailbox is not dumped).
    empty = staff.post(reverse("mail:rule_create_preview"), {}, headers={"HX-Request": "true"})
    assert "Indiquez au moins une condition" in empty.content.decode()
    # Without htmx, the whole form comes back with the preview.
    page = staff.post(reverse("mail:rule_create_preview"), {"subject_contains": "relevé"})
    assert "<html" in page.content.decode() and "compteurs" in page.content.decode()
    assert not MailRule.objects.exists()
    # Co-owners get nothing.
    assert client_for("owner_party").post(reverse("mail:rule_create_preview")).status_code == 403


def test_deactivating_and_deleting_a_rule(world, client_for):  # type: ignore[no-untyped-def]
    ours = rule(world, sender_domain="plomberie.fr")
    staff = client_for("staff")
    assert staff.post(reverse("mail:rule_toggle", args=[ours.pk])).status_code == 302
    ours.refresh_from_db()
    assert not ours.is_active
    assert rules_apply(receive(world.agency)) is None
    assert staff.get(reverse("mail:rule_delete", args=[ours.pk])).status_code == 200
    assert staff.post(reverse("mail:rule_delete", args=[ours.pk])).status_code == 302
    assert not MailRule.objects.exists()
    actions = set(
        AuditLog.objects.filter(object_type="mail.mailrule").values_list("action", flat=True)
    )
    assert actions == {AuditAction.CHANGED, AuditAction.DELETED}
