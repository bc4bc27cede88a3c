# ruff: noqa: E501 — the French sentences of the corpus are data, kept one per line.
"""A labeled corpus of one French syndic's mail over a year, for the filing
evaluation: every message comes with the dossier it belongs to, or none.

The agency, Cabinet Lumière in Lyon, manages five condominiums. Over the year
it opens dossiers (water damage, works, breakdowns, insurance claims, arrears,
general meetings, the council's requests) and closes them; some were opened
before the year, a few under the references of the agency's previous software
("DOS-1041", "2024/117"). Mail about them comes from:

- **co-owners**, who write about their own lot without any reference ("toujours
  la fuite chez moi"), sometimes naming their building or lot, sometimes not,
  and about things that concern no dossier (charges, a change of address, a
  notary's questions) — even while a dossier of theirs is open;
- **contractors, insurers, loss adjusters**, each working in several
  condominiums at once, who answer the mail Lanterne sent (its Message-ID in
  In-Reply-To, or only its reply address when a relay rewrote the headers, or
  only the subject tag when they start a new mail), or write a new mail naming
  the building, the lot, the work;
- **staff**, who write from their mail client (copied to the shared mailbox)
  and forward to it mail they received personally (inline, or attached);
- **machines**: out-of-office replies, bounces of staff mail, newsletters and
  mass mailings.

Conversations continue with replies (In-Reply-To and References, quoted
history below the new text, "RE :" subjects), sometimes through a mail client
that drops the References. The labels are what a careful manager would
decide: the dossier the mail is about, or none.

Everything is drawn from one seeded random generator: the same seed and size
give the same corpus. The references Lanterne controls (Message-IDs, reply
addresses, subject tags) depend on the dossiers' database ids and the secret
key, so messages are planned here and rendered to bytes later, with a
`ReferenceProvider` that knows the live dossiers (`run.py`), or with
`PlaceholderReferences` to look at a corpus without a database.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol
from zoneinfo import ZoneInfo

_POLICY = policy.SMTP.clone(max_line_length=78)
_PARIS = ZoneInfo("Europe/Paris")

AGENCY_NAME = "Cabinet Lumière"
AGENCY_DOMAIN = "cabinet-lumiere.fr"
SHARED_MAILBOX = f"gestion@{AGENCY_DOMAIN}"

# --- Who and where ------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Someone who writes mail: to the agency, or from it."""

    key: str
    first_name: str
    last_name: str
    address: str
    kind: str  # owner, contractor, insurer, adjuster, staff, outsider
    company: str | None = None  # CompanySpec.key
    style: str = "gmail"  # gmail or outlook: how their client quotes
    title: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class CondominiumSpec:
    key: str
    name: str
    address: str
    postal_code: str
    city: str
    nicknames: tuple[str, ...]
    lots: int


@dataclass(frozen=True)
class CompanySpec:
    key: str
    name: str
    kind: str  # contractor, insurer, adjuster (CompanyKind values)
    trade: str  # plumbing, elevator, heating, facade, roofing, locksmith, electricity,
    # cleaning, doors, insurance, assessment, bailiff
    domain: str
    address: str


@dataclass(frozen=True)
class OwnerSpec:
    """A co-owner: their lots in one condominium, and their council seat."""

    contact: Contact
    condominium: str
    lots: tuple[str, ...]
    council: str = ""  # "", "member" or "chair"


@dataclass
class DossierSpec:
    reference: str
    condominium: str
    type: str  # DossierType values
    title: str
    description: str
    opened: date
    closed: date | None
    party_lots: tuple[str, ...] = ()
    party_persons: tuple[str, ...] = ()  # Contact keys
    party_companies: tuple[str, ...] = ()  # CompanySpec keys
    # Who writes about it, and what it is about (for the texts).
    topic: str = ""
    imported: bool = False  # a reference of the previous software


@dataclass(frozen=True)
class RuleSpec:
    """A rule staff wrote (`MailRule`)."""

    name: str
    sender_domain: str = ""
    subject_contains: str = ""
    dossier: str = ""  # reference
    not_dossier_related: bool = False


# --- The references Lanterne controls --------------------------------------------


class ReferenceProvider(Protocol):
    """Lanterne's references for a dossier, by reference: what the mail it
    sent from that dossier carried, and replies keep."""

    def message_id(self, reference: str, unique: str) -> str: ...

    def reply_address(self, reference: str) -> str: ...

    def subject_with_tag(self, reference: str, subject: str) -> str: ...


class PlaceholderReferences:
    """References that look like Lanterne's, without a database (for looking
    at a corpus): they name no real dossier and verify nowhere."""

    def message_id(self, reference: str, unique: str) -> str:
        token = hashlib.sha256(reference.encode()).hexdigest()[:16]
        return f"<lanterne.{unique}.1-1.{token}@{AGENCY_DOMAIN}>"

    def reply_address(self, reference: str) -> str:
        token = hashlib.sha256(reference.encode()).hexdigest()[:16]
        return f"gestion+dos.1-1.{token}@{AGENCY_DOMAIN}"

    def subject_with_tag(self, reference: str, subject: str) -> str:
        return f"{subject} [{reference}]"


# --- Messages ---------------------------------------------------------------------


@dataclass
class MessageSpec:
    """One message of the corpus, planned; `render` makes its bytes."""

    index: int
    at: datetime
    label: str | None  # the dossier's reference, or None: concerns no dossier
    kind: str  # see KINDS
    sender: Contact
    to: tuple[Contact, ...]
    subject: str
    paragraphs: list[str]
    message_id: str
    cc: tuple[Contact, ...] = ()
    # The message it answers in the corpus (In-Reply-To / References), and
    # whether the replying client kept the References.
    parent: MessageSpec | None = None
    keep_references: bool = True
    # The mail Lanterne sent from a dossier that this one answers: its
    # Message-ID is in In-Reply-To unless a relay replaced it.
    lanterne_dossier: str | None = None
    lanterne_unique: str = ""
    channel: str = ""  # message_id, reply_address, tag: what survived of Lanterne's mail
    tag: str | None = None  # a dossier reference written in the subject
    tag_style: str = "lanterne"  # lanterne ("[DOS-…]") or imported ("Réf. 2024/117")
    quoted: list[tuple[Contact, datetime, list[str]]] = field(default_factory=list)
    forward_of: MessageSpec | None = None
    forward_attached: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    bounced: MessageSpec | None = None
    signature: bool = True

    def render(self, references: ReferenceProvider) -> bytes:
        return _render(self, references)


# What each kind of message is, for the evaluation's breakdown.
KINDS = {
    "owner_new": "co-owner starting a conversation, no reference",
    "owner_general": "co-owner about no dossier",
    "company_new": "contractor, insurer or adjuster starting a conversation, no reference",
    "council_new": "council member starting a conversation, no reference",
    "lanterne_reply": "answer to a mail sent from Lanterne",
    "tag_only": "new mail keeping a Lanterne subject tag",
    "tag_stranger": "subject tag from someone who is no party",
    "imported_reference": "reference of the previous software in the subject",
    "reply": "reply within a conversation",
    "reply_no_references": "reply whose client dropped the References",
    "staff_outbound": "staff mail copied to the shared mailbox",
    "staff_forward": "staff forwarding a mail they received",
    "auto_reply": "out-of-office reply",
    "bounce": "bounce of a staff mail",
    "newsletter": "newsletter or mass mailing",
    "advertising": "advertising without list headers",
    "rule_sender": "mail a staff rule files",
}


@dataclass
class Corpus:
    """The world of the agency, its dossiers, its rules and its mail."""

    seed: int
    start: date
    months: int
    condominiums: list[CondominiumSpec]
    companies: list[CompanySpec]
    company_contacts: list[Contact]
    owners: list[OwnerSpec]
    staff: list[Contact]
    dossiers: list[DossierSpec]
    rules: list[RuleSpec]
    messages: list[MessageSpec]

    def events(self) -> Iterator[tuple[datetime, str, DossierSpec | MessageSpec]]:
        """Dossiers opened and closed, and messages arriving, in time order:
        ("open", dossier), ("close", dossier), ("message", message)."""
        items: list[tuple[datetime, int, int, str, DossierSpec | MessageSpec]] = []
        for number, dossier in enumerate(self.dossiers):
            opened = datetime.combine(dossier.opened, time(7, 0), tzinfo=_PARIS)
            items.append((opened, 0, number, "open", dossier))
            if dossier.closed is not None:
                closed = datetime.combine(dossier.closed, time(20, 0), tzinfo=_PARIS)
                items.append((closed, 2, number, "close", dossier))
        for message in self.messages:
            items.append((message.at, 1, message.index, "message", message))
        items.sort(key=lambda item: (item[0], item[1], item[2]))
        for moment, _order, _number, what, thing in items:
            yield moment, what, thing

    def month_of(self, moment: datetime) -> int:
        """0 for the corpus's first month, 1 for the next…"""
        local = moment.astimezone(_PARIS)
        return (local.year - self.start.year) * 12 + local.month - self.start.month

    def dossier(self, reference: str) -> DossierSpec:
        return next(d for d in self.dossiers if d.reference == reference)


# --- The world ----------------------------------------------------------------------

_CONDOMINIUMS = [
    CondominiumSpec(
        "tilleuls",
        "Résidence Les Tilleuls",
        "12 rue des Tilleuls",
        "69003",
        "Lyon",
        ("Les Tilleuls",),
        48,
    ),
    CondominiumSpec(
        "belvedere",
        "Le Belvédère",
        "4 montée de la Grande-Côte",
        "69001",
        "Lyon",
        ("Belvédère",),
        26,
    ),
    CondominiumSpec(
        "terrasses",
        "Les Terrasses du Parc",
        "87 avenue Jean-Jaurès",
        "69007",
        "Lyon",
        ("Terrasses du Parc", "Les Terrasses"),
        64,
    ),
    CondominiumSpec(
        "saint-clair",
        "Villa Saint-Clair",
        "2 quai Clemenceau",
        "69300",
        "Caluire-et-Cuire",
        ("Saint-Clair",),
        18,
    ),
    CondominiumSpec(
        "vignes",
        "Le Clos des Vignes",
        "15 chemin des Vignes",
        "69110",
        "Sainte-Foy-lès-Lyon",
        ("Clos des Vignes",),
        36,
    ),
]

_COMPANIES = [
    # key, name, kind, trade, domain, address, contacts (first, last, title)
    ("martin", "Plomberie Martin", "contractor", "plumbing", "plomberie-martin.fr",
     "8 rue Paul-Bert, 69003 Lyon", [("Jean", "Martin", "Gérant"),
                                     ("Kevin", "Morel", "Plombier")]),
    ("hydro", "Hydro Services Rhône", "contractor", "plumbing", "hydro-services.fr",
     "21 avenue Berthelot, 69007 Lyon", [("Nadia", "Cherif", "Assistante technique")]),
    ("ascenseurs", "Ascenseurs du Rhône", "contractor", "elevator", "ascenseurs-rhone.fr",
     "3 rue de la Villette, 69003 Lyon", [("Sophie", "Lambert", "Chargée de clientèle"),
                                          ("Bruno", "Pellet", "Technicien")]),
    ("cds", "Chauffage Dauphiné Services", "contractor", "heating", "cds-chauffage.fr",
     "40 cours Gambetta, 69007 Lyon", [("Karim", "Haddad", "Technicien")]),
    ("facades", "Façades Lyonnaises", "contractor", "facade", "facades-lyon.fr",
     "115 route de Vienne, 69008 Lyon", [("Claire", "Dubois", "Conductrice de travaux")]),
    ("toitures", "Toitures Saône", "contractor", "roofing", "toitures-saone.fr",
     "6 quai Arloing, 69009 Lyon", [("Yann", "Le Goff", "Chef d'équipe")]),
    ("serrurerie", "Serrurerie Croix-Rousse", "contractor", "locksmith", "serrurerie-xrousse.fr",
     "27 boulevard de la Croix-Rousse, 69004 Lyon", [("Luc", "Bernard", "Artisan serrurier")]),
    ("elec", "Élec Confluence", "contractor", "electricity", "elec-confluence.fr",
     "14 cours Charlemagne, 69002 Lyon", [("Mehdi", "Amrani", "Électricien")]),
    ("portes", "Portes & Automatismes Lyonnais", "contractor", "doors", "pal-automatismes.fr",
     "9 rue du Dauphiné, 69003 Lyon", [("Thomas", "Riviere", "Technicien SAV")]),
    ("proprete", "Net'Immeuble Propreté", "contractor", "cleaning", "netimmeuble.fr",
     "52 rue Garibaldi, 69006 Lyon", [("Paulo", "Ferreira", "Responsable de secteur")]),
    ("mah", "Mutuelle Assurances Habitat", "insurer", "insurance", "mah-assurances.fr",
     "10 place Bellecour, 69002 Lyon", [("Nadia", "Benali", "Gestionnaire sinistres"),
                                        ("Olivier", "Garnier", "Gestionnaire sinistres")]),
    ("axiome", "Axiome Assurances", "insurer", "insurance", "axiome-assurances.fr",
     "1 rue de la Bourse, 69002 Lyon", [("Julie", "Fabre", "Chargée d'indemnisation")]),
    ("ceb", "Cabinet Expertises Bâtiment", "adjuster", "assessment", "ceb-expertise.fr",
     "33 rue Servient, 69003 Lyon", [("Henri", "Morel", "Expert")]),
    ("huissier", "Étude Vasseur Commissaires de justice", "contractor", "bailiff",
     "etude-vasseur.fr", "5 rue Grenette, 69002 Lyon", [("Anne", "Vasseur", "Commissaire de justice")]),
]  # fmt: skip

_FIRST_NAMES = [
    "Marie", "Pierre", "Isabelle", "François", "Nathalie", "Philippe", "Catherine", "Michel",
    "Sylvie", "Alain", "Christine", "Éric", "Valérie", "Thierry", "Céline", "Stéphane",
    "Hélène", "Olivier", "Anne", "Laurent", "Aurélie", "Julien", "Chloé", "Mathieu", "Sandrine",
    "Nicolas", "Émilie", "Jérôme", "Camille", "Patrick", "Sophie", "Antoine", "Martine",
    "Yves", "Léa", "Bernard", "Agnès", "Rémi", "Inès", "Hugo",
]  # fmt: skip
_LAST_NAMES = [
    "Girard", "Rousseau", "Fontaine", "Chevalier", "Lefèvre", "Mercier", "Blanc", "Guérin",
    "Faure", "Boyer", "Garnier", "Perrin", "Roux", "Fournier", "Morin", "Gauthier", "Lemaire",
    "Brun", "Barbier", "Arnaud", "Noël", "Picard", "Renaud", "Colin", "Vidal", "Caron",
    "Marchand", "Dumas", "Leroy", "Benoît", "Meyer", "Lacroix", "Bonnet", "Robin", "Giraud",
    "Bertrand", "Masson", "Sanchez", "Nguyen", "Haddad", "Da Silva", "Lopez", "Schmitt",
]  # fmt: skip
_WEBMAIL = ["gmail.com", "orange.fr", "free.fr", "wanadoo.fr", "laposte.net", "sfr.fr",
            "hotmail.fr", "yahoo.fr", "outlook.fr", "icloud.com"]  # fmt: skip
_STAFF = [
    ("Camille", "Roche", "Gestionnaire de copropriété"),
    ("Antoine", "Vidal", "Assistant de copropriété"),
    ("Inès", "Marchal", "Gestionnaire de copropriété"),
]


def _ascii(text: str) -> str:
    table = str.maketrans("éèêëàâäîïôöûüçÉÈÊÀÂÎÔÛÇ' ", "eeeeaaaiioouucEEEAAIOUC--")
    return text.translate(table).lower()


# --- Texts --------------------------------------------------------------------------
# Each topic: what the dossier is called, and what its correspondents write.


@dataclass(frozen=True)
class Topic:
    key: str
    dossier_type: str
    trades: tuple[str, ...]  # the companies that work on it
    titles: tuple[str, ...]  # dossier titles; {lot}, {building}
    owner_subjects: tuple[str, ...]
    owner_lines: tuple[str, ...]
    company_subjects: tuple[str, ...]
    company_lines: tuple[str, ...]
    council_subjects: tuple[str, ...] = ()
    council_lines: tuple[str, ...] = ()
    # Who the co-owners writing about it are: the parties (their own lot),
    # or any co-owner of the building.
    owners_are_parties: bool = True


TOPICS = [
    Topic(
        "water_damage",
        "water_damage",
        ("plumbing", "insurance", "assessment"),
        (
            "Dégât des eaux lot {lot}",
            "Fuite colonne eau chaude – lot {lot}",
            "Infiltration salle de bains lot {lot}",
            "Dégât des eaux du lot {lot} vers le lot {lot2}",
        ),
        (
            "Fuite d'eau chez moi",
            "Dégât des eaux",
            "Toujours la fuite",
            "Infiltration au plafond",
            "Urgent : eau qui coule du plafond",
            "Tache d'humidité salle de bains",
            "Constat amiable dégât des eaux",
            "Suite de la fuite",
            "Plombier pas encore passé",
        ),
        (
            "Je vous signale une fuite d'eau au plafond de ma salle de bains depuis ce matin.",
            "L'eau continue de couler le long du mur de la cuisine malgré l'intervention.",
            "Le voisin du dessus ne répond pas, je n'arrive pas à le joindre.",
            "J'ai rempli le constat amiable avec mon voisin, je vous le transmets en pièce jointe.",
            "La tache au plafond s'agrandit et la peinture commence à cloquer.",
            "Mon assureur me demande le rapport de recherche de fuite, pouvez-vous me l'envoyer ?",
            "Le plombier devait passer mardi mais personne n'est venu.",
            "Pouvez-vous faire intervenir un plombier rapidement ? C'est assez urgent.",
            "Le parquet de l'entrée a gonflé avec l'humidité.",
            "Je serai présent toute la journée de jeudi pour laisser entrer l'entreprise.",
            "L'expert est passé hier, il attend le devis de remise en état.",
            "Les travaux d'embellissement pourront-ils être pris en charge par l'assurance ?",
        ),
        (
            "Recherche de fuite {place}",
            "Rapport d'intervention – fuite {place}",
            "Devis réparation colonne {place}",
            "Sinistre dégât des eaux {place}",
            "Intervention fuite {place}",
            "Expertise dégât des eaux {place}",
        ),
        (
            "Nous sommes intervenus ce matin pour la recherche de fuite {place}.",
            "La fuite provient du joint de la colonne d'eau chaude, au niveau du {lotword}.",
            "Vous trouverez ci-joint notre rapport d'intervention avec les photos.",
            "Une recherche de fuite non destructive a été réalisée par caméra thermique.",
            "Le remplacement d'une portion de colonne est nécessaire, devis ci-joint.",
            "Nous avons bien enregistré la déclaration de sinistre sous la référence {claim}.",
            "Dans le cadre de la convention IRSI, l'assureur de l'occupant gère le sinistre.",
            "L'expertise contradictoire est fixée au {day} à 14 h sur place.",
            "Merci de nous communiquer les coordonnées de l'occupant pour fixer un rendez-vous.",
            "Le montant des dommages est estimé à {amount} euros hors taxes.",
        ),
    ),
    Topic(
        "facade",
        "works",
        ("facade",),
        ("Ravalement des façades", "Ravalement façade sur rue", "Ravalement et isolation"),
        (
            "Échafaudage devant ma fenêtre",
            "Travaux de ravalement",
            "Nuisances du chantier",
            "Question sur le ravalement",
            "Poussière sur mon balcon",
        ),
        (
            "L'échafaudage bloque l'accès à mon balcon depuis trois semaines.",
            "Les ouvriers commencent à 7 h, ce qui est contraire au règlement.",
            "Pouvez-vous me dire quand le chantier du ravalement doit se terminer ?",
            "Des éclats de peinture sont tombés sur ma terrasse.",
            "Le montant de l'appel de fonds pour le ravalement me paraît élevé.",
            "Les bâches ont été arrachées par le vent cette nuit.",
        ),
        (
            "Devis ravalement {place}",
            "Planning du chantier de ravalement {place}",
            "Avancement du chantier {place}",
            "Situation de travaux n° {n} – ravalement",
            "Réception des travaux de ravalement",
        ),
        (
            "Veuillez trouver ci-joint notre devis pour le ravalement des façades {place}.",
            "Le montage de l'échafaudage est prévu la semaine prochaine.",
            "Le chantier avance conformément au planning, le piquetage des enduits est terminé.",
            "Vous trouverez ci-joint notre situation de travaux n° {n}.",
            "Nous proposons une réunion de chantier jeudi à 10 h avec le conseil syndical.",
            "Les teintes retenues par l'assemblée générale ont été commandées.",
        ),
        (
            "Avis du conseil syndical sur les devis de ravalement",
            "Ravalement : questions du conseil syndical",
        ),
        (
            "Le conseil syndical a comparé les trois devis de ravalement reçus.",
            "Nous souhaiterions une visite du chantier avec l'entreprise.",
            "Le conseil syndical s'interroge sur le choix des teintes.",
        ),
        owners_are_parties=False,
    ),
    Topic(
        "roof",
        "works",
        ("roofing",),
        ("Réfection de la toiture", "Étanchéité de la toiture-terrasse", "Toiture bâtiment {building}"),
        (
            "Infiltration sous les toits",
            "Travaux de toiture",
            "Gouttière qui déborde",
        ),
        (
            "Depuis les pluies de la semaine dernière, l'eau s'infiltre dans mon séjour au dernier étage.",
            "Les couvreurs ont laissé des tuiles cassées dans la cour.",
            "Quand les travaux de la toiture doivent-ils commencer ?",
        ),
        (
            "Devis réfection toiture {place}",
            "Visite de la couverture {place}",
            "Travaux d'étanchéité {place}",
        ),
        (
            "Suite à notre visite, plusieurs tuiles sont à remplacer et les solins à reprendre.",
            "Veuillez trouver ci-joint notre devis pour la réfection de l'étanchéité {place}.",
            "Nous interviendrons avec une nacelle, merci de réserver deux places de stationnement.",
            "Les travaux de couverture sont terminés, nous vous proposons une réception le {day}.",
        ),
        owners_are_parties=False,
    ),
    Topic(
        "elevator",
        "incident",
        ("elevator",),
        ("Panne de l'ascenseur", "Ascenseur bâtiment {building} à l'arrêt", "Ascenseur : pannes répétées"),
        (
            "Ascenseur en panne",
            "Encore l'ascenseur",
            "Ascenseur bloqué",
            "Ascenseur à l'arrêt depuis trois jours",
        ),
        (
            "L'ascenseur est de nouveau en panne depuis ce matin.",
            "Ma mère de 85 ans ne peut plus sortir de chez elle, l'ascenseur est bloqué au 3e.",
            "C'est la troisième panne de l'ascenseur ce mois-ci.",
            "Quelqu'un est resté coincé dans la cabine hier soir.",
            "Le technicien est passé mais l'ascenseur s'est remis en panne dans l'après-midi.",
        ),
        (
            "Intervention ascenseur {place}",
            "Compte rendu de dépannage {place}",
            "Ascenseur {place} – pièce commandée",
            "Bon d'intervention ascenseur",
        ),
        (
            "Notre technicien est intervenu sur l'appareil {place} suite à l'appel d'hier.",
            "La carte de commande de la porte palière est à remplacer, la pièce est commandée.",
            "L'appareil a été remis en service à 16 h 30.",
            "Le délai de livraison de la pièce est de dix jours ouvrés.",
            "Vous trouverez ci-joint le bon d'intervention signé.",
        ),
    ),
    Topic(
        "heating",
        "incident",
        ("heating",),
        ("Panne du chauffage collectif", "Chaudière collective en défaut", "Eau chaude sanitaire"),
        (
            "Plus de chauffage",
            "Radiateurs froids",
            "Pas d'eau chaude",
            "Chauffage toujours en panne",
        ),
        (
            "Il n'y a plus de chauffage dans l'appartement depuis hier soir.",
            "Les radiateurs sont tièdes alors qu'il fait 15 degrés dans le séjour.",
            "Nous n'avons plus d'eau chaude depuis ce matin.",
            "Est-il possible de purger les radiateurs du dernier étage ?",
        ),
        (
            "Intervention chaufferie {place}",
            "Dépannage chaudière {place}",
            "Rapport de visite chaufferie",
        ),
        (
            "Notre technicien a constaté un défaut du brûleur de la chaudière {place}.",
            "La pompe de circulation a été remplacée, l'installation est remise en service.",
            "Le réglage de la courbe de chauffe a été modifié suite aux plaintes.",
        ),
    ),
    Topic(
        "garage_door",
        "incident",
        ("doors", "locksmith"),
        ("Porte du parking bloquée", "Portail automatique en panne", "Serrure de la porte d'entrée"),
        (
            "Porte du garage bloquée",
            "Impossible de sortir du parking",
            "Bip du portail",
            "Porte d'entrée qui ne ferme plus",
        ),
        (
            "La porte du parking reste bloquée en position fermée, je ne peux pas sortir ma voiture.",
            "Le portail se referme sur les voitures, c'est dangereux.",
            "La porte d'entrée de l'immeuble ne ferme plus, n'importe qui peut entrer.",
            "Mon bip ne fonctionne plus depuis le changement de la motorisation.",
        ),
        (
            "Dépannage porte de parking {place}",
            "Intervention serrurerie {place}",
            "Devis remplacement motorisation {place}",
        ),
        (
            "Nous sommes intervenus sur la porte du parking {place}, le moteur est hors service.",
            "La serrure de la porte d'entrée a été remplacée, six clés ont été remises au gardien.",
            "Veuillez trouver ci-joint notre devis de remplacement de la motorisation.",
        ),
    ),
    Topic(
        "storm",
        "claim",
        ("insurance", "assessment", "roofing"),
        ("Sinistre tempête du {day}", "Sinistre vandalisme hall", "Sinistre bris de glace"),
        (
            "Dégâts après la tempête",
            "Vitre du hall cassée",
            "Tags dans le hall",
        ),
        (
            "La tempête de cette nuit a arraché une partie de la gouttière au-dessus de mon balcon.",
            "La vitre de la porte du hall a été brisée dans la nuit.",
            "Des tags ont été faits dans la cage d'escalier.",
        ),
        (
            "Déclaration de sinistre {place}",
            "Sinistre n° {claim} – {place}",
            "Mission d'expertise {place}",
        ),
        (
            "Nous accusons réception de votre déclaration de sinistre, enregistrée sous le n° {claim}.",
            "Un expert a été mandaté, il prendra contact avec vous pour fixer un rendez-vous.",
            "Merci de nous transmettre les devis de remise en état et les photos des dommages.",
            "L'indemnité sera versée après application de la franchise contractuelle.",
        ),
        owners_are_parties=False,
    ),
    Topic(
        "arrears",
        "arrears",
        ("bailiff",),
        ("Impayés de charges lot {lot}", "Recouvrement lot {lot}"),
        (
            "Mon retard de charges",
            "Échéancier de paiement",
            "Relance reçue",
            "Règlement des charges",
        ),
        (
            "J'ai bien reçu votre relance concernant mes charges impayées.",
            "Je vous propose de régler ma dette en six mensualités.",
            "J'ai effectué un virement de 500 euros ce jour.",
            "Je conteste le montant des frais de relance qui m'ont été imputés.",
        ),
        (
            "Dossier de recouvrement {place}",
            "Commandement de payer – lot {lotnumber}",
        ),
        (
            "Nous vous informons que le commandement de payer a été signifié ce jour.",
            "Le débiteur nous a contactés pour proposer un échéancier.",
        ),
    ),
    Topic(
        "general_meeting",
        "general_meeting",
        (),
        ("Assemblée générale {year}", "Assemblée générale ordinaire {year}"),
        (
            "Pouvoir pour l'assemblée générale",
            "Question pour l'ordre du jour",
            "Assemblée générale",
            "Procès-verbal de l'AG",
            "Vote par correspondance",
        ),
        (
            "Je ne pourrai pas assister à l'assemblée générale, je vous transmets mon pouvoir.",
            "Je souhaite inscrire une question à l'ordre du jour de la prochaine assemblée générale.",
            "Je n'ai pas reçu la convocation à l'assemblée générale.",
            "Pouvez-vous m'envoyer le procès-verbal de l'assemblée générale ?",
            "Je souhaite voter par correspondance, le formulaire est joint.",
            "La résolution sur le changement de contrat d'entretien me pose question.",
        ),
        (),
        (),
        (
            "Ordre du jour de l'assemblée générale",
            "Préparation de l'AG",
        ),
        (
            "Le conseil syndical souhaite ajouter une résolution sur la vidéosurveillance.",
            "Nous avons relu le projet d'ordre du jour de l'assemblée générale.",
            "Pouvons-nous fixer une réunion de préparation de l'assemblée générale ?",
        ),
        owners_are_parties=False,
    ),
    Topic(
        "council",
        "council_request",
        ("cleaning",),
        ("Demande du conseil syndical : propreté des parties communes",
         "Demande du conseil syndical : contrat de ménage"),
        (),
        (),
        (
            "Planning de ménage {place}",
            "Contrat de nettoyage {place}",
        ),
        (
            "Veuillez trouver ci-joint le nouveau planning de passage de nos agents.",
            "Le passage du mercredi est décalé au jeudi à partir du mois prochain.",
        ),
        (
            "Propreté des parties communes",
            "Contrat de ménage",
        ),
        (
            "Le conseil syndical constate que les escaliers ne sont plus nettoyés correctement.",
            "Nous souhaitons que le contrat de l'entreprise de ménage soit renégocié.",
            "Les poubelles ne sont plus sorties le mardi soir.",
        ),
        owners_are_parties=False,
    ),
]  # fmt: skip
_TOPIC = {topic.key: topic for topic in TOPICS}
# How often each kind of dossier is opened (water damage is a syndic's daily
# bread; a general meeting is once a year per building, drawn at most once).
_TOPIC_WEIGHTS = {
    "water_damage": 2.2,
    "facade": 0.6,
    "roof": 0.5,
    "elevator": 0.9,
    "heating": 0.7,
    "garage_door": 0.7,
    "storm": 0.5,
    "arrears": 0.7,
    "general_meeting": 1.2,
    "council": 0.5,
}

_GENERAL_SUBJECTS = [
    ("Changement d'adresse", "Je vous informe de mon changement d'adresse postale à compter du 1er du mois."),
    ("Appel de fonds", "Je ne comprends pas le montant de mon dernier appel de fonds, pouvez-vous m'expliquer ?"),
    ("Vente de mon appartement", "Mon notaire me demande l'état daté pour la vente de mon lot."),
    ("Régularisation de charges", "La régularisation de charges de l'exercice me semble très élevée."),
    ("Nouveau locataire", "Je vous informe qu'un nouveau locataire occupe mon appartement depuis ce mois-ci."),
    ("Prélèvement automatique", "Je souhaite mettre en place le prélèvement automatique de mes charges."),
    ("Accès à l'extranet", "Je n'arrive pas à me connecter à mon espace en ligne."),
    ("Attestation", "Pourriez-vous m'adresser une attestation de paiement de mes charges ?"),
    ("Relevé de compte", "Pouvez-vous m'envoyer le relevé de mon compte copropriétaire ?"),
    ("Changement de RIB", "Voici mes nouvelles coordonnées bancaires pour les prélèvements."),
]  # fmt: skip
_NEWSLETTERS = [
    ("La Lettre de l'Habitat", "lettre@lettre-habitat.fr", "La Lettre de l'Habitat – n° {n}",
     "Les nouveautés de la loi Climat et résilience pour les copropriétés. Le DPE collectif : ce qui change cette année."),
    ("Fédération des Gestionnaires", "info@fede-gestion.fr", "Actualités juridiques du mois",
     "Jurisprudence : la responsabilité du syndic en cas de dégât des eaux. Formation : la convention IRSI."),
    ("ProMatériaux", "promo@promateriaux.fr", "-20 % sur les peintures de façade",
     "Profitez de nos offres sur les peintures et enduits de façade, livraison gratuite sur Lyon."),
    ("Webinaires Copro", "news@webinaires-copro.fr", "Webinaire : préparer son assemblée générale",
     "Inscrivez-vous à notre webinaire sur la préparation de l'assemblée générale et le vote par correspondance."),
]  # fmt: skip
_ADVERTISERS = [
    ("Jardins & Espaces Verts", "contact@jardins-ev.fr", "Entretien de vos espaces verts",
     "Nous proposons l'entretien des espaces verts de vos copropriétés à des tarifs préférentiels."),
    ("Diag Immo Express", "commercial@diagimmo-express.fr", "Diagnostics techniques à prix réduits",
     "Notre cabinet réalise vos diagnostics techniques globaux et DPE collectifs en moins de 15 jours."),
    ("Lyon Dératisation", "devis@lyon-deratisation.fr", "Campagne de dératisation",
     "Nous vous proposons une intervention préventive de dératisation dans vos caves et parkings."),
]  # fmt: skip
_GREETINGS = [
    "Bonjour,",
    "Bonjour Madame,",
    "Bonjour Monsieur,",
    "Madame, Monsieur,",
    "Bonjour à tous,",
]
_CLOSINGS = ["Cordialement,", "Bien cordialement,", "Bonne journée,", "Merci d'avance,",
             "Dans l'attente de votre retour,", "Salutations distinguées,"]  # fmt: skip
_REPLY_LINES = [
    "Merci pour votre retour.",
    "Bien reçu, merci.",
    "Je vous confirme ma disponibilité jeudi matin.",
    "C'est noté, je reste dans l'attente.",
    "Pouvez-vous me tenir informé de la suite ?",
    "Je vous remercie de votre réactivité.",
    "Le rendez-vous de mardi me convient.",
    "Je vous transmets les photos demandées.",
    "Avez-vous des nouvelles de l'entreprise ?",
    "Je relance à nouveau car je n'ai pas eu de réponse.",
    "Parfait, je préviens l'occupant.",
    "Le créneau de 14 h nous convient.",
]
_STAFF_LINES = [
    "Pouvez-vous intervenir dans les meilleurs délais {place} ?",
    "Merci de nous adresser votre devis pour le conseil syndical.",
    "Je vous transmets les coordonnées de l'occupant pour convenir d'un rendez-vous.",
    "Le conseil syndical a validé votre devis, vous pouvez commander les pièces.",
    "Merci de me tenir informée de l'avancement.",
]
_AUTO_REPLY = [
    "Je suis absent(e) du bureau jusqu'au {day} inclus. Pour toute urgence, contactez le standard.",
    "Merci pour votre message. Je suis actuellement en congés et n'aurai pas accès à ma messagerie.",
    "Votre message a bien été reçu. Nos équipes vous répondront dans les meilleurs délais.",
]


# --- The generator ------------------------------------------------------------------


class _Generator:
    """Builds one corpus from one seed (see `generate`)."""

    def __init__(self, seed: int, *, messages: int, start: date, months: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.target = messages
        self.start = start
        self.months = months
        self.end = _add_months(start, months)
        self.messages: list[MessageSpec] = []
        self.message_counter = 0
        self.references: dict[int, int] = {}
        self._world()

    # -- the world --------------------------------------------------------------

    def _world(self) -> None:
        rng = self.rng
        self.condominiums = list(_CONDOMINIUMS)
        self.companies: list[CompanySpec] = []
        self.company_contacts: list[Contact] = []
        self.contacts_of: dict[str, list[Contact]] = {}
        for key, name, kind, trade, domain, address, contacts in _COMPANIES:
            self.companies.append(CompanySpec(key, name, kind, trade, domain, address))
            for first, last, title in contacts:
                contact = Contact(
                    key=f"{key}:{_ascii(first)}",
                    first_name=first,
                    last_name=last,
                    address=f"{_ascii(first)}.{_ascii(last)}@{domain}",
                    kind=kind,
                    company=key,
                    style=rng.choice(["outlook", "outlook", "gmail"]),
                    title=title,
                )
                self.company_contacts.append(contact)
                self.contacts_of.setdefault(key, []).append(contact)
        self.companies_by_key = {company.key: company for company in self.companies}
        self.by_trade: dict[str, list[CompanySpec]] = {}
        for company in self.companies:
            self.by_trade.setdefault(company.trade, []).append(company)

        self.owners: list[OwnerSpec] = []
        used: set[str] = set()
        for condominium in self.condominiums:
            numbers = [str(n) for n in range(1, condominium.lots + 1)]
            rng.shuffle(numbers)
            # Most co-owners have one lot (a flat, sometimes with its cellar).
            seats = 0
            while numbers:
                count = 2 if len(numbers) > 1 and rng.random() < 0.25 else 1
                lots = tuple(sorted((numbers.pop() for _ in range(count)), key=int))
                first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
                local = f"{_ascii(first)}.{_ascii(last)}"
                while f"{local}@" in used:
                    local += str(rng.randrange(2, 99))
                used.add(f"{local}@")
                council = ""
                if seats < 3:
                    council = "chair" if seats == 0 else "member"
                    seats += 1
                self.owners.append(
                    OwnerSpec(
                        contact=Contact(
                            key=f"owner:{condominium.key}:{lots[0]}",
                            first_name=first,
                            last_name=last,
                            address=f"{local}@{rng.choice(_WEBMAIL)}",
                            kind="owner",
                            style=rng.choice(["gmail", "gmail", "outlook"]),
                        ),
                        condominium=condominium.key,
                        lots=lots,
                        council=council,
                    )
                )
        self.owners_of: dict[str, list[OwnerSpec]] = {}
        for owner in self.owners:
            self.owners_of.setdefault(owner.condominium, []).append(owner)
        self.owner_of_lot = {
            (owner.condominium, lot): owner for owner in self.owners for lot in owner.lots
        }
        self.staff = [
            Contact(
                key=f"staff:{_ascii(first)}",
                first_name=first,
                last_name=last,
                address=f"{_ascii(first)}.{_ascii(last)}@{AGENCY_DOMAIN}",
                kind="staff",
                style="outlook",
                title=title,
            )
            for first, last, title in _STAFF
        ]
        self.manager_of = {
            condominium.key: self.staff[index % 3 if index % 3 != 1 else 0]
            for index, condominium in enumerate(self.condominiums)
        }
        self.shared = Contact("shared", "Cabinet", "Lumière", SHARED_MAILBOX, "staff")

    # -- dossiers ----------------------------------------------------------------

    def dossiers(self) -> list[DossierSpec]:
        """About 9 dossiers a month over the year, plus those already open
        when it starts (some with references of the previous software)."""
        rng = self.rng
        dossiers: list[DossierSpec] = []
        counters: dict[int, int] = {}
        weights = [_TOPIC_WEIGHTS[topic.key] for topic in TOPICS]
        # Scale with the corpus: ~3,000 messages for ~120 dossiers.
        per_month = max(1.0, 9.0 * self.target / 3000)
        moments: list[date] = []
        for _ in range(max(4, round(14 * self.target / 3000))):
            moments.append(self.start - timedelta(days=rng.randrange(20, 200)))
        total_days = (self.end - self.start).days
        for _ in range(round(per_month * self.months)):
            moments.append(self.start + timedelta(days=rng.randrange(total_days)))
        moments.sort()
        imported = 1041
        general_meetings: set[tuple[str, int]] = set()
        for opened in moments:
            topic = rng.choices(TOPICS, weights)[0]
            condominium = rng.choice(self.condominiums)
            if topic.key == "general_meeting":
                key = (condominium.key, opened.year)
                if key in general_meetings:
                    topic = _TOPIC["water_damage"]
                else:
                    general_meetings.add(key)
            if opened < self.start and rng.random() < 0.4:
                reference = (
                    f"DOS-{imported}" if rng.random() < 0.5 else f"{opened.year}/{imported - 930}"
                )
                imported += 1
                is_imported = True
            else:
                counters[opened.year] = counters.get(opened.year, 0) + 1
                reference = f"DOS-{opened.year}-{counters[opened.year]:04d}"
                is_imported = False
            duration = {
                "water_damage": (30, 150),
                "works": (60, 240),
                "incident": (5, 45),
                "claim": (40, 160),
                "arrears": (60, 300),
                "general_meeting": (60, 120),
                "council_request": (20, 90),
            }[topic.dossier_type]
            closed: date | None = opened + timedelta(days=rng.randrange(*duration))
            if closed is not None and closed >= self.end:
                closed = None
            dossiers.append(
                self._dossier(topic, condominium, reference, opened, closed, is_imported)
            )
        return dossiers

    def _dossier(
        self,
        topic: Topic,
        condominium: CondominiumSpec,
        reference: str,
        opened: date,
        closed: date | None,
        imported: bool,
    ) -> DossierSpec:
        rng = self.rng
        owners = self.owners_of[condominium.key]
        lot = rng.choice([lot for owner in owners for lot in owner.lots])
        upstairs = (
            str(int(lot) + 1) if (condominium.key, str(int(lot) + 1)) in self.owner_of_lot else lot
        )
        title = rng.choice(topic.titles).format(
            lot=lot,
            lot2=upstairs,
            building=rng.choice("ABC"),
            day=opened.strftime("%d/%m"),
            year=opened.year,
        )
        party_lots: tuple[str, ...] = ()
        party_persons: tuple[str, ...] = ()
        if topic.owners_are_parties:
            party_lots = (
                (lot,) if upstairs == lot or topic.key != "water_damage" else (lot, upstairs)
            )
            party_persons = tuple(
                self.owner_of_lot[(condominium.key, n)].contact.key for n in party_lots
            )
            if topic.dossier_type == "incident":
                # A breakdown is the building's: the co-owner who reported it
                # is named, not their lot.
                party_lots = ()
                party_persons = party_persons[:1]
        companies: list[str] = []
        for trade in topic.trades:
            if trade in ("insurance", "assessment") and rng.random() < 0.5:
                continue
            if trade == "roofing" and topic.key == "storm" and rng.random() < 0.6:
                continue
            candidates = self.by_trade.get(trade, [])
            if candidates:
                companies.append(rng.choice(candidates).key)
        if topic.dossier_type == "arrears" and rng.random() < 0.5:
            companies = []
        return DossierSpec(
            reference=reference,
            condominium=condominium.key,
            type=topic.dossier_type,
            title=title,
            description="",
            opened=opened,
            closed=closed,
            party_lots=party_lots,
            party_persons=party_persons,
            party_companies=tuple(companies),
            topic=topic.key,
            imported=imported,
        )

    # -- messages ---------------------------------------------------------------

    def _moment(self, day: date, *, after: datetime | None = None) -> datetime:
        """A working-hours moment on `day` (or a few hours after `after`)."""
        rng = self.rng
        if after is not None:
            moment = after + timedelta(hours=rng.randrange(2, 96), minutes=rng.randrange(60))
        else:
            moment = datetime.combine(
                day, time(rng.randrange(7, 20), rng.randrange(60)), tzinfo=_PARIS
            )
        return moment.astimezone(UTC)

    def _new_id(self, sender: Contact) -> str:
        self.message_counter += 1
        domain = sender.address.rpartition("@")[2]
        return f"{self.rng.getrandbits(48):012x}.{self.message_counter}@{domain}"

    def _place(self, condominium: CondominiumSpec, lot: str | None, *, formal: bool) -> str:
        """How a mail names where: the building by name, nickname or street,
        with or without the lot."""
        rng = self.rng
        choice = rng.random()
        if choice < 0.45:
            where = condominium.name
        elif choice < 0.7:
            where = rng.choice(condominium.nicknames)
        elif choice < 0.9:
            where = condominium.address
        else:
            where = f"{condominium.address}, {condominium.postal_code} {condominium.city}"
        if lot and rng.random() < (0.8 if formal else 0.5):
            return f"{where}, lot {lot}" if rng.random() < 0.6 else f"{where} (lot n° {lot})"
        return where

    def _fill(self, text: str, condominium: CondominiumSpec, lot: str | None) -> str:
        rng = self.rng
        return text.format(
            place=self._place(condominium, lot, formal=True),
            lotword=f"lot {lot}" if lot else "troisième étage",
            lotnumber=lot or rng.randrange(1, 40),
            claim=f"{rng.randrange(10, 99)}{rng.randrange(100000, 999999)}",
            day=f"{rng.randrange(1, 29)}/{rng.randrange(1, 13):02d}",
            amount=rng.randrange(800, 9000),
            n=rng.randrange(1, 6),
        )

    def conversations(self, dossiers: list[DossierSpec]) -> None:
        """The mail of every dossier, in conversations, and the mail of no
        dossier around it."""
        rng = self.rng
        scale = self.target / 3000
        # Conversations per dossier open for four months or more.
        per_dossier = {
            "water_damage": 16.0,
            "works": 15.0,
            "incident": 11.0,
            "claim": 11.0,
            "arrears": 7.0,
            "general_meeting": 17.0,
            "council_request": 9.0,
        }
        for dossier in dossiers:
            start = max(dossier.opened, self.start)
            stop = min(dossier.closed or self.end, self.end)
            if stop <= start:
                continue
            span = (stop - start).days
            active = min(1.0, span / 120)
            count = max(1, round(rng.gauss(per_dossier[dossier.type] * (0.5 + active), 2)))
            for _ in range(count):
                # Mail comes early in a dossier's life more than late.
                offset = int(span * rng.random() ** 1.6)
                self._conversation(dossier, start + timedelta(days=offset))
        self._unrelated(round(400 * scale))
        self._rule_mail(dossiers, round(25 * scale))

    def _conversation(self, dossier: DossierSpec, day: date) -> None:
        """One conversation about `dossier`: its first message and replies."""
        rng = self.rng
        topic = _TOPIC[dossier.topic]
        condominium = next(c for c in self.condominiums if c.key == dossier.condominium)
        lot = dossier.party_lots[0] if dossier.party_lots else None
        companies = [self.rng.choice(self.contacts_of[key]) for key in dossier.party_companies]
        owners = [self._contact(key) for key in dossier.party_persons]
        council = [o.contact for o in self.owners_of[condominium.key] if o.council]
        at = self._moment(day)
        kinds = []
        if owners and topic.owner_lines:
            kinds += [("owner", 4.0)]
        elif topic.owner_lines:
            kinds += [("any_owner", 2.5)]
        if companies and topic.company_lines:
            kinds += [("company", 4.0)]
        if council and topic.council_lines:
            kinds += [("council", 1.5)]
        kinds += [("staff", 0.7)]
        who = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        if who == "company":
            sender = rng.choice(companies)
            first = self._company_mail(dossier, topic, condominium, lot, sender, at)
        elif who == "owner":
            sender = rng.choice(owners)
            first = self._owner_mail(dossier, topic, condominium, sender, at)
        elif who == "any_owner":
            owner = rng.choice(self.owners_of[condominium.key])
            first = self._owner_mail(dossier, topic, condominium, owner.contact, at, party=False)
        elif who == "council":
            sender = rng.choice(council)
            first = self._council_mail(dossier, topic, condominium, sender, at)
        else:
            first = self._staff_mail(dossier, topic, condominium, lot, companies, owners, at)
        if first is None:
            return
        # Replies: the other side answers (through Lanterne's mail, or in the
        # conversation), sometimes several times.
        previous = first
        for _ in range(min(6, int(rng.expovariate(0.9)))):
            at = self._moment(day, after=previous.at)
            if self.end <= at.date():
                break
            previous = self._reply(dossier, previous, at)
        # An out-of-office now and then, answering the agency's mail.
        if rng.random() < 0.06:
            self._auto_reply(dossier, first, self._moment(day, after=first.at))

    def _contact(self, key: str) -> Contact:
        if key.startswith("owner:"):
            _kind, condominium, lot = key.split(":")
            return self.owner_of_lot[(condominium, lot)].contact
        return next(c for c in self.company_contacts if c.key == key)

    def _add(self, spec: MessageSpec) -> MessageSpec:
        self.messages.append(spec)
        return spec

    def _spec(self, **kwargs: object) -> MessageSpec:
        sender = kwargs["sender"]
        assert isinstance(sender, Contact)
        return MessageSpec(index=-1, message_id=self._new_id(sender), **kwargs)  # type: ignore[arg-type]

    def _lines(
        self,
        pool: tuple[str, ...] | list[str],
        condominium: CondominiumSpec,
        lot: str | None,
        k: tuple[int, int],
    ) -> list[str]:
        rng = self.rng
        count = min(len(pool), rng.randint(*k))
        return [self._fill(line, condominium, lot) for line in rng.sample(list(pool), count)]

    def _owner_mail(
        self,
        dossier: DossierSpec,
        topic: Topic,
        condominium: CondominiumSpec,
        sender: Contact,
        at: datetime,
        *,
        party: bool = True,
    ) -> MessageSpec | None:
        rng = self.rng
        owner = next(o for o in self.owners if o.contact.key == sender.key)
        lines = self._lines(topic.owner_lines, condominium, None, (1, 3))
        # Co-owners name their lot or building only sometimes.
        mention = rng.random()
        if mention < 0.35:
            lines.insert(0, f"Je suis propriétaire du lot {owner.lots[0]} {_de(condominium)}.")
        elif mention < 0.55:
            lines.insert(0, f"Je vous écris au sujet de mon appartement {_at(condominium)}.")
        elif mention < 0.7:
            lines.append(f"({condominium.address}, lot {owner.lots[0]})")
        subject = rng.choice(topic.owner_subjects)
        # Now and then the owner answers a mail Lanterne sent them.
        if party and rng.random() < 0.25:
            return self._lanterne_reply(dossier, sender, subject, lines, at)
        kind = "owner_new"
        spec = self._spec(
            at=at, label=dossier.reference, kind=kind, sender=sender, to=(self.shared,),
            subject=subject, paragraphs=lines,
        )  # fmt: skip
        # Some co-owners write to their manager directly, who forwards.
        if rng.random() < 0.12:
            return self._forward(spec, dossier)
        return self._add(spec)

    def _council_mail(
        self,
        dossier: DossierSpec,
        topic: Topic,
        condominium: CondominiumSpec,
        sender: Contact,
        at: datetime,
    ) -> MessageSpec:
        rng = self.rng
        lines = self._lines(topic.council_lines, condominium, None, (1, 2))
        if rng.random() < 0.6:
            lines.insert(
                0,
                f"En tant que membre du conseil syndical {_de(condominium)}, je reviens vers vous.",
            )
        if rng.random() < 0.3:
            return self._lanterne_reply(
                dossier, sender, rng.choice(topic.council_subjects), lines, at
            )
        return self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind="council_new",
                sender=sender,
                to=(self.shared,),
                subject=rng.choice(topic.council_subjects),
                paragraphs=lines,
                cc=tuple(
                    o.contact
                    for o in self.owners_of[condominium.key]
                    if o.council and o.contact != sender
                )[:1],
            )  # fmt: skip
        )

    def _company_mail(
        self,
        dossier: DossierSpec,
        topic: Topic,
        condominium: CondominiumSpec,
        lot: str | None,
        sender: Contact,
        at: datetime,
    ) -> MessageSpec:
        rng = self.rng
        subject = self._fill(rng.choice(topic.company_subjects), condominium, lot)
        lines = self._lines(topic.company_lines, condominium, lot, (1, 3))
        choice = rng.random()
        strangers = [
            contact
            for company in self.by_trade.get(self.companies_by_key[sender.company or ""].trade, [])
            if company.key not in dossier.party_companies
            for contact in self.contacts_of[company.key]
        ]
        if choice < 0.04 and strangers:
            # Another firm (a subcontractor, a colleague's competitor) writes
            # with the dossier's tag in the subject: no proof of anything.
            return self._add(
                self._spec(
                    at=at,
                    label=dossier.reference,
                    kind="tag_stranger",
                    sender=rng.choice(strangers),
                    to=(self.shared,),
                    subject=subject,
                    paragraphs=lines,
                    tag=dossier.reference,
                    tag_style="imported" if dossier.imported else "lanterne",
                )  # fmt: skip
            )
        if choice < 0.5:
            # Most contractor mail answers the agency's mail, sent from Lanterne.
            return self._lanterne_reply(dossier, sender, subject, lines, at)
        if choice < 0.6:
            # A new mail, keeping the tag of an earlier one.
            return self._add(
                self._spec(
                    at=at,
                    label=dossier.reference,
                    kind="tag_only",
                    sender=sender,
                    to=(self.shared,),
                    subject=subject,
                    paragraphs=lines,
                    tag=dossier.reference,
                    tag_style="imported" if dossier.imported else "lanterne",
                )  # fmt: skip
            )
        if choice < 0.65 and dossier.imported:
            return self._add(
                self._spec(
                    at=at,
                    label=dossier.reference,
                    kind="imported_reference",
                    sender=sender,
                    to=(self.shared,),
                    subject=subject,
                    paragraphs=lines,
                    tag=dossier.reference,
                    tag_style="imported",
                )  # fmt: skip
            )
        return self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind="company_new",
                sender=sender,
                to=(self.shared,),
                subject=subject,
                paragraphs=lines,
            )  # fmt: skip
        )

    def _lanterne_reply(
        self, dossier: DossierSpec, sender: Contact, subject: str, lines: list[str], at: datetime
    ) -> MessageSpec:
        """An answer to a mail the agency sent from Lanterne about `dossier`.
        What survives of Lanterne's references depends on the sender's relay
        and client."""
        rng = self.rng
        channel = rng.choices(["message_id", "reply_address", "tag"], [0.7, 0.15, 0.15])[0]
        unique = f"{rng.getrandbits(40):010x}"
        staff = self.manager_of[dossier.condominium]
        quoted = [
            (
                staff,
                at - timedelta(days=rng.randrange(1, 6)),
                [rng.choice(_STAFF_LINES).format(place="")],
            )
        ]
        return self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind="lanterne_reply",
                sender=sender,
                to=(self.shared,),
                subject="RE : " + subject,
                paragraphs=[rng.choice(_REPLY_LINES), *lines],
                lanterne_dossier=dossier.reference,
                lanterne_unique=unique,
                channel=channel,
                tag=dossier.reference,
                tag_style="imported" if dossier.imported else "lanterne",
                quoted=quoted,
            )  # fmt: skip
        )

    def _staff_mail(
        self,
        dossier: DossierSpec,
        topic: Topic,
        condominium: CondominiumSpec,
        lot: str | None,
        companies: list[Contact],
        owners: list[Contact],
        at: datetime,
    ) -> MessageSpec | None:
        """Staff writing from their mail client, the shared mailbox in copy."""
        rng = self.rng
        recipients = companies or owners
        if not recipients:
            return None
        recipient = rng.choice(recipients)
        staff = self.manager_of[dossier.condominium]
        subject = dossier.title if rng.random() < 0.5 else f"{dossier.title} – {condominium.name}"
        lines = [self._fill(rng.choice(_STAFF_LINES), condominium, lot)]
        return self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind="staff_outbound",
                sender=staff,
                to=(recipient,),
                cc=(self.shared,),
                subject=subject,
                paragraphs=lines,
            )  # fmt: skip
        )

    def _forward(self, original: MessageSpec, dossier: DossierSpec) -> MessageSpec:
        """A manager forwards to the shared mailbox a mail she received."""
        rng = self.rng
        staff = self.manager_of[dossier.condominium]
        original.to = (staff,)
        at = original.at + timedelta(minutes=rng.randrange(5, 600))
        return self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind="staff_forward",
                sender=staff,
                to=(self.shared,),
                subject="TR : " + original.subject,
                paragraphs=[
                    rng.choice(["Pour classement.", "À classer, merci.", "Pour info.", ""])
                ],
                forward_of=original,
                forward_attached=rng.random() < 0.3,
            )  # fmt: skip
        )

    def _reply(self, dossier: DossierSpec, previous: MessageSpec, at: datetime) -> MessageSpec:
        """The next message of a conversation: the same correspondent (or the
        other party) answering what the agency said in between — from Lanterne,
        so the answer carries its references — or answering in the thread."""
        rng = self.rng
        if previous.forward_of is not None:
            # The manager forwarded a co-owner's mail: its author answers the
            # mail they wrote (they never saw the forward).
            previous = previous.forward_of
            sender, subject = previous.sender, previous.subject
        elif previous.sender.kind == "staff":
            # Staff mail: its recipient answers.
            sender, subject = previous.to[0], previous.subject
        else:
            sender, subject = previous.sender, previous.subject
        subject = subject.split("] ")[-1]
        subject = subject if subject.upper().startswith("RE") else "RE : " + subject
        lines = [rng.choice(_REPLY_LINES)]
        if rng.random() < 0.4:
            lines.append(rng.choice(_REPLY_LINES))
        quoted = [(previous.sender, previous.at, previous.paragraphs), *previous.quoted][:4]
        choice = rng.random()
        if previous.sender.kind == "staff" and previous.kind == "staff_outbound":
            # The answer to staff mail: in the thread (its Message-ID).
            kind, keep = "reply", rng.random() < 0.85
        elif choice < 0.55:
            # Through Lanterne: staff answered from the dossier in between.
            unique = f"{rng.getrandbits(40):010x}"
            return self._add(
                self._spec(
                    at=at,
                    label=dossier.reference,
                    kind="lanterne_reply",
                    sender=sender,
                    to=(self.shared,),
                    subject=subject,
                    paragraphs=lines,
                    parent=previous,
                    lanterne_dossier=dossier.reference,
                    lanterne_unique=unique,
                    channel=rng.choices(["message_id", "reply_address", "tag"], [0.8, 0.1, 0.1])[0],
                    tag=dossier.reference,
                    tag_style="imported" if dossier.imported else "lanterne",
                    quoted=quoted,
                )  # fmt: skip
            )
        elif choice < 0.9:
            kind, keep = "reply", True
        else:
            kind, keep = "reply_no_references", False
        if kind == "reply" and not keep:
            kind = "reply_no_references"
        return self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind=kind,
                sender=sender,
                to=(self.shared,),
                subject=subject,
                paragraphs=lines,
                parent=previous,
                keep_references=keep,
                quoted=quoted,
            )  # fmt: skip
        )

    def _auto_reply(self, dossier: DossierSpec, first: MessageSpec, at: datetime) -> None:
        rng = self.rng
        if first.kind == "staff_outbound":
            # The recipient of staff mail is away: an answer in the thread;
            # or the address is wrong: a bounce.
            recipient = first.to[0]
            if rng.random() < 0.35:
                daemon = Contact(
                    "daemon",
                    "Mail Delivery",
                    "System",
                    f"mailer-daemon@{recipient.address.rpartition('@')[2]}",
                    "outsider",
                )
                self._add(
                    self._spec(
                        at=at,
                        label=dossier.reference,
                        kind="bounce",
                        sender=daemon,
                        to=(first.sender,),
                        subject="Undelivered Mail Returned to Sender",
                        paragraphs=[
                            f"This is the mail system at host {recipient.address.rpartition('@')[2]}.",
                            "I'm sorry to have to inform you that your message could not be delivered.",
                        ],
                        bounced=first,
                        signature=False,
                    )  # fmt: skip
                )
                return
            self._add(
                self._spec(
                    at=at,
                    label=dossier.reference,
                    kind="auto_reply",
                    sender=recipient,
                    to=(first.sender,),
                    subject="Réponse automatique : " + first.subject,
                    paragraphs=[
                        rng.choice(_AUTO_REPLY).format(
                            day=f"{rng.randrange(1, 29)}/{rng.randrange(1, 13):02d}"
                        )
                    ],
                    parent=first,
                    extra_headers={"Auto-Submitted": "auto-replied"},
                    signature=False,
                )  # fmt: skip
            )
            return
        if first.sender.kind in ("staff", "owner") and first.kind != "lanterne_reply":
            return
        # Away from the office, answering the mail Lanterne sent.
        self._add(
            self._spec(
                at=at,
                label=dossier.reference,
                kind="auto_reply",
                sender=first.sender,
                to=(self.shared,),
                subject="Absence du bureau",
                paragraphs=[
                    rng.choice(_AUTO_REPLY).format(
                        day=f"{rng.randrange(1, 29)}/{rng.randrange(1, 13):02d}"
                    )
                ],
                lanterne_dossier=dossier.reference,
                lanterne_unique=f"{rng.getrandbits(40):010x}",
                channel="message_id",
                extra_headers={"Auto-Submitted": "auto-replied"},
                signature=False,
            )  # fmt: skip
        )

    def _unrelated(self, count: int) -> None:
        """Mail of no dossier: co-owners' general questions, newsletters,
        advertising, stray mail."""
        rng = self.rng
        days = (self.end - self.start).days
        for _ in range(count):
            day = self.start + timedelta(days=rng.randrange(days))
            at = self._moment(day)
            choice = rng.random()
            if choice < 0.55:
                owner = rng.choice(self.owners)
                condominium = next(c for c in self.condominiums if c.key == owner.condominium)
                subject, line = rng.choice(_GENERAL_SUBJECTS)
                lines = [line]
                if rng.random() < 0.5:
                    lines.append(f"Je suis propriétaire du lot {owner.lots[0]} {_de(condominium)}.")
                spec = self._add(
                    self._spec(
                        at=at,
                        label=None,
                        kind="owner_general",
                        sender=owner.contact,
                        to=(self.shared,),
                        subject=subject,
                        paragraphs=lines,
                    )  # fmt: skip
                )
                if rng.random() < 0.3:
                    self._reply_unrelated(spec)
            elif choice < 0.85:
                name, address, subject, text = rng.choice(_NEWSLETTERS)
                sender = Contact("newsletter", name, "", address, "outsider")
                self._add(
                    self._spec(
                        at=at,
                        label=None,
                        kind="newsletter",
                        sender=sender,
                        to=(self.shared,),
                        subject=subject.format(n=rng.randrange(40, 200)),
                        paragraphs=[text],
                        extra_headers={
                            "List-Unsubscribe": f"<mailto:desinscription@{address.rpartition('@')[2]}>",
                            "Precedence": "bulk",
                        },
                        signature=False,
                    )  # fmt: skip
                )
            else:
                name, address, subject, text = rng.choice(_ADVERTISERS)
                sender = Contact("advertiser", name, "", address, "outsider")
                self._add(
                    self._spec(
                        at=at,
                        label=None,
                        kind="advertising",
                        sender=sender,
                        to=(self.shared,),
                        subject=subject,
                        paragraphs=[text, "N'hésitez pas à nous contacter pour un devis gratuit."],
                    )  # fmt: skip
                )

    def _reply_unrelated(self, previous: MessageSpec) -> None:
        rng = self.rng
        at = self._moment(previous.at.date(), after=previous.at)
        if at.date() >= self.end:
            return
        self._add(
            self._spec(
                at=at,
                label=None,
                kind="reply",
                sender=previous.sender,
                to=(self.shared,),
                subject="RE : " + previous.subject,
                paragraphs=[rng.choice(_REPLY_LINES)],
                parent=previous,
                quoted=[(previous.sender, previous.at, previous.paragraphs)],
            )  # fmt: skip
        )

    def rules(self, dossiers: list[DossierSpec]) -> list[RuleSpec]:
        """Rules staff wrote: advertising of a known sender is not dossier
        mail; the cleaning company's reports go to the long-running council
        request of the building it serves."""
        rules = [
            RuleSpec(
                "Publicité espaces verts", sender_domain="jardins-ev.fr", not_dossier_related=True
            )
        ]
        target = self._rule_target(dossiers)
        if target is not None:
            rules.append(
                RuleSpec(
                    "Rapports de passage du ménage",
                    sender_domain="netimmeuble.fr",
                    subject_contains="rapport de passage",
                    dossier=target.reference,
                )
            )
        return rules

    def _rule_target(self, dossiers: list[DossierSpec]) -> DossierSpec | None:
        long_running = [
            d
            for d in dossiers
            if d.topic == "council" and d.opened <= self.start + timedelta(days=60)
        ]
        return max(long_running, key=lambda d: (d.closed or self.end) - d.opened, default=None)

    def _rule_mail(self, dossiers: list[DossierSpec], count: int) -> None:
        target = self._rule_target(dossiers)
        if target is None:
            return
        rng = self.rng
        sender = self.contacts_of["proprete"][0]
        condominium = next(c for c in self.condominiums if c.key == target.condominium)
        first = max(target.opened, self.start)
        last = min(target.closed or self.end, self.end)
        for _ in range(count):
            day = first + timedelta(days=rng.randrange(max(1, (last - first).days)))
            self._add(
                self._spec(
                    at=self._moment(day),
                    label=target.reference,
                    kind="rule_sender",
                    sender=sender,
                    to=(self.shared,),
                    subject=f"Rapport de passage – {condominium.name}",
                    paragraphs=[
                        "Veuillez trouver ci-dessous le rapport de passage de notre agent.",
                        "Halls, escaliers et ascenseurs nettoyés ; containers sortis.",
                    ],
                )  # fmt: skip
            )

    # -- putting it together -----------------------------------------------------

    def corpus(self) -> Corpus:
        dossiers = self.dossiers()
        rules = self.rules(dossiers)
        self.conversations(dossiers)
        # Everything after the end, and before the start, is dropped.
        kept = [m for m in self.messages if self.start <= m.at.astimezone(_PARIS).date() < self.end]
        kept.sort(key=lambda m: (m.at, m.message_id))
        for index, message in enumerate(kept):
            message.index = index
        # A reply whose parent was dropped loses it (as mail that arrives
        # without its beginning).
        alive = {id(m) for m in kept}
        for message in kept:
            if message.parent is not None and id(message.parent) not in alive:
                message.parent = None
        return Corpus(
            seed=self.seed,
            start=self.start,
            months=self.months,
            condominiums=self.condominiums,
            companies=self.companies,
            company_contacts=self.company_contacts,
            owners=self.owners,
            staff=self.staff,
            dossiers=dossiers,
            rules=rules,
            messages=kept,
        )


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _de(condominium: CondominiumSpec) -> str:
    """« de la Résidence Les Tilleuls », « du Belvédère », « des Terrasses du Parc »."""
    name = condominium.name
    if name.startswith("Les "):
        return "des " + name[4:]
    if name.startswith("Le "):
        return "du " + name[3:]
    if name.startswith(("Résidence", "Villa")):
        return "de la " + name
    return "de " + name


def _at(condominium: CondominiumSpec) -> str:
    name = condominium.name
    if name.startswith("Les "):
        return "aux " + name[4:]
    if name.startswith("Le "):
        return "au " + name[3:]
    if name.startswith(("Résidence", "Villa")):
        return "à la " + name
    return "à " + name


def generate(
    seed: int = 2026, *, messages: int = 3000, start: date = date(2025, 1, 1), months: int = 12
) -> Corpus:
    """The corpus for `seed`: about `messages` messages over `months` months
    from `start` (the first day of a month)."""
    return _Generator(seed, messages=messages, start=start, months=months).corpus()


# --- Bytes --------------------------------------------------------------------------


def _signature(contact: Contact, companies: dict[str, CompanySpec]) -> str:
    if contact.kind == "staff":
        return (
            f"{contact.name}\n{contact.title}\n{AGENCY_NAME} – Syndic de copropriété\n"
            "18 rue de la République, 69002 Lyon\nTél. 04 78 00 12 34"
        )
    if contact.company:
        company = companies[contact.company]
        return f"{contact.name}\n{contact.title}\n{company.name}\n{company.address}\nwww.{company.domain}"
    return contact.name


def _french_date(moment: datetime) -> str:
    local = moment.astimezone(_PARIS)
    months = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
              "oct.", "nov.", "déc."]  # fmt: skip
    return f"{local.day} {months[local.month - 1]} {local.year} à {local:%H:%M}"


def _quote(history: list[tuple[Contact, datetime, list[str]]], style: str) -> str:
    blocks = []
    for depth, (author, moment, paragraphs) in enumerate(history, start=1):
        body = "\n\n".join(paragraphs)
        if style == "gmail":
            prefix = "> " * depth
            quoted = "\n".join(
                prefix + line if line else prefix.rstrip() for line in body.split("\n")
            )
            blocks.append(
                f"Le {_french_date(moment)}, {author.name} <{author.address}> a écrit :\n{quoted}"
            )
        else:
            blocks.append(
                "-----Message d'origine-----\n"
                f"De : {author.name} <{author.address}>\n"
                f"Envoyé : {_french_date(moment)}\n"
                f"À : {AGENCY_NAME} <{SHARED_MAILBOX}>\n\n{body}"
            )
    return "\n\n".join(blocks)


@functools.cache
def _companies() -> dict[str, CompanySpec]:
    return {
        key: CompanySpec(key, name, kind, trade, domain, address)
        for key, name, kind, trade, domain, address, _contacts in _COMPANIES
    }


def _body(spec: MessageSpec) -> str:
    companies = _companies()
    rng = random.Random(spec.message_id)
    lines = [rng.choice(_GREETINGS), ""] if spec.signature else []
    for paragraph in spec.paragraphs:
        if paragraph:
            lines += [paragraph, ""]
    if spec.signature:
        lines += [rng.choice(_CLOSINGS), "", "-- ", _signature(spec.sender, companies)]
    text = "\n".join(lines)
    if spec.quoted:
        text += "\n\n" + _quote(spec.quoted, spec.sender.style)
    return text + "\n"


def _headers_common(
    message: EmailMessage, spec: MessageSpec, references: ReferenceProvider
) -> None:
    message["From"] = formataddr((spec.sender.name, spec.sender.address))
    to = [formataddr((c.name, c.address)) for c in spec.to]
    if spec.lanterne_dossier and spec.channel in ("message_id", "reply_address"):
        # Replies go to the reply address Lanterne gave.
        to = [formataddr((AGENCY_NAME, references.reply_address(spec.lanterne_dossier)))]
    message["To"] = ", ".join(to)
    if spec.cc:
        message["Cc"] = ", ".join(formataddr((c.name, c.address)) for c in spec.cc)
    subject = spec.subject
    if spec.tag and (
        spec.channel in ("message_id", "reply_address", "tag")
        or spec.kind in ("tag_only", "tag_stranger", "imported_reference")
    ):
        if spec.tag_style == "imported":
            subject = f"{subject} – V/Réf : {spec.tag}"
        else:
            subject = references.subject_with_tag(spec.tag, subject)
    message["Subject"] = subject
    message["Date"] = format_datetime(spec.at.astimezone(_PARIS))
    message["Message-ID"] = f"<{spec.message_id}>"
    parents: list[str] = []
    if spec.parent is not None:
        parents = [*_ancestors(spec.parent), f"<{spec.parent.message_id}>"]
    if spec.lanterne_dossier and spec.channel == "message_id":
        parents.append(references.message_id(spec.lanterne_dossier, spec.lanterne_unique))
    if parents:
        message["In-Reply-To"] = parents[-1]
        if spec.keep_references:
            message["References"] = " ".join(parents[-10:])
    for name, value in spec.extra_headers.items():
        message[name] = value
    if spec.sender.style == "outlook":
        message["X-Mailer"] = "Microsoft Outlook 16.0"
    message["Content-Language"] = "fr-FR"


def _ancestors(spec: MessageSpec) -> list[str]:
    found: list[str] = []
    current = spec.parent
    while current is not None and len(found) < 10:
        found.insert(0, f"<{current.message_id}>")
        current = current.parent
    return found


def _render(spec: MessageSpec, references: ReferenceProvider) -> bytes:
    message = EmailMessage(policy=_POLICY)
    if spec.bounced is not None:
        return _render_bounce(spec, references)
    _headers_common(message, spec, references)
    if spec.forward_of is not None:
        original = spec.forward_of
        note = "\n".join(p for p in spec.paragraphs if p)
        signature = _signature(spec.sender, _companies())
        if spec.forward_attached:
            message.set_content(f"{note}\n\n-- \n{signature}\n")
            message.add_attachment(
                _render(original, references), maintype="message", subtype="rfc822",
                filename="message.eml",
            )  # fmt: skip
        else:
            to = ", ".join(f"{c.name} <{c.address}>" for c in original.to)
            message.set_content(
                f"{note}\n\n-- \n{signature}\n\n"
                "-------- Message transféré --------\n"
                f"De : {original.sender.name} <{original.sender.address}>\n"
                f"Date : {_french_date(original.at)}\n"
                f"À : {to}\n"
                f"Objet : {original.subject}\n\n"
                f"{_body(original)}"
            )
        return message.as_bytes()
    message.set_content(_body(spec), cte="quoted-printable")
    return message.as_bytes()


def _render_bounce(spec: MessageSpec, references: ReferenceProvider) -> bytes:
    """An RFC 3464 delivery report as Postfix writes it: a multipart/report
    with the explanation, the delivery status and the returned message's
    headers (RFC 6522)."""
    assert spec.bounced is not None
    host = spec.sender.address.rpartition("@")[2]
    boundary = f"{spec.message_id.partition('@')[0]}/{host}"
    original = _render(spec.bounced, references)
    returned = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    recipient = spec.bounced.to[0].address
    text = "\r\n".join(spec.paragraphs)
    report = (
        f"From: Mail Delivery System <{spec.sender.address}>\r\n"
        f"To: {formataddr((spec.to[0].name, spec.to[0].address))}\r\n"
        f"Subject: {spec.subject}\r\n"
        f"Date: {format_datetime(spec.at.astimezone(_PARIS))}\r\n"
        f"Message-ID: <{spec.message_id}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{text}\r\n\r\n<{recipient}>: host mx.{recipient.rpartition('@')[2]} said: "
        "550 5.1.1 User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {host}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{returned}\r\n\r\n"
        f"--{boundary}--\r\n"
    )
    return report.encode("utf-8")


def corpus_write(corpus: Corpus, folder: str, references: ReferenceProvider | None = None) -> None:
    """Write the messages as numbered .eml files and their labels as
    `labels.csv` (index, date, kind, label), to look at them."""
    import csv
    from pathlib import Path

    references = references or PlaceholderReferences()
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    with (path / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "date", "kind", "label", "subject"])
        for message in corpus.messages:
            (path / f"{message.index:05d}.eml").write_bytes(message.render(references))
            writer.writerow(
                [
                    message.index,
                    message.at.isoformat(),
                    message.kind,
                    message.label or "",
                    message.subject,
                ]
            )


__all__ = [
    "KINDS",
    "Contact",
    "Corpus",
    "DossierSpec",
    "MessageSpec",
    "PlaceholderReferences",
    "ReferenceProvider",
    "RuleSpec",
    "corpus_write",
    "generate",
]
