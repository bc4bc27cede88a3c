"""The scale data generator (`lanterne generate-scale-data`): one agency the
size of a large syndic — 500 condominiums, 20,000 lots, 30,000 persons,
20,000 dossiers and 1,000,000 mails by default — to measure pages, search
and load against (benchmarks/README.md).

It is not the demo (`lanterne.core.demo`): the demo goes through the real
services and the mail pipeline, one object at a time, which is right for a
hundred mails and would take days for a million. This generator writes rows
in bulk — PostgreSQL's COPY, SQLite's executemany — in chunks of bounded
size, with ids it allocates itself, and computes in Python what the
services would have computed (a mail's audience and review state, its
redaction spans, its search texts). What it writes is what the app reads:

- every `Message` has its `RawMessage` (sha256, size) and one `Delivery`,
  and its raw bytes are written to the raw store as a compact `.eml` (the
  headers and the text body; without fsync: the data can be regenerated).
  Attachments are `Attachment` rows pointing at a small pool of blobs (PDF
  quotes and invoices, photos) written once: the `.eml` does not carry them,
  so `reprocess-mail` would drop those rows — a documented choice that keeps
  the store at a few GB;
- threads (`Thread`, one `ThreadLink` per Message-ID) shaped like a real
  mailbox's: most conversations have one to five mails, a long tail up to a
  hundred; replies quote the history (capped) and carry In-Reply-To and
  References;
- most mail is filed into dossiers, with a timeline entry, a filing method
  and reason, and a publication state: published to an audience (owners,
  parties, council) with its redaction spans computed, kept internal, or
  pending review (recent mail); some waits in triage with stored
  suggestions, some is machine mail (auto-replies, bounces, newsletters),
  some was set aside as not dossier-related;
- dossiers have their parties, status changes, notes, tasks and decisions,
  each with its timeline entry; one « big » dossier has exactly
  `BIG_DOSSIER_ENTRIES` entries (mail, notes, tasks, decisions mixed);
- the search index (`SearchDocument`) of everything written, built in SQL:
  on PostgreSQL the rows go through a temporary table and one
  INSERT … SELECT per chunk computes their `tsvector`s with `to_tsvector`
  (the GIN indexes are dropped during the load and rebuilt once at the end);
  on SQLite the FTS5 triggers index the inserted rows.

Logins (staff, co-owners, a council chair) share one known password
(`SCALE_PASSWORD`), hashed once: benchmarks log in with them.

Running it again into a database that holds the scale agency is refused
unless `replace=True`, which deletes that agency first."""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import itertools
import json
import math
import os
import queue
import random
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection, models, transaction
from django.utils import timezone

from lanterne.accounts.models import User
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
    PersonEmail,
)
from lanterne.core.demo import make_pdf
from lanterne.dossiers.choices import (
    DEFAULT_AUDIENCE,
    LIFECYCLES,
    Audience,
    DecisionBody,
    DossierStatus,
    DossierType,
    EntryEvent,
    EntryKind,
    TaskStatus,
)
from lanterne.dossiers.models import (
    Decision,
    Dossier,
    DossierSequence,
    Note,
    StatusChange,
    Task,
    TimelineEntry,
)
from lanterne.dossiers.policy import Viewer
from lanterne.mail.choices import Direction, RawState, Review, SourceKind
from lanterne.mail.models import (
    Attachment,
    Delivery,
    FilingMethod,
    MailSource,
    Message,
    RawMessage,
    Thread,
    ThreadLink,
)
from lanterne.mail.publication import audience_within, message_texts_for
from lanterne.mail.redaction import personal_data_spans
from lanterne.mail.storage import blob_name
from lanterne.mail.threads import normalize_subject
from lanterne.search import backends
from lanterne.search.choices import SearchKind
from lanterne.search.models import SearchDocument

__all__ = [
    "BIG_DOSSIER_ENTRIES",
    "SCALE_AGENCY_NAME",
    "SCALE_PASSWORD",
    "ScaleDataExistsError",
    "ScaleSize",
    "ScaleSummary",
    "delete_scale_agency",
    "scale_generate",
]

SCALE_AGENCY_NAME = "Cabinet Grande Échelle"
SCALE_MAIL_DOMAIN = "grande-echelle.fr"
SCALE_PASSWORD = "Lanterne-echelle-2026"
LOGIN_DOMAIN = "echelle.example"
# The big dossier: its timeline, by kind (2,000 entries).
BIG_DOSSIER_MIX = {"message": 1500, "note": 250, "task": 150, "decision": 100}
BIG_DOSSIER_ENTRIES = sum(BIG_DOSSIER_MIX.values())
# The co-owners with a login (the load test's 100 browsing co-owners); the
# first `BIG_DOSSIER_PARTIES` of them are parties to the big dossier, the
# first `BIG_CONDOMINIUM_OWNERS` own a lot in its condominium.
COOWNER_LOGINS = 100
BIG_DOSSIER_PARTIES = 10
BIG_CONDOMINIUM_OWNERS = 40
STAFF = (
    ("Camille", "Roche", StaffRole.MANAGER),
    ("Antoine", "Vidal", StaffRole.MANAGER),
    ("Léa", "Marchand", StaffRole.MANAGER),
    ("Hugo", "Besson", StaffRole.ASSISTANT),
    ("Inès", "Carpentier", StaffRole.ASSISTANT),
)
# Mail per chunk: one transaction, one COPY per table.
CHUNK_MESSAGES = 10_000
# Threads writing chunks on PostgreSQL (the machine benchmarks run on has 2 cores).
FLUSH_WORKERS = 2
# The history spans this many days before `today`.
HISTORY_DAYS = 3 * 365
# Quoted history is cut beyond this (real clients quote everything; a
# hundred-mail thread would otherwise carry megabytes).
QUOTE_MAX_CHARS = 2_000


class ScaleDataExistsError(Exception):
    """The database already holds the scale agency (pass `replace`)."""


@dataclass(frozen=True)
class ScaleSize:
    """How much to generate."""

    condominiums: int = 500
    lots: int = 20_000
    persons: int = 30_000
    dossiers: int = 20_000
    messages: int = 1_000_000

    @classmethod
    def scaled(cls, factor: float) -> ScaleSize:
        """The default size times `factor` (`--scale 0.01`), never below
        what the big dossier and the logins need."""
        full = cls()
        return cls(
            condominiums=max(4, round(full.condominiums * factor)),
            lots=max(BIG_CONDOMINIUM_OWNERS + 80, round(full.lots * factor)),
            persons=max(COOWNER_LOGINS + 100, round(full.persons * factor)),
            dossiers=max(20, round(full.dossiers * factor)),
            messages=max(BIG_DOSSIER_MIX["message"] + 200, round(full.messages * factor)),
        )


@dataclass
class ScaleSummary:
    """What was generated, for the command to print."""

    agency_id: int
    counts: dict[str, int] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)
    big_dossier_id: int = 0
    big_dossier_reference: str = ""
    big_condominium_id: int = 0
    staff_logins: list[str] = field(default_factory=list)
    coowner_logins: list[str] = field(default_factory=list)
    party_logins: list[str] = field(default_factory=list)
    council_login: str = ""
    password: str = SCALE_PASSWORD


# --- Vocabulary ----------------------------------------------------------------------
# French names, places and mail prose, in the spirit of `benchmarks/mailcorpus.py`
# and the demo; wide enough that 30,000 persons and 500 condominiums read as many.


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Marie Pierre Isabelle François Nathalie Philippe Catherine Michel Sylvie Alain "
    "Christine Éric Valérie Thierry Céline Stéphane Hélène Olivier Anne Laurent Aurélie "
    "Julien Chloé Nicolas Sophie Guillaume Camille Mathieu Julie Sébastien Émilie Vincent "
    "Claire Romain Laure Benoît Agnès Jérôme Manon Yann Lucie Damien Pauline Karim Nadia "
    "Mehdi Leïla Paulo Ana Thomas Élodie Arnaud Sandrine Bruno Martine Gilles Odile Xavier "
    "Brigitte Rémi Jeanne Hervé Monique"
)
LAST_NAMES = _words(
    "Girard Rousseau Fontaine Chevalier Lefèvre Mercier Blanc Guérin Faure Boyer Garnier "
    "Perrin Roux Fournier Morin Gauthier Lemaire Brun Barbier Arnaud Noël Picard Renaud "
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Michel Lefebvre Garcia David Bertrand Vincent Muller Henry Rousset Lambert Bonnet "
    "François Legrand Colin Masson Marchal Benali Haddad Amrani Ferreira Nguyen Lopez Da "
    "Silva Meyer Schmitt Caron Gaillard Aubert Rey Collet Joly Giraud Vidal Besson"
)
PERSONAL_DOMAINS = ("gmail.com", "orange.fr", "free.fr", "wanadoo.fr", "laposte.net", "sfr.fr")
RESIDENCE_PREFIXES = ("Résidence", "Le", "Les", "Villa", "Le Clos", "Domaine", "Parc", "Square")
RESIDENCE_NAMES = _words(
    "Tilleuls Belvédère Terrasses Saint-Clair Canuts Cèdres Marronniers Platanes Lilas "
    "Glycines Acacias Magnolias Orangerie Carré Bellecour Saxe Brotteaux Croix-Rousse "
    "Confluence Fourvière Monplaisir Montchat Part-Dieu Gerland Vaise Perrache Ainay "
    "Jardins Horizon Belle-Vue Rives Quais Berges Coteaux Vergers Mûriers Pins Érables "
    "Sources Châtaigniers Ormes Charmes Saules Bouleaux Peupliers Hêtres Roseraie Parc"
)
STREET_TYPES = ("rue", "avenue", "boulevard", "place", "quai", "cours", "montée", "impasse")
STREET_NAMES = [
    "des Tilleuls",
    "Jean-Jaurès",
    "Victor-Hugo",
    "de la République",
    "Paul-Bert",
    "Garibaldi",
    "Vendôme",
    "de Créqui",
    "Duguesclin",
    "Servient",
    "de Marseille",
    "Chevreul",
    "de la Charité",
    "Sala",
    "Mercière",
    "du Président-Édouard-Herriot",
    "Franklin-Roosevelt",
    "Lafayette",
    "de Saxe",
    "des Brotteaux",
    "Saint-Antoine",
    "Tête-d'Or",
    "Pasteur",
    "Gambetta",
    "Berthelot",
    "Jean-Macé",
    "des Chartreux",
    "Bellevue",
]
CITIES = (
    ("69001", "Lyon"),
    ("69002", "Lyon"),
    ("69003", "Lyon"),
    ("69004", "Lyon"),
    ("69006", "Lyon"),
    ("69007", "Lyon"),
    ("69008", "Lyon"),
    ("69009", "Lyon"),
    ("69100", "Villeurbanne"),
    ("69300", "Caluire-et-Cuire"),
    ("69500", "Bron"),
    ("69130", "Écully"),
    ("69600", "Oullins"),
    ("69200", "Vénissieux"),
)
TRADES = (
    ("Plomberie", CompanyKind.CONTRACTOR),
    ("Ascenseurs", CompanyKind.CONTRACTOR),
    ("Chauffage", CompanyKind.CONTRACTOR),
    ("Façades", CompanyKind.CONTRACTOR),
    ("Propreté", CompanyKind.CONTRACTOR),
    ("Serrurerie", CompanyKind.CONTRACTOR),
    ("Toitures", CompanyKind.CONTRACTOR),
    ("Électricité", CompanyKind.CONTRACTOR),
    ("Espaces verts", CompanyKind.CONTRACTOR),
    ("Assurances", CompanyKind.INSURER),
    ("Expertises Bâtiment", CompanyKind.ADJUSTER),
)
DOSSIER_TITLES: dict[str, tuple[str, ...]] = {
    DossierType.WATER_DAMAGE: (
        "Dégât des eaux lot {lot}",
        "Fuite au plafond du lot {lot}",
        "Infiltration salle de bains lot {lot}",
    ),
    DossierType.WORKS: (
        "Ravalement de façade",
        "Réfection de la toiture",
        "Remplacement de la porte de garage",
        "Mise aux normes de l'ascenseur",
        "Rénovation de la cage d'escalier",
    ),
    DossierType.INCIDENT: (
        "Panne de l'ascenseur",
        "Interphone hors service",
        "Porte du hall bloquée",
        "Coupure de chauffage collectif",
    ),
    DossierType.CLAIM: ("Sinistre incendie cave {lot}", "Vandalisme parking lot {lot}"),
    DossierType.ARREARS: ("Charges impayées lot {lot}",),
    DossierType.GENERAL_MEETING: ("Assemblée générale {year}",),
    DossierType.COUNCIL_REQUEST: (
        "Demande du conseil : contrat de nettoyage",
        "Demande du conseil : budget prévisionnel",
    ),
    DossierType.OTHER: ("Divers {year}", "Archives et sinistres anciens"),
}
DOSSIER_TYPE_WEIGHTS = (
    (DossierType.WATER_DAMAGE, 28),
    (DossierType.WORKS, 18),
    (DossierType.INCIDENT, 22),
    (DossierType.CLAIM, 5),
    (DossierType.ARREARS, 10),
    (DossierType.GENERAL_MEETING, 7),
    (DossierType.COUNCIL_REQUEST, 6),
    (DossierType.OTHER, 4),
)
SUBJECTS: dict[str, tuple[str, ...]] = {
    DossierType.WATER_DAMAGE: (
        "Fuite d'eau au plafond",
        "Déclaration de sinistre dégât des eaux",
        "Recherche de fuite – rendez-vous",
        "Constat amiable dégât des eaux",
        "Passage de l'expert",
    ),
    DossierType.WORKS: (
        "Devis pour les travaux",
        "Planning des travaux",
        "Compte rendu de chantier",
        "Bon de commande signé",
        "Réception des travaux",
    ),
    DossierType.INCIDENT: (
        "Intervention urgente",
        "Panne signalée",
        "Rapport d'intervention",
        "Pièces commandées",
    ),
    DossierType.CLAIM: ("Déclaration de sinistre", "Rapport d'expertise", "Indemnisation"),
    DossierType.ARREARS: ("Relance : charges impayées", "Échéancier de paiement"),
    DossierType.GENERAL_MEETING: (
        "Convocation à l'assemblée générale",
        "Projet de résolutions",
        "Procès-verbal de l'assemblée générale",
    ),
    DossierType.COUNCIL_REQUEST: ("Question du conseil syndical", "Réunion du conseil"),
    DossierType.OTHER: ("Demande d'information", "Badge du parking"),
}
SENTENCES = (
    "Suite à notre échange téléphonique de ce matin, je vous confirme notre passage.",
    "Nous avons constaté une fuite importante au niveau de la colonne d'eau chaude.",
    "Le locataire signale des traces d'humidité au plafond de la salle de bains.",
    "Vous trouverez ci-joint notre devis détaillé pour le remplacement des équipements.",
    "Le conseil syndical souhaite obtenir deux devis comparatifs avant toute décision.",
    "L'intervention nécessite l'accès aux parties privatives du troisième étage.",
    "Merci de bien vouloir prévenir les occupants par voie d'affichage dans le hall.",
    "Les travaux pourront débuter dès réception du bon de commande signé.",
    "Conformément au contrat d'entretien, la visite annuelle aura lieu la semaine prochaine.",
    "Le montant des travaux sera réparti selon les tantièmes de charges générales.",
    "Je me permets de vous relancer concernant le règlement de la facture en attente.",
    "L'expert mandaté par l'assurance passera constater les dommages mardi après-midi.",
    "Pourriez-vous me transmettre le procès-verbal de la dernière assemblée générale ?",
    "La porte du local vélos ne ferme plus correctement depuis plusieurs jours.",
    "Nous vous informons que la coupure d'eau est prévue jeudi matin.",
    "Le gardien nous a signalé des infiltrations dans le parking au deuxième sous-sol.",
    "Je reste à votre disposition pour tout renseignement complémentaire.",
    "La résolution concernant le ravalement a été adoptée à la majorité de l'article 25.",
    "Les copropriétaires seront convoqués par lettre recommandée avec accusé de réception.",
    "Le devis inclut la dépose de l'ancienne installation et l'évacuation des gravats.",
    "Nous attendons l'accord du syndic pour commander les pièces auprès du fabricant.",
    "Le délai de livraison des pièces est estimé à trois semaines environ.",
    "Une recherche de fuite non destructive sera réalisée par caméra thermique.",
    "Le rapport d'intervention vous sera adressé dans les quarante-huit heures.",
    "Il conviendrait de faire vérifier l'étanchéité de la terrasse avant l'hiver.",
    "Les nuisances se répètent chaque soir malgré plusieurs rappels.",
    "Le règlement de copropriété interdit l'entreposage d'objets dans les parties communes.",
    "Je vous remercie de votre réactivité dans le traitement de ce dossier.",
    "La garantie décennale de l'entreprise couvre ce type de désordre.",
    "Nous proposons un créneau d'intervention jeudi en début de matinée.",
    "Le fonds de travaux prévu par la loi ALUR pourra financer une partie de l'opération.",
    "Le chauffage collectif sera remis en route à partir de la mi-octobre.",
    "Les badges supplémentaires sont facturés au copropriétaire demandeur.",
    "Merci de nous indiquer les coordonnées de l'occupant afin de fixer un rendez-vous.",
    "La cabine de l'ascenseur est restée bloquée entre deux étages ce week-end.",
    "Le technicien a remplacé la carte électronique de la manœuvre.",
    "Les gouttières sont obstruées par les feuilles et débordent à chaque averse.",
    "Le ravalement concerne les façades sur rue et sur cour ainsi que les balcons.",
    "L'assureur de l'immeuble a accusé réception de la déclaration de sinistre.",
    "Le plafond du séjour présente une auréole d'environ un mètre de diamètre.",
    "Nous avons bien noté votre demande et la transmettons au conseil syndical.",
    "Le budget prévisionnel sera soumis au vote de la prochaine assemblée générale.",
    "Les compteurs d'eau divisionnaires seront relevés le mois prochain.",
    "Merci de laisser l'accès à la cave le jour de l'intervention.",
)
GREETINGS = ("Bonjour,", "Bonjour Madame,", "Bonjour Monsieur,", "Madame, Monsieur,")
CLOSINGS = (
    "Cordialement,",
    "Bien cordialement,",
    "Bien à vous,",
    "Je vous prie d'agréer mes salutations distinguées.",
)
NOTE_TEXTS = (
    "Appel de {name} : demande où en est le dossier, rappel prévu cette semaine.",
    "Visite sur place avec le gardien : constat des dégâts, photos prises.",
    "Relance téléphonique de l'entreprise, intervention confirmée.",
    "Point avec le président du conseil syndical sur l'avancement.",
    "Courrier recommandé envoyé, accusé de réception attendu.",
)
TASK_TITLES = (
    "Relancer l'entreprise pour le devis",
    "Envoyer le constat à l'assureur",
    "Prévenir les occupants de l'intervention",
    "Vérifier la facture avant règlement",
    "Planifier la visite de l'expert",
)
DECISION_TEXTS = (
    "Le devis de l'entreprise {company} est retenu.",
    "Les travaux sont votés à la majorité de l'article 24.",
    "Le conseil syndical donne un avis favorable à l'intervention.",
    "Le gestionnaire engage la recherche de fuite en urgence.",
)
# The audience proposed for a contractor's or an insurer's mail, by dossier
# type (`publication._AUDIENCE_BY_TYPE`, parties otherwise).
OUTSIDER_AUDIENCE: dict[str, str] = {
    DossierType.WORKS: Audience.OWNERS,
    DossierType.INCIDENT: Audience.OWNERS,
    DossierType.GENERAL_MEETING: Audience.OWNERS,
    DossierType.COUNCIL_REQUEST: Audience.COUNCIL,
}
FILING_REASONS = {
    FilingMethod.THREAD: "Réponse à un courriel de ce dossier",
    FilingMethod.REFERENCE: "La référence du dossier figure dans le courriel",
    FilingMethod.RULE: "Règle de classement de l'expéditeur",
    FilingMethod.SUGGESTION: "Suggestion acceptée (dossiers semblables)",
    FilingMethod.MANUAL: "Classé à la main depuis le tri",
}


def _number(value: int) -> str:
    """1 000 000, as French writes it."""
    return f"{value:,}".replace(",", "\u202f")


def _header_value(value: str) -> str:
    """A header value as mail clients write it: ASCII as is, otherwise RFC
    2047 encoded words (base64, at most 75 characters each, folded). The
    standard library's `email.header.Header` does the same at a fifth of
    the generator's time."""
    if value.isascii():
        return value
    words = []
    piece = ""
    for char in value:
        if len((piece + char).encode()) > 45:
            words.append(piece)
            piece = ""
        piece += char
    words.append(piece)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words)


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else "-" for c in folded).strip("-").replace("--", "-")


# --- Writing rows in bulk --------------------------------------------------------------


class _Table:
    """A model's table as the bulk writer sees it: its columns, in order,
    and each column's default (Django sets defaults in Python, not in the
    database, so every row carries every column)."""

    def __init__(self, model: type[models.Model]) -> None:
        self.name = model._meta.db_table
        # Only the columns the database has: a field added to a model whose
        # migration is not applied yet is left to that migration's default.
        with connection.cursor() as cursor:
            existing = {
                column.name
                for column in connection.introspection.get_table_description(cursor, self.name)
            }
        fields = [f for f in model._meta.concrete_fields if f.column in existing]
        self.columns = [str(f.column) for f in fields]
        self.attnames = [f.attname for f in fields]
        self.json = {f.attname for f in fields if isinstance(f, models.JSONField)}
        self.defaults = {f.attname: f.get_default() for f in fields}
        for name in self.json:
            self.defaults[name] = json.dumps(self.defaults[name])

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        for name in self.json.intersection(values):
            values[name] = json.dumps(values[name], ensure_ascii=False)
        defaults = self.defaults
        return tuple(values[a] if a in values else defaults[a] for a in self.attnames)


class _Writer:
    """Rows waiting to be written, per table, written in the order the
    tables were first given rows (parents before children) by `flush`:
    COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self) -> None:
        self.postgresql = connection.vendor == "postgresql"
        self.tables: dict[type[models.Model], _Table] = {}
        # Rows per model, or per (model, columns) for tables without defaults.
        self.pending: dict[Any, list[tuple[Any, ...]]] = {}
        self.counts: dict[str, int] = {}
        self.next_ids: dict[type[models.Model], int] = {}

    def table(self, model: type[models.Model]) -> _Table:
        if model not in self.tables:
            self.tables[model] = _Table(model)
        return self.tables[model]

    def new_id(self, model: type[models.Model]) -> int:
        """The next id of `model`'s table: allocated here, so that rows can
        point at each other before any is written."""
        if model not in self.next_ids:
            last = model._default_manager.aggregate(last=models.Max("pk"))["last"] or 0
            self.next_ids[model] = last + 1
        value = self.next_ids[model]
        self.next_ids[model] = value + 1
        return value

    def add(self, model: type[models.Model], **values: Any) -> None:
        self.pending.setdefault(model, []).append(self.table(model).row(values))

    def add_many(
        self, model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]
    ) -> None:  # type: ignore[type-arg]
        """Rows of a table without defaults to fill (many-to-many tables)."""
        key = (model, columns)
        self.pending.setdefault(key, []).extend(rows)

    def take(self) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        """The rows waiting, as (table, columns, rows) in writing order, counted."""
        batches: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = []
        for key, rows in self.pending.items():
            if not rows:
                continue
            if isinstance(key, tuple):
                model, columns = key
                name = model._meta.db_table
            else:
                model = key
                table = self.table(model)
                name, columns = table.name, tuple(table.columns)
            batches.append((name, columns, rows))
            label = model._meta.label
            self.counts[label] = self.counts.get(label, 0) + len(rows)
        self.pending = {}
        return batches

    def write(self, batches: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]) -> None:
        for name, columns, rows in batches:
            self._write(name, columns, rows)

    def flush(self) -> None:
        self.write(self.take())

    def _write(self, name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            if self.postgresql:
                with cursor.cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {name} ({quoted}) VALUES ({marks})",  # noqa: S608
                    [tuple(_sqlite_value(v) for v in row) for row in rows],
                )

    def reset_sequences(self) -> None:
        """PostgreSQL: move each table's id sequence past the ids given here."""
        if not self.postgresql:
            return
        with connection.cursor() as cursor:
            for model in self.next_ids:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))",
                    [table],
                )


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


# --- The search index -------------------------------------------------------------------

_STAGING = "scale_search_staging"
_SEARCH_COLUMNS = (
    "id",
    "agency_id",
    "condominium_id",
    "dossier_id",
    "kind",
    "audience",
    "date",
    "message_id",
    "note_id",
    "decision_id",
    "task_id",
    "document_id",
    "title",
    "body",
    "more",
    "public_title",
    "public_body",
    "public_more",
)


def _vector_sql(prefix: str) -> str:
    """The weighted vector `search.services._vector` asks Django for."""
    return " || ".join(
        f"setweight(to_tsvector('{backends.CONFIG}'::regconfig, COALESCE({prefix}{column}, '')), "
        f"'{weight}')"
        for column, weight in (("title", "A"), ("body", "B"), ("more", "C"))
    )


class _SearchIndex:
    """Index rows of the generated objects. On PostgreSQL they are copied to
    a temporary table and moved into `search_searchdocument` by one
    INSERT … SELECT that computes both `tsvector`s (the public one is the
    same vector when the public texts are the texts, as for most published
    mail: computed once). On SQLite they are inserted, and the triggers of
    `search_fts` index them."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.rows: list[tuple[Any, ...]] = []
        self.count = 0

    def add(
        self,
        *,
        kind: str,
        agency_id: int,
        condominium_id: int | None,
        dossier_id: int | None,
        audience: str,
        date: dt.datetime,
        title: str,
        body: str,
        more: str,
        public: tuple[str, str, str] | None = None,
        **pointer: int,
    ) -> None:
        """One row, as `search.services._document` builds it: the public
        texts are `public` (masked mail), else the texts themselves, and
        none while the object is internal or in no dossier."""
        shown = dossier_id is not None and audience not in ("", Audience.INTERNAL)
        same = shown and public is None
        if same:
            public_texts: tuple[str | None, ...] = (None, None, None)
        elif shown:
            assert public is not None
            public_texts = public
        else:
            public_texts = ("", "", "")
        row = (
            self.writer.new_id(SearchDocument),
            agency_id,
            condominium_id,
            dossier_id,
            kind,
            audience,
            date,
            pointer.get("message_id"),
            pointer.get("note_id"),
            pointer.get("decision_id"),
            pointer.get("task_id"),
            None,
            title,
            body,
            more,
            *public_texts,
            same,
        )
        self.rows.append(row)

    def take(self) -> list[tuple[Any, ...]]:
        rows, self.rows = self.rows, []
        self.count += len(rows)
        self.writer.counts[SearchDocument._meta.label] = self.count
        return rows

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Index `rows` (on the calling thread's connection)."""
        if not rows:
            return
        columns = ", ".join(_SEARCH_COLUMNS)
        if self.writer.postgresql:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ("
                    "id bigint, agency_id bigint, condominium_id bigint, dossier_id bigint, "
                    "kind text, audience text, date timestamptz, message_id bigint, "
                    "note_id bigint, decision_id bigint, task_id bigint, document_id bigint, "
                    "title text, body text, more text, public_title text, public_body text, "
                    "public_more text, public_same boolean)"
                )
            self.writer._write(_STAGING, (*_SEARCH_COLUMNS, "public_same"), rows)
            public = ", ".join(
                f"CASE WHEN public_same THEN {c} ELSE public_{c} END AS public_{c}"
                for c in ("title", "body", "more")
            )
            plain = ", ".join(c for c in _SEARCH_COLUMNS if not c.startswith("public_"))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {backends.TABLE} ({columns}, vector, public_vector) "  # noqa: S608
                    f"SELECT {columns}, vector, CASE WHEN public_same THEN vector "
                    f"ELSE {_vector_sql('public_')} END "
                    f"FROM (SELECT {plain}, {public}, public_same, {_vector_sql('')} AS vector "
                    f"FROM {_STAGING}) AS staged"
                )
                cursor.execute(f"TRUNCATE {_STAGING}")
        else:
            full = [
                (*row[:15], *((row[12], row[13], row[14]) if row[18] else row[15:18]))
                for row in rows
            ]
            self.writer._write(backends.TABLE, _SEARCH_COLUMNS, full)

    def flush(self) -> None:
        self.write(self.take())


def _texts(*parts: str) -> str:
    """`search.services._texts`, for texts written here (never with
    surrounding blanks nor the highlighting sentinels)."""
    return "\n\n".join(part for part in parts if part)


class _Flusher:
    """Writes chunks of rows, each in one transaction: on the calling thread,
    or on worker threads with connections of their own (PostgreSQL outside
    a transaction), so that the database copies a chunk and computes its
    `tsvector`s while the next one is generated. The queue holds at most
    one chunk per worker: memory stays bounded."""

    def __init__(self, writer: _Writer, search: _SearchIndex, *, workers: int) -> None:
        self.writer = writer
        self.search = search
        self.sql_seconds = 0.0
        self.search_seconds = 0.0
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, workers))
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def submit(self, batches: list[Any], rows: list[tuple[Any, ...]]) -> None:
        if self.error is not None:
            raise self.error
        if not self.threads:
            self._write(batches, rows)
        else:
            self.queue.put((batches, rows))

    def _write(self, batches: list[Any], rows: list[tuple[Any, ...]]) -> None:
        started = time.monotonic()
        with transaction.atomic():
            self.writer.write(batches)
            written = time.monotonic()
            self.search.write(rows)
        with self.lock:
            self.sql_seconds += written - started
            self.search_seconds += time.monotonic() - written

    def _work(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if self.error is None:
                    try:
                        self._write(*item)
                    except BaseException as error:  # reported by `submit` and `close`
                        self.error = error
        finally:
            connection.close()

    def close(self) -> None:
        """Wait for every chunk to be written; raise what a worker met."""
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error


# --- The generator ------------------------------------------------------------------------


@dataclass
class _Correspondent:
    """Someone who writes mail: a person of the contact book."""

    person_id: int
    name: str
    address: str
    signature: str
    kind: str  # "owner", "council", "company", "staff"
    phone: str = ""


@dataclass
class _DossierInfo:
    """What the mail of a dossier needs to know about it."""

    id: int
    reference: str
    title: str
    type: str
    audience: str
    council_sees_parties: bool
    condominium_id: int
    condominium_name: str
    opened: float
    closed: float | None
    parties: list[_Correspondent]
    lot_number: str
    company_name: str


class _Generator:
    """One generation: the steps of `scale_generate`, in order, with what
    each step leaves for the next (ids, persons, dossiers) in memory — a
    few hundred MB at full size; the mail itself leaves in chunks."""

    def __init__(
        self,
        *,
        size: ScaleSize,
        seed: int,
        today: dt.date,
        progress: Callable[[str], None],
    ) -> None:
        self.size = size
        # Reproducible data, not secrets: a seeded generator is what is wanted.
        self.rng = random.Random(seed)  # noqa: S311
        self.seed = seed
        self.today = today
        self.now = timezone.make_aware(dt.datetime.combine(today, dt.time(18, 0)))
        self.end_ts = self.now.timestamp()
        self.start_ts = self.end_ts - HISTORY_DAYS * 86400
        self.progress = progress
        self.writer = _Writer()
        self.search = _SearchIndex(self.writer)
        self.summary: ScaleSummary
        self.storage = storages["mail"]
        self.raw_root = (
            self.storage.location if isinstance(self.storage, FileSystemStorage) else None
        )
        self.files: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=20_000)
        self.file_error: OSError | None = None
        self.file_writer = threading.Thread(target=self._write_files, daemon=True)
        self.timings: list[tuple[str, float]] = []
        self._started = time.monotonic()
        self.flusher = _Flusher(self.writer, self.search, workers=0)

    # -- helpers

    def _moment(self, ts: float) -> dt.datetime:
        """A moment to the second, as a Date header gives it."""
        return dt.datetime.fromtimestamp(int(ts), tz=dt.UTC)

    def _step(self, label: str) -> None:
        now = time.monotonic()
        self.timings.append((label, now - self._started))
        self._started = now
        self.progress(f"{label} : {self.timings[-1][1]:.1f} s")

    def _phone(self) -> str:
        r = self.rng
        return "0{} {:02d} {:02d} {:02d} {:02d}".format(
            r.choice("67"), r.randint(10, 99), r.randint(0, 99), r.randint(0, 99), r.randint(0, 99)
        )

    def _put_blob(self, kind: str, data: bytes) -> tuple[str, str]:
        sha256 = hashlib.sha256(data).hexdigest()
        name = blob_name(kind, sha256)
        if self.raw_root is None:
            from lanterne.mail.storage import blob_put

            blob_put(data, kind=kind)
            return sha256, name
        self.files.put((os.path.join(self.raw_root, name), data))
        return sha256, name

    def _write_files(self) -> None:
        """The file writer's thread: the store's files, written while the
        next mail is generated (file creation, not CPU, is their cost)."""
        made: set[str] = set()
        while True:
            item = self.files.get()
            if item is None:
                return
            path, data = item
            try:
                directory = os.path.dirname(path)
                if directory not in made:
                    os.makedirs(directory, exist_ok=True)
                    made.add(directory)
                with open(path, "wb") as handle:
                    handle.write(data)
            except OSError as error:
                self.file_error = error

    # -- the steps

    def run(self) -> ScaleSummary:
        self.file_writer.start()
        try:
            return self._run()
        finally:
            self.files.put(None)
            self.file_writer.join()

    def _run(self) -> ScaleSummary:
        self._agency()
        self._contacts()
        self._step("cabinet, copropriétés, lots, personnes")
        self._dossiers()
        self._step("dossiers, parties, statuts, notes, tâches, décisions")
        self._attachment_pool()
        self._messages()
        self.files.put(None)
        self.file_writer.join()
        if self.file_error is not None:
            raise self.file_error
        self.file_writer = threading.Thread(target=self._write_files, daemon=True)
        self.file_writer.start()
        self._step("courriels")
        self._finish()
        self._step("index de recherche, séquences, statistiques")
        self.summary.counts = dict(self.writer.counts)
        self.summary.timings = self.timings
        return self.summary

    def _agency(self) -> None:
        self.agency = Agency.objects.create(
            name=SCALE_AGENCY_NAME,
            mail_domain=SCALE_MAIL_DOMAIN,
            shared_mailbox=f"gestion@{SCALE_MAIL_DOMAIN}",
            created_at=self._moment(self.start_ts),
        )
        self.summary = ScaleSummary(agency_id=self.agency.pk)
        self.source = MailSource.objects.create(
            agency=self.agency, kind=SourceKind.IMPORT, name="Historique (données d'échelle)"
        )
        self.password_hash = make_password(SCALE_PASSWORD)

    def _user(self, email: str, full_name: str) -> int:
        user_id = self.writer.new_id(User)
        self.writer.add(
            User,
            id=user_id,
            email=email,
            full_name=full_name,
            password=self.password_hash,
            is_active=True,
            is_superuser=False,
            date_joined=self._moment(self.start_ts),
        )
        return user_id

    def _person(
        self,
        first: str,
        last: str,
        *,
        email: str | None,
        user_id: int | None = None,
        staff_role: str = "",
        company_id: int | None = None,
        phone: str = "",
        postal_address: str = "",
    ) -> int:
        person_id = self.writer.new_id(Person)
        self.writer.add(
            Person,
            id=person_id,
            agency_id=self.agency.pk,
            user_id=user_id,
            first_name=first,
            last_name=last,
            phones=[phone] if phone else [],
            postal_address=postal_address,
            company_id=company_id,
            staff_role=staff_role,
        )
        if email:
            self.writer.add(
                PersonEmail,
                id=self.writer.new_id(PersonEmail),
                person_id=person_id,
                agency_id=self.agency.pk,
                address=email,
                is_primary=True,
            )
        return person_id

    def _contacts(self) -> None:
        r = self.rng
        size = self.size
        w = self.writer
        # Staff.
        self.staff: list[_Correspondent] = []
        self.staff_user_ids: list[int] = []
        for first, last, role in STAFF:
            email = f"{_slug(first)}.{_slug(last)}@{SCALE_MAIL_DOMAIN}"
            user_id = self._user(email, f"{first} {last}")
            person_id = self._person(first, last, email=email, user_id=user_id, staff_role=role)
            label = "Gestionnaire de copropriété" if role == StaffRole.MANAGER else "Assistant(e)"
            self.staff.append(
                _Correspondent(
                    person_id,
                    f"{first} {last}",
                    email,
                    f"{first} {last}\n{label}\n{SCALE_AGENCY_NAME}",
                    "staff",
                )
            )
            self.staff_user_ids.append(user_id)
            self.summary.staff_logins.append(email)
        # Companies and their contacts.
        self.companies: list[tuple[int, str, str, list[_Correspondent]]] = []
        company_count = max(len(TRADES), size.persons // 150)
        used: set[str] = set()
        for number in range(company_count):
            trade, kind = TRADES[number % len(TRADES)]
            name = f"{trade} {r.choice(LAST_NAMES)}"
            while name in used:
                name = f"{trade} {r.choice(LAST_NAMES)} {r.choice(CITIES)[1]} {len(used)}"
            used.add(name)
            domain = f"{_slug(name)}.fr"
            company_id = w.new_id(Company)
            w.add(
                Company,
                id=company_id,
                agency_id=self.agency.pk,
                name=name,
                kind=kind,
                email=f"contact@{domain}",
                phone="",
                address="",
            )
            w.add(CompanyDomain, id=w.new_id(CompanyDomain), company_id=company_id, domain=domain)
            self.companies.append((company_id, name, domain, []))
        # Condominiums and lots.
        lot_counts = self._spread(size.lots, size.condominiums, minimum=8)
        # The first condominium holds the big dossier and its co-owners.
        lot_counts.sort(reverse=True)
        lot_counts[0] = max(lot_counts[0], BIG_CONDOMINIUM_OWNERS + 20)
        self.condominiums: list[tuple[int, str]] = []
        self.lots_by_condo: list[list[tuple[int, str]]] = []
        names: set[str] = set()
        for index, count in enumerate(lot_counts):
            name = f"{r.choice(RESIDENCE_PREFIXES)} {r.choice(RESIDENCE_NAMES)}"
            if name in names:
                name = f"{name} {index + 1}"
            names.add(name)
            postal_code, city = r.choice(CITIES)
            condo_id = w.new_id(Condominium)
            w.add(
                Condominium,
                id=condo_id,
                agency_id=self.agency.pk,
                name=name,
                address=f"{r.randint(1, 140)} {r.choice(STREET_TYPES)} {r.choice(STREET_NAMES)}",
                postal_code=postal_code,
                city=city,
                nicknames="",
                registry_number=f"AB{index:07d}",
            )
            self.condominiums.append((condo_id, name))
            lots = []
            shares = self._spread(1000 * max(1, count // 10), count, minimum=1)
            for number in range(1, count + 1):
                lot_kind = (
                    LotKind.FLAT
                    if number <= count * 0.7
                    else r.choice((LotKind.CELLAR, LotKind.PARKING, LotKind.SHOP))
                )
                lot_id = w.new_id(Lot)
                w.add(
                    Lot,
                    id=lot_id,
                    condominium_id=condo_id,
                    number=str(number),
                    kind=lot_kind,
                    floor=str(r.randint(0, 7)) if lot_kind == LotKind.FLAT else "-1",
                    building=r.choice("AB"),
                    staircase=str(r.randint(1, 3)),
                    shares=shares[number - 1],
                )
                lots.append((lot_id, str(number)))
            self.lots_by_condo.append(lots)
        # Co-owners: one owner per lot, some owning two; the first ones have a login.
        self.owners_by_condo: list[list[_Correspondent]] = [[] for _ in self.condominiums]
        self.owner_lots: dict[int, list[tuple[int, str]]] = {}
        self.council_by_condo: list[list[_Correspondent]] = [[] for _ in self.condominiums]
        persons_left = size.persons - len(STAFF)
        email_counter = 0
        login_number = 0

        def new_owner(condo_index: int, *, login: bool) -> _Correspondent:
            nonlocal email_counter, login_number
            first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            email_counter += 1
            user_id = None
            if login:
                login_number += 1
                email = f"copro{login_number:03d}@{LOGIN_DOMAIN}"
                user_id = self._user(email, f"{first} {last}")
                self.summary.coowner_logins.append(email)
            else:
                email = f"{_slug(first)}.{_slug(last)}.{email_counter}@{r.choice(PERSONAL_DOMAINS)}"
            phone = self._phone() if r.random() < 0.7 else ""
            person_id = self._person(
                first,
                last,
                email=email,
                user_id=user_id,
                phone=phone,
                postal_address=f"{r.randint(1, 140)} {r.choice(STREET_TYPES)} "
                f"{r.choice(STREET_NAMES)}",
            )
            owner = _Correspondent(
                person_id, f"{first} {last}", email, f"{first} {last}", "owner", phone
            )
            self.owners_by_condo[condo_index].append(owner)
            return owner

        ownerships = []
        for condo_index, lots in enumerate(self.lots_by_condo):
            owner: _Correspondent | None = None
            for position, (lot_id, lot_number) in enumerate(lots):
                logins_wanted = (condo_index == 0 and position < BIG_CONDOMINIUM_OWNERS) or (
                    condo_index > 0 and position == 0 and login_number < COOWNER_LOGINS
                )
                if owner is None or logins_wanted or r.random() > 0.2:
                    owner = new_owner(
                        condo_index, login=logins_wanted and login_number < COOWNER_LOGINS
                    )
                ownerships.append((w.new_id(Ownership), owner.person_id, lot_id))
                self.owner_lots.setdefault(owner.person_id, []).append((lot_id, lot_number))
        # Logins still to give (few condominiums): more owners of the first ones.
        while login_number < COOWNER_LOGINS:
            condo_index = login_number % len(self.condominiums)
            owner = new_owner(condo_index, login=True)
            lot_id, lot_number = r.choice(self.lots_by_condo[condo_index])
            ownerships.append((w.new_id(Ownership), owner.person_id, lot_id))
            self.owner_lots.setdefault(owner.person_id, []).append((lot_id, lot_number))
        w.add_many(Ownership, ("id", "person_id", "lot_id"), ownerships)
        # Councils: three to five owners, one chair. The big condominium's
        # chair has a login (the `council_login`).
        for condo_index, owners in enumerate(self.owners_by_condo):
            distinct = list({o.person_id: o for o in owners}.values())
            seats = r.sample(distinct, min(len(distinct), r.randint(3, 5)))
            if condo_index == 0:
                seats = [
                    distinct[BIG_DOSSIER_PARTIES],
                    *[s for s in seats if s is not distinct[BIG_DOSSIER_PARTIES]],
                ][:5]
                self.summary.council_login = distinct[BIG_DOSSIER_PARTIES].address
            for position, seat in enumerate(seats):
                w.add(
                    CouncilMembership,
                    id=w.new_id(CouncilMembership),
                    person_id=seat.person_id,
                    condominium_id=self.condominiums[condo_index][0],
                    role=CouncilRole.CHAIR if position == 0 else CouncilRole.MEMBER,
                )
                self.council_by_condo[condo_index].append(
                    _Correspondent(
                        seat.person_id, seat.name, seat.address, seat.name, "council", seat.phone
                    )
                )
        # The other contacts: company employees, then tenants and occupants.
        made = sum(len(o) for o in self.owners_by_condo)
        others = max(0, persons_left - made)
        for number in range(others):
            first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            if number < len(self.companies) * 3:
                company_id, company_name, domain, contacts = self.companies[
                    number % len(self.companies)
                ]
                email = f"{_slug(first)}.{_slug(last)}.{number}@{domain}"
                person_id = self._person(first, last, email=email, company_id=company_id)
                job = r.choice(
                    (
                        "Gérant",
                        "Technicien",
                        "Chargé(e) de clientèle",
                        "Conducteur de travaux",
                        "Gestionnaire sinistres",
                    )
                )
                contacts.append(
                    _Correspondent(
                        person_id,
                        f"{first} {last}",
                        email,
                        f"{first} {last}\n{job}\n{company_name}",
                        "company",
                    )
                )
            else:
                private = f"{_slug(first)}.{_slug(last)}.o{number}@{r.choice(PERSONAL_DOMAINS)}"
                self._person(
                    first,
                    last,
                    email=private if r.random() < 0.8 else None,
                    phone=self._phone() if r.random() < 0.5 else "",
                )
        with transaction.atomic():
            w.flush()

    def _spread(self, total: int, parts: int, *, minimum: int) -> list[int]:
        """`total` split into `parts` uneven integers of at least `minimum`."""
        weights = [self.rng.lognormvariate(0, 0.6) for _ in range(parts)]
        scale = max(0, total - minimum * parts) / sum(weights)
        counts = [minimum + int(w * scale) for w in weights]
        for index in range(total - sum(counts)):
            counts[index % parts] += 1
        return counts

    # -- dossiers

    def _dossiers(self) -> None:
        r = self.rng
        w = self.writer
        size = self.size
        lot_weights = [len(lots) for lots in self.lots_by_condo]
        types = [t for t, _ in DOSSIER_TYPE_WEIGHTS]
        type_weights = [n for _, n in DOSSIER_TYPE_WEIGHTS]
        sequences: dict[int, int] = {}
        self.dossiers: list[_DossierInfo] = []
        # Opening dates: evenly over the history, sorted so that references
        # follow the order of opening.
        openings = sorted(
            r.uniform(self.start_ts, self.end_ts - 86400) for _ in range(size.dossiers)
        )
        openings[0] = self.start_ts + 30 * 86400  # the big dossier: three years of history
        for index, opened in enumerate(openings):
            big = index == 0
            condo_index = 0 if big else r.choices(range(len(self.condominiums)), lot_weights)[0]
            condo_id, condo_name = self.condominiums[condo_index]
            dossier_type = DossierType.WORKS if big else r.choices(types, type_weights)[0]
            audience = DEFAULT_AUDIENCE[dossier_type]
            lifecycle = LIFECYCLES[dossier_type]
            age = (self.end_ts - opened) / 86400
            closed_ts = None
            status: str
            if big:
                status = DossierStatus.IN_PROGRESS
            elif age > 120 and r.random() < min(0.9, age / 400):
                status = DossierStatus.CLOSED
                closed_ts = min(self.end_ts - 86400, opened + r.uniform(20, 240) * 86400)
            else:
                status = lifecycle[min(len(lifecycle) - 2, int(r.random() * (len(lifecycle) - 1)))]
            opened_day = self._moment(opened).date()
            year = opened_day.year
            sequences[year] = sequences.get(year, 0) + 1
            reference = f"DOS-{year}-{sequences[year]:04d}"
            lots = self.lots_by_condo[condo_index]
            lot_id, lot_number = r.choice(lots)
            company_id, company_name, _domain, _contacts = r.choice(self.companies)
            template = r.choice(DOSSIER_TITLES[dossier_type])
            title = template.format(lot=lot_number, year=year)
            if big:
                title = "Ravalement des façades et réfection des toitures"
            dossier_id = w.new_id(Dossier)
            description = " ".join(r.sample(SENTENCES, 2))
            parties: list[_Correspondent] = []
            party_lots: list[int] = []
            owners = self.owners_by_condo[condo_index]
            if big:
                parties = owners[:BIG_DOSSIER_PARTIES]
            elif dossier_type in (DossierType.WATER_DAMAGE, DossierType.CLAIM, DossierType.ARREARS):
                parties = r.sample(
                    owners, min(len(owners), 2 if dossier_type == DossierType.WATER_DAMAGE else 1)
                )
            for party in parties:
                for owned_lot, _number in self.owner_lots.get(party.person_id, [])[:1]:
                    party_lots.append(owned_lot)
            if dossier_type == DossierType.WATER_DAMAGE and lot_id not in party_lots:
                party_lots.append(lot_id)
            council_sees = audience == Audience.PARTIES and r.random() < 0.3
            manager = self.staff[index % 3]
            w.add(
                Dossier,
                id=dossier_id,
                agency_id=self.agency.pk,
                condominium_id=condo_id,
                reference=reference,
                title=title,
                description=description,
                type=dossier_type,
                status=status,
                audience=audience,
                council_sees_parties=council_sees,
                auto_publish_audience="",
                manager_id=manager.person_id,
                opened_on=opened_day,
                closed_on=self._moment(closed_ts).date() if closed_ts else None,
                created_at=self._moment(opened),
                updated_at=self._moment(closed_ts or opened),
            )
            info = _DossierInfo(
                dossier_id,
                reference,
                title,
                dossier_type,
                audience,
                council_sees,
                condo_id,
                condo_name,
                opened,
                closed_ts,
                parties,
                lot_number,
                company_name,
            )
            self.dossiers.append(info)
            if party_lots:
                w.add_many(
                    Dossier.party_lots.through,
                    ("dossier_id", "lot_id"),
                    [(dossier_id, lot) for lot in dict.fromkeys(party_lots)],
                )
            if parties:
                w.add_many(
                    Dossier.party_persons.through,
                    ("dossier_id", "person_id"),
                    [(dossier_id, p.person_id) for p in parties],
                )
            if dossier_type in (DossierType.WORKS, DossierType.INCIDENT, DossierType.WATER_DAMAGE):
                w.add_many(
                    Dossier.party_companies.through,
                    ("dossier_id", "company_id"),
                    [(dossier_id, company_id)],
                )
            self.search.add(
                kind=SearchKind.DOSSIER,
                agency_id=self.agency.pk,
                condominium_id=condo_id,
                dossier_id=dossier_id,
                audience=audience,
                date=timezone.make_aware(dt.datetime.combine(opened_day, dt.time.min)),
                title=title,
                body=description,
                more=reference,
            )
            if big:
                self.summary.big_dossier_id = dossier_id
                self.summary.big_dossier_reference = reference
                self.summary.big_condominium_id = condo_id
                self.summary.party_logins = [
                    p.address for p in parties if p.address.endswith(LOGIN_DOMAIN)
                ]
                counts = dict(BIG_DOSSIER_MIX)
                del counts["message"]
                self._entries(info, counts, end=self.end_ts)
            else:
                self._status_changes(info, status, closed_ts)
                counts = {
                    "note": r.choice((0, 0, 1, 1, 2, 3)),
                    "task": r.choice((0, 1, 1, 2)),
                    "decision": r.choice((0, 0, 0, 1)),
                }
                self._entries(info, counts, end=closed_ts or self.end_ts)
            if len(w.pending.get(Dossier, [])) >= 2000:
                self._flush()
        self._flush()
        for year, last in sequences.items():
            DossierSequence.objects.update_or_create(
                agency=self.agency, year=year, defaults={"last_number": last}
            )
        # Messages go to dossiers by their activity: a few very busy, most quiet.
        self.dossier_weights = list(
            itertools.accumulate(r.paretovariate(1.2) for _ in self.dossiers[1:])
        )

    def _flush(self) -> None:
        self.flusher.submit(self.writer.take(), self.search.take())

    def _entry_audience(self, info: _DossierInfo) -> str:
        """An entry's audience: the dossier's, sometimes narrower (internal)."""
        r = self.rng
        if info.audience == Audience.INTERNAL or r.random() < 0.2:
            return Audience.INTERNAL
        if info.audience == Audience.OWNERS and r.random() < 0.15:
            return Audience.COUNCIL
        return info.audience

    def _timeline(
        self,
        info: _DossierInfo,
        kind: str,
        ts: float,
        audience: str,
        actor: int | None,
        **pointer: int,
    ) -> None:
        self.writer.add(
            TimelineEntry,
            id=self.writer.new_id(TimelineEntry),
            dossier_id=info.id,
            occurred_at=self._moment(ts),
            kind=kind,
            event=EntryEvent.CREATED,
            audience=audience,
            actor_id=actor,
            **pointer,
        )

    def _status_changes(self, info: _DossierInfo, status: str, closed_ts: float | None) -> None:
        lifecycle = LIFECYCLES[info.type]
        steps = list(lifecycle[: lifecycle.index(status) + 1])
        end = closed_ts or self.end_ts
        previous = ""
        for position, step in enumerate(steps[1:], start=1):
            ts = info.opened + (end - info.opened) * position / len(steps)
            change_id = self.writer.new_id(StatusChange)
            actor = self.rng.choice(self.staff_user_ids)
            audience = info.audience
            self.writer.add(
                StatusChange,
                id=change_id,
                dossier_id=info.id,
                from_status=previous or steps[0],
                to_status=step,
                comment="",
                audience=audience,
                changed_by_id=actor,
                changed_at=self._moment(ts),
            )
            self._timeline(
                info, EntryKind.STATUS_CHANGE, ts, audience, actor, status_change_id=change_id
            )
            previous = step

    def _entries(self, info: _DossierInfo, counts: dict[str, int], *, end: float) -> None:
        """Notes, tasks and decisions of a dossier, with their entries and index rows."""
        r = self.rng
        w = self.writer
        for kind, count in counts.items():
            for _ in range(count):
                ts = r.uniform(info.opened, end)
                moment = self._moment(ts)
                audience = self._entry_audience(info)
                actor = r.choice(self.staff_user_ids)
                common: dict[str, Any] = {
                    "agency_id": self.agency.pk,
                    "condominium_id": info.condominium_id,
                    "dossier_id": info.id,
                    "audience": audience,
                    "date": moment,
                }
                if kind == "note":
                    note_id = w.new_id(Note)
                    name = info.parties[0].name if info.parties else r.choice(LAST_NAMES)
                    text = f"{r.choice(NOTE_TEXTS).format(name=name)} {r.choice(SENTENCES)}"
                    w.add(
                        Note,
                        id=note_id,
                        dossier_id=info.id,
                        text=text,
                        audience=audience,
                        author_id=actor,
                        created_at=moment,
                    )
                    self._timeline(info, EntryKind.NOTE, ts, audience, actor, note_id=note_id)
                    self.search.add(
                        kind=SearchKind.NOTE,
                        title="",
                        body=text,
                        more="",
                        note_id=note_id,
                        **common,
                    )
                elif kind == "task":
                    task_id = w.new_id(Task)
                    title = r.choice(TASK_TITLES)
                    done = ts < end - 20 * 86400 and r.random() < 0.8
                    description = r.choice(SENTENCES)
                    w.add(
                        Task,
                        id=task_id,
                        dossier_id=info.id,
                        title=title,
                        description=description,
                        due_on=self._moment(ts + 14 * 86400).date(),
                        assignee_id=r.choice(self.staff).person_id,
                        status=TaskStatus.DONE if done else TaskStatus.OPEN,
                        audience=audience,
                        created_by_id=actor,
                        created_at=moment,
                        completed_at=self._moment(ts + 10 * 86400) if done else None,
                    )
                    self._timeline(info, EntryKind.TASK, ts, audience, actor, task_id=task_id)
                    self.search.add(
                        kind=SearchKind.TASK,
                        title=title,
                        body=description,
                        more="",
                        task_id=task_id,
                        **common,
                    )
                else:
                    decision_id = w.new_id(Decision)
                    text = r.choice(DECISION_TEXTS).format(company=info.company_name)
                    w.add(
                        Decision,
                        id=decision_id,
                        dossier_id=info.id,
                        decided_by=r.choice(DecisionBody.values),
                        decided_on=moment.date(),
                        text=text,
                        audience=audience,
                        created_by_id=actor,
                        created_at=moment,
                    )
                    self._timeline(
                        info, EntryKind.DECISION, ts, audience, actor, decision_id=decision_id
                    )
                    self.search.add(
                        kind=SearchKind.DECISION,
                        title="",
                        body=text,
                        more="",
                        decision_id=decision_id,
                        **common,
                    )

    # -- mail

    def _attachment_pool(self) -> None:
        """A few dozen files mail carries, written once to the store."""
        r = self.rng
        self.attachment_pool: list[tuple[str, str, str, int, str]] = []
        for number in range(48):
            kind = ("Devis", "Facture", "Rapport", "Constat")[number % 4]
            lines = [r.choice(SENTENCES) for _ in range(20)]
            data = make_pdf(f"{kind} n° F{2024 + number % 3}-{number:04d}", lines)
            # Padded to a real document's size (15 to 120 KB), incompressible.
            data += b"%" + r.randbytes(
                int(math.exp(r.uniform(math.log(15_000), math.log(120_000))))
            )
            sha256, name = self._put_blob("attachments", data)
            self.attachment_pool.append(
                (f"{kind}_{number:04d}.pdf", "application/pdf", sha256, len(data), name)
            )
        for number in range(16):
            data = b"\xff\xd8\xff\xe0" + r.randbytes(r.randint(80_000, 900_000)) + b"\xff\xd9"
            sha256, name = self._put_blob("attachments", data)
            self.attachment_pool.append(
                (f"IMG_{2400 + number}.jpg", "image/jpeg", sha256, len(data), name)
            )

    def _thread_sizes(self, total: int) -> Iterator[int]:
        """Conversation lengths: most one to five mails, a long tail to a hundred."""
        r = self.rng
        left = total
        while left > 0:
            roll = r.random()
            if roll < 0.42:
                n = 1
            elif roll < 0.62:
                n = 2
            elif roll < 0.75:
                n = 3
            elif roll < 0.83:
                n = 4
            elif roll < 0.88:
                n = 5
            elif roll < 0.96:
                n = r.randint(6, 10)
            elif roll < 0.993:
                n = r.randint(11, 30)
            else:
                n = r.randint(31, 100)
            n = min(n, left)
            left -= n
            yield n

    def _messages(self) -> None:
        r = self.rng
        total = self.size.messages
        big = self.dossiers[0]
        big_left = BIG_DOSSIER_MIX["message"]
        written = flushed = 0
        report_every = max(CHUNK_MESSAGES, total // 20)
        next_report = report_every
        started = time.monotonic()
        parallel = self.writer.postgresql and not connection.in_atomic_block
        self.flusher = _Flusher(self.writer, self.search, workers=FLUSH_WORKERS if parallel else 0)
        for n in self._thread_sizes(total):
            if big_left > 0:
                # The big dossier's conversations come first, until it holds
                # exactly its share; what is left of a conversation goes on.
                taken = min(n, big_left)
                big_left -= taken
                self._thread(taken, dossier=big, kind="filed")
                written += taken
                n -= taken
            if n:
                roll = r.random()
                if roll < 0.02:
                    self._thread(n, dossier=None, kind="triage")
                elif roll < 0.03:
                    self._thread(n, dossier=None, kind="not_related")
                elif roll < 0.055:
                    self._machine(n)
                else:
                    index = bisect.bisect(
                        self.dossier_weights, r.random() * self.dossier_weights[-1]
                    )
                    self._thread(
                        n,
                        dossier=self.dossiers[1 + min(index, len(self.dossiers) - 2)],
                        kind="filed",
                    )
                written += n
            chunk = written - flushed
            if big_left == 0 and chunk >= CHUNK_MESSAGES:
                self._flush()
                flushed = written
            if written >= next_report:
                next_report += report_every
                elapsed = time.monotonic() - started
                flusher = self.flusher
                self.progress(
                    f"  {_number(written)} courriels sur {_number(total)} ({elapsed:.0f} s ; "
                    f"écrivains : lignes {flusher.sql_seconds:.0f} s, "
                    f"index {flusher.search_seconds:.0f} s)"
                )
        self._flush()
        self.flusher.close()
        self.flusher = _Flusher(self.writer, self.search, workers=0)

    def _correspondent(self, dossier: _DossierInfo | None) -> _Correspondent:
        r = self.rng
        if dossier is None:
            condo_index = r.randrange(len(self.condominiums))
            if r.random() < 0.5:
                return r.choice(self.owners_by_condo[condo_index])
            return r.choice(self._company_contacts())
        condo_index = self._condo_index(dossier.condominium_id)
        roll = r.random()
        if dossier.parties and roll < 0.45:
            return r.choice(dossier.parties)
        if roll < 0.6 and self.council_by_condo[condo_index]:
            return r.choice(self.council_by_condo[condo_index])
        if (
            dossier.type in (DossierType.GENERAL_MEETING, DossierType.COUNCIL_REQUEST)
            and roll < 0.85
        ):
            return r.choice(self.owners_by_condo[condo_index])
        return r.choice(self._company_contacts())

    def _company_contacts(self) -> list[_Correspondent]:
        if not hasattr(self, "_contacts_flat"):
            self._contacts_flat = [c for _, _, _, contacts in self.companies for c in contacts]
            if not self._contacts_flat:
                self._contacts_flat = [o for owners in self.owners_by_condo for o in owners[:1]]
        return self._contacts_flat

    def _condo_index(self, condo_id: int) -> int:
        return condo_id - self.condominiums[0][0]

    def _body(self, *, long: bool = False) -> str:
        """A mail's new text: a greeting, sentences, a closing. Mostly a few
        hundred bytes; one in a hundred is a long letter or report (tens of KB)."""
        r = self.rng
        if long or r.random() < 0.005:
            count = r.randint(60, 350)
        else:
            count = max(1, min(40, round(r.lognormvariate(1.1, 0.7))))
        sentences = r.choices(SENTENCES, k=count)
        paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, count, 3)]
        return "\n\n".join([r.choice(GREETINGS), *paragraphs, r.choice(CLOSINGS)])

    def _thread(self, n: int, *, dossier: _DossierInfo | None, kind: str) -> None:
        r = self.rng
        w = self.writer
        agency_id = self.agency.pk
        correspondent = self._correspondent(dossier)
        staff = self.staff[r.randrange(len(self.staff))]
        if dossier is not None:
            start_min = dossier.opened
            end = dossier.closed or self.end_ts
            subject_base = f"{r.choice(SUBJECTS[dossier.type])} – {dossier.condominium_name}"
            if r.random() < 0.3:
                subject_base = f"[{dossier.reference}] {subject_base}"
        else:
            start_min = self.end_ts - (180 if kind == "triage" else HISTORY_DAYS) * 86400
            end = self.end_ts
            subject_base = (
                f"{r.choice(SUBJECTS[r.choice(list(SUBJECTS))])} – {r.choice(self.condominiums)[1]}"
            )
        span = max(3600.0, end - start_min)
        ts = start_min + r.random() * (span - 120)
        thread_id = w.new_id(Thread)
        first_ts = ts
        previous: tuple[str, str, str, str, dt.datetime] | None = (
            None  # id, name, text, subject, date
        )
        references: list[str] = []
        personal = False
        outbound_first = r.random() < 0.3
        message_ids: list[int] = []
        for position in range(n):
            if position:
                # A day and a half between mails on average; a conversation
                # started near the end of the history goes on up to its end.
                ts = min(ts + r.expovariate(1 / (1.5 * 86400)), (ts + end) / 2)
            outbound = (position % 2 == 0) == outbound_first
            sender, recipient = (staff, correspondent) if outbound else (correspondent, staff)
            moment = self._moment(ts)
            message_number = w.new_id(Message)
            domain = SCALE_MAIL_DOMAIN if outbound else sender.address.rpartition("@")[2]
            message_id_header = f"scale.{self.seed}.{message_number}@{domain}"
            subject = subject_base if position == 0 else f"RE: {subject_base}"
            new_text = self._body()
            if not outbound and sender.phone and r.random() < 0.08:
                new_text += f"\n\nVous pouvez me joindre au {sender.phone}."
                personal = True
            quoted = ""
            if previous is not None:
                prev_id, prev_name, prev_text, _prev_subject, prev_date = previous
                lines = prev_text[:QUOTE_MAX_CHARS].split("\n")
                quoted = (
                    f"Le {prev_date:%d/%m/%Y à %H:%M}, {prev_name} a écrit :\n"
                    + "\n".join(f"> {line}" if line else ">" for line in lines).rstrip()
                )
            # As the parser reads it: the signature with its "-- " line.
            signature = f"-- \n{sender.signature}"
            text = f"{new_text}\n\n{signature}" + (f"\n\n{quoted}" if quoted else "")
            in_reply_to = [previous[0]] if previous else []
            refs = list(references[-20:])
            raw_bytes = self._eml(
                message_id_header, sender, recipient, subject, moment, in_reply_to, refs, text
            )
            raw_id = self._raw_stored(
                raw_bytes, moment, sender=sender.address, recipient=recipient.address,
                outbound=outbound,
            )  # fmt: skip
            # Filing and publication.
            fields: dict[str, Any] = {}
            audience = ""
            if dossier is not None:
                method = (
                    FilingMethod.THREAD
                    if position
                    else r.choice(
                        (
                            FilingMethod.MANUAL,
                            FilingMethod.MANUAL,
                            FilingMethod.REFERENCE,
                            FilingMethod.RULE,
                            FilingMethod.SUGGESTION,
                        )
                    )
                )
                audience, review = self._publication(dossier, sender, outbound=outbound, ts=ts)
                filer = (
                    r.choice(self.staff_user_ids)
                    if method in (FilingMethod.MANUAL, FilingMethod.SUGGESTION)
                    else None
                )
                fields.update(
                    dossier_id=dossier.id,
                    audience=audience,
                    review=review,
                    filing_method=method,
                    filing_score=round(r.uniform(0.72, 0.99), 3)
                    if method == FilingMethod.SUGGESTION
                    else None,
                    filing_reason=FILING_REASONS[method],
                    filed_by_id=filer,
                    filed_at=self._moment(ts + r.uniform(60, 3 * 86400)) if filer else moment,
                )
                if review == Review.PUBLISHED:
                    fields.update(
                        published_at=self._moment(ts + r.uniform(600, 2 * 86400)),
                        published_by_id=r.choice(self.staff_user_ids),
                    )
            elif kind == "not_related":
                fields.update(
                    not_dossier_related=True,
                    filed_by_id=r.choice(self.staff_user_ids),
                    filed_at=self._moment(ts + 3600),
                )
            elif kind == "triage":
                fields["suggestions"] = self._suggestions(correspondent)
            redactions: dict[str, Any] = {}
            public: tuple[str, str, str] | None = None
            attachments = self._attachments(message_number, outbound=outbound, sender=sender)
            names = "\n".join(a[0].replace(".", " ").replace("_", " ") for a in attachments)
            if audience not in ("", Audience.INTERNAL):
                redactions, public = self._redactions(
                    subject, new_text, quoted, signature, text, names, scan=personal
                )
            message = dict(
                id=message_number,
                agency_id=agency_id,
                raw_id=raw_id,
                message_id=message_id_header,
                thread_id=thread_id,
                in_reply_to=in_reply_to,
                references=refs,
                subject=subject,
                from_name=sender.name,
                from_address=sender.address,
                to=[{"name": recipient.name, "address": recipient.address}],
                date=moment,
                date_header=moment.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
                text=text,
                new_text=new_text,
                quoted_text=quoted,
                signature=signature,
                parsed_at=moment,
                redactions=redactions,
                **fields,
            )
            w.add(Message, **message)
            for position_, (filename, content_type, sha, size, name) in enumerate(attachments):
                w.add(
                    Attachment,
                    id=w.new_id(Attachment),
                    message_id=message_number,
                    position=position_,
                    filename=filename,
                    content_type=content_type,
                    detected_type=content_type,
                    size=size,
                    sha256=sha,
                    storage_name=name,
                )
            w.add(
                ThreadLink,
                id=w.new_id(ThreadLink),
                agency_id=agency_id,
                message_id=message_id_header,
                thread_id=thread_id,
            )
            if dossier is not None:
                self._timeline(
                    dossier, EntryKind.MESSAGE, ts, audience, None, message_id=message_number
                )
            self.search.add(
                kind=SearchKind.MESSAGE,
                agency_id=agency_id,
                condominium_id=dossier.condominium_id if dossier else None,
                dossier_id=dossier.id if dossier else None,
                audience=audience,
                date=moment,
                title=subject,
                body=new_text,
                more=_texts(quoted, signature, names),
                public=public,
                message_id=message_number,
            )
            message_ids.append(message_number)
            references.append(message_id_header)
            previous = (
                message_id_header,
                sender.name,
                text,
                subject,
                moment,
            )
        w.add(
            Thread,
            id=thread_id,
            agency_id=agency_id,
            normalized_subject=normalize_subject(subject_base)[:255],
            first_message_at=self._moment(first_ts),
            last_message_at=self._moment(ts),
            created_at=self._moment(first_ts),
        )

    def _publication(
        self, dossier: _DossierInfo, sender: _Correspondent, *, outbound: bool, ts: float
    ) -> tuple[str, str]:
        """The audience and review state of a filed mail, as
        `publication.proposed_audiences` would propose it and staff accept
        it; the last month's inbound mail partly still waits for review."""
        r = self.rng
        if not outbound and ts > self.end_ts - 30 * 86400 and r.random() < 0.5:
            return Audience.INTERNAL, Review.PENDING
        if dossier.type == DossierType.ARREARS or dossier.audience == Audience.INTERNAL:
            return Audience.INTERNAL, Review.KEPT_INTERNAL
        proposal: str
        if sender.kind == "council":
            proposal = Audience.COUNCIL
        elif sender.kind == "owner":
            proposal = Audience.PARTIES
        elif outbound:
            proposal = dossier.audience
        else:
            proposal = OUTSIDER_AUDIENCE.get(dossier.type, Audience.PARTIES)
        audience = audience_within(dossier, proposal)
        if r.random() < 0.08:
            return Audience.INTERNAL, Review.KEPT_INTERNAL
        if audience == Audience.INTERNAL:
            return Audience.INTERNAL, Review.KEPT_INTERNAL
        return audience, Review.PUBLISHED

    def _redactions(
        self,
        subject: str,
        new_text: str,
        quoted: str,
        signature: str,
        text: str,
        names: str,
        *,
        scan: bool,
    ) -> tuple[dict[str, Any], tuple[str, str, str] | None]:
        """The redaction spans stored at publication, and the public texts
        of the index when some are masked. Only mail of a conversation where
        a phone number was written is scanned: the generated prose holds no
        other personal data (`tests/scale` checks both against
        `publication.redactions_compute`)."""
        found: dict[str, Any] = {"v": 1}
        if not scan:
            return found, None
        texts = {
            "subject": subject,
            "new_text": new_text,
            "quoted_text": quoted,
            "signature": signature,
            "text": text,
        }
        for name, value in texts.items():
            spans = personal_data_spans(
                value, keep_keys=frozenset(), keep_email_domains=frozenset({SCALE_MAIL_DOMAIN})
            )
            if spans:
                found[name] = [span.as_json() for span in spans]
        if len(found) == 1:
            return found, None
        served = message_texts_for(
            Viewer.anonymous(),
            Message(agency_id=self.agency.pk, redactions=found, unmasked=False, **texts),
            reveal=frozenset(),
        )
        return found, (
            served.subject,
            served.new_text or served.text,
            _texts(served.quoted_text, served.signature, names),
        )

    def _suggestions(self, correspondent: _Correspondent) -> list[dict[str, Any]]:
        r = self.rng
        picks = r.sample(self.dossiers[1:], min(len(self.dossiers) - 1, r.randint(0, 3)))
        return [
            {
                "dossier_id": d.id,
                "reference": d.reference,
                "score": round(r.uniform(0.2, 0.7), 3),
                "reason": "Dossiers semblables",
            }
            for d in picks
        ]

    def _attachments(
        self, number: int, *, outbound: bool, sender: _Correspondent
    ) -> list[tuple[str, str, str, int, str]]:
        r = self.rng
        chance = 0.3 if sender.kind == "company" else (0.05 if outbound else 0.12)
        if r.random() >= chance:
            return []
        return r.sample(self.attachment_pool, r.choice((1, 1, 1, 2, 3)))

    def _raw_stored(
        self,
        data: bytes,
        moment: dt.datetime,
        *,
        sender: str,
        recipient: str,
        outbound: bool = False,
    ) -> int:
        """Store a generated message's bytes, and write its `RawMessage`
        (parsed) and its `Delivery` (the inbox, or the Sent folder for the
        agency's own mail); returns the raw message's id."""
        w = self.writer
        sha256, storage_name = self._put_blob("raw", data)
        raw_id = w.new_id(RawMessage)
        w.add(
            RawMessage,
            id=raw_id,
            agency_id=self.agency.pk,
            sha256=sha256,
            size=len(data),
            storage_name=storage_name,
            state=RawState.PARSED,
            received_at=moment,
            processed_at=moment,
        )
        w.add(
            Delivery,
            id=w.new_id(Delivery),
            raw_id=raw_id,
            source_id=self.source.pk,
            folder="Éléments envoyés" if outbound else "INBOX",
            envelope_from=sender,
            envelope_to=[recipient],
            is_sent_folder=outbound,
            received_at=moment,
        )
        return raw_id

    def _eml(
        self,
        message_id: str,
        sender: _Correspondent,
        recipient: _Correspondent,
        subject: str,
        moment: dt.datetime,
        in_reply_to: list[str],
        references: list[str],
        text: str,
    ) -> bytes:
        """The mail as a client would have sent it, text only (see the module docstring)."""
        encoded = _header_value
        lines = [
            f"From: {encoded(sender.name)} <{sender.address}>",
            f"To: {encoded(recipient.name)} <{recipient.address}>",
            f"Subject: {encoded(subject)}",
            f"Date: {moment.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            f"Message-ID: <{message_id}>",
        ]
        if in_reply_to:
            lines.append(f"In-Reply-To: <{in_reply_to[0]}>")
            lines.append("References: " + " ".join(f"<{ref}>" for ref in references))
        lines += [
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n" + text.replace("\n", "\r\n") + "\r\n").encode()

    def _machine(self, n: int) -> None:
        """Auto-replies, bounces and newsletters: one mail each, in triage."""
        for _ in range(n):
            self._machine_one()

    def _machine_one(self) -> None:
        r = self.rng
        w = self.writer
        agency_id = self.agency.pk
        ts = r.uniform(self.end_ts - 120 * 86400, self.end_ts - 60)
        moment = self._moment(ts)
        roll = r.random()
        number = w.new_id(Message)
        if roll < 0.5:
            contact = r.choice(self._company_contacts())
            sender_name, sender_address = contact.name, contact.address
            subject = f"Réponse automatique : {r.choice(SUBJECTS[DossierType.WORKS])}"
            text = (
                "Bonjour,\n\nJe suis absent(e) du bureau et prendrai connaissance de votre "
                f"message à mon retour.\n\n{contact.name}"
            )
            flags: dict[str, Any] = {"is_auto_reply": True}
        elif roll < 0.7:
            sender_name, sender_address = (
                "Mail Delivery System",
                f"mailer-daemon@mx{r.randint(1, 9)}.example",
            )
            subject = "Undelivered Mail Returned to Sender"
            text = (
                "This is the mail system at host mx.example.\n\nI'm sorry to have to inform "
                "you that your message could not\nbe delivered to one or more recipients."
            )
            flags = {"is_bounce": True, "bounced_message_id": f"lost.{number}@{SCALE_MAIL_DOMAIN}"}
        else:
            sender_name, sender_address = (
                "La lettre de la copropriété",
                f"newsletter@{r.choice(('immo-actu', 'copro-infos', 'habitat-news'))}.example",
            )
            subject = (
                f"Lettre d'information – {r.choice(('juin', 'septembre', 'décembre', 'mars'))}"
            )
            text = "\n\n".join(r.choices(SENTENCES, k=r.randint(10, 40)))
            flags = {"is_bulk": True}
        message_id = f"scale.{self.seed}.{number}@{sender_address.rpartition('@')[2]}"
        fake = _Correspondent(0, sender_name, sender_address, "", "machine")
        staff = _Correspondent(0, SCALE_AGENCY_NAME, f"gestion@{SCALE_MAIL_DOMAIN}", "", "staff")
        data = self._eml(message_id, fake, staff, subject, moment, [], [], text)
        raw_id = self._raw_stored(data, moment, sender=sender_address, recipient=staff.address)
        thread_id = w.new_id(Thread)
        w.add(
            Message,
            id=number,
            agency_id=agency_id,
            raw_id=raw_id,
            message_id=message_id,
            thread_id=thread_id,
            subject=subject,
            from_name=sender_name,
            from_address=sender_address,
            to=[{"name": staff.name, "address": staff.address}],
            date=moment,
            date_header=moment.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            text=text,
            new_text=text,
            parsed_at=moment,
            **flags,
        )
        w.add(
            ThreadLink,
            id=w.new_id(ThreadLink),
            agency_id=agency_id,
            message_id=message_id,
            thread_id=thread_id,
        )
        w.add(
            Thread,
            id=thread_id,
            agency_id=agency_id,
            normalized_subject=normalize_subject(subject)[:255],
            first_message_at=moment,
            last_message_at=moment,
            created_at=moment,
        )
        self.search.add(
            kind=SearchKind.MESSAGE,
            agency_id=agency_id,
            condominium_id=None,
            dossier_id=None,
            audience="",
            date=moment,
            title=subject,
            body=text,
            more="",
            message_id=number,
        )

    def _finish(self) -> None:
        self.writer.reset_sequences()
        if self.writer.postgresql:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {_STAGING}")
                if not connection.in_atomic_block:
                    cursor.execute("SET maintenance_work_mem = '1GB'")
                    for statement in backends.POSTGRESQL_INSTALL[2:]:
                        cursor.execute(statement)
                    # Fresh statistics for the planner (autovacuum would
                    # take its time), and the visibility map that lets
                    # counts and keyset pages read indexes only.
                    cursor.execute("VACUUM (ANALYZE)")


# --- Entry point -------------------------------------------------------------------------


def _scale_agency() -> Agency | None:
    return Agency.objects.filter(name=SCALE_AGENCY_NAME).first()


def _delete_agency(agency: Agency, progress: Callable[[str], None]) -> None:
    """Delete the scale agency and everything of it: the big tables by SQL
    (the ORM would load a million rows to cascade), then the rest through
    the ORM, which follows every other table pointing at them."""
    from lanterne.documents.models import Document

    agency_id = agency.pk
    by_message = "message_id IN (SELECT id FROM mail_message WHERE agency_id = %s)"
    by_dossier = "dossier_id IN (SELECT id FROM dossiers_dossier WHERE agency_id = %s)"
    statements = [
        (SearchDocument, "agency_id = %s"),
        (TimelineEntry, by_dossier),
        (Attachment, by_message),
        (ThreadLink, "agency_id = %s"),
    ]
    bulk_models = {
        Message,
        RawMessage,
        Delivery,
        Thread,
        TimelineEntry,
        SearchDocument,
        Attachment,
        ThreadLink,
    }
    with transaction.atomic():
        # Rows of other tables pointing at the mail (audit, notifications…):
        # through the ORM first, so that the SQL deletes below break nothing.
        for related in Message._meta.related_objects:
            if related.related_model in bulk_models or not related.on_delete:
                continue
            related.related_model._default_manager.filter(
                **{f"{related.field.name}__agency_id": agency_id}
            ).delete()
        with connection.cursor() as cursor:
            for model, where in statements:
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {where}", [agency_id])  # noqa: S608
            cursor.execute(
                "UPDATE mail_rawmessage SET duplicate_of_id = NULL WHERE agency_id = %s",
                [agency_id],
            )
            cursor.execute("DELETE FROM mail_message WHERE agency_id = %s", [agency_id])
            cursor.execute(
                "DELETE FROM mail_delivery WHERE raw_id IN "
                "(SELECT id FROM mail_rawmessage WHERE agency_id = %s)",
                [agency_id],
            )
            cursor.execute("DELETE FROM mail_rawmessage WHERE agency_id = %s", [agency_id])
            cursor.execute("DELETE FROM mail_thread WHERE agency_id = %s", [agency_id])
        progress("  courriels supprimés")
        if Document.objects.filter(agency_id=agency_id).exists():  # none generated
            Document.objects.filter(agency_id=agency_id).delete()
        for model in (Task, Decision, Note, StatusChange):
            model._default_manager.filter(dossier__agency_id=agency_id).delete()
        Dossier.objects.filter(agency_id=agency_id).delete()
        users = list(
            Person.objects.filter(agency_id=agency_id, user__isnull=False).values_list(
                "user_id", flat=True
            )
        )
        for model in (Condominium, Company, Person):
            model._default_manager.filter(agency_id=agency_id).delete()
        User.objects.filter(pk__in=users, persons__isnull=True).delete()
        agency.delete()


def delete_scale_agency(progress: Callable[[str], None] = lambda line: None) -> bool:
    """Delete the scale agency if the database holds it; whether it did."""
    agency = _scale_agency()
    if agency is None:
        return False
    _delete_agency(agency, progress)
    return True


def scale_generate(
    *,
    size: ScaleSize,
    seed: int = 1965,
    today: dt.date | None = None,
    replace: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> ScaleSummary:
    """Generate the scale agency (see the module docstring). Refuses to run
    when the agency exists, unless `replace`."""
    existing = _scale_agency()
    if existing is not None:
        if not replace:
            raise ScaleDataExistsError(SCALE_AGENCY_NAME)
        progress(f"Suppression du cabinet « {SCALE_AGENCY_NAME} » existant…")
        _delete_agency(existing, progress)
    generator = _Generator(
        size=size, seed=seed, today=today or timezone.localdate(), progress=progress
    )
    # The GIN indexes are rebuilt once at the end rather than updated a
    # million times — outside a transaction only (PostgreSQL refuses to
    # build an index on a table with deferred checks pending).
    postgresql = connection.vendor == "postgresql" and not connection.in_atomic_block
    if postgresql:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            # Rebuilt once at the end (`_finish`): cheaper than a million GIN updates.
            cursor.execute("DROP INDEX IF EXISTS search_document_vector")
            cursor.execute("DROP INDEX IF EXISTS search_document_public_vector")
    try:
        return generator.run()
    finally:
        if postgresql:
            with connection.cursor() as cursor:
                for statement in backends.POSTGRESQL_INSTALL[2:]:
                    cursor.execute(statement)
