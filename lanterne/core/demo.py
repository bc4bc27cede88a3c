"""The demo agency: « Cabinet Lumière Gestion », a Lyon syndic with three
condominiums, their lots, co-owners and councils, the agency's staff and
contractors, and about ten dossiers with months of history.

`demo_load` builds it through the same services the interface uses
(`agency_create`, `dossier_open`, `note_add`, `task_create`, `task_complete`,
`decision_record`, `dossier_change_status`, `document_upload`), so that the
timeline and the audit log are what real use would have produced. Every date is
relative to `today`, so the demo always looks current.

Contacts, condominiums and lots have no write services yet: they are created
with the ORM, and one `imported` audit entry records the load.

Personal data is invented. Phone numbers are taken from the ranges the French
regulator (ARCEP) reserves for works of fiction (04 65 71 xx xx, 06 39 98 xx xx),
so no real line is ever dialled from the demo.
"""

from __future__ import annotations

import datetime as dt
import struct
import textwrap
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from lanterne.accounts.models import User
from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.choices import CompanyKind, CouncilRole, LotKind, StaffRole
from lanterne.condominiums.models import (
    Agency,
    Company,
    CompanyDomain,
    Condominium,
    CouncilMembership,
    Lot,
    Ownership,
    Person,
)
from lanterne.condominiums.services import agency_create, person_add_email
from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.models import Document
from lanterne.documents.services import condominium_document_upload, document_upload
from lanterne.dossiers.choices import Audience, DecisionBody, DossierStatus, DossierType
from lanterne.dossiers.models import Dossier, Task, TimelineEntry
from lanterne.dossiers.policy import Viewer
from lanterne.dossiers.services import (
    decision_record,
    dossier_change_status,
    dossier_open,
    note_add,
    task_complete,
    task_create,
)

DEMO_AGENCY_NAME = "Cabinet Lumière Gestion"
DEMO_MAIL_DOMAIN = "cabinet-lumiere.fr"
DEMO_SHARED_MAILBOX = "gestion@cabinet-lumiere.fr"
# The one password of every demo login (documented in the command's output).
DEMO_PASSWORD = "Lanterne-demo-1965"

# Stable keys of the demo dossiers, and their titles (unique in the demo agency).
DEMO_DOSSIERS: dict[str, str] = {
    "facade": "Ravalement des façades sur rue et sur cour",
    "extraordinary_meeting": "Assemblée générale extraordinaire — ravalement",
    "water_damage": "Dégât des eaux — plafond de la salle de bains du lot 8",
    "lift": "Ascenseur de l'escalier A en panne",
    "arrears": "Impayés de charges — lot 12",
    "council_water": "Question du conseil syndical : hausse de la consommation d'eau",
    "annual_meeting": "Assemblée générale annuelle — préparation",
    "storm_claim": "Sinistre tempête — toiture et infiltrations au 5e étage",
    "blocked_drain": "Canalisation d'eaux usées bouchée en cave",
    "garage_door": "Porte du parking bloquée en position ouverte",
    "insurance_tender": "Demande du conseil syndical : mise en concurrence de l'assurance",
}


@dataclass(frozen=True)
class DemoLogin:
    """A demo account: its login, its role and what it should see (in French)."""

    email: str
    name: str
    role: str
    sees: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin(
        email="claire.fontaine@cabinet-lumiere.fr",
        name="Claire Fontaine",
        role="Gestionnaire",
        sees=(
            "tout le cabinet : les onze dossiers des trois copropriétés, notes internes et "
            "impayés compris ; peut tout modifier et changer les visibilités."
        ),
    ),
    DemoLogin(
        email="sophie.bernard@cabinet-lumiere.fr",
        name="Sophie Bernard",
        role="Assistante",
        sees="comme la gestionnaire : tout le cabinet.",
    ),
    DemoLogin(
        email="mh.roussel@orange.fr",
        name="Marie-Hélène Roussel",
        role="Présidente du conseil syndical — Résidence Les Tilleuls (lot 2)",
        sees=(
            "les dossiers des Tilleuls ouverts aux copropriétaires et au conseil (dont la "
            "question sur la consommation d'eau) ; peut enregistrer l'avis du conseil. "
            "Ne voit ni le dégât des eaux des lots 8 et 10, ni les impayés, ni les notes "
            "internes."
        ),
    ),
    DemoLogin(
        email="bernard.giraud@free.fr",
        name="Bernard Giraud",
        role="Membre du conseil syndical — Résidence Les Tilleuls (lot 3)",
        sees=(
            "comme la présidente (dossiers des copropriétaires et du conseil), sans pouvoir "
            "enregistrer l'avis du conseil."
        ),
    ),
    DemoLogin(
        email="henri.vidal@orange.fr",
        name="Henri Vidal",
        role="Président du conseil syndical — Le Belvédère (lot 1)",
        sees=(
            "les dossiers du Belvédère, dont le sinistre tempête (dossier des personnes "
            "concernées que le conseil syndical suit) ; rien des Tilleuls ni des Canuts."
        ),
    ),
    DemoLogin(
        email="camille.lefevre@gmail.com",
        name="Camille Lefèvre",
        role="Copropriétaire concernée par le dégât des eaux — Les Tilleuls (lot 8)",
        sees=(
            "le dossier de dégât des eaux (rapport de recherche de fuite compris) et les "
            "dossiers ouverts à tous les copropriétaires des Tilleuls ; pas la question du "
            "conseil, pas les impayés."
        ),
    ),
    DemoLogin(
        email="antoine.mercier@laposte.net",
        name="Antoine Mercier",
        role="Copropriétaire — Les Tilleuls (lot 5)",
        sees=(
            "seulement les dossiers des Tilleuls ouverts à tous les copropriétaires "
            "(ravalement, ascenseur, assemblées générales) ; le dégât des eaux lui répond "
            "« page introuvable »."
        ),
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    """What `demo_load` found or built."""

    agency: Agency
    created: bool
    condominiums: int
    lots: int
    persons: int
    companies: int
    dossiers: int
    entries: int
    documents: int
    logins: tuple[DemoLogin, ...] = DEMO_LOGINS
    password: str = DEMO_PASSWORD


# --- Formatting helpers -----------------------------------------------------------

FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def french_date(day: dt.date) -> str:
    """`day` written the French way: « 3 mars 2026 » (« 1er » for the first)."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {FRENCH_MONTHS[day.month - 1]} {day.year}"


def euros(amount: Decimal) -> str:
    """An amount written the French way: « 186 340,00 € »."""
    quantized = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, cents = f"{quantized:.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{' '.join(groups)},{cents} €"


# --- Small valid files, built by hand -------------------------------------------------


def _pdf_escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def make_pdf(title: str, lines: Iterable[str]) -> bytes:
    """A one-page PDF 1.4 showing `title` then `lines` in Helvetica.

    Text is encoded in WinAnsi (cp1252), which covers French (é, œ, €…); long
    lines are wrapped; the cross-reference table has exact offsets, so readers
    open it without repairing it."""
    wrapped: list[tuple[str, str]] = [("F2", title), ("F1", "")]
    for line in lines:
        pieces = textwrap.wrap(line, width=95) or [""]
        wrapped.extend(("F1", piece) for piece in pieces)
    wrapped = wrapped[:52]
    stream = bytearray(b"BT\n14 TL\n50 790 Td\n")
    for font, text in wrapped:
        size = 13 if font == "F2" else 10
        stream += b"/%s %d Tf\n(" % (font.encode(), size) + _pdf_escape(text) + b") Tj T*\n"
    stream += b"ET\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + bytes(stream) + b"endstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def make_png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """An RGB PNG of `width` × `height` whose colours `pixel(x, y)` gives."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # no filter
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _stained_ceiling(x: int, y: int) -> tuple[int, int, int]:
    """A white ceiling with a brownish water stain (the water-damage photo)."""
    distance = ((x - 70) ** 2 + ((y - 45) * 1.4) ** 2) ** 0.5
    if distance < 22:
        return (176, 142, 92)
    if distance < 30:
        return (205, 184, 150)
    return (236, 234, 228)


# --- The demo's data --------------------------------------------------------------


@dataclass(frozen=True)
class _LotSpec:
    number: str
    kind: str
    floor: str
    weight: int
    staircase: str = ""
    building: str = ""


@dataclass(frozen=True)
class _CondominiumSpec:
    key: str
    name: str
    address: str
    other_addresses: tuple[str, ...]
    postal_code: str
    city: str
    nicknames: tuple[str, ...]
    registry_number: str
    lots: tuple[_LotSpec, ...]
    # lot number → keys of its owners
    owners: dict[str, tuple[str, ...]]
    chair: str
    members: tuple[str, ...]


def _flats(
    first: int,
    floors: Iterable[str],
    weights: tuple[int, ...],
    *,
    staircase: str = "",
    building: str = "",
) -> list[_LotSpec]:
    """Flats numbered from `first`, one per weight on each floor."""
    lots = []
    number = first
    for floor in floors:
        for weight in weights:
            lots.append(_LotSpec(str(number), LotKind.FLAT, floor, weight, staircase, building))
            number += 1
    return lots


def _annexes(first: int, count: int, kind: str, weight: int, floor: str = "-1") -> list[_LotSpec]:
    """Cellars or parking spaces numbered from `first`."""
    return [_LotSpec(str(first + i), kind, floor, weight) for i in range(count)]


TILLEULS = _CondominiumSpec(
    key="tilleuls",
    name="Résidence Les Tilleuls",
    address="42 cours Gambetta",
    other_addresses=("3 rue Pasteur",),
    postal_code="69007",
    city="Lyon",
    nicknames=("Les Tilleuls", "Tilleuls", "42 Gambetta", "42 cours Gambetta", "Gambetta"),
    registry_number="AB4-712-083",
    lots=(
        _LotSpec("1", LotKind.SHOP, "RDC", 95, building="Rue"),
        *_flats(2, ("1", "2", "3", "4", "5"), (62, 78), staircase="A"),
        *_flats(12, ("1", "2", "3"), (54, 70), staircase="B"),
        *_annexes(18, 6, LotKind.CELLAR, 4),
        *_annexes(24, 4, LotKind.PARKING, 7),
    ),
    owners={
        "1": ("sci_fournil",),
        "2": ("roussel",),
        "3": ("giraud",),
        "4": ("perrin",),
        "5": ("mercier",),
        "6": ("benali",),
        "7": ("chevalier",),
        "8": ("lefevre",),
        "9": ("dubois",),
        "10": ("nguyen",),
        "11": ("faure",),
        "12": ("gauthier",),
        "13": ("robin_isabelle", "robin_laurent"),
        "14": ("lambert",),
        "15": ("fontanel",),
        "16": ("blanc",),
        "17": ("nguyen",),
        "18": ("roussel",),
        "19": ("giraud",),
        "20": ("mercier",),
        "21": ("lefevre",),
        "22": ("lambert",),
        "23": ("faure",),
        "24": ("roussel",),
        "25": ("benali",),
        "26": ("blanc",),
        "27": ("dubois",),
    },
    chair="roussel",
    members=("giraud", "chevalier"),
)

BELVEDERE = _CondominiumSpec(
    key="belvedere",
    name="Le Belvédère",
    address="8 montée de la Grande-Côte",
    other_addresses=(),
    postal_code="69001",
    city="Lyon",
    nicknames=("Belvédère", "Le Belvédère", "Grande-Côte", "la montée", "8 Grande-Côte"),
    registry_number="AC1-305-996",
    lots=(
        *_flats(1, ("RDC", "1", "2", "3", "4", "5"), (58, 72)),
        *_annexes(13, 6, LotKind.CELLAR, 5),
    ),
    owners={
        "1": ("vidal",),
        "2": ("marchand",),
        "3": ("colin",),
        "4": ("morel",),
        "5": ("nguyen",),
        "6": ("arnaud",),
        "7": ("roux",),
        "8": ("brun",),
        "9": ("lemoine",),
        "10": ("picard",),
        "11": ("caron",),
        "12": ("renaud",),
        "13": ("vidal",),
        "14": ("marchand",),
        "15": ("colin",),
        "16": ("arnaud",),
        "17": ("caron",),
        "18": ("renaud",),
    },
    chair="vidal",
    members=("marchand",),
)

CANUTS = _CondominiumSpec(
    key="canuts",
    name="Le Clos des Canuts",
    address="115 boulevard de la Croix-Rousse",
    other_addresses=("2 rue d'Austerlitz",),
    postal_code="69004",
    city="Lyon",
    nicknames=("Clos des Canuts", "Canuts", "le 115", "115 Croix-Rousse"),
    registry_number="AD7-044-518",
    lots=(
        *_flats(1, ("1", "2", "3"), (66, 84), building="A (rue)"),
        *_flats(7, ("RDC", "1"), (60, 75), building="B (cour)"),
        *_annexes(11, 5, LotKind.PARKING, 9, floor="RDC"),
    ),
    owners={
        "1": ("bonnet",),
        "2": ("le_goff",),
        "3": ("girard",),
        "4": ("meunier",),
        "5": ("cohen",),
        "6": ("haddad",),
        "7": ("fabre",),
        "8": ("aubert",),
        "9": ("schmitt",),
        "10": ("rolland",),
        "11": ("bonnet",),
        "12": ("meunier",),
        "13": ("haddad",),
        "14": ("aubert",),
        "15": ("rolland",),
    },
    chair="bonnet",
    members=("le_goff",),
)

CONDOMINIUMS = (TILLEULS, BELVEDERE, CANUTS)


@dataclass(frozen=True)
class _PersonSpec:
    first_name: str
    last_name: str
    email: str
    phones: tuple[str, ...] = ()
    postal_address: str = ""


def _at(condominium: _CondominiumSpec) -> str:
    return f"{condominium.address}, {condominium.postal_code} {condominium.city}"


PERSONS: dict[str, _PersonSpec] = {
    # Résidence Les Tilleuls
    "sci_fournil": _PersonSpec(
        "",
        "SCI Fournil Gambetta",
        "sci.fournil.gambetta@orange.fr",
        ("04 65 71 20 14",),
        "18 rue de Marseille, 69007 Lyon",
    ),
    "roussel": _PersonSpec(
        "Marie-Hélène", "Roussel", "mh.roussel@orange.fr", ("06 39 98 41 27",), _at(TILLEULS)
    ),
    "giraud": _PersonSpec(
        "Bernard",
        "Giraud",
        "bernard.giraud@free.fr",
        ("06 39 98 13 52", "04 65 71 33 08"),
        _at(TILLEULS),
    ),
    "perrin": _PersonSpec("Nathalie", "Perrin", "nathalie.perrin@gmail.com", ("06 39 98 27 64",)),
    "mercier": _PersonSpec(
        "Antoine", "Mercier", "antoine.mercier@laposte.net", ("06 39 98 50 19",), _at(TILLEULS)
    ),
    "benali": _PersonSpec("Karim", "Benali", "karim.benali@gmail.com", ("06 39 98 72 40",)),
    "chevalier": _PersonSpec(
        "Odile", "Chevalier", "odile.chevalier@wanadoo.fr", ("04 65 71 45 91",), _at(TILLEULS)
    ),
    "lefevre": _PersonSpec(
        "Camille", "Lefèvre", "camille.lefevre@gmail.com", ("06 39 98 66 03",), _at(TILLEULS)
    ),
    "dubois": _PersonSpec("Paul", "Dubois", "paul.dubois@sfr.fr", ("06 39 98 08 75",)),
    "nguyen": _PersonSpec(
        "Thomas",
        "Nguyen",
        "thomas.nguyen@outlook.fr",
        ("06 39 98 91 36",),
        "27 avenue Jean Jaurès, 69007 Lyon",
    ),
    "faure": _PersonSpec(
        "Jacqueline", "Faure", "jacqueline.faure@wanadoo.fr", ("04 65 71 23 45",), _at(TILLEULS)
    ),
    "gauthier": _PersonSpec(
        "Sébastien", "Gauthier", "s.gauthier@hotmail.fr", ("06 39 98 34 81",), _at(TILLEULS)
    ),
    "robin_isabelle": _PersonSpec(
        "Isabelle", "Robin", "isabelle.robin@free.fr", ("06 39 98 45 12",)
    ),
    "robin_laurent": _PersonSpec("Laurent", "Robin", "laurent.robin@free.fr", ("06 39 98 45 13",)),
    "lambert": _PersonSpec("Élodie", "Lambert", "elodie.lambert@yahoo.fr", ("06 39 98 58 20",)),
    "fontanel": _PersonSpec("Pierre", "Fontanel", "p.fontanel@orange.fr", ("04 65 71 61 77",)),
    "blanc": _PersonSpec("Nicolas", "Blanc", "nicolas.blanc@icloud.com", ("06 39 98 79 04",)),
    # The tenant of lot 10: a party of the water damage, owner of nothing.
    "martin": _PersonSpec("Léa", "Martin", "lea.martin@gmail.com", ("06 39 98 12 96",)),
    # Le Belvédère
    "vidal": _PersonSpec(
        "Henri", "Vidal", "henri.vidal@orange.fr", ("04 65 71 52 30",), _at(BELVEDERE)
    ),
    "marchand": _PersonSpec("Sylvie", "Marchand", "sylvie.marchand@free.fr", ("06 39 98 20 47",)),
    "colin": _PersonSpec("Jean-Pierre", "Colin", "jp.colin@laposte.net", ("04 65 71 18 62",)),
    "morel": _PersonSpec("Aurélie", "Morel", "aurelie.morel@gmail.com", ("06 39 98 63 58",)),
    "arnaud": _PersonSpec("Fabienne", "Arnaud", "fabienne.arnaud@sfr.fr", ("06 39 98 02 69",)),
    "roux": _PersonSpec("Mathieu", "Roux", "mathieu.roux@gmail.com", ("06 39 98 87 15",)),
    "brun": _PersonSpec("Céline", "Brun", "celine.brun@hotmail.fr", ("06 39 98 39 84",)),
    "lemoine": _PersonSpec("Olivier", "Lemoine", "o.lemoine@orange.fr", ("06 39 98 54 31",)),
    "picard": _PersonSpec("Agnès", "Picard", "agnes.picard@wanadoo.fr", ("04 65 71 70 26",)),
    "caron": _PersonSpec("Damien", "Caron", "damien.caron@gmail.com", ("06 39 98 26 90",)),
    "renaud": _PersonSpec("Hélène", "Renaud", "helene.renaud@free.fr", ("06 39 98 68 42",)),
    # Le Clos des Canuts
    "bonnet": _PersonSpec(
        "Geneviève", "Bonnet", "genevieve.bonnet@orange.fr", ("04 65 71 84 53",), _at(CANUTS)
    ),
    "le_goff": _PersonSpec("Yann", "Le Goff", "yann.legoff@gmail.com", ("06 39 98 15 67",)),
    "girard": _PersonSpec("Manon", "Girard", "manon.girard@gmail.com", ("06 39 98 93 28",)),
    "meunier": _PersonSpec("François", "Meunier", "f.meunier@laposte.net", ("06 39 98 47 06",)),
    "cohen": _PersonSpec("Sarah", "Cohen", "sarah.cohen@outlook.fr", ("06 39 98 31 74",)),
    "haddad": _PersonSpec("Rachid", "Haddad", "rachid.haddad@free.fr", ("06 39 98 60 85",)),
    "fabre": _PersonSpec("Lucie", "Fabre", "lucie.fabre@icloud.com", ("06 39 98 76 19",)),
    "aubert": _PersonSpec("Vincent", "Aubert", "vincent.aubert@sfr.fr", ("06 39 98 05 38",)),
    "schmitt": _PersonSpec("Émilie", "Schmitt", "emilie.schmitt@gmail.com", ("06 39 98 88 62",)),
    "rolland": _PersonSpec("Maxime", "Rolland", "maxime.rolland@yahoo.fr", ("06 39 98 42 57",)),
}

# key → (first name, last name, e-mail, staff role); "fontaine" is the first
# manager, created with the agency.
STAFF: dict[str, tuple[str, str, str, str]] = {
    "fontaine": ("Claire", "Fontaine", "claire.fontaine@cabinet-lumiere.fr", StaffRole.MANAGER),
    "moreau": ("Julien", "Moreau", "julien.moreau@cabinet-lumiere.fr", StaffRole.MANAGER),
    "bernard": ("Sophie", "Bernard", "sophie.bernard@cabinet-lumiere.fr", StaffRole.ASSISTANT),
}
AGENCY_PHONE = "04 65 71 00 10"


@dataclass(frozen=True)
class _CompanySpec:
    name: str
    kind: str
    domains: tuple[str, ...]
    email: str
    phone: str
    address: str
    # (first name, last name, e-mail) of the person the agency writes to
    contact: tuple[str, str, str] | None = None


COMPANIES: dict[str, _CompanySpec] = {
    "plumber": _CompanySpec(
        "Plomberie Saint-Jean",
        CompanyKind.CONTRACTOR,
        ("plomberie-saint-jean.fr",),
        "contact@plomberie-saint-jean.fr",
        "04 65 71 02 36",
        "12 rue de la Bombarde, 69005 Lyon",
        ("Mickaël", "Roche", "m.roche@plomberie-saint-jean.fr"),
    ),
    "leak": _CompanySpec(
        "Détect'Eau Rhône",
        CompanyKind.CONTRACTOR,
        ("detecteau-rhone.fr",),
        "interventions@detecteau-rhone.fr",
        "04 65 71 02 58",
        "5 rue Marcel Mérieux, 69007 Lyon",
        ("Cédric", "Vasseur", "c.vasseur@detecteau-rhone.fr"),
    ),
    "lift": _CompanySpec(
        "Ascenseurs Rhône-Alpes Maintenance",
        CompanyKind.CONTRACTOR,
        ("aram-ascenseurs.fr", "aram-ascenseurs.com"),
        "depannage@aram-ascenseurs.fr",
        "04 65 71 02 90",
        "44 avenue Tony Garnier, 69007 Lyon",
        ("Nadia", "Ferrand", "n.ferrand@aram-ascenseurs.fr"),
    ),
    "facade_fl": _CompanySpec(
        "Façades Lyonnaises",
        CompanyKind.CONTRACTOR,
        ("facades-lyonnaises.fr",),
        "devis@facades-lyonnaises.fr",
        "04 65 71 03 12",
        "210 route de Vienne, 69008 Lyon",
        ("Grégory", "Bertin", "g.bertin@facades-lyonnaises.fr"),
    ),
    "facade_rf": _CompanySpec(
        "Rénov'Façades Rhône",
        CompanyKind.CONTRACTOR,
        ("renovfacades-rhone.fr",),
        "contact@renovfacades-rhone.fr",
        "04 65 71 03 47",
        "9 chemin du Moulin Carron, 69570 Dardilly",
    ),
    "facade_bs": _CompanySpec(
        "Bâti Saône Ravalement",
        CompanyKind.CONTRACTOR,
        ("bati-saone.fr",),
        "commercial@bati-saone.fr",
        "04 65 71 03 85",
        "31 quai Paul Sédaillan, 69009 Lyon",
    ),
    "roofer": _CompanySpec(
        "Toitures du Lyonnais",
        CompanyKind.CONTRACTOR,
        ("toitures-du-lyonnais.fr",),
        "contact@toitures-du-lyonnais.fr",
        "04 65 71 04 21",
        "17 rue Pierre Baizet, 69009 Lyon",
        ("Franck", "Michaud", "f.michaud@toitures-du-lyonnais.fr"),
    ),
    "garage": _CompanySpec(
        "Automatismes Portails Lyon",
        CompanyKind.CONTRACTOR,
        ("auto-portails-lyon.fr",),
        "sav@auto-portails-lyon.fr",
        "04 65 71 04 66",
        "63 rue de la Soie, 69100 Villeurbanne",
    ),
    "insurer": _CompanySpec(
        "Mutuelle Rhodanienne d'Assurances",
        CompanyKind.INSURER,
        ("mra-assurances.fr", "sinistres.mra-assurances.fr"),
        "sinistres@mra-assurances.fr",
        "04 65 71 05 00",
        "1 place des Célestins, 69002 Lyon",
        ("Laure", "Besson", "laure.besson@mra-assurances.fr"),
    ),
    "home_insurer": _CompanySpec(
        "Fourvière Assurances Habitation",
        CompanyKind.INSURER,
        ("fourviere-assurances.fr",),
        "gestion.sinistres@fourviere-assurances.fr",
        "04 65 71 05 40",
        "88 rue Servient, 69003 Lyon",
    ),
    "adjuster": _CompanySpec(
        "Cabinet Expertises Bellecour",
        CompanyKind.ADJUSTER,
        ("expertises-bellecour.fr",),
        "secretariat@expertises-bellecour.fr",
        "04 65 71 05 77",
        "24 place Bellecour, 69002 Lyon",
        ("Arnaud", "Delorme", "a.delorme@expertises-bellecour.fr"),
    ),
}

# Keys of the persons (not staff) who get a demo login.
OWNER_LOGINS = ("roussel", "giraud", "lefevre", "mercier", "vidal")

TVA_RENOVATION = Decimal("0.10")  # reduced VAT on works in dwellings over two years old


def spread_shares(weights: list[int], total: int = 1000) -> list[int]:
    """Integer tantièmes proportional to `weights`, summing exactly to `total`
    (largest remainder method)."""
    weight_sum = sum(weights)
    exact = [Decimal(w) * total / weight_sum for w in weights]
    shares = [int(value) for value in exact]
    remainders = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for index in remainders[: total - sum(shares)]:
        shares[index] += 1
    return shares


# --- The builder --------------------------------------------------------------------


class _DemoBuilder:
    """Builds the demo agency through the services, one dossier at a time."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.tz = timezone.get_current_timezone()
        self.lots: dict[tuple[str, str], Lot] = {}
        self.condominiums: dict[str, Condominium] = {}
        self.persons: dict[str, Person] = {}
        self.staff: dict[str, Person] = {}
        self.users: dict[str, User] = {}
        self.viewers: dict[str, Viewer] = {}
        self.companies: dict[str, Company] = {}
        self.agency: Agency | None = None

    # Dates ---------------------------------------------------------------------------

    def day(self, days_ago: int) -> dt.date:
        return self.today - dt.timedelta(days=days_ago)

    def due(self, days_ahead: int) -> dt.date:
        return self.today + dt.timedelta(days=days_ahead)

    def at(self, days_ago: int, clock: str = "09:00") -> dt.datetime:
        """An aware moment `days_ago` days before today, at `clock` (HH:MM, Paris time)."""
        hour, minute = (int(part) for part in clock.split(":"))
        naive = dt.datetime.combine(self.day(days_ago), dt.time(hour, minute))
        return timezone.make_aware(naive, self.tz)

    # Directory -------------------------------------------------------------------------

    def build_directory(self) -> Agency:
        first, last, email, _role = STAFF["fontaine"]
        agency, manager = agency_create(
            name=DEMO_AGENCY_NAME,
            mail_domain=DEMO_MAIL_DOMAIN,
            shared_mailbox=DEMO_SHARED_MAILBOX,
            staff_email=email,
            staff_password=DEMO_PASSWORD,
            staff_first_name=first,
            staff_last_name=last,
        )
        self.agency = agency
        manager.phones = [AGENCY_PHONE]
        manager.save(update_fields=["phones"])
        self.staff["fontaine"] = manager
        assert manager.user is not None
        self.users["fontaine"] = manager.user
        for key, (first, last, email, role) in STAFF.items():
            if key == "fontaine":
                continue
            person = Person.objects.create(
                agency=agency,
                first_name=first,
                last_name=last,
                staff_role=role,
                phones=[AGENCY_PHONE],
                user=self._login(email, f"{first} {last}"),
            )
            person_add_email(person=person, address=email, primary=True)
            self.staff[key] = person
            assert person.user is not None
            self.users[key] = person.user
        for key, company_spec in COMPANIES.items():
            self.companies[key] = self._build_company(agency, company_spec)
        for key, person_spec in PERSONS.items():
            person = Person.objects.create(
                agency=agency,
                first_name=person_spec.first_name,
                last_name=person_spec.last_name,
                phones=list(person_spec.phones),
                postal_address=person_spec.postal_address,
            )
            person_add_email(person=person, address=person_spec.email, primary=True)
            self.persons[key] = person
        for condominium_spec in CONDOMINIUMS:
            self._build_condominium(condominium_spec)
        for key in OWNER_LOGINS:
            person = self.persons[key]
            person.user = self._login(PERSONS[key].email, person.full_name)
            person.save(update_fields=["user"])
            self.users[key] = person.user
        for key, user in self.users.items():
            self.viewers[key] = Viewer.for_user(user)
        return agency

    def _build_company(self, agency: Agency, spec: _CompanySpec) -> Company:
        """A company, its mail domains and the contact the agency writes to."""
        company = Company.objects.create(
            agency=agency,
            name=spec.name,
            kind=spec.kind,
            email=spec.email,
            phone=spec.phone,
            address=spec.address,
        )
        for domain in spec.domains:
            CompanyDomain.objects.create(company=company, domain=domain)
        if spec.contact is not None:
            first, last, email = spec.contact
            contact = Person.objects.create(
                agency=agency,
                first_name=first,
                last_name=last,
                company=company,
                phones=[spec.phone],
            )
            person_add_email(person=contact, address=email, primary=True)
        return company

    def _login(self, email: str, full_name: str) -> User:
        """The demo login of `email` (an existing login is reused as it is)."""
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name)
        return user

    def _build_condominium(self, spec: _CondominiumSpec) -> None:
        assert self.agency is not None
        condominium = Condominium.objects.create(
            agency=self.agency,
            name=spec.name,
            address=spec.address,
            other_addresses="\n".join(spec.other_addresses),
            postal_code=spec.postal_code,
            city=spec.city,
            nicknames="\n".join(spec.nicknames),
            registry_number=spec.registry_number,
        )
        self.condominiums[spec.key] = condominium
        shares = spread_shares([lot.weight for lot in spec.lots])
        since = self.today.replace(month=1, day=1)
        for index, (lot_spec, share) in enumerate(zip(spec.lots, shares, strict=True)):
            lot = Lot.objects.create(
                condominium=condominium,
                number=lot_spec.number,
                kind=lot_spec.kind,
                floor=lot_spec.floor,
                building=lot_spec.building,
                staircase=lot_spec.staircase,
                shares=share,
            )
            self.lots[(spec.key, lot_spec.number)] = lot
            for owner in spec.owners[lot_spec.number]:
                Ownership.objects.create(
                    person=self.persons[owner],
                    lot=lot,
                    # Purchases spread over the last twenty years.
                    since=since.replace(year=since.year - 2 - (index * 7) % 19),
                )
        CouncilMembership.objects.create(
            person=self.persons[spec.chair], condominium=condominium, role=CouncilRole.CHAIR
        )
        for member in spec.members:
            CouncilMembership.objects.create(
                person=self.persons[member], condominium=condominium, role=CouncilRole.MEMBER
            )

    # Timeline writers (all through the services) ----------------------------------

    def _actor(self, by: str) -> tuple[Viewer, User]:
        return self.viewers[by], self.users[by]

    def open(
        self,
        key: str,
        condominium: str,
        days_ago: int,
        *,
        type: str,
        audience: str,
        description: str,
        manager: str = "fontaine",
        lots: Iterable[str] = (),
        persons: Iterable[str] = (),
        companies: Iterable[str] = (),
        council_sees_parties: bool = False,
    ) -> Dossier:
        viewer, user = self._actor(manager)
        return dossier_open(
            viewer=viewer,
            actor=user,
            condominium=self.condominiums[condominium],
            title=DEMO_DOSSIERS[key],
            type=type,
            audience=audience,
            description=description,
            manager=self.staff[manager],
            council_sees_parties=council_sees_parties,
            party_lots=[self.lots[(condominium, number)] for number in lots],
            party_persons=[self.persons[person] for person in persons],
            party_companies=[self.companies[company] for company in companies],
            opened_on=self.day(days_ago),
        )

    def note(
        self,
        dossier: Dossier,
        days_ago: int,
        clock: str,
        text: str,
        audience: str | None = None,
        by: str = "fontaine",
    ) -> None:
        viewer, user = self._actor(by)
        note_add(
            viewer=viewer,
            actor=user,
            dossier=dossier,
            text=text,
            audience=audience,
            occurred_at=self.at(days_ago, clock),
        )

    def task(
        self,
        dossier: Dossier,
        days_ago: int,
        clock: str,
        title: str,
        *,
        audience: str | None = None,
        due_in: int | None = None,
        assignee: str | None = None,
        done: tuple[int, str] | None = None,
        by: str = "fontaine",
        description: str = "",
    ) -> Task:
        """A task; `due_in` counts days from today (negative: in the past), `done`
        is (days ago, clock) of its completion."""
        viewer, user = self._actor(by)
        task = task_create(
            viewer=viewer,
            actor=user,
            dossier=dossier,
            title=title,
            description=description,
            due_on=self.due(due_in) if due_in is not None else None,
            assignee=self.staff[assignee] if assignee else None,
            audience=audience,
            occurred_at=self.at(days_ago, clock),
        )
        if done is not None:
            done_viewer, done_user = self._actor(assignee or by)
            task_complete(
                viewer=done_viewer, actor=done_user, task=task, occurred_at=self.at(*done)
            )
        return task

    def status(
        self,
        dossier: Dossier,
        days_ago: int,
        clock: str,
        status: str,
        comment: str = "",
        audience: str | None = None,
        by: str = "fontaine",
    ) -> None:
        viewer, user = self._actor(by)
        dossier_change_status(
            viewer=viewer,
            actor=user,
            dossier=dossier,
            status=status,
            comment=comment,
            audience=audience,
            occurred_at=self.at(days_ago, clock),
        )

    def decision(
        self,
        dossier: Dossier,
        days_ago: int,
        clock: str,
        body: str,
        text: str,
        audience: str | None = None,
        by: str = "fontaine",
    ) -> None:
        """A decision; `by` a council chair records the council's own opinion."""
        viewer, user = self._actor(by)
        decision_record(
            viewer=viewer,
            actor=user,
            dossier=dossier,
            decided_by=body,
            text=text,
            decided_on=self.day(days_ago),
            audience=audience,
            occurred_at=self.at(days_ago, clock),
        )

    def document(
        self,
        dossier: Dossier | None,
        days_ago: int,
        clock: str,
        *,
        kind: str,
        filename: str,
        title: str,
        content: bytes,
        audience: str | None = None,
        condominium: str | None = None,
        by: str = "fontaine",
    ) -> Document:
        viewer, user = self._actor(by)
        target = (
            dossier.condominium if dossier is not None else self.condominiums[condominium or ""]
        )
        return document_upload(
            viewer=viewer,
            actor=user,
            condominium=target,
            file=ContentFile(content, name=filename),
            filename=filename,
            kind=kind,
            title=title,
            audience=audience or (dossier.audience if dossier is not None else Audience.OWNERS),
            dossier=dossier,
            occurred_at=self.at(days_ago, clock),
        )

    # Document contents -----------------------------------------------------------------

    def letterhead(self, company_key: str) -> list[str]:
        spec = COMPANIES[company_key]
        return [spec.address, f"Tél. {spec.phone} — {spec.email}", ""]

    def agency_letterhead(self) -> list[str]:
        return [
            f"{DEMO_AGENCY_NAME} — syndic de copropriété",
            f"10 rue de la République, 69002 Lyon — Tél. {AGENCY_PHONE} — {DEMO_SHARED_MAILBOX}",
            "",
        ]

    def client_line(self, condominium_key: str) -> str:
        condominium = self.condominiums[condominium_key]
        return (
            f"Client : Syndicat des copropriétaires « {condominium.name} », "
            f"{condominium.address}, {condominium.postal_code} {condominium.city}, "
            f"représenté par son syndic, {DEMO_AGENCY_NAME}."
        )

    def quote_pdf(
        self,
        company_key: str,
        number: str,
        days_ago: int,
        condominium_key: str,
        subject: str,
        items: list[tuple[str, Decimal]],
        vat: Decimal = TVA_RENOVATION,
    ) -> tuple[bytes, Decimal]:
        """A quote and its total including VAT."""
        net = sum((amount for _label, amount in items), Decimal(0))
        tax = (net * vat).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        lines = [
            *self.letterhead(company_key),
            f"Devis n° {number} du {french_date(self.day(days_ago))}",
            self.client_line(condominium_key),
            f"Objet : {subject}",
            "",
            *(f"- {label} : {euros(amount)} HT" for label, amount in items),
            "",
            f"Total HT : {euros(net)}",
            f"TVA {int(vat * 100)} % : {euros(tax)}",
            f"Total TTC : {euros(net + tax)}",
            "",
            "Devis valable trois mois. Acompte de 30 % à la commande, solde à la réception.",
            "Bon pour accord (date, signature et cachet) :",
        ]
        return make_pdf(COMPANIES[company_key].name, lines), net + tax

    def invoice_pdf(
        self,
        company_key: str,
        number: str,
        days_ago: int,
        billed_to: str,
        items: list[tuple[str, Decimal]],
        vat: Decimal = TVA_RENOVATION,
    ) -> tuple[bytes, Decimal]:
        net = sum((amount for _label, amount in items), Decimal(0))
        tax = (net * vat).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        lines = [
            *self.letterhead(company_key),
            f"Facture n° {number} du {french_date(self.day(days_ago))}",
            billed_to,
            "",
            *(f"- {label} : {euros(amount)} HT" for label, amount in items),
            "",
            f"Total HT : {euros(net)}",
            f"TVA {int(vat * 100)} % : {euros(tax)}",
            f"Net à payer : {euros(net + tax)}",
            "Paiement à 30 jours par virement. Pénalités de retard au taux légal en vigueur.",
        ]
        return make_pdf(f"{COMPANIES[company_key].name} — facture", lines), net + tax

    # The dossiers ----------------------------------------------------------------------

    def build_dossiers(self) -> None:
        """Every dossier, oldest first, so that references follow the opening dates."""
        builders: list[tuple[int, Callable[[int], None]]] = [
            (240, self.facade),
            (150, self.extraordinary_meeting),
            (120, self.arrears),
            (100, self.blocked_drain),
            (68, self.water_damage),
            (48, self.council_water),
            (40, self.storm_claim),
            (35, self.annual_meeting),
            (25, self.insurance_tender),
            (9, self.lift),
            (5, self.garage_door),
        ]
        for opened, build in sorted(builders, key=lambda item: -item[0]):
            build(opened)

    def condominium_documents(self) -> None:
        """Documents of the condominiums outside any dossier (décret 2019-502)."""
        for spec in CONDOMINIUMS:
            condominium = self.condominiums[spec.key]
            lots = condominium.lots.count()
            flats = condominium.lots.filter(kind=LotKind.FLAT).count()
            self.document(
                None,
                200,
                "10:00",
                condominium=spec.key,
                kind=DocumentKind.SUMMARY_SHEET,
                filename=f"fiche-synthetique-{spec.key}.pdf",
                title=f"Fiche synthétique — {condominium.name}",
                content=make_pdf(
                    f"Fiche synthétique de la copropriété — {condominium.name}",
                    [
                        *self.agency_letterhead(),
                        f"Adresse : {_at(spec)}",
                        f"Numéro d'immatriculation : {spec.registry_number}",
                        f"Nombre de lots : {lots}, dont {flats} lots à usage d'habitation.",
                        "Syndic : " + DEMO_AGENCY_NAME + " (mandat de trois ans).",
                        "Assurance multirisque immeuble : Mutuelle Rhodanienne d'Assurances.",
                        "Établie conformément à l'article 8-2 de la loi du 10 juillet 1965.",
                    ],
                ),
                audience=Audience.OWNERS,
            )
        self.document(
            None,
            200,
            "10:05",
            condominium="tilleuls",
            kind=DocumentKind.BYLAWS,
            filename="reglement-de-copropriete-tilleuls.pdf",
            title="Règlement de copropriété et état descriptif de division",
            content=make_pdf(
                "Règlement de copropriété — Résidence Les Tilleuls",
                [
                    "Extrait. Le texte intégral est consultable au cabinet.",
                    "Article 1 — L'immeuble sis 42 cours Gambetta et 3 rue Pasteur à Lyon 7e "
                    "est divisé en 27 lots : un local commercial, seize appartements répartis "
                    "sur deux escaliers (A et B), six caves et quatre emplacements de parking.",
                    "Article 12 — Les parties communes comprennent notamment le gros œuvre, les "
                    "façades, la toiture, les canalisations jusqu'aux embranchements privatifs "
                    "et l'ascenseur de l'escalier A.",
                    "Article 21 — Les charges d'ascenseur sont réparties entre les lots de "
                    "l'escalier A selon l'étage.",
                ],
            ),
            audience=Audience.OWNERS,
        )
        self.document(
            None,
            5,
            "16:00",
            condominium="tilleuls",
            kind=DocumentKind.MAINTENANCE_LOG,
            filename="carnet-entretien-tilleuls.pdf",
            title="Carnet d'entretien — Résidence Les Tilleuls",
            content=make_pdf(
                "Carnet d'entretien — Résidence Les Tilleuls",
                [
                    "Ascenseur escalier A : contrat Ascenseurs Rhône-Alpes Maintenance, "
                    "visites mensuelles.",
                    "Toiture : révision complète il y a six ans.",
                    f"Ravalement des façades : voté en assemblée générale extraordinaire le "
                    f"{french_date(self.day(85))}.",
                    "Canalisation enterrée (cour) : fuite réparée par Plomberie Saint-Jean le "
                    f"{french_date(self.day(25))}.",
                ],
            ),
            audience=Audience.OWNERS,
        )

    def space_document(
        self,
        condominium: str,
        space: str,
        kind: str,
        filename: str,
        title: str,
        lines: list[str],
        *,
        dated: int,
        valid_for: int | None = None,
        lot: str | None = None,
    ) -> Document:
        """A document of a condominium's space (décret n° 2019-502), dated `dated`
        days ago and valid `valid_for` days from today (negative: expired)."""
        viewer, user = self._actor("fontaine")
        return condominium_document_upload(
            viewer=viewer,
            actor=user,
            condominium=self.condominiums[condominium],
            space=space,
            lot=self.lots[(condominium, lot)] if lot is not None else None,
            file=ContentFile(make_pdf(title, lines), name=filename),
            filename=filename,
            kind=kind,
            title=title,
            document_date=self.day(dated),
            valid_until=self.due(valid_for) if valid_for is not None else None,
            occurred_at=self.at(min(dated, 3), "11:00"),
        )

    def tilleuls_space(self) -> None:
        """The online space of Les Tilleuls, for the checklist to have something to
        say: most required documents are there, the insurance contract has expired,
        the collective energy diagnostic, the bank statements and the list of
        co-owners are missing, and two co-owners have their lot statements."""
        owners, lot, council = DocumentSpace.OWNERS, DocumentSpace.LOT, DocumentSpace.COUNCIL
        header = self.agency_letterhead()
        for dated, label in ((85, "extraordinaire"), (380, "ordinaire"), (745, "ordinaire")):
            self.space_document(
                "tilleuls",
                owners,
                DocumentKind.MINUTES,
                f"pv-ag-tilleuls-{dated}.pdf",
                f"Procès-verbal de l'assemblée générale {label} du {french_date(self.day(dated))}",
                [*header, "Résidence Les Tilleuls, 42 cours Gambetta, 69007 Lyon."],
                dated=dated,
            )
        self.space_document(
            "tilleuls",
            owners,
            DocumentKind.INSURANCE_CONTRACT,
            "assurance-multirisque-tilleuls.pdf",
            "Contrat multirisque immeuble — conditions particulières",
            [
                *self.letterhead("insurer"),
                "Souscripteur : Syndicat des copropriétaires « Résidence Les Tilleuls ».",
                f"Échéance du contrat : {french_date(self.due(-35))}.",
            ],
            dated=400,
            valid_for=-35,
        )
        self.space_document(
            "tilleuls",
            owners,
            DocumentKind.SYNDIC_CONTRACT,
            "contrat-syndic-tilleuls.pdf",
            "Contrat de syndic — Cabinet Lumière Gestion",
            [*header, "Mandat de trois ans voté par l'assemblée générale ordinaire."],
            dated=380,
            valid_for=3 * 365 - 380,
        )
        self.space_document(
            "tilleuls",
            owners,
            DocumentKind.MAINTENANCE_CONTRACT,
            "contrat-entretien-ascenseur-tilleuls.pdf",
            "Contrat d'entretien de l'ascenseur de l'escalier A",
            [*self.letterhead("lift"), "Visites mensuelles, dépannage sous 4 heures."],
            dated=700,
            valid_for=60,
        )
        self.space_document(
            "tilleuls",
            owners,
            DocumentKind.DIAGNOSTIC_ASBESTOS,
            "dta-tilleuls.pdf",
            "Dossier technique amiante des parties communes",
            ["Repérage des matériaux et produits contenant de l'amiante : aucun détecté."],
            dated=19 * 365,
        )
        statements = [
            (DocumentKind.OWNER_ACCOUNT, "compte", "Compte du copropriétaire", 375),
            (DocumentKind.CHARGES_STATEMENT, "charges", "Relevé des charges", 375),
            (DocumentKind.WORKS_FUND_SHARE, "fonds-travaux", "Part du fonds de travaux", 375),
            (DocumentKind.CALL_FOR_FUNDS, "appel", "Appel de fonds du trimestre", 20),
        ]
        # Lefèvre has every statement of lot 8; Mercier the account and the call of lot 5.
        for owner, number, kinds in (
            ("lefevre", "8", statements),
            ("mercier", "5", statements[::3]),
        ):
            name = self.persons[owner].full_name
            for kind, slug, title, dated in kinds:
                self.space_document(
                    "tilleuls",
                    lot,
                    kind,
                    f"{slug}-lot-{number}-tilleuls.pdf",
                    f"{title} — lot {number}",
                    [*header, f"Copropriétaire : {name}, lot {number}."],
                    dated=dated,
                    lot=number,
                )
        self.space_document(
            "tilleuls",
            council,
            DocumentKind.ACCOUNTS,
            "balance-generale-tilleuls.pdf",
            "Balance générale et relevé général des charges et produits",
            [*header, "Exercice clos, comptes soumis à l'assemblée générale."],
            dated=40,
        )
        self.space_document(
            "tilleuls",
            council,
            DocumentKind.SYNDIC_CREDENTIALS,
            "attestations-syndic.pdf",
            "Carte professionnelle, assurance RCP et garantie financière du syndic",
            [*header, "Carte professionnelle « Gestion immobilière » délivrée par la CCI de Lyon."],
            dated=60,
            valid_for=300,
        )

    # Résidence Les Tilleuls ---------------------------------------------------------------

    def facade(self, opened: int) -> None:
        d = self.open(
            "facade",
            "tilleuls",
            opened,
            type=DossierType.WORKS,
            audience=Audience.OWNERS,
            description=(
                "Ravalement complet de la façade sur rue (42 cours Gambetta) et de la façade sur "
                "cour (3 rue Pasteur) : traitement des bétons éclatés, reprise des fissures, "
                "peinture minérale, garde-corps et volets. Voté en assemblée générale "
                "extraordinaire."
            ),
            companies=("facade_fl", "facade_rf", "facade_bs"),
        )
        self.note(
            d,
            opened - 1,
            "10:15",
            "Suite au diagnostic de façade (fissures et chutes d'éclats de béton côté rue), le "
            "conseil syndical a demandé une consultation. Trois entreprises de ravalement sont "
            "sollicitées.",
        )
        self.task(
            d,
            opened - 1,
            "10:20",
            "Consulter trois entreprises de ravalement",
            audience=Audience.COUNCIL,
            assignee="fontaine",
            due_in=-(opened - 60),
            done=(opened - 65, "17:40"),
        )
        self.task(
            d,
            opened - 2,
            "08:50",
            "Faire poser un filet de protection au-dessus de l'entrée",
            audience=Audience.OWNERS,
            assignee="bernard",
            done=(opened - 9, "11:30"),
        )
        quotes = {
            "facade_fl": (
                "FL-{year}-0412",
                35,
                [
                    ("Installation et location d'échafaudage (4 mois)", Decimal("38500")),
                    ("Nettoyage par hydrogommage", Decimal("21200")),
                    ("Traitement des bétons éclatés et des aciers", Decimal("29800")),
                    ("Reprise des fissures", Decimal("14600")),
                    ("Peinture minérale, deux couches", Decimal("52400")),
                    ("Garde-corps et volets : décapage et peinture", Decimal("12900")),
                ],
            ),
            "facade_rf": (
                "RFR-{year}-118",
                44,
                [
                    ("Échafaudage de pied (3 mois)", Decimal("34900")),
                    ("Nettoyage basse pression", Decimal("18700")),
                    ("Traitement des bétons", Decimal("26300")),
                    ("Reprise des fissures", Decimal("12100")),
                    ("Peinture pliolite", Decimal("48800")),
                    ("Garde-corps et volets", Decimal("11400")),
                ],
            ),
            "facade_bs": (
                "BSR-{year}-0057",
                59,
                [
                    ("Échafaudage et protections (5 mois)", Decimal("41200")),
                    ("Hydrogommage", Decimal("23500")),
                    ("Traitement des bétons, passivation des aciers", Decimal("32400")),
                    ("Reprise des fissures et joints", Decimal("16800")),
                    ("Peinture minérale siloxane", Decimal("57300")),
                    ("Garde-corps et volets", Decimal("13900")),
                ],
            ),
        }
        totals: dict[str, Decimal] = {}
        for company_key, (number, offset, items) in quotes.items():
            days = opened - offset
            content, total = self.quote_pdf(
                company_key,
                number.format(year=self.day(days).year),
                days,
                "tilleuls",
                "Ravalement des façades sur rue et sur cour",
                items,
            )
            totals[company_key] = total
            name = COMPANIES[company_key].name
            self.document(
                d,
                days,
                "14:10",
                kind=DocumentKind.QUOTE,
                filename=f"devis-ravalement-{company_key.removeprefix('facade_')}.pdf",
                title=f"Devis de ravalement — {name} ({euros(total)} TTC)",
                content=content,
                audience=Audience.COUNCIL,
            )
        self.note(
            d,
            opened - 60,
            "18:05",
            "Rénov'Façades Rhône n'a pas fourni son attestation d'assurance décennale ; relancé "
            "par téléphone. Ne pas présenter son offre en assemblée sans cette attestation.",
            audience=Audience.INTERNAL,
        )
        comparison = [
            *self.agency_letterhead(),
            "Ravalement des façades — Résidence Les Tilleuls",
            "",
            *(
                f"- {COMPANIES[key].name} : {euros(total)} TTC"
                for key, total in sorted(totals.items(), key=lambda item: item[1])
            ),
            "",
            "Façades Lyonnaises : peinture minérale (garantie 10 ans), échafaudage 4 mois.",
            "Rénov'Façades Rhône : peinture pliolite, attestation décennale en attente.",
            "Bâti Saône Ravalement : offre la plus complète mais la plus chère.",
        ]
        self.document(
            d,
            opened - 70,
            "09:30",
            kind=DocumentKind.REPORT,
            filename="comparatif-devis-ravalement.pdf",
            title="Tableau comparatif des trois devis",
            content=make_pdf("Tableau comparatif des devis de ravalement", comparison),
            audience=Audience.OWNERS,
        )
        chosen = euros(totals["facade_fl"])
        self.decision(
            d,
            opened - 77,
            "20:45",
            DecisionBody.COUNCIL,
            "Le conseil syndical recommande l'offre de Façades Lyonnaises "
            f"({chosen} TTC) : peinture minérale garantie dix ans, meilleur traitement des bétons. "
            "Il demande l'inscription du vote à une assemblée générale extraordinaire.",
            audience=Audience.OWNERS,
            by="roussel",
        )
        self.status(
            d,
            opened - 80,
            "09:10",
            DossierStatus.AWAITING_VOTE,
            "Vote prévu à l'assemblée générale extraordinaire.",
        )
        self.decision(
            d,
            85,
            "21:30",
            DecisionBody.GENERAL_MEETING,
            "Résolution n° 3 — L'assemblée générale décide le ravalement des façades sur rue et "
            f"sur cour et retient l'offre de Façades Lyonnaises pour {chosen} TTC. Adoptée à la "
            "majorité de l'article 24 : 642 voix pour, 118 contre, 0 abstention.\n"
            "Résolution n° 4 — Les travaux sont financés par quatre appels de fonds "
            "trimestriels à compter du prochain trimestre. Adoptée.",
        )
        self.status(
            d,
            84,
            "10:00",
            DossierStatus.ORDERED,
            "Travaux votés en assemblée générale extraordinaire.",
        )
        self.document(
            d,
            80,
            "15:20",
            kind=DocumentKind.MINUTES,
            filename="extrait-pv-age-resolutions-3-4.pdf",
            title="Extrait du procès-verbal — résolutions 3 et 4",
            content=make_pdf(
                "Extrait du procès-verbal de l'assemblée générale extraordinaire",
                [
                    *self.agency_letterhead(),
                    f"Assemblée générale extraordinaire du {french_date(self.day(85))}",
                    "Résidence Les Tilleuls, 42 cours Gambetta, 69007 Lyon",
                    "",
                    "Résolution n° 3 — Ravalement des façades sur rue et sur cour, offre de "
                    f"Façades Lyonnaises pour {chosen} TTC.",
                    "Pour : 642 voix. Contre : 118 voix. Abstention : 0. Adoptée (article 24).",
                    "",
                    "Résolution n° 4 — Financement par quatre appels de fonds trimestriels.",
                    "Pour : 760 voix. Adoptée à l'unanimité des présents et représentés.",
                ],
            ),
        )
        self.task(
            d,
            70,
            "11:00",
            "Signer l'ordre de service avec Façades Lyonnaises",
            audience=Audience.INTERNAL,
            assignee="fontaine",
            due_in=-60,
            done=(62, "16:45"),
        )
        self.document(
            d,
            62,
            "16:50",
            kind=DocumentKind.WORK_ORDER,
            filename="ordre-de-service-ravalement.pdf",
            title="Ordre de service — ravalement",
            content=make_pdf(
                "Ordre de service",
                [
                    *self.agency_letterhead(),
                    f"Lyon, le {french_date(self.day(62))}",
                    "Destinataire : Façades Lyonnaises, 210 route de Vienne, 69008 Lyon",
                    self.client_line("tilleuls"),
                    f"Objet : ravalement des façades — devis accepté pour {chosen} TTC.",
                    "Début des travaux après obtention de la non-opposition à la déclaration "
                    "préalable de travaux.",
                ],
            ),
            audience=Audience.COUNCIL,
        )
        self.note(
            d,
            61,
            "09:15",
            "Attestation d'assurance décennale de Façades Lyonnaises reçue et classée.",
            audience=Audience.INTERNAL,
        )
        self.note(
            d,
            58,
            "10:30",
            "Déclaration préalable de travaux déposée à la mairie du 7e arrondissement ; délai "
            "d'instruction d'un mois.",
        )
        self.note(
            d,
            24,
            "14:00",
            "Non-opposition de la mairie reçue. Installation de l'échafaudage prévue dans les "
            "prochaines semaines ; un avis sera affiché dans les halls A et B.",
        )
        self.task(
            d,
            24,
            "14:05",
            "Réunion de démarrage de chantier avec le conseil syndical",
            audience=Audience.COUNCIL,
            assignee="fontaine",
            due_in=12,
        )
        self.task(
            d,
            24,
            "14:10",
            "Afficher l'avis de travaux dans les halls A et B",
            assignee="bernard",
            due_in=5,
        )

    def extraordinary_meeting(self, opened: int) -> None:
        d = self.open(
            "extraordinary_meeting",
            "tilleuls",
            opened,
            type=DossierType.GENERAL_MEETING,
            audience=Audience.OWNERS,
            description="Assemblée générale extraordinaire convoquée pour voter le ravalement.",
        )
        self.task(
            d,
            opened - 2,
            "09:00",
            "Préparer l'ordre du jour avec le conseil syndical",
            audience=Audience.COUNCIL,
            assignee="fontaine",
            done=(opened - 15, "19:30"),
        )
        self.document(
            d,
            opened - 18,
            "11:40",
            kind=DocumentKind.OTHER,
            filename="projet-de-resolutions-age.pdf",
            title="Projet de résolutions",
            content=make_pdf(
                "Projet de résolutions — assemblée générale extraordinaire",
                [
                    "1. Élection du président de séance, des scrutateurs et du secrétaire.",
                    "2. Présentation du diagnostic de façade et des trois devis.",
                    "3. Décision de ravalement et choix de l'entreprise (article 24).",
                    "4. Modalités de financement : appels de fonds trimestriels.",
                    "5. Mission de maîtrise d'œuvre (architecte).",
                ],
            ),
            audience=Audience.COUNCIL,
        )
        self.status(
            d,
            120,
            "10:00",
            DossierStatus.CONVENED,
            "Convocations envoyées par lettre recommandée et par voie électronique aux "
            "copropriétaires qui l'ont accepté (délai de 21 jours respecté).",
        )
        self.document(
            d,
            120,
            "10:05",
            kind=DocumentKind.LETTER,
            filename="convocation-age.pdf",
            title="Convocation et ordre du jour",
            content=make_pdf(
                "Convocation à l'assemblée générale extraordinaire",
                [
                    *self.agency_letterhead(),
                    "Mesdames, Messieurs les copropriétaires de la Résidence Les Tilleuls,",
                    f"Vous êtes convoqués le {french_date(self.day(85))} à 18 h 30, maison des "
                    "associations du 7e arrondissement, 7 rue Saint-Jérôme, 69007 Lyon.",
                    "Ordre du jour : voir le projet de résolutions joint. Les devis et le "
                    "tableau comparatif sont consultables sur l'extranet.",
                ],
            ),
        )
        self.note(
            d,
            86,
            "17:00",
            "Salle réservée à la maison des associations, 18 h 30. Feuille de présence et "
            "pouvoirs reçus imprimés (14 pouvoirs).",
            audience=Audience.INTERNAL,
            by="bernard",
        )
        self.status(
            d,
            85,
            "21:40",
            DossierStatus.HELD,
            "Assemblée tenue : 760 tantièmes sur 1 000 présents ou représentés.",
        )
        self.decision(
            d,
            85,
            "21:45",
            DecisionBody.GENERAL_MEETING,
            "Résolutions 1 à 5 adoptées : bureau de séance, ravalement confié à Façades "
            "Lyonnaises, financement en quatre appels de fonds, mission de maîtrise d'œuvre.",
        )
        self.document(
            d,
            80,
            "15:00",
            kind=DocumentKind.MINUTES,
            filename="pv-age-tilleuls.pdf",
            title="Procès-verbal de l'assemblée générale extraordinaire",
            content=make_pdf(
                "Procès-verbal de l'assemblée générale extraordinaire — Les Tilleuls",
                [
                    f"Le {french_date(self.day(85))}, les copropriétaires se sont réunis sur "
                    "convocation du syndic.",
                    "Présents ou représentés : 760 tantièmes sur 1 000.",
                    "Président de séance : Mme Marie-Hélène Roussel. Secrétaire : le syndic.",
                    "Résolutions 1 à 5 : adoptées (détail des votes en annexe).",
                    "L'ordre du jour étant épuisé, la séance est levée à 21 h 25.",
                ],
            ),
        )
        self.status(
            d,
            79,
            "09:30",
            DossierStatus.MINUTES_SENT,
            "Procès-verbal notifié aux copropriétaires opposants et défaillants par lettre "
            "recommandée.",
            by="bernard",
        )
        self.status(
            d,
            15,
            "09:00",
            DossierStatus.CLOSED,
            "Délai de contestation de deux mois expiré sans recours.",
        )

    def water_damage(self, opened: int) -> None:
        d = self.open(
            "water_damage",
            "tilleuls",
            opened,
            type=DossierType.WATER_DAMAGE,
            audience=Audience.PARTIES,
            description=(
                "Auréole et cloquage de peinture au plafond de la salle de bains du lot 8 "
                "(4e étage, escalier A), sous la salle de douche du lot 10 (5e étage). Recherche "
                "de fuite puis gestion selon la convention IRSI."
            ),
            lots=("8", "10"),
            persons=("martin",),
            companies=("plumber", "leak", "home_insurer", "adjuster"),
        )
        self.note(
            d,
            opened,
            "09:40",
            "Appel de Mme Lefèvre (lot 8) : tache d'humidité au plafond de la salle de bains, "
            "qui s'agrandit depuis une semaine. Photos reçues par mail.",
            by="bernard",
        )
        self.document(
            d,
            opened,
            "09:45",
            kind=DocumentKind.PHOTO,
            filename="plafond-salle-de-bains-lot-8.png",
            title="Photo du plafond — salle de bains du lot 8",
            content=make_png(140, 90, _stained_ceiling),
            by="bernard",
        )
        self.task(
            d,
            opened,
            "10:00",
            "Contacter l'occupant du lot 10 pour organiser l'accès",
            assignee="bernard",
            due_in=-(opened - 2),
            done=(opened - 2, "11:15"),
        )
        self.note(
            d,
            opened - 1,
            "16:20",
            "M. Nguyen, propriétaire du lot 10, loue l'appartement à Mme Léa Martin. Il ne "
            "répond pas au téléphone : message laissé sur son portable.",
            audience=Audience.INTERNAL,
            by="bernard",
        )
        self.note(
            d,
            opened - 2,
            "11:10",
            "Accès au lot 10 convenu avec Mme Martin, occupante, pour le passage de l'entreprise "
            "de recherche de fuite.",
            by="bernard",
        )
        self.task(
            d,
            opened - 2,
            "11:30",
            "Missionner Détect'Eau Rhône pour la recherche de fuite",
            assignee="fontaine",
            done=(opened - 4, "09:20"),
        )
        self.status(
            d,
            opened - 4,
            "09:25",
            DossierStatus.LEAK_SEARCH,
            "Recherche de fuite commandée. L'assureur de l'occupant du lot 8 (Fourvière "
            "Assurances Habitation) est l'assureur gestionnaire selon la convention IRSI.",
        )
        self.document(
            d,
            opened - 11,
            "15:30",
            kind=DocumentKind.REPORT,
            filename="rapport-recherche-de-fuite.pdf",
            title="Rapport de recherche de fuite — Détect'Eau Rhône",
            content=make_pdf(
                "Détect'Eau Rhône — rapport de recherche de fuite",
                [
                    *self.letterhead("leak"),
                    f"Intervention du {french_date(self.day(opened - 10))}",
                    "Lieu : Résidence Les Tilleuls, 42 cours Gambetta, 69007 Lyon — lots 8 "
                    "(4e étage) et 10 (5e étage), escalier A.",
                    "Méthodes : caméra thermique, humidimètre, mise en eau de la douche, gaz "
                    "traceur sur les canalisations d'alimentation.",
                    "Constats : humidité de 42 % au plafond de la salle de bains du lot 8 ; "
                    "alimentations en eau du lot 10 étanches ; écoulement au niveau du joint "
                    "de la bonde du receveur de douche du lot 10 lors de la mise en eau.",
                    "Conclusion : fuite sur le joint d'évacuation du receveur de douche du "
                    "lot 10 (partie privative). La colonne d'eaux usées commune est hors de "
                    "cause.",
                    "Préconisation : remplacement de la bonde et du joint, puis séchage du "
                    "plafond du lot 8 avant travaux d'embellissement.",
                ],
            ),
        )
        self.note(
            d,
            opened - 11,
            "15:40",
            "Conclusion du rapport : fuite sur le joint d'évacuation du receveur de douche du "
            "lot 10. La colonne d'eaux usées commune est hors de cause.",
        )
        self.decision(
            d,
            opened - 12,
            "10:00",
            DecisionBody.MANAGER,
            "Fuite d'origine privative (lot 10) : la réparation du joint incombe au propriétaire "
            "du lot 10. Les dommages du lot 8 sont pris en charge par l'assureur de son "
            "occupant, assureur gestionnaire (convention IRSI). Pas de déclaration à "
            "l'assurance de l'immeuble.",
        )
        self.task(
            d,
            opened - 12,
            "10:10",
            "Demander au propriétaire du lot 10 de faire réparer le joint sous 15 jours",
            assignee="fontaine",
            due_in=-(opened - 27),
            done=(opened - 14, "09:00"),
        )
        self.note(
            d,
            opened - 18,
            "17:15",
            "Joint et bonde remplacés par Plomberie Saint-Jean, à la demande de M. Nguyen.",
        )
        content, _total = self.invoice_pdf(
            "plumber",
            f"PSJ-{self.day(opened - 19).year}-0931",
            opened - 19,
            "Facturé à : M. Thomas Nguyen, propriétaire du lot 10, Résidence Les Tilleuls.",
            [
                ("Déplacement", Decimal("45")),
                ("Remplacement de la bonde et du joint du receveur de douche", Decimal("165")),
                ("Réfection du joint silicone périphérique", Decimal("38")),
            ],
        )
        self.document(
            d,
            opened - 19,
            "08:40",
            kind=DocumentKind.INVOICE,
            filename="facture-plomberie-lot-10.pdf",
            title="Facture de Plomberie Saint-Jean — réparation au lot 10",
            content=content,
        )
        self.status(
            d,
            opened - 24,
            "11:00",
            DossierStatus.ASSESSMENT,
            "Dommages du lot 8 estimés à 2 300 € HT : l'assureur gestionnaire missionne un "
            "expert (seuil IRSI de 1 600 € HT dépassé).",
        )
        self.note(
            d,
            30,
            "16:30",
            "Expertise contradictoire tenue au lot 8 en présence de Mme Lefèvre et de l'expert "
            "du Cabinet Expertises Bellecour.",
        )
        self.note(
            d,
            29,
            "09:05",
            "L'expert s'interroge sur le délai de déclaration de M. Nguyen à son propre "
            "assureur : risque de recours contre lui. À suivre, sans en faire état aux "
            "occupants.",
            audience=Audience.INTERNAL,
        )
        self.document(
            d,
            12,
            "14:20",
            kind=DocumentKind.REPORT,
            filename="rapport-expertise-provisoire.pdf",
            title="Rapport d'expertise provisoire — Cabinet Expertises Bellecour",
            content=make_pdf(
                "Cabinet Expertises Bellecour — rapport provisoire",
                [
                    *self.letterhead("adjuster"),
                    "Dossier : dégât des eaux, Résidence Les Tilleuls, lots 8 et 10.",
                    f"Réunion d'expertise contradictoire du {french_date(self.day(30))}.",
                    "Cause : fuite sur le joint d'évacuation du receveur de douche du lot 10, "
                    "réparée.",
                    "Dommages : plafond et murs de la salle de bains du lot 8 (peinture, "
                    "plaque de plâtre ponctuelle).",
                    "Évaluation provisoire : 2 180,00 € HT, sous réserve du devis de "
                    "l'entreprise choisie par l'occupant.",
                ],
            ),
        )
        self.status(
            d,
            11,
            "10:30",
            DossierStatus.REPAIRS,
            "Séchage constaté ; l'assureur gestionnaire autorise les travaux de peinture au lot 8.",
        )
        self.task(
            d,
            11,
            "10:35",
            "Relancer l'expert pour le rapport définitif",
            audience=Audience.INTERNAL,
            assignee="fontaine",
            due_in=5,
        )
        self.task(
            d,
            11,
            "10:40",
            "Recevoir de Mme Lefèvre le devis de peinture du plafond",
            assignee="bernard",
            due_in=10,
        )

    def lift(self, opened: int) -> None:
        d = self.open(
            "lift",
            "tilleuls",
            opened,
            type=DossierType.INCIDENT,
            audience=Audience.OWNERS,
            description="Ascenseur de l'escalier A à l'arrêt (desserte du 1er au 5e étage).",
            companies=("lift",),
        )
        self.note(
            d,
            opened,
            "08:20",
            "Ascenseur de l'escalier A à l'arrêt depuis ce matin, signalé par plusieurs "
            "occupants. Dépannage demandé à Ascenseurs Rhône-Alpes Maintenance.",
            by="bernard",
        )
        self.status(d, opened, "08:25", DossierStatus.CONTRACTOR_CALLED, by="bernard")
        self.task(
            d,
            opened,
            "08:30",
            "Prévenir les occupants des étages élevés ayant des difficultés à se déplacer",
            audience=Audience.INTERNAL,
            assignee="bernard",
            done=(opened, "11:00"),
        )
        self.note(
            d,
            opened,
            "11:05",
            "Mme Faure (lot 11, 5e étage) ne peut pas descendre seule : sa fille est prévenue et "
            "l'épicerie du rez-de-chaussée livre ses courses jusqu'à la remise en service.",
            audience=Audience.INTERNAL,
            by="bernard",
        )
        self.note(
            d,
            opened - 1,
            "15:10",
            "Intervention du technicien : la carte électronique de commande de la manœuvre est "
            "hors service. Pièce commandée chez le fabricant, délai annoncé de 8 à 10 jours "
            "ouvrés.",
        )
        self.document(
            d,
            opened - 1,
            "15:15",
            kind=DocumentKind.REPORT,
            filename="bon-intervention-ascenseur.pdf",
            title="Bon d'intervention — Ascenseurs Rhône-Alpes Maintenance",
            content=make_pdf(
                "Ascenseurs Rhône-Alpes Maintenance — bon d'intervention",
                [
                    *self.letterhead("lift"),
                    f"Bon n° BI-{self.day(opened - 1).year}-1187 du "
                    f"{french_date(self.day(opened - 1))}",
                    "Appareil : ascenseur escalier A, Résidence Les Tilleuls, 42 cours Gambetta.",
                    "Panne : arrêt au 3e étage, défaut de la carte de commande de manœuvre.",
                    "Action : mise en sécurité de l'appareil, commande de la carte (référence "
                    "fabricant MC-220).",
                    "Appareil laissé à l'arrêt dans l'attente de la pièce.",
                ],
            ),
        )
        self.status(d, opened - 1, "15:20", DossierStatus.IN_PROGRESS, "Pièce en commande.")
        self.note(
            d,
            opened - 3,
            "09:40",
            "Troisième panne depuis le début de l'année. Vérifier le taux de disponibilité "
            "contractuel et les pénalités prévues au contrat d'entretien.",
            audience=Audience.INTERNAL,
        )
        self.task(
            d,
            opened - 3,
            "09:45",
            "Vérifier les pénalités prévues au contrat d'entretien",
            audience=Audience.INTERNAL,
            assignee="fontaine",
            due_in=7,
        )
        self.document(
            d,
            opened - 4,
            "10:00",
            kind=DocumentKind.MAINTENANCE_CONTRACT,
            filename="contrat-entretien-ascenseur.pdf",
            title="Contrat d'entretien de l'ascenseur (extrait)",
            content=make_pdf(
                "Contrat d'entretien d'ascenseur — extrait",
                [
                    "Titulaire : Ascenseurs Rhône-Alpes Maintenance.",
                    "Appareil : escalier A, Résidence Les Tilleuls.",
                    "Visites d'entretien : mensuelles. Dépannage sous 4 heures ouvrées.",
                    "Article 9 — Taux de disponibilité garanti : 98 % par an ; en deçà, "
                    "pénalité de 1 % de la redevance annuelle par point manquant.",
                    "Échéance : à la fin de l'année en cours, renouvelable par tacite "
                    "reconduction.",
                ],
            ),
            audience=Audience.COUNCIL,
        )
        self.decision(
            d,
            opened - 6,
            "19:30",
            DecisionBody.COUNCIL,
            "Le conseil syndical demande que le contrat d'entretien de l'ascenseur soit mis en "
            "concurrence avant son échéance et que les pénalités de disponibilité soient "
            "appliquées.",
            audience=Audience.COUNCIL,
            by="roussel",
        )
        self.note(
            d,
            opened - 7,
            "12:00",
            "Le fabricant confirme l'expédition de la carte de commande ; remise en service "
            "prévue en fin de semaine prochaine.",
        )
        self.task(d, opened - 7, "12:05", "Remise en service et essai de l'ascenseur", due_in=4)

    def arrears(self, opened: int) -> None:
        d = self.open(
            "arrears",
            "tilleuls",
            opened,
            type=DossierType.ARREARS,
            audience=Audience.INTERNAL,
            description="Recouvrement des charges impayées du lot 12.",
            lots=("12",),
            persons=("gauthier",),
        )
        self.note(
            d,
            opened,
            "09:30",
            "Solde débiteur de 2 846,30 € au dernier arrêté des comptes : trois appels de fonds "
            "trimestriels impayés.",
        )
        self.document(
            d,
            opened,
            "09:35",
            kind=DocumentKind.LETTER,
            filename="relance-lot-12.pdf",
            title="Lettre de relance",
            content=make_pdf(
                "Relance — charges de copropriété",
                [
                    *self.agency_letterhead(),
                    f"Lyon, le {french_date(self.day(opened))}",
                    "Monsieur Sébastien Gauthier, 42 cours Gambetta, 69007 Lyon",
                    "Monsieur, sauf erreur de notre part, votre compte de copropriétaire "
                    "présente un solde débiteur de 2 846,30 €. Nous vous remercions de bien "
                    "vouloir le régler sous quinzaine.",
                ],
            ),
        )
        self.task(
            d,
            opened - 30,
            "10:00",
            "Relancer M. Gauthier par téléphone",
            assignee="bernard",
            done=(opened - 32, "17:20"),
        )
        self.note(
            d,
            opened - 32,
            "17:25",
            "Joint par téléphone : M. Gauthier invoque une perte d'emploi et promet un premier "
            "versement.",
            by="bernard",
        )
        self.status(
            d,
            opened - 45,
            "09:00",
            DossierStatus.FORMAL_NOTICE,
            "Aucun versement reçu depuis la relance.",
        )
        self.document(
            d,
            opened - 45,
            "09:10",
            kind=DocumentKind.LETTER,
            filename="mise-en-demeure-lot-12.pdf",
            title="Mise en demeure (lettre recommandée avec accusé de réception)",
            content=make_pdf(
                "Mise en demeure",
                [
                    *self.agency_letterhead(),
                    f"Lyon, le {french_date(self.day(opened - 45))}",
                    "Lettre recommandée avec accusé de réception",
                    "Monsieur Sébastien Gauthier, 42 cours Gambetta, 69007 Lyon",
                    "Nous vous mettons en demeure de régler sous huit jours la somme de "
                    "2 846,30 € due au titre des charges de copropriété du lot 12. À défaut, "
                    "le syndicat engagera une procédure de recouvrement (article 19-2 de la "
                    "loi du 10 juillet 1965).",
                ],
            ),
        )
        self.note(
            d,
            opened - 60,
            "14:00",
            "Versement de 500,00 € reçu. M. Gauthier demande un échéancier pour le solde.",
        )
        self.decision(
            d,
            opened - 62,
            "11:00",
            DecisionBody.MANAGER,
            "Échéancier accordé : 8 mensualités de 293,29 € en plus des appels de fonds "
            "courants. La procédure est suspendue tant qu'il est respecté.",
        )
        self.status(d, opened - 62, "11:05", DossierStatus.PAYMENT_PLAN)
        self.document(
            d,
            opened - 62,
            "11:10",
            kind=DocumentKind.OTHER,
            filename="echeancier-lot-12.pdf",
            title="Échéancier signé",
            content=make_pdf(
                "Échéancier de paiement — lot 12",
                [
                    "Solde restant dû : 2 346,30 €.",
                    *(
                        f"Mensualité {n} : 293,29 € au "
                        f"{french_date(self.day(opened - 62) + dt.timedelta(days=30 * n))}"
                        for n in range(1, 9)
                    ),
                    "Signé par M. Gauthier et le syndic.",
                ],
            ),
        )
        self.note(d, 28, "10:20", "Mensualités 1 et 2 reçues.", by="bernard")
        self.task(
            d,
            28,
            "10:25",
            "Contrôler le paiement de la mensualité 3",
            assignee="bernard",
            due_in=3,
        )

    def council_water(self, opened: int) -> None:
        d = self.open(
            "council_water",
            "tilleuls",
            opened,
            type=DossierType.COUNCIL_REQUEST,
            audience=Audience.COUNCIL,
            description=(
                "La présidente du conseil syndical s'étonne de la hausse de la facture d'eau "
                "générale et demande un contrôle."
            ),
            companies=("leak", "plumber"),
        )
        self.note(
            d,
            opened,
            "08:55",
            "Mail de Mme Roussel, présidente du conseil syndical : la facture d'eau du dernier "
            "semestre est en hausse de 38 % par rapport à l'an dernier. Le conseil demande une "
            "explication et un contrôle des compteurs.",
        )
        self.task(
            d,
            opened - 1,
            "09:30",
            "Comparer les relevés du compteur général sur trois ans",
            assignee="bernard",
            done=(opened - 8, "16:00"),
        )
        self.status(d, opened - 2, "10:00", DossierStatus.IN_PROGRESS)
        readings = ["mois;consommation_m3;moyenne_trois_ans_m3"]
        for months_ago in range(12, 0, -1):
            month = (self.today.month - months_ago - 1) % 12
            usual = 410 + (month in (5, 6, 7)) * 35
            extra = max(0, 5 - months_ago) * 48
            readings.append(f"{FRENCH_MONTHS[month]};{usual + extra};{usual}")
        self.document(
            d,
            opened - 8,
            "16:05",
            kind=DocumentKind.REPORT,
            filename="releves-compteur-general.csv",
            title="Relevés du compteur général (douze derniers mois)",
            content=("\n".join(readings) + "\n").encode("utf-8"),
            by="bernard",
        )
        self.note(
            d,
            opened - 9,
            "09:15",
            "Les relevés montrent une hausse continue de la consommation, y compris la nuit, "
            "depuis quatre mois : une fuite sur le réseau commun est probable.",
        )
        self.task(
            d,
            opened - 10,
            "09:20",
            "Faire contrôler le réseau enterré par Détect'Eau Rhône",
            assignee="fontaine",
            done=(25, "11:00"),
        )
        self.note(
            d,
            25,
            "11:10",
            "Fuite trouvée sur la canalisation enterrée entre le compteur général et le "
            "bâtiment sur cour ; réparée le jour même par Plomberie Saint-Jean.",
        )
        content, _total = self.invoice_pdf(
            "plumber",
            f"PSJ-{self.day(24).year}-1004",
            24,
            self.client_line("tilleuls"),
            [
                ("Terrassement et ouverture de la tranchée", Decimal("620")),
                ("Remplacement de 2 m de canalisation PEHD et raccords", Decimal("385")),
                ("Remblaiement et remise en état", Decimal("290")),
            ],
        )
        self.document(
            d,
            24,
            "09:00",
            kind=DocumentKind.INVOICE,
            filename="facture-canalisation-enterree.pdf",
            title="Facture de Plomberie Saint-Jean — canalisation enterrée",
            content=content,
        )
        self.note(
            d,
            23,
            "14:30",
            "Demande de dégrèvement : joindre la facture de réparation et l'attestation du "
            "plombier ; suivi par la comptabilité.",
            audience=Audience.INTERNAL,
        )
        self.status(
            d,
            22,
            "10:00",
            DossierStatus.ANSWERED,
            "Réponse adressée au conseil syndical : fuite trouvée et réparée ; demande de "
            "dégrèvement adressée au service de l'eau.",
        )
        self.decision(
            d,
            20,
            "20:15",
            DecisionBody.COUNCIL,
            "Le conseil syndical remercie le cabinet et demande un relevé mensuel du compteur "
            "général pendant six mois.",
            by="roussel",
        )
        self.task(
            d,
            20,
            "20:20",
            "Relever le compteur général (chaque mois pendant six mois)",
            assignee="bernard",
            due_in=8,
        )

    def annual_meeting(self, opened: int) -> None:
        d = self.open(
            "annual_meeting",
            "tilleuls",
            opened,
            type=DossierType.GENERAL_MEETING,
            audience=Audience.OWNERS,
            description=(
                "Assemblée générale ordinaire annuelle : approbation des comptes et budget."
            ),
        )
        self.task(
            d,
            opened,
            "10:00",
            "Arrêter les comptes de l'exercice",
            audience=Audience.INTERNAL,
            assignee="fontaine",
            done=(20, "18:00"),
        )
        self.note(
            d,
            opened - 5,
            "09:00",
            "Les copropriétaires qui souhaitent inscrire une question à l'ordre du jour peuvent "
            f"l'adresser au cabinet, par lettre recommandée ou à {DEMO_SHARED_MAILBOX}, avant le "
            f"{french_date(self.due(10))}.",
        )
        self.task(
            d,
            opened - 7,
            "11:00",
            "Réunion préparatoire avec le conseil syndical",
            audience=Audience.COUNCIL,
            assignee="fontaine",
            done=(14, "20:30"),
        )
        self.document(
            d,
            14,
            "20:40",
            kind=DocumentKind.OTHER,
            filename="projet-ordre-du-jour-ag.pdf",
            title="Projet d'ordre du jour",
            content=make_pdf(
                "Projet d'ordre du jour — assemblée générale annuelle",
                [
                    "1. Approbation des comptes de l'exercice écoulé.",
                    "2. Quitus au syndic.",
                    "3. Budget prévisionnel de l'exercice à venir.",
                    "4. Mise en concurrence du contrat d'entretien de l'ascenseur.",
                    "5. Fonds de travaux : montant de la cotisation annuelle.",
                    "6. Questions diverses.",
                ],
            ),
            audience=Audience.COUNCIL,
        )
        self.note(
            d,
            14,
            "20:45",
            "Points demandés par le conseil syndical : contrat d'entretien de l'ascenseur, "
            "budget prévisionnel, relevés mensuels du compteur d'eau.",
            audience=Audience.COUNCIL,
        )
        self.note(
            d,
            7,
            "15:00",
            "Salle de la maison des associations pré-réservée ; attendre la confirmation de la "
            "date par la présidente du conseil syndical.",
            audience=Audience.INTERNAL,
            by="bernard",
        )
        self.task(
            d,
            7,
            "15:05",
            "Préparer le budget prévisionnel",
            audience=Audience.INTERNAL,
            assignee="fontaine",
            due_in=6,
        )
        self.task(
            d,
            7,
            "15:10",
            "Envoyer les convocations (au moins 21 jours avant l'assemblée)",
            assignee="bernard",
            due_in=9,
        )

    # Le Belvédère --------------------------------------------------------------------

    def storm_claim(self, opened: int) -> None:
        d = self.open(
            "storm_claim",
            "belvedere",
            opened,
            type=DossierType.CLAIM,
            audience=Audience.PARTIES,
            council_sees_parties=True,
            manager="moreau",
            description=(
                "Tuiles arrachées côté cour lors de la tempête ; infiltrations dans les lots 11 "
                "et 12 (5e étage). Sinistre déclaré à l'assureur de l'immeuble."
            ),
            lots=("11", "12"),
            companies=("insurer", "adjuster", "roofer"),
        )
        self.note(
            d,
            opened,
            "08:10",
            "Après la tempête de la nuit, plusieurs tuiles arrachées côté cour ; infiltrations "
            "signalées par M. Caron (lot 11) et Mme Renaud (lot 12).",
            by="moreau",
        )
        self.task(
            d,
            opened,
            "08:20",
            "Faire mettre la toiture hors d'eau (bâchage)",
            assignee="moreau",
            done=(opened - 1, "17:00"),
            by="moreau",
        )
        content, _total = self.invoice_pdf(
            "roofer",
            f"TDL-{self.day(opened - 1).year}-0388",
            opened - 1,
            self.client_line("belvedere"),
            [("Intervention d'urgence : bâchage de la toiture côté cour", Decimal("780"))],
        )
        self.document(
            d,
            opened - 1,
            "17:10",
            kind=DocumentKind.INVOICE,
            filename="facture-bachage-urgence.pdf",
            title="Facture de bâchage d'urgence — Toitures du Lyonnais",
            content=content,
            by="moreau",
        )
        self.note(
            d,
            opened - 1,
            "17:30",
            "Sinistre déclaré à la Mutuelle Rhodanienne d'Assurances (contrat multirisque "
            "immeuble).",
            by="moreau",
        )
        content, roof_total = self.quote_pdf(
            "roofer",
            f"TDL-D-{self.day(opened - 7).year}-0142",
            opened - 7,
            "belvedere",
            "Réfection de la couverture côté cour après tempête",
            [
                ("Échafaudage et protections", Decimal("2400")),
                ("Dépose et remplacement de 38 m² de tuiles", Decimal("6850")),
                ("Reprise des liteaux et de l'écran sous-toiture", Decimal("3120")),
                ("Zinguerie : remplacement de la gouttière côté cour", Decimal("1140")),
            ],
        )
        self.document(
            d,
            opened - 7,
            "11:00",
            kind=DocumentKind.QUOTE,
            filename="devis-couverture-belvedere.pdf",
            title=(
                f"Devis de réfection de couverture — Toitures du Lyonnais ({euros(roof_total)} TTC)"
            ),
            content=content,
            by="moreau",
        )
        self.status(
            d,
            opened - 10,
            "09:00",
            DossierStatus.ASSESSMENT,
            "Expert mandaté par l'assureur : Cabinet Expertises Bellecour.",
            by="moreau",
        )
        self.note(
            d,
            opened - 18,
            "16:00",
            "Expertise réalisée en présence de M. Vidal, président du conseil syndical. "
            "Dommages intérieurs des lots 11 et 12 constatés.",
            by="moreau",
        )
        self.note(
            d,
            opened - 19,
            "09:30",
            "Franchise du contrat : 1 500 €. L'expert envisage une vétusté d'environ 30 % sur la "
            "couverture : à discuter avec l'assureur.",
            audience=Audience.INTERNAL,
            by="moreau",
        )
        self.document(
            d,
            10,
            "14:00",
            kind=DocumentKind.REPORT,
            filename="rapport-expertise-tempete.pdf",
            title="Rapport d'expertise — Cabinet Expertises Bellecour",
            content=make_pdf(
                "Cabinet Expertises Bellecour — rapport d'expertise",
                [
                    *self.letterhead("adjuster"),
                    "Assuré : Syndicat des copropriétaires « Le Belvédère », 8 montée de la "
                    "Grande-Côte, 69001 Lyon.",
                    "Événement : tempête. Garantie : tempête, grêle, neige.",
                    f"Dommages à la couverture : {euros(roof_total)} TTC selon devis.",
                    "Dommages intérieurs : lots 11 et 12 (plafonds, peintures).",
                    "Vétusté retenue sur la couverture : 25 %. Franchise : 1 500,00 €.",
                    "Indemnité immédiate proposée : 9 420,00 €.",
                ],
            ),
            by="moreau",
        )
        self.decision(
            d,
            9,
            "19:00",
            DecisionBody.COUNCIL,
            "Le conseil syndical accepte la proposition d'indemnité et demande que la réfection "
            "de la couverture soit faite avant l'hiver.",
            by="vidal",
        )
        self.status(
            d,
            8,
            "10:00",
            DossierStatus.COMPENSATION,
            "Proposition d'indemnité de l'assureur : 9 420,00 € (vétusté et franchise déduites).",
            by="moreau",
        )
        self.task(
            d,
            8,
            "10:05",
            "Signer la lettre d'acceptation de l'indemnité",
            audience=Audience.INTERNAL,
            assignee="moreau",
            due_in=4,
            by="moreau",
        )
        self.task(
            d,
            8,
            "10:10",
            "Planifier la réfection de la couverture avec Toitures du Lyonnais",
            assignee="moreau",
            due_in=20,
            by="moreau",
        )

    def blocked_drain(self, opened: int) -> None:
        d = self.open(
            "blocked_drain",
            "belvedere",
            opened,
            type=DossierType.INCIDENT,
            audience=Audience.OWNERS,
            manager="moreau",
            description="Refoulement d'eaux usées dans le couloir des caves.",
            companies=("plumber",),
        )
        self.note(
            d,
            opened,
            "08:45",
            "Odeurs et refoulement dans le couloir des caves signalés par une copropriétaire.",
            by="moreau",
        )
        self.status(d, opened, "08:50", DossierStatus.CONTRACTOR_CALLED, by="moreau")
        self.note(
            d,
            opened - 1,
            "13:30",
            "Hydrocurage de la canalisation par Plomberie Saint-Jean : bouchon de lingettes. "
            "Rappel à tous : aucune lingette dans les WC, même « biodégradable ».",
            by="moreau",
        )
        self.status(d, opened - 1, "13:35", DossierStatus.RESOLVED, by="moreau")
        content, _total = self.invoice_pdf(
            "plumber",
            f"PSJ-{self.day(opened - 8).year}-0702",
            opened - 8,
            self.client_line("belvedere"),
            [("Hydrocurage de la canalisation d'eaux usées en cave", Decimal("420"))],
        )
        self.document(
            d,
            opened - 8,
            "10:00",
            kind=DocumentKind.INVOICE,
            filename="facture-hydrocurage.pdf",
            title="Facture d'hydrocurage — Plomberie Saint-Jean",
            content=content,
            by="moreau",
        )
        self.status(d, opened - 10, "09:00", DossierStatus.CLOSED, "Facture réglée.", by="moreau")

    # Le Clos des Canuts -----------------------------------------------------------------

    def garage_door(self, opened: int) -> None:
        d = self.open(
            "garage_door",
            "canuts",
            opened,
            type=DossierType.INCIDENT,
            audience=Audience.OWNERS,
            manager="moreau",
            description="Porte basculante du parking (cour, 2 rue d'Austerlitz) bloquée ouverte.",
            companies=("garage",),
        )
        self.note(
            d,
            opened,
            "07:50",
            "Porte basculante du parking bloquée en position ouverte : le parking n'est plus "
            "fermé. Dépannage demandé à Automatismes Portails Lyon.",
            by="moreau",
        )
        self.status(d, opened, "07:55", DossierStatus.CONTRACTOR_CALLED, by="moreau")
        self.note(
            d,
            opened - 1,
            "16:40",
            "Moteur remplacé provisoirement par un moteur de prêt ; la porte ferme de nouveau. "
            "Un devis de remplacement de la motorisation complète va être transmis.",
            by="moreau",
        )
        self.status(d, opened - 1, "16:45", DossierStatus.IN_PROGRESS, by="moreau")
        content, total = self.quote_pdf(
            "garage",
            f"APL-{self.day(opened - 3).year}-0219",
            opened - 3,
            "canuts",
            "Remplacement de la motorisation de la porte de parking",
            [
                ("Motorisation à chaîne pour porte basculante, pose comprise", Decimal("2150")),
                ("Armoire de commande et cellules de sécurité", Decimal("740")),
                ("Dix émetteurs", Decimal("275")),
            ],
            vat=Decimal("0.10"),
        )
        self.document(
            d,
            opened - 3,
            "09:30",
            kind=DocumentKind.QUOTE,
            filename="devis-motorisation-parking.pdf",
            title=f"Devis de motorisation — Automatismes Portails Lyon ({euros(total)} TTC)",
            content=content,
            audience=Audience.COUNCIL,
            by="moreau",
        )
        self.note(
            d,
            opened - 3,
            "09:35",
            "Montant inférieur au seuil de mise en concurrence voté par l'assemblée générale "
            "(5 000 € TTC) : l'accord du conseil syndical suffit.",
            audience=Audience.INTERNAL,
            by="moreau",
        )
        self.task(
            d,
            opened - 3,
            "09:40",
            "Obtenir l'accord du conseil syndical sur le devis",
            audience=Audience.COUNCIL,
            assignee="moreau",
            due_in=5,
            by="moreau",
        )

    def insurance_tender(self, opened: int) -> None:
        d = self.open(
            "insurance_tender",
            "canuts",
            opened,
            type=DossierType.COUNCIL_REQUEST,
            audience=Audience.COUNCIL,
            manager="moreau",
            description="Comparer le contrat multirisque immeuble, dont la prime augmente.",
            companies=("insurer",),
        )
        self.note(
            d,
            opened,
            "10:30",
            "Le conseil syndical souhaite mettre en concurrence le contrat multirisque "
            "immeuble, dont la prime augmente de 18 % à l'échéance.",
            by="moreau",
        )
        self.status(d, opened - 1, "09:00", DossierStatus.IN_PROGRESS, by="moreau")
        self.document(
            d,
            opened - 5,
            "14:00",
            kind=DocumentKind.INSURANCE_CONTRACT,
            filename="contrat-multirisque-canuts.pdf",
            title="Contrat multirisque immeuble — conditions particulières",
            content=make_pdf(
                "Mutuelle Rhodanienne d'Assurances — conditions particulières",
                [
                    *self.letterhead("insurer"),
                    "Souscripteur : Syndicat des copropriétaires « Le Clos des Canuts », "
                    "115 boulevard de la Croix-Rousse, 69004 Lyon.",
                    "Garanties : incendie, dégâts des eaux, tempête, responsabilité civile, "
                    "bris de glace, catastrophes naturelles.",
                    "Franchise générale : 500 €. Franchise dégâts des eaux : 800 €.",
                    "Prime annuelle actuelle : 4 860,00 € TTC ; à l'échéance : 5 735,00 € TTC.",
                ],
            ),
            by="moreau",
        )
        self.task(
            d,
            opened - 7,
            "11:00",
            "Consulter deux autres assureurs par l'intermédiaire du courtier",
            assignee="moreau",
            due_in=15,
            by="moreau",
        )
        self.note(
            d,
            10,
            "17:10",
            "Sinistralité de l'immeuble faible (un dégât des eaux en cinq ans) : argument à "
            "faire valoir auprès des assureurs consultés.",
            audience=Audience.INTERNAL,
            by="moreau",
        )


def demo_agency() -> Agency | None:
    """The demo agency, if it was loaded."""
    return Agency.objects.filter(name=DEMO_AGENCY_NAME).first()


def demo_dossier(key: str) -> Dossier:
    """One dossier of the demo agency by its key in `DEMO_DOSSIERS`."""
    return Dossier.objects.get(agency__name=DEMO_AGENCY_NAME, title=DEMO_DOSSIERS[key])


def _summary(agency: Agency, *, created: bool) -> DemoSummary:
    return DemoSummary(
        agency=agency,
        created=created,
        condominiums=Condominium.objects.filter(agency=agency).count(),
        lots=Lot.objects.filter(condominium__agency=agency).count(),
        persons=Person.objects.filter(agency=agency).count(),
        companies=Company.objects.filter(agency=agency).count(),
        dossiers=Dossier.objects.filter(agency=agency).count(),
        entries=TimelineEntry.objects.filter(dossier__agency=agency).count(),
        documents=Document.objects.filter(agency=agency).count(),
    )


@transaction.atomic
def demo_load(*, today: dt.date | None = None) -> DemoSummary:
    """Load the demo agency, its condominiums, contacts and dossiers.

    Idempotent: when the demo agency already exists nothing is written and the
    summary of what is there is returned (`created` is False). History is dated
    relative to `today` (the local date by default)."""
    existing = demo_agency()
    if existing is not None:
        return _summary(existing, created=False)
    builder = _DemoBuilder(today or timezone.localdate())
    agency = builder.build_directory()
    builder.condominium_documents()
    builder.tilleuls_space()
    builder.build_dossiers()
    audit_record(
        actor=builder.users["fontaine"],
        agency_id=agency.pk,
        action=AuditAction.IMPORTED,
        target=agency,
        summary="Données de démonstration chargées",
    )
    return _summary(agency, created=True)
