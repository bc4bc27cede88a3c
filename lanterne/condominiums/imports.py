"""CSV import of what an agency brings when it moves to Lanterne.

One service, `csv_import`, reads one file of one kind — condominiums, lots,
companies, persons or dossiers, imported in that order since each kind refers to
the previous ones — and writes it into one agency, all or nothing:

- the whole file is checked first, every row; the first problem does not stop
  the check, so the caller gets every problem of the file at once;
- if any row is wrong, `CsvImportError` is raised with a list of problems, one
  per line and per cause, in French (« Ligne 4 : le lot 27 n'existe pas dans la
  copropriété Les Tilleuls. »), and nothing is written;
- otherwise every row is written in one transaction.

What the file may look like (docs/csv-import.md is the user's reference):

- encoding: UTF-8 (with or without the BOM Excel writes) or Windows-1252 (what
  French accounting software and Excel's plain "CSV" export write);
- delimiter: `;` (French Excel) or `,`, detected from the header line;
- header names are case-, accent- and punctuation-insensitive and have aliases
  (« N° de lot », « numero », « Numéro » are the same column); a column the
  kind does not know is an error (a typo would otherwise lose data silently);
- dates: JJ/MM/AAAA (also with `-` or `.`) or AAAA-MM-JJ, a time after the
  date is ignored;
- lists inside a cell: free-text lists (addresses, nicknames, company names)
  are separated by `|` only, since their items may contain commas; lists of
  tokens that never contain a comma (e-mails, phones, lot numbers, mail
  domains) may also be separated by `,` or `;`;
- choice values (lot nature, company type, dossier type, status, audience,
  council role) accept the code, the French label and a few usual synonyms
  (« Dégât des eaux », « DDE », « water_damage »).

The tenant boundary: every lookup is filtered on the agency being imported
into; another agency's condominiums, persons or references are never read (an
e-mail address or a dossier reference another agency uses is not a duplicate).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.dossiers import policy
from lanterne.dossiers.choices import (
    DEFAULT_AUDIENCE,
    LIFECYCLES,
    Audience,
    DossierStatus,
    DossierType,
    initial_status,
)
from lanterne.dossiers.policy import Viewer

from .choices import CompanyKind, CouncilRole, LotKind
from .models import (
    Agency,
    Company,
    CompanyDomain,
    Condominium,
    CouncilMembership,
    Lot,
    Ownership,
    Person,
    PersonEmail,
)
from .services import person_add_email, validate_domain

# The largest file the staff page accepts (the command has no limit).
MAX_IMPORT_SIZE = 5 * 1024 * 1024
# Beyond this many problems the list is cut: the file is wrong as a whole.
MAX_PROBLEMS = 200

# List separators inside a cell (see the module docstring).
FREE_TEXT_LIST = "|"
TOKEN_LIST = "|,;"


class ImportKind(models.TextChoices):
    """What a file holds, in the order the files must be imported."""

    CONDOMINIUMS = "condominiums", gettext_lazy("Copropriétés")
    LOTS = "lots", gettext_lazy("Lots")
    COMPANIES = "companies", gettext_lazy("Entreprises (prestataires, assureurs, experts)")
    PERSONS = "persons", gettext_lazy("Personnes (copropriétaires, conseil syndical)")
    DOSSIERS = "dossiers", gettext_lazy("Dossiers en cours")


# --- Results and errors ------------------------------------------------------------


@dataclass(frozen=True)
class ImportProblem:
    """One reason to refuse the file: a line of the file (1 is the header line;
    None for the file as a whole) and a French message."""

    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("Ligne %(line)d : %(message)s") % {"line": self.line, "message": self.message}


class CsvImportError(Exception):
    """The file was refused and nothing was written; `problems` says why."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(self.messages))

    @property
    def messages(self) -> list[str]:
        """The problems as « Ligne N : … » sentences, in file order."""
        return [str(problem) for problem in self.problems]


def _count_label(key: str, count: int) -> str:
    """« 3 copropriétés », « 1 adresse e-mail »… for the import summary."""
    labels: dict[str, Callable[[int], str]] = {
        "condominiums": lambda n: ngettext("%(count)d copropriété", "%(count)d copropriétés", n),
        "lots": lambda n: ngettext("%(count)d lot", "%(count)d lots", n),
        "companies": lambda n: ngettext("%(count)d entreprise", "%(count)d entreprises", n),
        "domains": lambda n: ngettext(
            "%(count)d domaine de messagerie", "%(count)d domaines de messagerie", n
        ),
        "persons": lambda n: ngettext("%(count)d personne", "%(count)d personnes", n),
        "emails": lambda n: ngettext("%(count)d adresse e-mail", "%(count)d adresses e-mail", n),
        "ownerships": lambda n: ngettext(
            "%(count)d propriété de lot", "%(count)d propriétés de lots", n
        ),
        "council_seats": lambda n: ngettext(
            "%(count)d siège au conseil syndical", "%(count)d sièges au conseil syndical", n
        ),
        "dossiers": lambda n: ngettext("%(count)d dossier", "%(count)d dossiers", n),
    }
    return labels[key](count) % {"count": count}


@dataclass(frozen=True)
class ImportReport:
    """What a successful import created: `created` counts objects by kind
    (e.g. {"persons": 12, "emails": 14, "ownerships": 15, "council_seats": 3})."""

    kind: str
    rows: int
    created: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """« 12 personnes, 14 adresses e-mail, 15 propriétés de lots » (the first
        count always, the others when not zero)."""
        return ", ".join(
            _count_label(key, count)
            for index, (key, count) in enumerate(self.created.items())
            if count or index == 0
        )


# --- Columns -----------------------------------------------------------------------


def normalize(text: str) -> str:
    """Compare names the way a person reads them: no case, no accents, and any
    run of punctuation or spaces counts as one space (« N° de lot » → « n de lot »)."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@dataclass(frozen=True)
class Column:
    """A column of an import file.

    `header` is the name written in the documentation and the model files;
    `aliases` are other names accepted for it; `separators`, when set, make the
    cell a list split on any of these characters."""

    key: str
    header: str
    required: bool
    help: Any  # a lazy French string
    example: str
    aliases: tuple[str, ...] = ()
    separators: str = ""

    @property
    def names(self) -> set[str]:
        return {normalize(self.header), normalize(self.key), *map(normalize, self.aliases)}


CONDOMINIUM_COLUMN = Column(
    "condominium",
    "copropriété",
    True,
    gettext_lazy("Nom de la copropriété, tel qu'importé dans Lanterne."),
    "Les Tilleuls",
    aliases=("residence", "nom de la copropriété", "immeuble"),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    ImportKind.CONDOMINIUMS: (
        Column(
            "name",
            "nom",
            True,
            gettext_lazy("Nom de la copropriété, unique dans le cabinet."),
            "Les Tilleuls",
            aliases=("copropriété", "nom de la copropriété", "résidence"),
        ),
        Column(
            "address",
            "adresse",
            True,
            gettext_lazy("Adresse principale (numéro et rue)."),
            "12 rue des Tilleuls",
            aliases=("adresse principale",),
        ),
        Column(
            "postal_code",
            "code postal",
            False,
            gettext_lazy("Cinq chiffres ; le zéro initial effacé par Excel est rétabli."),
            "69003",
            aliases=("cp",),
        ),
        Column("city", "ville", False, gettext_lazy("Commune."), "Lyon", aliases=("commune",)),
        Column(
            "other_addresses",
            "autres adresses",
            False,
            gettext_lazy("Autres entrées de l'immeuble, séparées par « | »."),
            "3 rue Paul Bert|5 rue Paul Bert",
            separators=FREE_TEXT_LIST,
        ),
        Column(
            "nicknames",
            "surnoms",
            False,
            gettext_lazy("Noms employés dans les mails, séparés par « | »."),
            "Tilleuls|Résidence des Tilleuls",
            aliases=("noms usuels",),
            separators=FREE_TEXT_LIST,
        ),
        Column(
            "registry_number",
            "immatriculation",
            False,
            gettext_lazy("Numéro au registre national des copropriétés."),
            "AB1234567",
            aliases=("numéro d'immatriculation", "registre"),
        ),
    ),
    ImportKind.LOTS: (
        CONDOMINIUM_COLUMN,
        Column(
            "number",
            "numéro",
            True,
            gettext_lazy("Numéro du lot, unique dans la copropriété."),
            "12",
            aliases=("lot", "numéro de lot", "n° de lot", "n° lot", "no lot", "num lot"),
        ),
        Column(
            "kind",
            "nature",
            True,
            gettext_lazy("Appartement, Cave, Parking, Commerce, Bureau ou Autre."),
            "Appartement",
            aliases=("type", "type de lot", "nature du lot"),
        ),
        Column("floor", "étage", False, gettext_lazy("Étage."), "2", aliases=("niveau",)),
        Column("building", "bâtiment", False, gettext_lazy("Bâtiment."), "A", aliases=("bat",)),
        Column("staircase", "escalier", False, gettext_lazy("Escalier."), "1", aliases=("esc",)),
        Column(
            "shares",
            "tantièmes",
            False,
            gettext_lazy("Nombre entier (0 si vide)."),
            "125",
            aliases=("millièmes", "quote-part"),
        ),
    ),
    ImportKind.COMPANIES: (
        Column(
            "name",
            "nom",
            True,
            gettext_lazy("Nom de l'entreprise, unique dans le cabinet."),
            "Plomberie Durand",
            aliases=("raison sociale", "entreprise", "société"),
        ),
        Column(
            "kind",
            "type",
            True,
            gettext_lazy("Prestataire, Assureur, Expert ou Autre."),
            "Prestataire",
            aliases=("catégorie", "nature"),
        ),
        Column(
            "email",
            "e-mail",
            False,
            gettext_lazy("Adresse e-mail de contact."),
            "contact@plomberie-durand.fr",
            aliases=("mail", "courriel", "adresse e-mail"),
        ),
        Column(
            "phone",
            "téléphone",
            False,
            gettext_lazy("Numéro de téléphone."),
            "04 78 00 00 00",
            aliases=("tel",),
        ),
        Column("address", "adresse", False, gettext_lazy("Adresse postale."), "8 quai Perrache"),
        Column(
            "domains",
            "domaines",
            False,
            gettext_lazy(
                "Domaines de messagerie de l'entreprise (les mails qui en viennent lui "
                "sont attribués), séparés par « | » ou « , »."
            ),
            "plomberie-durand.fr",
            aliases=("domaine", "domaines de messagerie"),
            separators=TOKEN_LIST,
        ),
    ),
    ImportKind.PERSONS: (
        Column("last_name", "nom", True, gettext_lazy("Nom de famille."), "Martin"),
        Column("first_name", "prénom", False, gettext_lazy("Prénom."), "Sophie"),
        Column(
            "emails",
            "e-mails",
            False,
            gettext_lazy(
                "Adresses e-mail, séparées par « | » ou « , » ; la première est la "
                "principale. Une adresse n'appartient qu'à une personne du cabinet."
            ),
            "sophie.martin@exemple.fr",
            aliases=("e-mail", "mail", "mails", "courriel", "courriels", "adresses e-mail"),
            separators=TOKEN_LIST,
        ),
        Column(
            "phones",
            "téléphones",
            False,
            gettext_lazy("Numéros de téléphone, séparés par « | » ou « , »."),
            "06 12 34 56 78",
            aliases=("téléphone", "tel", "tels"),
            separators=TOKEN_LIST,
        ),
        Column(
            "postal_address",
            "adresse postale",
            False,
            gettext_lazy("Adresse postale."),
            "12 rue des Tilleuls, 69003 Lyon",
            aliases=("adresse",),
        ),
        Column(
            "condominium",
            "copropriété",
            False,
            gettext_lazy(
                "Copropriété des lots et du siège au conseil syndical ; obligatoire s'il y en a."
            ),
            "Les Tilleuls",
            aliases=CONDOMINIUM_COLUMN.aliases,
        ),
        Column(
            "lots",
            "lots",
            False,
            gettext_lazy(
                "Numéros des lots possédés dans la copropriété, séparés par « | » ou « , »."
            ),
            "12|31",
            aliases=("numéros de lots", "lot"),
            separators=TOKEN_LIST,
        ),
        Column(
            "council_role",
            "conseil syndical",
            False,
            gettext_lazy("Vide, « Membre » ou « Président(e) »."),
            "Membre",
            aliases=("rôle au conseil", "rôle au conseil syndical", "cs"),
        ),
        Column(
            "company",
            "entreprise",
            False,
            gettext_lazy("Entreprise dont la personne est le contact (déjà importée)."),
            "",
            aliases=("société",),
        ),
    ),
    ImportKind.DOSSIERS: (
        Column(
            "reference",
            "référence",
            True,
            gettext_lazy("Référence du logiciel précédent, gardée telle quelle (40 caractères)."),
            "DOS-1041",
            aliases=("ref", "référence du dossier", "numéro de dossier", "n° de dossier"),
        ),
        CONDOMINIUM_COLUMN,
        Column(
            "title",
            "titre",
            True,
            gettext_lazy("Titre du dossier."),
            "Fuite au plafond du lot 12",
            aliases=("objet", "intitulé"),
        ),
        Column(
            "type",
            "type",
            True,
            gettext_lazy(
                "Dégât des eaux, Travaux, Incident, Sinistre, Impayés, Assemblée générale, "
                "Demande du conseil syndical ou Autre."
            ),
            "Dégât des eaux",
            aliases=("type de dossier", "nature"),
        ),
        Column(
            "status",
            "statut",
            False,
            gettext_lazy("Statut propre au type de dossier ; vide : le premier statut du type."),
            "Recherche de fuite",
            aliases=("état",),
        ),
        Column(
            "opened_on",
            "ouvert le",
            True,
            gettext_lazy("Date d'ouverture, JJ/MM/AAAA ou AAAA-MM-JJ."),
            "03/02/2025",
            aliases=("date d'ouverture", "ouverture", "date"),
        ),
        Column(
            "lots",
            "lots",
            False,
            gettext_lazy("Numéros des lots concernés, séparés par « | » ou « , »."),
            "12",
            aliases=("lots concernés",),
            separators=TOKEN_LIST,
        ),
        Column(
            "persons",
            "personnes",
            False,
            gettext_lazy("Adresses e-mail des personnes concernées, séparées par « | » ou « , »."),
            "sophie.martin@exemple.fr",
            aliases=("personnes concernées",),
            separators=TOKEN_LIST,
        ),
        Column(
            "companies",
            "entreprises",
            False,
            gettext_lazy("Noms des entreprises concernées, séparés par « | »."),
            "Plomberie Durand",
            aliases=("entreprises concernées",),
            separators=FREE_TEXT_LIST,
        ),
        Column(
            "audience",
            "visibilité",
            False,
            gettext_lazy(
                "Interne au cabinet, Conseil syndical, Tous les copropriétaires ou "
                "Personnes concernées ; vide : selon le type de dossier."
            ),
            "Personnes concernées",
        ),
        Column("description", "description", False, gettext_lazy("Description."), ""),
        Column(
            "manager",
            "gestionnaire",
            False,
            gettext_lazy("Adresse e-mail du gestionnaire du dossier, membre du cabinet."),
            "",
        ),
    ),
}


def example_csv(kind: str) -> str:
    """A model file of `kind`: the header line and one example row, `;`-separated."""
    columns = COLUMNS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.header for column in columns])
    writer.writerow([column.example for column in columns])
    return buffer.getvalue()


# --- Choice values -----------------------------------------------------------------


def _choice_map(
    choices: type[models.TextChoices], synonyms: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Normalized code, French label, parts of a « A / B » label and synonyms → code."""
    mapping: dict[str, str] = {}
    with translation.override("fr"):
        for value, label in choices.choices:
            mapping[normalize(value)] = value
            mapping[normalize(str(label))] = value
            for part in str(label).split("/"):
                mapping.setdefault(normalize(part), value)
    for word, value in synonyms:
        mapping[normalize(word)] = value
    return mapping


LOT_KIND_SYNONYMS = (
    ("appart", LotKind.FLAT),
    ("appt", LotKind.FLAT),
    ("logement", LotKind.FLAT),
    ("studio", LotKind.FLAT),
    ("garage", LotKind.PARKING),
    ("box", LotKind.PARKING),
    ("stationnement", LotKind.PARKING),
    ("place de parking", LotKind.PARKING),
    ("local commercial", LotKind.SHOP),
    ("boutique", LotKind.SHOP),
    ("bureaux", LotKind.OFFICE),
)
COMPANY_KIND_SYNONYMS = (
    ("entreprise", CompanyKind.CONTRACTOR),
    ("fournisseur", CompanyKind.CONTRACTOR),
    ("artisan", CompanyKind.CONTRACTOR),
    ("assurance", CompanyKind.INSURER),
    ("compagnie d'assurance", CompanyKind.INSURER),
    ("expert d'assurance", CompanyKind.ADJUSTER),
    ("cabinet d'expertise", CompanyKind.ADJUSTER),
)
DOSSIER_TYPE_SYNONYMS = (
    ("DDE", DossierType.WATER_DAMAGE),
    ("recherche de fuite", DossierType.WATER_DAMAGE),
    ("panne", DossierType.INCIDENT),
    ("AG", DossierType.GENERAL_MEETING),
    ("impayé", DossierType.ARREARS),
    ("recouvrement", DossierType.ARREARS),
    ("demande du CS", DossierType.COUNCIL_REQUEST),
)
STATUS_SYNONYMS = (
    ("devis", DossierStatus.QUOTES),
    ("PV envoyé", DossierStatus.MINUTES_SENT),
)
AUDIENCE_SYNONYMS = (
    ("interne", Audience.INTERNAL),
    ("cabinet", Audience.INTERNAL),
    ("CS", Audience.COUNCIL),
    ("copropriétaires", Audience.OWNERS),
    ("tous", Audience.OWNERS),
    ("parties", Audience.PARTIES),
)
COUNCIL_ROLE_SYNONYMS = (
    ("membre", CouncilRole.MEMBER),
    ("membre du CS", CouncilRole.MEMBER),
    ("membre du conseil", CouncilRole.MEMBER),
    ("président", CouncilRole.CHAIR),
    ("présidente", CouncilRole.CHAIR),
    ("président du CS", CouncilRole.CHAIR),
    ("présidente du CS", CouncilRole.CHAIR),
    ("président du conseil syndical", CouncilRole.CHAIR),
    ("présidente du conseil syndical", CouncilRole.CHAIR),
)


def _labels(choices: type[models.TextChoices], values: Iterable[str] | None = None) -> str:
    """« Appartement, Cave, … »: the labels a message suggests."""
    wanted = list(values) if values is not None else list(choices.values)
    return ", ".join(str(choices(value).label) for value in wanted)


# --- Reading the file --------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (BOM or not), else Windows-1252 (not when the file
    starts with a UTF-8 BOM: it then mixes encodings)."""
    encodings = ("utf-8-sig",) if data.startswith(codecs.BOM_UTF8) else ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvImportError(
        [
            ImportProblem(
                None,
                _("Le fichier est illisible : enregistrez-le en CSV UTF-8 ou en CSV Windows-1252."),
            )
        ]
    )


def _detect_delimiter(header_line: str, names: set[str]) -> str:
    """`;` or `,`: the one that splits the header into the most known columns."""

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        return (sum(normalize(cell) in names for cell in cells), len(cells))

    return max((";", ","), key=score)


# A line, or a row's cells, made only of these is blank (Excel writes `;;;` lines).
BLANK = ' \t\r\n;,"'


@dataclass(frozen=True)
class _Table:
    header_line: int
    header: list[str]
    rows: list[tuple[int, list[str]]]


def _read_table(text: str, names: set[str]) -> _Table:
    """Split the text into a header and data rows, each with its first line number.
    Blank lines are skipped (they keep their line numbers)."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise CsvImportError([ImportProblem(None, _("Le fichier est vide."))])
    # The header is the first line with a name in it (not only separators).
    first_line = next((line for line in io.StringIO(text, newline="") if line.strip(BLANK)), "")
    delimiter = _detect_delimiter(first_line.strip("\r\n"), names)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: tuple[int, list[str]] | None = None
    rows: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise CsvImportError(
                [ImportProblem(start, _("ligne illisible (caractère interdit ou guillemets)."))]
            ) from None
        if not any(cell.strip(BLANK) for cell in record):
            continue
        if header is None:
            header = (start, record)
        else:
            rows.append((start, record))
    if header is None:
        raise CsvImportError([ImportProblem(None, _("Le fichier est vide."))])
    return _Table(header_line=header[0], header=header[1], rows=rows)


def _map_header(
    table: _Table, columns: tuple[Column, ...], problems: list[ImportProblem]
) -> list[Column | None]:
    """The column of each header cell (None for an unnamed one); records the
    unknown, repeated and missing columns."""
    by_name = {name: column for column in columns for name in column.names}
    mapped: list[Column | None] = []
    seen: set[str] = set()
    line = table.header_line
    for cell in table.header:
        name = normalize(cell)
        if not name:
            mapped.append(None)
            continue
        column = by_name.get(name)
        if column is None:
            problems.append(
                ImportProblem(
                    line,
                    _("colonne inconnue « %(name)s » (colonnes possibles : %(known)s).")
                    % {"name": cell.strip(), "known": ", ".join(c.header for c in columns)},
                )
            )
        elif column.key in seen:
            problems.append(
                ImportProblem(
                    line,
                    _("la colonne « %(name)s » apparaît deux fois.") % {"name": column.header},
                )
            )
            column = None
        else:
            seen.add(column.key)
        mapped.append(column)
    for column in columns:
        if column.required and column.key not in seen:
            problems.append(
                ImportProblem(
                    line,
                    _("colonne obligatoire manquante : « %(name)s ».") % {"name": column.header},
                )
            )
    return mapped


# --- Values ------------------------------------------------------------------------

DATE_FR_RE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
DATE_ISO_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
TIME_SUFFIX_RE = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
PHONE_RE = re.compile(r"^\+?[0-9 .()/-]+$")
POSTAL_CODE_RE = re.compile(r"^\d{5}$")


@dataclass
class _Row:
    """One data row: its line, its values by column key, and its problems."""

    line: int
    values: dict[str, str]
    problems: list[ImportProblem] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.problems.append(ImportProblem(self.line, message))

    def get(self, column: Column) -> str:
        return self.values.get(column.key, "")

    def items(self, column: Column) -> list[str]:
        """The cell as a list (split on the column's separators), without empty items."""
        value = self.get(column)
        if not value:
            return []
        parts = re.split(f"[{re.escape(column.separators)}]", value)
        return [part.strip() for part in parts if part.strip()]


def _text(row: _Row, column: Column, max_length: int) -> str:
    value = row.get(column)
    if column.required and not value:
        row.fail(_("la colonne « %(name)s » est vide.") % {"name": column.header})
    elif len(value) > max_length:
        row.fail(
            _("« %(name)s » dépasse %(max)d caractères.")
            % {"name": column.header, "max": max_length}
        )
    return value[:max_length]


def _email(row: _Row, value: str) -> str | None:
    address = value.strip().lower()
    try:
        validate_email(address)
        if len(address) > 254:
            raise ValidationError("too long")
    except ValidationError:
        row.fail(_("l'adresse e-mail « %(address)s » n'est pas valide.") % {"address": value})
        return None
    return address


def _phone(row: _Row, value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    if not PHONE_RE.match(value) or not 6 <= len(digits) <= 15 or len(value) > 40:
        row.fail(_("le numéro de téléphone « %(phone)s » n'est pas valide.") % {"phone": value})
        return None
    if re.fullmatch(r"[1-9]\d{8}", value):
        # A French number whose leading zero a spreadsheet dropped.
        value = "0" + value
    return value


def _date(row: _Row, column: Column) -> dt.date | None:
    value = row.get(column)
    if not value:
        if column.required:
            row.fail(_("la colonne « %(name)s » est vide.") % {"name": column.header})
        return None
    plain = TIME_SUFFIX_RE.sub("", value)
    match = DATE_FR_RE.match(plain)
    if match:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = DATE_ISO_RE.match(plain)
        if not match:
            row.fail(
                _("la date « %(date)s » n'est pas au format JJ/MM/AAAA ou AAAA-MM-JJ.")
                % {"date": value}
            )
            return None
        year, month, day = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        row.fail(_("la date « %(date)s » n'existe pas.") % {"date": value})
        return None


def _choice(
    row: _Row,
    column: Column,
    mapping: dict[str, str],
    choices: type[models.TextChoices],
    unknown: str,
) -> str | None:
    """The code of a choice value; `unknown` is the message of a value that is
    none of the codes, labels and synonyms (with `%(value)s` and `%(labels)s`)."""
    value = row.get(column)
    if not value:
        if column.required:
            row.fail(_("la colonne « %(name)s » est vide.") % {"name": column.header})
        return None
    code = mapping.get(normalize(value))
    if code is None:
        row.fail(unknown % {"value": value, "labels": _labels(choices)})
    return code


# --- What the import may read: one agency's rows ---------------------------------


class _AgencyData:
    """The agency's existing rows the checks need, read once and only from this
    agency (the tenant boundary)."""

    def __init__(self, agency: Agency) -> None:
        self.agency = agency

    @cached_property
    def condominiums(self) -> list[Condominium]:
        return list(Condominium.objects.filter(agency=self.agency))

    @cached_property
    def lots(self) -> dict[tuple[int, str], Lot]:
        lots = Lot.objects.filter(condominium__agency=self.agency)
        return {(lot.condominium_id, lot.number.casefold()): lot for lot in lots}

    @cached_property
    def companies(self) -> list[Company]:
        return list(Company.objects.filter(agency=self.agency))

    @cached_property
    def domains(self) -> dict[str, Company]:
        rows = CompanyDomain.objects.filter(company__agency=self.agency).select_related("company")
        return {row.domain: row.company for row in rows}

    @cached_property
    def emails(self) -> dict[str, Person]:
        rows = PersonEmail.objects.filter(agency=self.agency).select_related("person")
        return {row.address: row.person for row in rows}

    def find_condominium(self, row: _Row, name: str) -> Condominium | None:
        """The condominium named `name` (exactly, else ignoring case and accents)."""
        found = _find_by_name(self.condominiums, name)
        if found is None:
            row.fail(
                _("la copropriété « %(name)s » n'existe pas dans le cabinet.") % {"name": name}
            )
        elif isinstance(found, list):
            row.fail(
                _("plusieurs copropriétés ressemblent à « %(name)s » : écrivez le nom exact.")
                % {"name": name}
            )
            return None
        return found

    def find_company(self, row: _Row, name: str) -> Company | None:
        found = _find_by_name(self.companies, name)
        if found is None:
            row.fail(_("l'entreprise « %(name)s » n'existe pas dans le cabinet.") % {"name": name})
        elif isinstance(found, list):
            row.fail(
                _("plusieurs entreprises ressemblent à « %(name)s » : écrivez le nom exact.")
                % {"name": name}
            )
            return None
        return found

    def find_lots(self, row: _Row, condominium: Condominium, numbers: list[str]) -> list[Lot]:
        lots: list[Lot] = []
        for number in numbers:
            lot = self.lots.get((condominium.pk, number.casefold()))
            if lot is None:
                row.fail(
                    _("le lot %(lot)s n'existe pas dans la copropriété %(condominium)s.")
                    % {"lot": number, "condominium": condominium.name}
                )
            elif lot not in lots:
                lots.append(lot)
        return lots


def _find_by_name(
    objects: list[Any], name: str
) -> Any | list[Any] | None:  # the object, several candidates, or None
    exact = [obj for obj in objects if obj.name == name]
    if exact:
        return exact[0]
    close = [obj for obj in objects if normalize(obj.name) == normalize(name)]
    if len(close) == 1:
        return close[0]
    return close or None


# --- One importer per kind ---------------------------------------------------------


class _Importer:
    """Checks every row of a file of one kind, then writes them.

    `check` returns the row's plan (the cleaned values and the objects it points
    at) and records problems on the row; `write` creates the objects of the plans
    and returns the counts of what it created."""

    kind: ClassVar[str]

    def __init__(self, *, agency: Agency, viewer: Viewer, actor: Any) -> None:
        self.agency = agency
        self.viewer = viewer
        self.actor = actor
        self.data = _AgencyData(agency)
        self.columns = {column.key: column for column in COLUMNS[self.kind]}

    def col(self, key: str) -> Column:
        return self.columns[key]

    def check(self, row: _Row) -> Any:
        raise NotImplementedError

    def write(self, plans: list[tuple[int, Any]]) -> dict[str, int]:
        raise NotImplementedError

    def audit(self, target: models.Model, summary: str) -> None:
        audit_record(
            actor=self.actor,
            agency_id=self.agency.pk,
            action=AuditAction.IMPORTED,
            target=target,
            summary=summary,
        )


class _CondominiumImporter(_Importer):
    kind = ImportKind.CONDOMINIUMS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: dict[str, int] = {}

    def check(self, row: _Row) -> dict[str, Any]:
        name = _text(row, self.col("name"), 200)
        if name:
            key = normalize(name)
            if any(normalize(c.name) == key for c in self.data.condominiums):
                row.fail(
                    _("la copropriété « %(name)s » existe déjà dans le cabinet.") % {"name": name}
                )
            elif key in self.seen:
                row.fail(
                    _("la copropriété « %(name)s » figure déjà à la ligne %(line)d.")
                    % {"name": name, "line": self.seen[key]}
                )
            else:
                self.seen[key] = row.line
        postal_code = re.sub(r"\s", "", row.get(self.col("postal_code")))
        if re.fullmatch(r"\d{4}", postal_code):
            # A postal code whose leading zero a spreadsheet dropped (01000 → 1000).
            postal_code = "0" + postal_code
        if postal_code and not POSTAL_CODE_RE.match(postal_code):
            row.fail(
                _("le code postal « %(code)s » doit compter cinq chiffres.")
                % {"code": row.get(self.col("postal_code"))}
            )
        other_addresses = row.items(self.col("other_addresses"))
        if any(len(address) > 300 for address in other_addresses):
            row.fail(_("une des autres adresses dépasse 300 caractères."))
        return {
            "name": name,
            "address": _text(row, self.col("address"), 300),
            "postal_code": postal_code,
            "city": _text(row, self.col("city"), 100),
            "other_addresses": "\n".join(other_addresses),
            "nicknames": "\n".join(row.items(self.col("nicknames"))),
            "registry_number": _text(row, self.col("registry_number"), 20),
        }

    def write(self, plans: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
        for _line, plan in plans:
            condominium = Condominium.objects.create(agency=self.agency, **plan)
            self.audit(condominium, f"Copropriété importée : {condominium.name}")
        return {"condominiums": len(plans)}


class _LotImporter(_Importer):
    kind = ImportKind.LOTS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: dict[tuple[int, str], int] = {}
        self.kinds = _choice_map(LotKind, LOT_KIND_SYNONYMS)

    def check(self, row: _Row) -> dict[str, Any] | None:
        condominium_name = _text(row, self.col("condominium"), 200)
        condominium = (
            self.data.find_condominium(row, condominium_name) if condominium_name else None
        )
        number = _text(row, self.col("number"), 20)
        if condominium is not None and number:
            key = (condominium.pk, number.casefold())
            if key in self.data.lots:
                row.fail(
                    _("le lot %(lot)s existe déjà dans la copropriété %(condominium)s.")
                    % {"lot": number, "condominium": condominium.name}
                )
            elif key in self.seen:
                row.fail(
                    _(
                        "le lot %(lot)s de la copropriété %(condominium)s "
                        "figure déjà à la ligne %(line)d."
                    )
                    % {"lot": number, "condominium": condominium.name, "line": self.seen[key]}
                )
            else:
                self.seen[key] = row.line
        kind = _choice(
            row,
            self.col("kind"),
            self.kinds,
            LotKind,
            _("nature de lot inconnue : « %(value)s » (valeurs possibles : %(labels)s)."),
        )
        shares_text = re.sub(r"\s", "", row.get(self.col("shares")))
        shares_text = re.sub(r"[,.]0+$", "", shares_text)
        shares = 0
        if shares_text:
            if shares_text.isdigit() and int(shares_text) <= 2_147_483_647:
                shares = int(shares_text)
            else:
                row.fail(
                    _("les tantièmes « %(shares)s » doivent être un nombre entier positif.")
                    % {"shares": row.get(self.col("shares"))}
                )
        return {
            "condominium": condominium,
            "number": number,
            "kind": kind,
            "floor": _text(row, self.col("floor"), 20),
            "building": _text(row, self.col("building"), 50),
            "staircase": _text(row, self.col("staircase"), 50),
            "shares": shares,
        }

    def write(self, plans: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
        for _line, plan in plans:
            lot = Lot.objects.create(**plan)
            self.audit(lot, f"Lot importé : {lot}")
        return {"lots": len(plans)}


class _CompanyImporter(_Importer):
    kind = ImportKind.COMPANIES

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: dict[str, int] = {}
        self.seen_domains: dict[str, tuple[str, int]] = {}
        self.kinds = _choice_map(CompanyKind, COMPANY_KIND_SYNONYMS)

    def check(self, row: _Row) -> dict[str, Any]:
        name = _text(row, self.col("name"), 200)
        if name:
            key = normalize(name)
            if any(normalize(c.name) == key for c in self.data.companies):
                row.fail(
                    _("l'entreprise « %(name)s » existe déjà dans le cabinet.") % {"name": name}
                )
            elif key in self.seen:
                row.fail(
                    _("l'entreprise « %(name)s » figure déjà à la ligne %(line)d.")
                    % {"name": name, "line": self.seen[key]}
                )
            else:
                self.seen[key] = row.line
        kind = _choice(
            row,
            self.col("kind"),
            self.kinds,
            CompanyKind,
            _("type d'entreprise inconnu : « %(value)s » (valeurs possibles : %(labels)s)."),
        )
        email = row.get(self.col("email"))
        if email:
            email = _email(row, email) or ""
        phone = row.get(self.col("phone"))
        if phone:
            phone = _phone(row, phone) or ""
        domains: list[str] = []
        for value in row.items(self.col("domains")):
            try:
                domain = validate_domain(value.lstrip("@"))
            except ValidationError as error:
                row.fail(error.messages[0])
                continue
            if domain in domains:
                continue
            owner = self.data.domains.get(domain)
            if owner is not None:
                row.fail(
                    _("le domaine %(domain)s est déjà celui de l'entreprise « %(company)s ».")
                    % {"domain": domain, "company": owner.name}
                )
            elif domain in self.seen_domains:
                other, line = self.seen_domains[domain]
                row.fail(
                    _("le domaine %(domain)s est déjà celui de « %(company)s » (ligne %(line)d).")
                    % {"domain": domain, "company": other, "line": line}
                )
            else:
                self.seen_domains[domain] = (name, row.line)
            domains.append(domain)
        return {
            "name": name,
            "kind": kind,
            "email": email,
            "phone": phone,
            "address": _text(row, self.col("address"), 300),
            "domains": domains,
        }

    def write(self, plans: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
        domain_count = 0
        for _line, plan in plans:
            domains = plan.pop("domains")
            company = Company.objects.create(agency=self.agency, **plan)
            for domain in domains:
                CompanyDomain.objects.create(company=company, domain=domain)
            domain_count += len(domains)
            self.audit(company, f"Entreprise importée : {company.name}")
        return {"companies": len(plans), "domains": domain_count}


class _PersonImporter(_Importer):
    kind = ImportKind.PERSONS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen_emails: dict[str, int] = {}
        self.roles = _choice_map(CouncilRole, COUNCIL_ROLE_SYNONYMS)

    def check(self, row: _Row) -> dict[str, Any]:
        emails: list[str] = []
        for value in row.items(self.col("emails")):
            address = _email(row, value)
            if address is None or address in emails:
                continue
            owner = self.data.emails.get(address)
            if owner is not None:
                row.fail(
                    _("l'adresse %(address)s appartient déjà à %(person)s dans le cabinet.")
                    % {"address": address, "person": owner.full_name}
                )
            elif address in self.seen_emails:
                row.fail(
                    _("l'adresse %(address)s figure déjà à la ligne %(line)d.")
                    % {"address": address, "line": self.seen_emails[address]}
                )
            else:
                self.seen_emails[address] = row.line
            emails.append(address)
        phones = [
            phone for phone in (_phone(row, v) for v in row.items(self.col("phones"))) if phone
        ]
        lot_numbers = row.items(self.col("lots"))
        role = _choice(
            row,
            self.col("council_role"),
            self.roles,
            CouncilRole,
            _("rôle au conseil inconnu : « %(value)s » (valeurs possibles : %(labels)s)."),
        )
        condominium_name = row.get(self.col("condominium"))
        condominium = None
        lots: list[Lot] = []
        if condominium_name:
            condominium = self.data.find_condominium(row, condominium_name)
            if condominium is not None:
                lots = self.data.find_lots(row, condominium, lot_numbers)
        elif lot_numbers or role:
            row.fail(_("indiquez la copropriété des lots ou du siège au conseil syndical."))
        company_name = row.get(self.col("company"))
        company = self.data.find_company(row, company_name) if company_name else None
        return {
            "last_name": _text(row, self.col("last_name"), 100),
            "first_name": _text(row, self.col("first_name"), 100),
            "postal_address": _text(row, self.col("postal_address"), 300),
            "phones": phones,
            "company": company,
            "emails": emails,
            "lots": lots,
            "condominium": condominium,
            "role": role,
        }

    def write(self, plans: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
        counts = {"persons": 0, "emails": 0, "ownerships": 0, "council_seats": 0}
        for line, plan in plans:
            person = Person.objects.create(
                agency=self.agency,
                last_name=plan["last_name"],
                first_name=plan["first_name"],
                postal_address=plan["postal_address"],
                phones=plan["phones"],
                company=plan["company"],
            )
            for index, address in enumerate(plan["emails"]):
                try:
                    person_add_email(
                        person=person, address=address, primary=index == 0, actor=self.actor
                    )
                except ValidationError as error:
                    raise CsvImportError(
                        [ImportProblem(line, message) for message in error.messages]
                    ) from error
            for lot in plan["lots"]:
                Ownership.objects.create(person=person, lot=lot)
            if plan["role"]:
                CouncilMembership.objects.create(
                    person=person, condominium=plan["condominium"], role=plan["role"]
                )
                counts["council_seats"] += 1
            self.audit(person, f"Personne importée : {person.full_name}")
            counts["persons"] += 1
            counts["emails"] += len(plan["emails"])
            counts["ownerships"] += len(plan["lots"])
        return counts


class _DossierImporter(_Importer):
    kind = ImportKind.DOSSIERS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: dict[str, int] = {}
        self.types = _choice_map(DossierType, DOSSIER_TYPE_SYNONYMS)
        self.statuses = _choice_map(DossierStatus, STATUS_SYNONYMS)
        self.audiences = _choice_map(Audience, AUDIENCE_SYNONYMS)

    @cached_property
    def existing_references(self) -> set[str]:
        from lanterne.dossiers.models import Dossier

        return set(Dossier.objects.filter(agency=self.agency).values_list("reference", flat=True))

    def check(self, row: _Row) -> dict[str, Any]:
        reference = _text(row, self.col("reference"), 40)
        if reference:
            if reference in self.existing_references:
                row.fail(
                    _("la référence %(reference)s existe déjà dans le cabinet.")
                    % {"reference": reference}
                )
            elif reference in self.seen:
                row.fail(
                    _("la référence %(reference)s figure déjà à la ligne %(line)d.")
                    % {"reference": reference, "line": self.seen[reference]}
                )
            else:
                self.seen[reference] = row.line
        condominium_name = _text(row, self.col("condominium"), 200)
        condominium = (
            self.data.find_condominium(row, condominium_name) if condominium_name else None
        )
        title = _text(row, self.col("title"), 200)
        dossier_type = _choice(
            row,
            self.col("type"),
            self.types,
            DossierType,
            _("type de dossier inconnu : « %(value)s » (valeurs possibles : %(labels)s)."),
        )
        status = _choice(
            row,
            self.col("status"),
            self.statuses,
            DossierStatus,
            _("statut inconnu : « %(value)s » (valeurs possibles : %(labels)s)."),
        )
        if dossier_type and status:
            open_statuses = [s for s in LIFECYCLES[dossier_type] if s != DossierStatus.CLOSED]
            if status == DossierStatus.CLOSED:
                row.fail(_("le dossier est clos : l'import ne reprend que les dossiers en cours."))
            elif status not in open_statuses:
                row.fail(
                    _(
                        "le statut « %(status)s » ne s'applique pas à un dossier « %(type)s » "
                        "(statuts possibles : %(statuses)s)."
                    )
                    % {
                        "status": DossierStatus(status).label,
                        "type": DossierType(dossier_type).label,
                        "statuses": _labels(DossierStatus, open_statuses),
                    }
                )
        opened_on = _date(row, self.col("opened_on"))
        if opened_on is not None and opened_on > timezone.localdate():
            row.fail(
                _("la date d'ouverture %(date)s est dans le futur.")
                % {"date": opened_on.strftime("%d/%m/%Y")}
            )
        audience = _choice(
            row,
            self.col("audience"),
            self.audiences,
            Audience,
            _("visibilité inconnue : « %(value)s » (valeurs possibles : %(labels)s)."),
        )
        lots: list[Lot] = []
        if condominium is not None:
            lots = self.data.find_lots(row, condominium, row.items(self.col("lots")))
        persons: list[Person] = []
        for value in row.items(self.col("persons")):
            address = _email(row, value)
            if address is None:
                continue
            person = self.data.emails.get(address)
            if person is None:
                row.fail(
                    _("aucune personne du cabinet n'a l'adresse %(address)s.")
                    % {"address": address}
                )
            elif person.staff_role:
                row.fail(
                    _(
                        "%(address)s est l'adresse d'un membre du cabinet, "
                        "pas d'une personne concernée."
                    )
                    % {"address": address}
                )
            elif person not in persons:
                persons.append(person)
        companies: list[Company] = []
        for name in row.items(self.col("companies")):
            company = self.data.find_company(row, name)
            if company is not None and company not in companies:
                companies.append(company)
        manager = None
        manager_email = row.get(self.col("manager"))
        if manager_email:
            address = _email(row, manager_email)
            manager = self.data.emails.get(address) if address else None
            if address and (manager is None or not manager.staff_role):
                row.fail(
                    _("le gestionnaire %(address)s n'est pas un membre du cabinet.")
                    % {"address": address}
                )
                manager = None
        return {
            "reference": reference,
            "condominium": condominium,
            "title": title,
            "type": dossier_type,
            "status": status or (initial_status(dossier_type) if dossier_type else None),
            "opened_on": opened_on,
            "audience": audience or (DEFAULT_AUDIENCE[dossier_type] if dossier_type else None),
            "description": row.get(self.col("description")),
            "manager": manager,
            "party_lots": lots,
            "party_persons": persons,
            "party_companies": companies,
        }

    def write(self, plans: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
        from lanterne.dossiers.services import dossier_open

        for line, plan in plans:
            try:
                dossier_open(viewer=self.viewer, actor=self.actor, **plan)
            except ValidationError as error:
                raise CsvImportError(
                    [ImportProblem(line, message) for message in error.messages]
                ) from error
        return {"dossiers": len(plans)}


IMPORTERS: dict[str, type[_Importer]] = {
    importer.kind: importer
    for importer in (
        _CondominiumImporter,
        _LotImporter,
        _CompanyImporter,
        _PersonImporter,
        _DossierImporter,
    )
}


# --- The service -------------------------------------------------------------------


def _limited(problems: list[ImportProblem]) -> list[ImportProblem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [
        *problems[:MAX_PROBLEMS],
        ImportProblem(
            None,
            ngettext("… et %(count)d autre erreur.", "… et %(count)d autres erreurs.", rest)
            % {"count": rest},
        ),
    ]


def csv_import(
    *, viewer: Viewer, actor: Any, agency: Agency, kind: str, data: bytes
) -> ImportReport:
    """Import a CSV file of `kind` (an `ImportKind`) into `agency`, all or nothing.

    Raises PermissionDenied unless `viewer` may import into the agency (managers
    only), and CsvImportError, with every problem of the file, if any row is
    wrong; nothing is written then. Returns the counts of what was created."""
    if not policy.may_import(viewer, agency.pk):
        raise PermissionDenied(
            _("Seuls les gestionnaires du cabinet peuvent importer des données.")
        )
    if kind not in IMPORTERS:
        raise ValueError(f"Unknown import kind: {kind!r}")
    columns = COLUMNS[kind]
    table = _read_table(decode(data), set().union(*(column.names for column in columns)))
    problems: list[ImportProblem] = []
    header = _map_header(table, columns, problems)
    if problems:
        raise CsvImportError(problems)
    if not table.rows:
        raise CsvImportError(
            [
                ImportProblem(
                    None, _("Le fichier ne contient que la ligne d'en-tête, aucune donnée.")
                )
            ]
        )
    with transaction.atomic():
        importer = IMPORTERS[kind](agency=agency, viewer=viewer, actor=actor)
        plans: list[tuple[int, Any]] = []
        # Cells after the last named column may be missing (trailing separators).
        needed = max(index for index, column in enumerate(header) if column is not None) + 1
        for line, cells in table.rows:
            extra = cells[len(header) :]
            if len(cells) < needed or any(cell.strip() for cell in extra):
                problems.append(
                    ImportProblem(
                        line,
                        _(
                            "%(found)d valeurs au lieu de %(expected)d : vérifiez le "
                            "séparateur (« ; » ou « , ») et les guillemets."
                        )
                        % {"found": len(cells), "expected": len(header)},
                    )
                )
                continue
            values = {
                column.key: cell.strip()
                for column, cell in zip(header, cells, strict=False)
                if column is not None
            }
            row = _Row(line=line, values=values)
            plan = importer.check(row)
            problems.extend(row.problems)
            if not row.problems:
                plans.append((line, plan))
        if problems:
            raise CsvImportError(_limited(problems))
        created = importer.write(plans)
        audit_record(
            actor=actor,
            agency_id=agency.pk,
            action=AuditAction.IMPORTED,
            target=agency,
            summary=f"Import CSV ({kind}) : {len(plans)} lignes",
            changes={"kind": kind, "created": created},
        )
    return ImportReport(kind=kind, rows=len(plans), created=created)
