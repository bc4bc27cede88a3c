"""Finding and masking personal data in the text of a published mail
(lanterne/mail/redaction.py): phones in French and international formats,
e-mail addresses, IBANs and postal addresses in real syndic mail; what must not
be taken for them (dates, amounts, SIRET, dossier and invoice references, lot
numbers, postal codes, times); the agency's and the condominium's own data
kept; the viewer's own data revealed; and, with hypothesis, that masking hides
every detected value and reveals the text back exactly.

No test here touches the database (pytest-django refuses any query in a test
without the django_db mark): detection is pure."""

from __future__ import annotations

import random
import string
from itertools import pairwise

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanterne.mail.redaction import (
    DataKind,
    Span,
    address_key,
    contact_keys,
    email_key,
    iban_key,
    masked,
    personal_data_spans,
    phone_key,
)

PHONE_LABEL = "[téléphone masqué]"
EMAIL_LABEL = "[adresse e-mail masquée]"
IBAN_LABEL = "[IBAN masqué]"
ADDRESS_LABEL = "[adresse masquée]"


def found(text: str, **options: object) -> list[tuple[str, str, str]]:
    """(kind, the text of the span, key) of each span, in order."""
    return [
        (span.kind.value, text[span.start : span.end], span.key)
        for span in personal_data_spans(text, **options)  # type: ignore[arg-type]
    ]


# --- Phones -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "raw", "key"),
    [
        ("Tél. : 06 12 34 56 78", "06 12 34 56 78", "+33612345678"),
        ("Vous pouvez me joindre au +33 (0)6 12 34 56 78.", "+33 (0)6 12 34 56 78", "+33612345678"),
        ("Mon portable : 06.12.34.56.78", "06.12.34.56.78", "+33612345678"),
        ("rappelez-moi au 0612345678 svp", "0612345678", "+33612345678"),
        ("Bureau de Genève : +41 22 345 67 89", "+41 22 345 67 89", "+41223456789"),
        ("UK office +44 20 7946 0958 (London)", "+44 20 7946 0958", "+442079460958"),
        ("Portable : 07 81 22 33 44", "07 81 22 33 44", "+33781223344"),
        ("Fax : 01 43 55 66 77", "01 43 55 66 77", "+33143556677"),
        ("Tél/Fax 04-72-00-11-22", "04-72-00-11-22", "+33472001122"),
        ("Tel.+33.6.12.34.56.78", "+33.6.12.34.56.78", "+33612345678"),
        ("GSM 0033 6 12 34 56 78", "0033 6 12 34 56 78", "+33612345678"),
        ("box : 09 70 80 90 10", "09 70 80 90 10", "+33970809010"),
        ("portable 06/12/34/56/78", "06/12/34/56/78", "+33612345678"),
        # Outlook and phones write no-break spaces between the pairs.
        (
            "Tél.\u00a0: 06\u00a012\u00a034\u00a056\u00a078",
            "06\u00a012\u00a034\u00a056\u00a078",
            "+33612345678",
        ),
        # A number is a phone when a phone label is nearer than a reference.
        ("Tél. n° 0612345678", "0612345678", "+33612345678"),
        ("mon numéro : 06 12 34 56 78", "06 12 34 56 78", "+33612345678"),
    ],
)
def test_phone_numbers_in_french_and_international_formats(text: str, raw: str, key: str) -> None:
    assert found(text) == [("phone", raw, key)]


@pytest.mark.parametrize(
    "text",
    [
        "Rendez-vous le 12/03/2026 à 14h30.",
        "Prochaine AG le 15.06.2026 à 18:30, salle des fêtes.",
        "Période du 01/01/2026 au 31/12/2026",
        "Montant TTC : 1 250,00 € (soit 1.234.567,89 € au total)",
        "SIRET : 732 829 320 00074 - APE 6832A - TVA FR 40 732829320",
        "SIRET 73282932000074, SIREN 732829320, RCS Lyon B 732 829 320",
        "Capital de 10 000 € - Carte professionnelle CPI 6901 2026 000 012 345",
        "Votre dossier DOS-2026-0042 suit son cours.",
        "Lots 0012, 0013 et 0145 ; lot n° 27, 2e étage",
        "75011 Paris, BP 12345, CS 30012, 69002 Lyon Cedex 02",
        "Facture n° 2026-00123 du 12/03/2026, facture FA-20260412",
        "Facture N° 0123456789 du 12/03/2026",
        "N° de contrat : 0145678901",
        "Réf. 0612345678",
        "Numéro client 0612345678",
        "Ouvert de 9h00 à 12h30 et de 14:00 à 18:00",
        "Clé de répartition 1 000/10 000 tantièmes",
        "Numéro vert 0 800 123 456",
        "Appelez le 3919 ou le 112 en cas d'urgence",
    ],
)
def test_numbers_that_are_not_phones(text: str) -> None:
    assert [kind for kind, _, _ in found(text)] == []


def test_a_reference_label_does_not_shield_a_phone_further_on_the_line() -> None:
    text = "Réf. client : 01 45 67 89 01 — Tél 06 12 34 56 78"
    assert found(text) == [("phone", "06 12 34 56 78", "+33612345678")]


@pytest.mark.parametrize(
    ("text", "raws"),
    [
        ("Tél. sinistre : 06 12 34 56 78", ["06 12 34 56 78"]),
        ("Tél 01 43 55 66 77 ; facture n° 0123456789", ["01 43 55 66 77"]),
        # A mask label is no phone label for the number after it.
        (f"{PHONE_LABEL} ; facture n° 0123456789", []),
    ],
)
def test_which_label_speaks_for_a_number(text: str, raws: list[str]) -> None:
    assert [raw for _, raw, _ in found(text)] == raws


def test_phones_are_found_past_libphonenumber_default_cap_on_candidates() -> None:
    # PhoneNumberMatcher gives up after 65,535 candidates by default: a long
    # mail full of small numbers would leave the phone at its end unmasked.
    text = "1," * 66_000 + "Tél. 06 12 34 56 78"
    assert found(text) == [("phone", "06 12 34 56 78", "+33612345678")]


@pytest.mark.parametrize(
    "raw",
    ["06 12 34 56 78", "+33 (0)6 12 34 56 78", "06.12.34.56.78", "0612345678", "+33612345678"],
)
def test_phone_key_is_e164_whatever_the_writing(raw: str) -> None:
    assert phone_key(raw) == "+33612345678"


def test_phone_key() -> None:
    assert phone_key("+41 22 345 67 89") == "+41223456789"
    assert phone_key("022 345 67 89", region="CH") == "+41223456789"
    assert phone_key("12/03/2026") is None
    assert phone_key("06 12 34") is None
    assert phone_key("pas de numéro") is None


# --- E-mail addresses --------------------------------------------------------


def test_email_addresses_in_display_names_links_and_obfuscated() -> None:
    text = (
        "De : Paul Martin <Paul.Martin@Gmail.com>\n"
        "Écrivez à jeanne.leroy@orange.fr<mailto:jeanne.leroy@orange.fr> ou à "
        "marc [at] free [dot] fr, voire lucie(arobase)laposte.net.\n"
        "Lien : https://exemple.fr/inscription?email=c.durand@sfr.fr&x=1\n"
        "Contact : élodie.brûlé@exemple.fr"
    )
    assert found(text) == [
        ("email", "Paul.Martin@Gmail.com", "paul.martin@gmail.com"),
        ("email", "jeanne.leroy@orange.fr", "jeanne.leroy@orange.fr"),
        # "mailto:" goes with the address: no half-masked link.
        ("email", "mailto:jeanne.leroy@orange.fr", "jeanne.leroy@orange.fr"),
        ("email", "marc [at] free [dot] fr", "marc@free.fr"),
        ("email", "lucie(arobase)laposte.net", "lucie@laposte.net"),
        ("email", "c.durand@sfr.fr", "c.durand@sfr.fr"),
        ("email", "élodie.brûlé@exemple.fr", "élodie.brûlé@exemple.fr"),
    ]


def test_digits_of_an_email_address_are_not_a_phone() -> None:
    text = "Écrire à 0612345678@sfr.fr"
    assert found(text) == [("email", "0612345678@sfr.fr", "0612345678@sfr.fr")]


def test_the_agency_domain_and_its_sub_domains_are_kept() -> None:
    text = (
        "marie.dupont@cabinet-lumiere.fr, gestion+dos.1-2@mail.cabinet-lumiere.fr, "
        "paul@faux-cabinet-lumiere.fr, paul@cabinet-lumiere.fr.example.com"
    )
    assert found(text, keep_email_domains=["@Cabinet-Lumiere.fr"]) == [
        ("email", "paul@faux-cabinet-lumiere.fr", "paul@faux-cabinet-lumiere.fr"),
        ("email", "paul@cabinet-lumiere.fr.example.com", "paul@cabinet-lumiere.fr.example.com"),
    ]


def test_email_key() -> None:
    assert email_key(" Paul.Martin@Gmail.COM ") == "paul.martin@gmail.com"
    assert email_key("<paul@gmail.com>") == "paul@gmail.com"
    assert email_key("MAILTO:Paul@gmail.com") == "paul@gmail.com"


# --- IBANs ------------------------------------------------------------------


def test_ibans_with_and_without_spaces_any_country() -> None:
    text = (
        "Merci de rembourser sur l'IBAN FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP\n"
        "ou FR7630006000011234567890189.\n"
        "Compte allemand : DE89 3704 0044 0532 0130 00 ; anglais GB82 WEST 1234 5698 7654 32"
    )
    assert found(text) == [
        ("iban", "FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("iban", "FR7630006000011234567890189", "FR7630006000011234567890189"),
        ("iban", "DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("iban", "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "IBAN FR76 3000 6000 0112 3456 7890 188",  # one digit off: checksum fails
        "IBAN FR7630006000011234567890188",
        "IBAN FR67 3000 6000 0112 3456 7890 189",  # check digits swapped
        "IBAN ZZ76 3000 6000 0112 3456 7890 189",  # no such country
    ],
)
def test_a_wrong_checksum_is_not_an_iban(text: str) -> None:
    assert [kind for kind, _, _ in found(text)] == []


def test_an_iban_after_a_failed_candidate_is_found() -> None:
    text = "AB12 FR76 3000 6000 0112 3456 7890 189"
    assert found(text) == [
        ("iban", "FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189")
    ]


def test_iban_key() -> None:
    assert iban_key("fr76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"
    assert iban_key("FR76 3000 6000 0112 3456 7890 188") is None
    assert iban_key("bonjour") is None


# --- Postal addresses -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "raw", "key"),
    [
        (
            "J'habite au 12 bis rue des Lilas, 75011 Paris depuis 2019.",
            "12 bis rue des Lilas, 75011 Paris",
            "12 bis rue des lilas",
        ),
        (
            "Adresse : 3, avenue Jean-Jaurès 69007 Lyon.",
            "3, avenue Jean-Jaurès 69007 Lyon",
            "3 avenue jean jaures",
        ),
        ("Siège : 45 bd Haussmann", "45 bd Haussmann", "45 boulevard haussmann"),
        ("au 2 chemin des Vignes.", "2 chemin des Vignes", "2 chemin des vignes"),
        ("au 5 allée des Tilleuls, Bâtiment B", "5 allée des Tilleuls", "5 allee des tilleuls"),
        ("au 7 impasse du Moulin.", "7 impasse du Moulin", "7 impasse du moulin"),
        (
            "au 1 place du Général de Gaulle, 13001 Marseille",
            "1 place du Général de Gaulle, 13001 Marseille",
            "1 place du general de gaulle",
        ),
        ("au 9 quai de la Loire.", "9 quai de la Loire", "9 quai de la loire"),
        ("au 11 route de Lyon.", "11 route de Lyon", "11 route de lyon"),
        ("au 4 av. Foch.", "4 av. Foch", "4 avenue foch"),
        ("au 12 rue du 8 Mai 1945.", "12 rue du 8 Mai 1945", "12 rue du 8 mai 1945"),
        ("au 6 rue d'Alésia.", "6 rue d'Alésia", "6 rue d alesia"),
        (
            "au 10-12 Rue de l'Église, 94170 Le Perreux-sur-Marne.",
            "10-12 Rue de l'Église, 94170 Le Perreux-sur-Marne",
            "10 12 rue de l eglise",
        ),
        (
            "14 RUE DES LILAS 75011 PARIS CEDEX 11",
            "14 RUE DES LILAS 75011 PARIS CEDEX 11",
            "14 rue des lilas",
        ),
        (
            "mon adresse : 12 rue des lilas 75011 paris merci",
            "12 rue des lilas 75011 paris",
            "12 rue des lilas",
        ),
        (
            "Cabinet Lumière • 8, place de la Bourse | 69002 LYON • www.cabinet-lumiere.fr",
            "8, place de la Bourse | 69002 LYON",
            "8 place de la bourse",
        ),
        # A signature's address over two lines, quoted in a reply.
        (
            "> 8 place de la Bourse\n> 69002 Lyon\n> Tél.",
            "8 place de la Bourse\n> 69002 Lyon",
            "8 place de la bourse",
        ),
    ],
)
def test_postal_addresses(text: str, raw: str, key: str) -> None:
    assert found(text) == [("address", raw, key)]


@pytest.mark.parametrize(
    "text",
    [
        "Je vends 1 place de parking au sous-sol.",
        "Les 3 places visiteurs sont libres.",
        "le lot 3 Résidence Les Pins",
        "Article 18 de la loi du 10 juillet 1965",
        "4 rue de la paix pour info",  # all lower case, no postal code: not trusted
    ],
)
def test_phrases_that_are_not_addresses(text: str) -> None:
    assert found(text) == []


def test_address_key() -> None:
    assert address_key("12 bis, Rue des Lilas\n75011 Paris") == "12 bis rue des lilas"
    assert address_key("Résidence Les Pins\n45 boulevard Haussmann") == "45 boulevard haussmann"
    assert address_key("45 Bd HAUSSMANN") == "45 boulevard haussmann"
    assert address_key("3 avenue Jean Jaurès 69007 Lyon") == "3 avenue jean jaures"
    assert address_key("Résidence Les Pins") is None
    assert address_key("75011 Paris") is None


# --- A manager's reply, with the agency's, the condominium's and co-owners' data

MANAGER_REPLY = """\
Bonjour Monsieur Martin,

L'entreprise Plomberie Durand passera le mardi 17/03/2026 à 9h30 pour la recherche
de fuite (dossier DOS-2026-0042, lot 12). Le gardien vous ouvrira la cave.

Bien cordialement,

Marie Dupont
Gestionnaire de copropriété
Cabinet Lumière
8 place de la Bourse, 69002 Lyon
Tél. : 04 72 00 11 22 | Fax : 04 72 00 11 23
marie.dupont@cabinet-lumiere.fr

De : Paul Martin <paul.martin@gmail.com>
Envoyé : lundi 16 mars 2026 18:42
À : Marie Dupont <marie.dupont@cabinet-lumiere.fr>
Objet : RE: Fuite plafond salle de bains - 14 rue des Lilas

Bonjour,
Le plafond de ma salle de bains fuit à nouveau. Vous pouvez me joindre au
Portable : 06 12 34 56 78. Ma voisine du dessous, Mme Leroy, est au 06 98 76 54 32.
L'immeuble est au 14 rue des Lilas, 69003 Lyon ; j'habite désormais
27 avenue Jean-Jaurès, 69007 Lyon.
Pour le remboursement : FR76 3000 6000 0112 3456 7890 189.
"""

AGENCY_KEYS = contact_keys(
    phones=["04 72 00 11 22", "04 72 00 11 23"],
    postal_addresses=["8 place de la Bourse\n69002 Lyon"],
)
CONDOMINIUM_KEYS = contact_keys(postal_addresses=["14 rue des Lilas, 69003 Lyon"])
PAUL_KEYS = contact_keys(
    emails=["Paul.Martin@gmail.com"],
    phones=["+33 6 12 34 56 78"],
    postal_addresses=["27 av. Jean Jaurès"],
)


def test_agency_and_condominium_data_are_kept_co_owners_data_are_masked() -> None:
    spans = personal_data_spans(
        MANAGER_REPLY,
        keep_keys=AGENCY_KEYS | CONDOMINIUM_KEYS,
        keep_email_domains=["cabinet-lumiere.fr"],
    )
    assert [(span.kind, MANAGER_REPLY[span.start : span.end]) for span in spans] == [
        (DataKind.EMAIL, "paul.martin@gmail.com"),
        (DataKind.PHONE, "06 12 34 56 78"),
        (DataKind.PHONE, "06 98 76 54 32"),
        (DataKind.ADDRESS, "27 avenue Jean-Jaurès, 69007 Lyon"),
        (DataKind.IBAN, "FR76 3000 6000 0112 3456 7890 189"),
    ]
    served = masked(MANAGER_REPLY, spans)
    # The manager's signature, the condominium's address and the references
    # read as they were written.
    for kept in (
        "8 place de la Bourse, 69002 Lyon",
        "Tél. : 04 72 00 11 22 | Fax : 04 72 00 11 23",
        "marie.dupont@cabinet-lumiere.fr",
        "Objet : RE: Fuite plafond salle de bains - 14 rue des Lilas",
        "L'immeuble est au 14 rue des Lilas, 69003 Lyon",
        "dossier DOS-2026-0042, lot 12",
        "le mardi 17/03/2026 à 9h30",
    ):
        assert kept in served
    assert f"De : Paul Martin <{EMAIL_LABEL}>" in served
    assert f"Portable : {PHONE_LABEL}. Ma voisine du dessous, Mme Leroy, est au {PHONE_LABEL}." in (
        served
    )
    assert f"j'habite désormais\n{ADDRESS_LABEL}." in served
    assert f"Pour le remboursement : {IBAN_LABEL}." in served
    for private in ("paul.martin@gmail.com", "06 12 34 56 78", "06 98 76 54 32", "Jean-Jaurès"):
        assert private not in served
    assert (
        personal_data_spans(
            served,
            keep_keys=AGENCY_KEYS | CONDOMINIUM_KEYS,
            keep_email_domains=["cabinet-lumiere.fr"],
        )
        == []
    )


def test_the_viewer_sees_their_own_data_and_nobody_else_s() -> None:
    spans = personal_data_spans(
        MANAGER_REPLY,
        keep_keys=AGENCY_KEYS | CONDOMINIUM_KEYS,
        keep_email_domains=["cabinet-lumiere.fr"],
    )
    served_to_paul = masked(MANAGER_REPLY, spans, reveal=PAUL_KEYS)
    assert "De : Paul Martin <paul.martin@gmail.com>" in served_to_paul
    assert "Portable : 06 12 34 56 78." in served_to_paul
    assert "27 avenue Jean-Jaurès, 69007 Lyon" in served_to_paul
    assert "06 98 76 54 32" not in served_to_paul  # the neighbour's
    assert f"Pour le remboursement : {IBAN_LABEL}." in served_to_paul
    # Staff unmasking everything get the original back.
    assert masked(MANAGER_REPLY, spans, reveal={span.key for span in spans}) == MANAGER_REPLY


def test_contact_keys_skip_what_is_not_a_phone_or_an_address() -> None:
    assert contact_keys(
        emails=["Paul@Gmail.com", "  "],
        phones=["06 12 34 56 78", "inconnu"],
        postal_addresses=["Résidence Les Pins", "45 bd Haussmann"],
    ) == frozenset({"paul@gmail.com", "+33612345678", "45 boulevard haussmann"})


# --- Spans and masking ------------------------------------------------------


def test_span_json_round_trip() -> None:
    span = Span(3, 17, DataKind.PHONE, "+33612345678")
    assert span.as_json() == [3, 17, "phone", "+33612345678"]
    assert Span.from_json(span.as_json()) == span


@pytest.mark.parametrize(
    "row",
    [
        [3, 17, "fax", "+33612345678"],
        [3, 17, "phone"],
        [17, 3, "phone", "+33612345678"],
        [-1, 3, "phone", "+33612345678"],
        ["3", 17, "phone", "+33612345678"],
        [True, 17, "phone", "+33612345678"],
        [3, 17, "phone", None],
        "3,17,phone,+33612345678",
    ],
)
def test_span_from_json_refuses_anything_else(row: object) -> None:
    with pytest.raises(ValueError):
        Span.from_json(row)  # type: ignore[arg-type]


def test_masked_labels_each_kind_in_french() -> None:
    text = "a 06 12 34 56 78 b paul@gmail.com c FR7630006000011234567890189 d 45 bd Haussmann"
    assert (
        masked(text, personal_data_spans(text))
        == f"a {PHONE_LABEL} b {EMAIL_LABEL} c {IBAN_LABEL} d {ADDRESS_LABEL}"
    )


@pytest.mark.parametrize(
    ("spans", "reveal"),
    [
        ([Span(0, 50, DataKind.PHONE, "+33612345678")], ()),  # past the end
        ([Span(0, 5, DataKind.PHONE, "a"), Span(4, 8, DataKind.EMAIL, "b")], ()),  # overlapping
        # Overlapping a revealed span is just as wrong.
        ([Span(0, 5, DataKind.PHONE, "a"), Span(4, 8, DataKind.EMAIL, "b")], {"a"}),
    ],
)
def test_masked_refuses_spans_of_another_text(spans: list[Span], reveal: set[str]) -> None:
    with pytest.raises(ValueError):
        masked("0123456789", spans, reveal=reveal)


def test_masked_accepts_spans_in_any_order() -> None:
    text = "06 12 34 56 78 et paul@gmail.com"
    spans = personal_data_spans(text)
    assert masked(text, reversed(spans)) == masked(text, spans)


# --- Properties -------------------------------------------------------------


def _iban(country: str, bban: str) -> str:
    """An IBAN with its check digits computed here (ISO 13616), not by the
    library under test."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _grouped(value: str, size: int, separator: str) -> str:
    return separator.join(value[index : index + size] for index in range(0, len(value), size))


_FRENCH_NUMBERS = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("12345679"),
    st.text(string.digits, min_size=8, max_size=8),
).filter(lambda nsn: phonenumbers.is_valid_number(phonenumbers.parse("+33" + nsn)))
_PHONE_STYLES = (
    lambda nsn: _grouped("0" + nsn, 2, " "),
    lambda nsn: _grouped("0" + nsn, 2, "."),
    lambda nsn: _grouped("0" + nsn, 2, "-"),
    lambda nsn: "0" + nsn,
    lambda nsn: "+33 " + nsn[0] + " " + _grouped(nsn[1:], 2, " "),
    lambda nsn: "+33 (0)" + nsn[0] + " " + _grouped(nsn[1:], 2, " "),
    lambda nsn: "+33" + nsn,
)


@st.composite
def phones(draw: st.DrawFn) -> tuple[DataKind, str, str]:
    nsn = draw(_FRENCH_NUMBERS)
    style = draw(st.sampled_from(_PHONE_STYLES))
    return DataKind.PHONE, style(nsn), "+33" + nsn


@st.composite
def emails(draw: st.DrawFn) -> tuple[DataKind, str, str]:
    first = draw(st.sampled_from(["jean", "Marie", "p", "élodie", "CLAIRE", "j-p"]))
    last = draw(st.sampled_from(["", ".martin", "_leroy", ".Durand75", "+syndic"]))
    domain = draw(st.sampled_from(["free.fr", "Orange.fr", "gmail.com", "mail.exemple.co.uk"]))
    value = f"{first}{last}@{domain}"
    return DataKind.EMAIL, value, value.lower()


@st.composite
def ibans(draw: st.DrawFn) -> tuple[DataKind, str, str]:
    bban = draw(st.text(string.digits, min_size=23, max_size=23))
    compact = _iban("FR", bban)
    spaced = draw(st.booleans())
    return DataKind.IBAN, _grouped(compact, 4, " ") if spaced else compact, compact


@st.composite
def addresses(draw: st.DrawFn) -> tuple[DataKind, str, str]:
    number = str(draw(st.integers(1, 299)))
    suffix = draw(st.sampled_from(["", " bis", " ter"]))
    street_type, folded_type = draw(
        st.sampled_from(
            [("rue", "rue"), ("Avenue", "avenue"), ("bd", "boulevard"), ("allée", "allee")]
            + [("impasse", "impasse"), ("place", "place"), ("quai", "quai"), ("chemin", "chemin")]
        )
    )
    name, folded_name = draw(
        st.sampled_from(
            [("des Lilas", "des lilas"), ("Jean-Jaurès", "jean jaures"), ("Haussmann", "haussmann")]
            + [
                ("de la République", "de la republique"),
                ("du Général Leclerc", "du general leclerc"),
            ]
        )
    )
    city = draw(st.sampled_from(["", ", 75011 Paris", " 69007 Lyon", "\n13001 Marseille"]))
    value = f"{number}{suffix} {street_type} {name}{city}"
    return DataKind.ADDRESS, value, f"{number}{suffix} {folded_type} {folded_name}"


# Text around the personal data, including what must not be taken for it.
_NOISE = st.sampled_from(
    [
        "Bonjour Madame,",
        "Bien cordialement,",
        "Suite à l'AG du 12/03/2026 à 18h30",
        "le devis de 1 250,00 € TTC",
        "SIRET 732 829 320 00074",
        "dossier DOS-2026-0042",
        "lot n° 27 au 2e étage",
        "75011 Paris",
        "facture FA-20260412",
        "Facture n° 0123456789",
        "de 9h00 à 12:30",
        "Cabinet Lumière",
        "> Le lun. 16 mars 2026 à 18:42, Paul a écrit :",
        "",
    ]
)
_DATA = st.one_of(phones(), emails(), ibans(), addresses())
_SEPARATORS = st.sampled_from(["\n", " ; ", "\n> ", "\n\n"])


@st.composite
def mails(draw: st.DrawFn) -> tuple[str, list[tuple[DataKind, str, str]]]:
    """A mail made of noise and personal data, with the data it holds."""
    pieces = draw(st.lists(st.one_of(_NOISE, _DATA), max_size=12))
    text = ""
    data = []
    for piece in pieces:
        text += draw(_SEPARATORS)
        if isinstance(piece, tuple):
            data.append(piece)
            text += piece[1]
        else:
            text += piece
    return text, data


@settings(max_examples=300, deadline=None)
@given(mails(), st.randoms(use_true_random=False))
def test_masking_hides_every_detected_value_and_reveals_back_exactly(
    mail: tuple[str, list[tuple[DataKind, str, str]]], rng: random.Random
) -> None:
    text, data = mail
    spans = personal_data_spans(text)
    # Every piece of personal data is found, with its key, and nothing else is.
    assert {(span.kind, span.key) for span in spans} == {(kind, key) for kind, _, key in data}
    assert all(span.end <= next_span.start for span, next_span in pairwise(spans))

    served = masked(text, spans)
    for span in spans:
        assert text[span.start : span.end] not in served
    assert personal_data_spans(served) == []
    assert masked(text, spans, reveal={span.key for span in spans}) == text

    # Revealing some keys unmasks exactly those values, at the same places.
    revealed = {span.key for span in spans if rng.random() < 0.5}
    partly = masked(text, spans, reveal=revealed)
    assert partly == masked(text, [span for span in spans if span.key not in revealed])
    # Kept keys are the same as never detected.
    assert personal_data_spans(text, keep_keys=revealed) == [
        span for span in spans if span.key not in revealed
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list("0123456789 +.-/()@[]:,;\n\u00a0>°é")
            + ["FR76", "rue", "Bd", "at", "de", "Lilas", "mailto:", "fr", "Tél"]
        ),
        max_size=150,
    ).map("".join)
)
def test_any_text_gives_consistent_spans(text: str) -> None:
    spans = personal_data_spans(text)
    assert spans == sorted(spans, key=lambda span: span.start)
    assert all(0 <= span.start < span.end <= len(text) for span in spans)
    assert all(span.end <= next_span.start for span, next_span in pairwise(spans))
    assert [Span.from_json(span.as_json()) for span in spans] == spans
    assert masked(text, spans, reveal={span.key for span in spans}) == text
    for span in spans:
        if span.kind is DataKind.IBAN:
            assert iban_key(text[span.start : span.end]) == span.key
        elif span.kind is DataKind.ADDRESS:
            assert address_key(text[span.start : span.end]) == span.key
