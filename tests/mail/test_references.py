"""The references Lanterne puts in the mail it sends (Message-ID, reply
address, subject tag) and recognising them in the mail it receives: round
trips, forged, tampered and foreign tokens, relays that rewrite Message-IDs or
change the case of addresses, subject tags and imported references."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanterne.condominiums.models import Agency, Condominium, Person
from lanterne.dossiers.models import Dossier
from lanterne.mail.parsing import parse_message
from lanterne.mail.references import (
    LOCAL_PART_MAX_OCTETS,
    ReferenceChannel,
    ReplyAddressError,
    TokenStatus,
    dossier_from_message_ids,
    dossier_from_recipients,
    dossier_message_id,
    dossier_reply_address,
    dossiers_from_subject,
    reference_matches,
    sender_participates,
    subject_with_tag,
)
from lanterne.mail.services import mail_receive_and_process
from tests.factories import (
    AgencyFactory,
    CompanyDomainFactory,
    CompanyFactory,
    CondominiumFactory,
    DossierFactory,
    LotFactory,
    OwnershipFactory,
    PersonFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

REPLY_ADDRESS = re.compile(
    r"gestion\+dos\.(?P<payload>[0-9a-v]+-[0-9a-v]+)\.(?P<mac>[a-z2-7]{16})@cabinet-lumiere\.fr"
)
MESSAGE_ID = re.compile(
    r"<lanterne\.(?P<unique>[a-z0-9-]+)\.(?P<payload>[0-9a-v]+-[0-9a-v]+)"
    r"\.(?P<mac>[a-z2-7]{16})@cabinet-lumiere\.fr>"
)


@dataclass
class Refs:
    """An agency with a Lanterne dossier and two imported ones, a neighbouring
    agency that reuses the same reference, and a few correspondents."""

    agency: Agency
    other_agency: Agency
    condominium: Condominium
    dossier: Dossier  # DOS-2026-0042
    imported: Dossier  # 2025/117
    old: Dossier  # DOS-1041
    other_dossier: Dossier  # DOS-2026-0042 of the other agency
    party: Person  # party-person of `dossier`, writes from claire.martin@exemple.fr


@pytest.fixture
def refs() -> Refs:
    agency = AgencyFactory(
        name="Cabinet Lumière",
        mail_domain="cabinet-lumiere.fr",
        shared_mailbox="gestion@cabinet-lumiere.fr",
    )
    other_agency = AgencyFactory(name="Cabinet Voisin", mail_domain="voisin.fr")
    condominium = CondominiumFactory(agency=agency, name="Les Tilleuls")
    dossier = DossierFactory(condominium=condominium, reference="DOS-2026-0042")
    party = PersonFactory(agency=agency, last_name="Martin", email="claire.martin@exemple.fr")
    dossier.party_persons.add(party)
    return Refs(
        agency=agency,
        other_agency=other_agency,
        condominium=condominium,
        dossier=dossier,
        imported=DossierFactory(condominium=condominium, reference="2025/117"),
        old=DossierFactory(condominium=condominium, reference="DOS-1041"),
        other_dossier=DossierFactory(
            condominium=CondominiumFactory(agency=other_agency), reference="DOS-2026-0042"
        ),
        party=party,
    )


def eml(
    *,
    subject: str = "RE : Devis",
    sender: str = "Jean Dupont <jean@plomberie-dupont.fr>",
    to: str = "gestion@cabinet-lumiere.fr",
    in_reply_to: str = "",
    references: str = "",
) -> bytes:
    """A reply as a mail client writes it."""
    threading = ""
    if in_reply_to:
        threading += f"In-Reply-To: {in_reply_to}\r\n"
    if references:
        threading += f"References: {references}\r\n"
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Tue, 3 Mar 2026 10:12:00 +0100\r\n"
        "Message-ID: <reply-1@plomberie-dupont.fr>\r\n"
        f"{threading}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Bonjour,\r\n\r\nCi-joint notre devis.\r\n"
    ).encode()


def tampered(text: str, position: int) -> str:
    """`text` with one character of the base32 alphabet replaced by another."""
    replacement = "b" if text[position] != "b" else "c"
    return text[:position] + replacement + text[position + 1 :]


# ---------------------------------------------------------------------------
# Message-ID


def test_message_id_round_trip(refs: Refs) -> None:
    message_id = dossier_message_id(refs.dossier)

    assert MESSAGE_ID.fullmatch(message_id), message_id
    for form in (message_id, message_id.strip("<>"), f"  {message_id} "):
        lookup = dossier_from_message_ids(refs.agency, [form])
        assert lookup.dossier == refs.dossier
        assert lookup.reason == TokenStatus.MATCHED


def test_message_ids_are_unique_per_message(refs: Refs) -> None:
    first, second = dossier_message_id(refs.dossier), dossier_message_id(refs.dossier)

    assert first != second
    given_unique = dossier_message_id(refs.dossier, unique="outbox-123")
    assert given_unique.startswith("<lanterne.outbox-123.")
    assert dossier_from_message_ids(refs.agency, [given_unique]).dossier == refs.dossier
    with pytest.raises(ValueError, match="unique"):
        dossier_message_id(refs.dossier, unique="a.b@c")


def test_message_id_on_an_internationalised_domain_is_ascii(refs: Refs) -> None:
    refs.agency.mail_domain = "cabinet-lumière.fr"
    refs.agency.save()
    refs.dossier.refresh_from_db()

    message_id = dossier_message_id(refs.dossier)

    assert message_id.isascii()
    assert message_id.endswith("@xn--cabinet-lumire-6jb.fr>")
    assert dossier_from_message_ids(refs.agency, [message_id]).dossier == refs.dossier


def test_a_reply_names_the_dossier_through_in_reply_to_and_references(refs: Refs) -> None:
    ours = dossier_message_id(refs.dossier)
    parsed = parse_message(eml(in_reply_to=ours, references=f"<older@plomberie-dupont.fr> {ours}"))

    matches = reference_matches(refs.agency, parsed, sender_is_participant=False)

    assert [(m.dossier, m.channel, m.certain) for m in matches] == [
        (refs.dossier, ReferenceChannel.MESSAGE_ID, True)
    ]
    assert matches[0].evidence == ours.strip("<>")


def test_only_references_left_by_a_ticketing_tool_still_match(refs: Refs) -> None:
    ours = dossier_message_id(refs.dossier)
    parsed = parse_message(eml(references=f"{ours} <ticket-77@helpdesk.example>"))

    matches = reference_matches(refs.agency, parsed, sender_is_participant=False)

    assert [(m.dossier, m.channel) for m in matches] == [
        (refs.dossier, ReferenceChannel.MESSAGE_ID)
    ]


def test_the_closest_ancestor_decides_between_two_of_our_message_ids(refs: Refs) -> None:
    older = dossier_message_id(refs.old)
    parent = dossier_message_id(refs.dossier)
    parsed = parse_message(eml(references=f"{older} {parent}"))

    matches = reference_matches(refs.agency, parsed, sender_is_participant=False)

    assert matches[0].dossier == refs.dossier


# ---------------------------------------------------------------------------
# Reply address


def test_reply_address_round_trip(refs: Refs) -> None:
    address = dossier_reply_address(refs.dossier)

    assert REPLY_ADDRESS.fullmatch(address), address
    assert address == address.lower()
    assert len(address.partition("@")[0].encode()) <= LOCAL_PART_MAX_OCTETS
    for form in (address, f"Gestion Lumière <{address}>", f'"{address.partition("@")[0]}"@x.fr'):
        lookup = dossier_from_recipients(refs.agency, ["jean@plomberie-dupont.fr", form])
        assert lookup.dossier == refs.dossier, form
        assert lookup.reason == TokenStatus.MATCHED


@pytest.mark.parametrize("change_case", [str.lower, str.upper, str.title])
def test_reply_address_survives_a_relay_that_changes_its_case(
    refs: Refs, change_case: object
) -> None:
    address = dossier_reply_address(refs.dossier)
    assert callable(change_case)

    lookup = dossier_from_recipients(refs.agency, [change_case(address)])

    assert lookup.dossier == refs.dossier


@pytest.mark.parametrize(
    ("mailbox", "largest_id"),
    [
        ("gestion@cabinet-lumiere.fr", 2**63 - 1),  # the largest ids a BigAutoField holds
        ("gestion.des.coproprietes@cabinet-lumiere.fr", 2**20),  # a long local part
    ],
)
def test_reply_address_fits_the_local_part_limit(mailbox: str, largest_id: int) -> None:
    agency = Agency(pk=largest_id, mail_domain="cabinet-lumiere.fr", shared_mailbox=mailbox)
    dossier = Dossier(pk=largest_id, agency=agency, reference="DOS-2026-0042")

    local = dossier_reply_address(dossier).partition("@")[0]

    assert len(local.encode()) <= LOCAL_PART_MAX_OCTETS


def test_no_reply_address_beyond_64_octets(refs: Refs) -> None:
    refs.agency.shared_mailbox = "service.gestion.des.coproprietes.de.lyon.nord@cabinet-lumiere.fr"
    refs.agency.save()
    refs.dossier.refresh_from_db()

    with pytest.raises(ReplyAddressError, match="64 octets"):
        dossier_reply_address(refs.dossier)


def test_a_reply_through_a_relay_that_rewrote_our_message_id(refs: Refs) -> None:
    """Gmail and Amazon SES send our mail with a Message-ID of their own: the
    reply's In-Reply-To names theirs, but the reply address still files it."""
    reply_address = dossier_reply_address(refs.dossier)
    parsed = parse_message(
        eml(
            in_reply_to="<CAFk3x0v=Qm8ZpT@mail.gmail.com>",
            references="<0102018e1c2f-9a1b@eu-west-1.amazonses.com> "
            "<CAFk3x0v=Qm8ZpT@mail.gmail.com>",
            to=f"Cabinet Lumière <{reply_address}>",
        )
    )

    by_ids = dossier_from_message_ids(refs.agency, [*parsed.in_reply_to, *parsed.references])
    matches = reference_matches(refs.agency, parsed, sender_is_participant=False)

    assert by_ids.dossier is None
    assert by_ids.reason == TokenStatus.ABSENT
    assert [(m.dossier, m.channel, m.certain) for m in matches] == [
        (refs.dossier, ReferenceChannel.REPLY_ADDRESS, True)
    ]


def test_reply_address_found_in_delivered_to_and_the_envelope(refs: Refs) -> None:
    address = dossier_reply_address(refs.dossier)
    delivered = parse_message(
        f"Delivered-To: {address}\r\n".encode() + eml(to="undisclosed-recipients:;")
    )
    bcc = parse_message(eml(to="syndic@autre-cabinet.fr"))

    assert reference_matches(refs.agency, delivered, sender_is_participant=False)[0].channel == (
        ReferenceChannel.REPLY_ADDRESS
    )
    assert reference_matches(refs.agency, bcc, sender_is_participant=False) == []
    matches = reference_matches(
        refs.agency, bcc, sender_is_participant=False, envelope_recipients=[address]
    )
    assert matches[0].dossier == refs.dossier


# ---------------------------------------------------------------------------
# Forged, tampered, foreign and stale tokens


def test_a_forged_mac_is_refused_without_a_query(
    refs: Refs, django_assert_num_queries: object
) -> None:
    address = dossier_reply_address(refs.dossier)
    message_id = dossier_message_id(refs.dossier)
    forged_address = tampered(address, address.index("@") - 1)
    forged_id = tampered(message_id, message_id.index("@") - 1)

    with django_assert_num_queries(0):  # type: ignore[operator]
        by_address = dossier_from_recipients(refs.agency, [forged_address])
        by_id = dossier_from_message_ids(refs.agency, [forged_id])

    assert (by_address.dossier, by_address.reason) == (None, TokenStatus.FORGED)
    assert (by_id.dossier, by_id.reason) == (None, TokenStatus.FORGED)


def test_a_payload_moved_to_another_dossier_is_refused(refs: Refs) -> None:
    """The MAC of DOS-2026-0042 does not open DOS-1041, which exists."""
    address = dossier_reply_address(refs.dossier)
    payload = REPLY_ADDRESS.fullmatch(address)["payload"]  # type: ignore[index]
    agency_part = payload.partition("-")[0]
    moved = address.replace(payload, f"{agency_part}-{_base32hex(refs.old.pk)}")
    message_id = dossier_message_id(refs.dossier)
    moved_id = message_id.replace(payload, f"{agency_part}-{_base32hex(refs.old.pk)}")

    assert dossier_from_recipients(refs.agency, [moved]).reason == TokenStatus.FORGED
    assert dossier_from_message_ids(refs.agency, [moved_id]).reason == TokenStatus.FORGED


def test_a_token_of_one_purpose_does_not_serve_the_other(refs: Refs) -> None:
    address = dossier_reply_address(refs.dossier)
    token = REPLY_ADDRESS.fullmatch(address)
    assert token is not None
    as_message_id = f"lanterne.x.{token['payload']}.{token['mac']}@cabinet-lumiere.fr"

    assert dossier_from_message_ids(refs.agency, [as_message_id]).reason == TokenStatus.FORGED


def test_a_token_of_another_agency_never_opens_a_dossier_here(refs: Refs) -> None:
    foreign_address = dossier_reply_address(refs.other_dossier)
    foreign_id = dossier_message_id(refs.other_dossier)
    # The other agency's token, its agency id replaced with ours: forged.
    ours = _base32hex(refs.agency.pk)
    theirs = _base32hex(refs.other_agency.pk)
    rebound = foreign_address.replace(f"dos.{theirs}-", f"dos.{ours}-")

    assert dossier_from_recipients(refs.agency, [foreign_address]).reason == (
        TokenStatus.OTHER_AGENCY
    )
    assert dossier_from_message_ids(refs.agency, [foreign_id]).reason == TokenStatus.OTHER_AGENCY
    assert dossier_from_recipients(refs.agency, [rebound]).reason == TokenStatus.FORGED
    # …and the other agency still reads its own token.
    assert dossier_from_recipients(refs.other_agency, [foreign_address]).dossier == (
        refs.other_dossier
    )


def test_a_token_of_a_deleted_dossier_matches_nothing(refs: Refs) -> None:
    gone = DossierFactory(condominium=refs.condominium, reference="DOS-2026-0099")
    address, message_id = dossier_reply_address(gone), dossier_message_id(gone)
    gone.delete()

    assert dossier_from_recipients(refs.agency, [address]).reason == TokenStatus.UNKNOWN_DOSSIER
    assert dossier_from_message_ids(refs.agency, [message_id]).dossier is None


@pytest.mark.parametrize(
    "address",
    [
        "gestion+dos.@cabinet-lumiere.fr",
        "gestion+dos.1-2@cabinet-lumiere.fr",
        "gestion+dos.1-2.abc@cabinet-lumiere.fr",
        "gestion+dos.01-2.aaaaaaaaaaaaaaaa@cabinet-lumiere.fr",  # not canonical
        "gestion+dos.1-w.aaaaaaaaaaaaaaaa@cabinet-lumiere.fr",  # w is no base32hex digit
        "gestion+dos.1-2.aaaaaaaaaaaaaaa1@cabinet-lumiere.fr",  # 1 is no base32 digit
        "gestion+dos.1-2.aaaaaaaaaaaaaaaaa@cabinet-lumiere.fr",  # 17 characters
        "gestion+dos.1-vvvvvvvvvvvvv.aaaaaaaaaaaaaaaa@cabinet-lumiere.fr",  # beyond BigInt
    ],
)
def test_malformed_reply_tokens_match_nothing(refs: Refs, address: str) -> None:
    lookup = dossier_from_recipients(refs.agency, [address])

    assert lookup.dossier is None
    assert lookup.reason == TokenStatus.MALFORMED


def test_recognisers_report_absence(refs: Refs) -> None:
    assert dossier_from_recipients(refs.agency, ["gestion@cabinet-lumiere.fr"]).reason == (
        TokenStatus.ABSENT
    )
    assert dossier_from_recipients(refs.agency, []).reason == TokenStatus.ABSENT
    assert dossier_from_message_ids(refs.agency, ["a@b", ""]).reason == TokenStatus.ABSENT
    assert dossier_from_message_ids(refs.agency, ["lanterne.x@y"]).reason == (TokenStatus.MALFORMED)


def test_a_forged_token_does_not_hide_a_genuine_one(refs: Refs) -> None:
    address = dossier_reply_address(refs.dossier)
    forged = tampered(address, address.index("@") - 3)

    lookup = dossier_from_recipients(refs.agency, [forged, address])

    assert lookup.dossier == refs.dossier


def test_tokens_survive_a_secret_key_rotation(refs: Refs) -> None:
    with override_settings(SECRET_KEY="ancienne-clé-" * 4, SECRET_KEY_FALLBACKS=[]):
        address = dossier_reply_address(refs.dossier)
        message_id = dossier_message_id(refs.dossier)

    with override_settings(SECRET_KEY="nouvelle-clé-" * 4, SECRET_KEY_FALLBACKS=[]):
        assert dossier_from_recipients(refs.agency, [address]).reason == TokenStatus.FORGED
    with override_settings(
        SECRET_KEY="nouvelle-clé-" * 4, SECRET_KEY_FALLBACKS=["ancienne-clé-" * 4]
    ):
        assert dossier_from_recipients(refs.agency, [address]).dossier == refs.dossier
        assert dossier_from_message_ids(refs.agency, [message_id]).dossier == refs.dossier


# ---------------------------------------------------------------------------
# Subject tags and imported references


@pytest.mark.parametrize(
    ("subject", "reference", "bracketed"),
    [
        ("[DOS-2026-0042]", "DOS-2026-0042", True),
        ("RE : TR : Devis [DOS-2026-0042]", "DOS-2026-0042", True),
        ("AW: Devis [ dos-2026-0042 ]", "DOS-2026-0042", True),
        ("Devis DOS-2026-0042 pour le lot 12", "DOS-2026-0042", False),
        ("Re: relance dos-2026-0042.", "DOS-2026-0042", False),
        ("Votre dossier 2025/117", "2025/117", False),
        ("Réf. 2025/117 — relance", "2025/117", False),
        ("V/Réf : 2025/117", "2025/117", False),
        ("Sinistre (2025/117)", "2025/117", False),
        ("Fwd: DOS-1041 ascenseur", "DOS-1041", False),
        ("SV: [dos-1041] ascenseur", "DOS-1041", True),
    ],
)
def test_references_in_subjects(refs: Refs, subject: str, reference: str, bracketed: bool) -> None:
    found = dossiers_from_subject(refs.agency, subject)

    assert [(m.dossier.reference, m.bracketed) for m in found] == [(reference, bracketed)]
    assert found[0].dossier.agency == refs.agency
    assert found[0].text.lower() == reference.lower()


@pytest.mark.parametrize(
    "subject",
    [
        "Intervention DOS-10412",  # a longer reference
        "Facture 12/2025/1170",  # a date-like number that contains 2025/117
        "Facture 12/2025/117",
        "Relevé 2025/1171",
        "XDOS-1041 livraison",
        "DOS-1041-B remplacement",
        "DOS-2026-00421",
        "Lot 117, 2025",
        "Devis pour les Tilleuls",
        "",
    ],
)
def test_no_false_reference_in_subjects(refs: Refs, subject: str) -> None:
    assert dossiers_from_subject(refs.agency, subject) == []


def test_subject_references_belong_to_the_agency(refs: Refs) -> None:
    found = dossiers_from_subject(refs.other_agency, "RE : Devis [DOS-2026-0042] 2025/117")

    assert [m.dossier for m in found] == [refs.other_dossier]


def test_short_and_all_digit_references_count_only_in_brackets(refs: Refs) -> None:
    short = DossierFactory(condominium=refs.condominium, reference="117")

    assert dossiers_from_subject(refs.agency, "Fuite lot 117") == []
    assert [m.dossier for m in dossiers_from_subject(refs.agency, "Fuite [117]")] == [short]


def test_bracketed_tags_come_first(refs: Refs) -> None:
    found = dossiers_from_subject(refs.agency, "DOS-1041 et 2025/117, suite [DOS-2026-0042]")

    assert [m.dossier for m in found] == [refs.dossier, refs.old, refs.imported]


def test_a_reference_inside_a_longer_one_is_left_out(refs: Refs) -> None:
    longer = DossierFactory(condominium=refs.condominium, reference="DOS-1041 bis")

    found = dossiers_from_subject(refs.agency, "Travaux DOS-1041 bis")

    assert [m.dossier for m in found] == [longer]


def test_subject_tag_added_once(refs: Refs) -> None:
    tagged = subject_with_tag(refs.dossier, "Devis fuite lot 12")

    assert tagged == "Devis fuite lot 12 [DOS-2026-0042]"
    assert subject_with_tag(refs.dossier, tagged) == tagged
    assert subject_with_tag(refs.dossier, f"RE : TR : {tagged}") == f"RE : TR : {tagged}"
    assert subject_with_tag(refs.dossier, "RE: devis [dos-2026-0042]") == (
        "RE: devis [dos-2026-0042]"
    )
    assert subject_with_tag(refs.dossier, "") == "[DOS-2026-0042]"
    assert subject_with_tag(refs.old, "Ascenseur") == "Ascenseur [DOS-1041]"


def test_subject_tag_replaces_the_tag_of_another_dossier(refs: Refs) -> None:
    tagged = subject_with_tag(refs.dossier, "TR : Devis [DOS-2026-0007] lot 12")

    assert tagged == "TR : Devis lot 12 [DOS-2026-0042]"
    assert [m.dossier for m in dossiers_from_subject(refs.agency, tagged)] == [refs.dossier]


# ---------------------------------------------------------------------------
# The three channels together, and who takes part in a dossier


def test_a_subject_tag_alone_from_a_stranger_is_only_a_suggestion(refs: Refs) -> None:
    parsed = parse_message(eml(subject="Nouveau devis [DOS-2026-0042]"))

    matches = reference_matches(refs.agency, parsed)

    assert [(m.dossier, m.channel, m.certain) for m in matches] == [
        (refs.dossier, ReferenceChannel.SUBJECT_TAG, False)
    ]
    assert matches[0].evidence == "DOS-2026-0042"


def test_a_subject_tag_from_a_participant_is_certain(refs: Refs) -> None:
    parsed = parse_message(
        eml(subject="Nouveau devis [DOS-2026-0042]", sender="Claire <Claire.Martin@exemple.fr>")
    )

    assert [m.certain for m in reference_matches(refs.agency, parsed)] == [True]
    assert [
        m.certain for m in reference_matches(refs.agency, parsed, sender_is_participant=False)
    ] == [False]
    decided = reference_matches(
        refs.agency, parsed, sender_is_participant=lambda dossier: dossier == refs.dossier
    )
    assert [m.certain for m in decided] == [True]


def test_certain_matches_come_first(refs: Refs) -> None:
    parsed = parse_message(eml(subject="RE : DOS-1041", to=dossier_reply_address(refs.dossier)))

    matches = reference_matches(refs.agency, parsed, sender_is_participant=False)

    assert [(m.dossier, m.channel, m.certain) for m in matches] == [
        (refs.dossier, ReferenceChannel.REPLY_ADDRESS, True),
        (refs.old, ReferenceChannel.SUBJECT_TAG, False),
    ]


def test_every_channel_of_a_reply_to_our_mail(refs: Refs) -> None:
    ours = dossier_message_id(refs.dossier)
    parsed = parse_message(
        eml(
            subject=f"RE : {subject_with_tag(refs.dossier, 'Fuite au plafond')}",
            sender="claire.martin@exemple.fr",
            to=dossier_reply_address(refs.dossier),
            in_reply_to=ours,
            references=ours,
        )
    )

    matches = reference_matches(refs.agency, parsed)

    assert [(m.dossier, m.channel, m.certain) for m in matches] == [
        (refs.dossier, ReferenceChannel.MESSAGE_ID, True),
        (refs.dossier, ReferenceChannel.REPLY_ADDRESS, True),
        (refs.dossier, ReferenceChannel.SUBJECT_TAG, True),
    ]


def test_a_stored_message_is_read_like_a_parsed_one(refs: Refs) -> None:
    data = eml(
        subject="RE : Devis [DOS-2026-0042]",
        to=dossier_reply_address(refs.dossier),
        in_reply_to=dossier_message_id(refs.dossier),
    )
    message = mail_receive_and_process(agency=refs.agency, data=data).raw.message

    matches = reference_matches(refs.agency, message)

    assert [(m.channel, m.certain) for m in matches] == [
        (ReferenceChannel.MESSAGE_ID, True),
        (ReferenceChannel.REPLY_ADDRESS, True),
        (ReferenceChannel.SUBJECT_TAG, False),
    ]
    assert {m.dossier for m in matches} == {refs.dossier}
    with pytest.raises(ValueError, match="another agency"):
        reference_matches(refs.other_agency, message)


def test_participants_of_a_dossier(refs: Refs) -> None:
    lot = LotFactory(condominium=refs.condominium)
    refs.dossier.party_lots.add(lot)
    owner = PersonFactory(agency=refs.agency, email="proprietaire@exemple.fr")
    OwnershipFactory(person=owner, lot=lot)
    company = CompanyFactory(agency=refs.agency, email="contact@plomberie-dupont.fr")
    CompanyDomainFactory(company=company, domain="plomberie-dupont.fr")
    refs.dossier.party_companies.add(company)
    PersonFactory(agency=refs.agency, company=company, email="j.dupont@gmail.com")
    StaffFactory(agency=refs.agency, email="assistante@cabinet-lumiere.fr")
    StaffFactory(agency=refs.other_agency, email="gestionnaire@voisin.fr")
    PersonFactory(agency=refs.agency, email="voisin@exemple.fr")
    PersonFactory(agency=refs.agency, email="sans-role@cabinet-lumiere.fr", staff_role="")
    outsider = CompanyFactory(agency=refs.agency, email="devis@toitures.fr")
    CompanyDomainFactory(company=outsider, domain="toitures.fr")

    assert sender_participates(refs.dossier, "claire.martin@exemple.fr")
    assert sender_participates(refs.dossier, "PROPRIETAIRE@exemple.fr")
    assert sender_participates(refs.dossier, "contact@plomberie-dupont.fr")
    assert sender_participates(refs.dossier, "jean@plomberie-dupont.fr")
    assert sender_participates(refs.dossier, "j.dupont@gmail.com")
    assert sender_participates(refs.dossier, "assistante@cabinet-lumiere.fr")
    assert not sender_participates(refs.dossier, "gestionnaire@voisin.fr")
    assert not sender_participates(refs.dossier, "voisin@exemple.fr")
    assert not sender_participates(refs.dossier, "sans-role@cabinet-lumiere.fr")
    assert not sender_participates(refs.dossier, "devis@toitures.fr")
    assert not sender_participates(refs.dossier, "")
    assert not sender_participates(refs.dossier, "pas une adresse")


# ---------------------------------------------------------------------------
# Properties


def _base32hex(number: int) -> str:
    digits = ""
    while number:
        number, digit = divmod(number, 32)
        digits = "0123456789abcdefghijklmnopqrstuv"[digit] + digits
    return digits


PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAC = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=16, max_size=16)
IDS = st.integers(min_value=1, max_value=2**40)
# Text that looks a little like what the recognisers look for, and anything.
NEAR_MISSES = st.one_of(
    st.text(),
    st.text(alphabet="lanterndos.+-@<>[]/0123456789abcdefghijklmnopqrstuvwxyzDOS \"'"),
    st.builds(lambda a, b, c: f"gestion+dos.{a}.{b}@{c}", st.text(), st.text(), st.text()),
    st.builds(lambda a, b, c: f"<lanterne.{a}.{b}@{c}>", st.text(), st.text(), st.text()),
)


@PROPERTY_SETTINGS
@given(values=st.lists(NEAR_MISSES, max_size=5), subject=NEAR_MISSES)
def test_recognisers_never_raise(refs: Refs, values: list[str], subject: str) -> None:
    by_id = dossier_from_message_ids(refs.agency, values)
    by_address = dossier_from_recipients(refs.agency, values)
    found = dossiers_from_subject(refs.agency, subject)

    assert by_id.dossier is None
    assert by_address.dossier is None
    assert all(match.dossier.agency_id == refs.agency.pk for match in found)


@PROPERTY_SETTINGS
@given(dossier_id=IDS, mac=MAC, unique=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True))
def test_a_random_token_never_validates(refs: Refs, dossier_id: int, mac: str, unique: str) -> None:
    payload = f"{_base32hex(refs.agency.pk)}-{_base32hex(dossier_id)}"

    by_address = dossier_from_recipients(refs.agency, [f"gestion+dos.{payload}.{mac}@x.fr"])
    by_id = dossier_from_message_ids(refs.agency, [f"<lanterne.{unique}.{payload}.{mac}@x.fr>"])

    assert (by_address.dossier, by_address.reason) == (None, TokenStatus.FORGED)
    assert (by_id.dossier, by_id.reason) == (None, TokenStatus.FORGED)


@PROPERTY_SETTINGS
@given(mac=MAC)
def test_a_random_mac_never_opens_an_existing_dossier(refs: Refs, mac: str) -> None:
    genuine = dossier_reply_address(refs.dossier)
    forged = re.sub(r"\.[a-z2-7]{16}@", f".{mac}@", genuine)

    lookup = dossier_from_recipients(refs.agency, [forged])

    assert lookup.dossier is None or forged == genuine
