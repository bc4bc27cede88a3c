"""Learned filing suggestions: which open dossiers a message most likely
belongs to, how sure that is, and why (issue 4, item 4).

The file stage asks `message_suggestions` when neither a reference, the
conversation nor a rule decided: a suggestion whose score reaches
`AUTO_FILE_THRESHOLD` files the message by itself, the others are shown in
the triage inbox. Staff filing a message call `suggester_invalidate`, and the
next suggestion learns from it.

How a message is scored, per agency, against every open dossier of the
agency (never another agency's, never a closed one):

- **Signals.** Twenty-one numbers per dossier (`FEATURES`): how close the
  text is to the mail already in the dossier (to all of it, and to its
  closest single message), to its title, and to the mail of every dossier of
  its type (TF-IDF on words and word pairs, cosine); how often and how lately the correspondent —
  the sender of a received mail, the recipients of a sent one — and their
  company already wrote in it; whether they are parties to it (a person named
  on it, the owner of one of its lots, a company named on it); whether they
  own a lot or sit on the council of its condominium; whether the mail names
  its condominium (name, nickname, street), another condominium, one of its
  lots or a lot of its condominium; how recently the dossier was opened and
  last received mail; and whether, among the candidates, its mail is the
  closest to this one's text (in all, and by its closest message).
- **Choice.** A conditional logit (the multinomial model of a choice among
  alternatives): each dossier's utility is a weighted sum of its signals, and
  "none of these dossiers" is one more alternative, whose utility grows with
  the mail's likeness to mail already said to concern no dossier (charges, a
  change of address, advertising) and with its correspondent's habit of
  writing such mail. So a mail whose signals are weak everywhere keeps a low
  score everywhere, a co-owner's question about their charges does not go to
  the water damage they are a party to, and two dossiers that the signals
  cannot tell apart share the probability instead of both scoring high. The
  scores of one message add up to at most 1: a score is the estimated
  probability that the dossier is the right one.
- **Learning.** The weights are fitted on the agency's own filings, in date
  order: each training message is scored against the dossiers that were open
  then, with the signals computed only from the mail filed before it (so the
  model learns from what it will really see, not from hindsight). Only the
  first message of each conversation is a training example — replies are
  filed by the thread stage and never reach the suggestions — but every
  filed message feeds the text profiles and the correspondents' histories.
  With too few examples the weights stay at hand-set priors and the scores are
  capped below `AUTO_FILE_THRESHOLD`: such a model suggests, it never files.

What the model learns from — the feedback loop: messages in a dossier filed
by a person (manual, which includes a suggestion a manager confirmed), by a
signed reference, by a staff rule or by their conversation; and messages a
person or a rule said concern no dossier, as examples of "none". Messages
filed automatically by a suggestion are left out until a person confirms
them: a model that learned from its own unchecked guesses would reinforce its
mistakes. Machine mail (auto-replies, bounces, bulk) is left out too: its text
says nothing about the dossier.

Cost. The model is cached per process and per agency. Every call checks, in
one query, whether the agency's filings, dossiers or contacts changed
(`_signature`: the agency's last audit row — every filing is audited — and
counts of its dossiers, contacts and lots). When they did, the audit rows
written since say which messages to count again, one by one (a filing costs
two queries and a few sparse products); a changed dossier or contact reloads
the directory. The vocabulary and weights are refitted once the training set
grew by half (seconds for 10,000 messages). A suggestion then costs the
signature query and about a millisecond of computation, whatever the number
of dossiers: the dossiers returned come from the directory, read once.

Messages are scored together when there are several (`SuggestionSession.many`,
what a bulk import's file stage uses; the training pass scores its blocks the
same way): one sparse product per statistic for the whole group instead of
one per message, and array operations over all of them (`_signals`), for
each message the very numbers it gets alone. The text is read by
`suggest_text` (scikit-learn's analyser and the rules' folding, equal, kept
so by tests) — in an import, ahead, by the parse workers — and the
vocabulary fitted by `_Vocabulary` (scikit-learn's TfidfVectorizer, equal,
never imported here). See benchmarks/ingest.py `--with-dossiers
--filing-cost` for what the file stage of an import costs.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import itertools
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.db import connection
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, NullIf, Substr
from django.utils import translation

from lanterne.audit.models import AuditLog
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
from lanterne.dossiers.choices import DossierStatus, DossierType
from lanterne.dossiers.models import Dossier

from .choices import Direction
from .filing import text_fold
from .models import FilingMethod, Message
from .references import MESSAGE_ID_PREFIX, REPLY_DETAIL_PREFIX
from .suggest_text import (
    BODY_CHARS,
    PreparedText,
    fold,
    lot_numbers,
    mail_text,
    pairs,
    terms,
    words,
)

__all__ = [
    "AUTO_FILE_THRESHOLD",
    "FEATURES",
    "Suggestion",
    "SuggestionSession",
    "message_suggestions",
    "suggester_invalidate",
    "suggestion_session",
]

# The score from which a suggestion files a message without a person, chosen
# for precision on the filing evaluation (benchmarks/filing_eval; the figures
# are in docs/benchmarks.md). On the mail of months the model was not trained
# on, suggestions at or above 0.80 were already right at least 99 % of the
# time on the two corpora used to choose (seeds 2026 and 7); 0.90 keeps a
# margin, as a mail in the wrong dossier is a leak, and was then checked on a
# corpus not looked at before (seed 31). Scores are probabilities (see
# "Choice" above), so the threshold means "nine chances in ten or better".
AUTO_FILE_THRESHOLD = 0.9

# Filing methods whose messages the model learns from (see the module's
# docstring): everything a person, a signed reference, a rule or the
# conversation decided; not the model's own unconfirmed suggestions.
TRAINING_METHODS = (
    FilingMethod.MANUAL,
    FilingMethod.REFERENCE,
    FilingMethod.RULE,
    FilingMethod.THREAD,
)
# "Concerns no dossier", as examples of the "none" alternative: said by a
# person or by a rule.
NONE_METHODS = (FilingMethod.MANUAL, FilingMethod.RULE)

# Fewer training examples (conversations started) than this: prior weights,
# and no automatic filing.
MIN_EXAMPLES = 100
# Refit the vocabulary and weights when the training set has grown by this
# share since the last fit (and by at least REFIT_MIN_NEW messages).
REFIT_GROWTH = 0.5
REFIT_MIN_NEW = 200
# Candidates scored per message: the best ones by a fixed first ranking
# (`_PREFILTER`), the same in training and in use so that scores keep their
# meaning.
CANDIDATES = 20
# Messages per step of the date-ordered training pass.
TRAINING_BLOCK = 64
# Messages scored together (`_signals`): enough to share the cost of the
# sparse products, few enough to keep their arrays small.
SCORING_BLOCK = 64
# Suggestions less likely than this are not worth showing.
MIN_SCORE = 0.002
# Models kept in memory per process (one per agency).
CACHED_AGENCIES = 32

DAY = 86400.0
_TYPES = {value: index for index, value in enumerate(DossierType.values)}

# The signals of one (message, dossier) pair, in order.
FEATURES = (
    "text",  # cosine to the mail already filed in the dossier
    "title",  # cosine to the dossier's title and description
    "sender_history",  # log(1 + mail of the correspondent in the dossier)
    "sender_share",  # the dossier's share of the correspondent's mail in open dossiers
    "company_history",  # log(1 + mail of the correspondent's company in the dossier)
    "company_share",  # the dossier's share of that company's mail in open dossiers
    "sender_party",  # the correspondent is a party (person, or owner of a party lot)
    "company_party",  # the correspondent's company is a party
    "company_party_share",  # 1 / the open dossiers that company is a party to
    "sender_condominium",  # the correspondent owns a lot / sits on the council there
    "condominium_named",  # the mail names the dossier's condominium
    "other_condominium_named",  # the mail names only other condominiums
    "party_lot_named",  # the mail names one of the dossier's lots (not the sender's own)
    "condominium_lot_named",  # the mail names a lot number of the condominium
    "recent_mail",  # the dossier received mail lately (30-day decay)
    "recently_opened",  # the dossier was opened lately (14-day decay)
    "sender_recent",  # the correspondent wrote in the dossier lately (30-day decay)
    "text_best",  # the text is closest to this candidate's mail
    "nearest",  # cosine to the closest single message of the dossier
    "nearest_best",  # the closest single message of all is this dossier's
    "type_text",  # cosine to the mail of every dossier of its type
    "own_lot_named",  # the mail names the correspondent's own lot, a lot of the dossier
)
_COLUMN = {name: index for index, name in enumerate(FEATURES)}
# Message-level utility of "none of these dossiers": a constant; whether
# nobody in the contact book or the mail history knows the correspondent; the
# cosine to the mail said to concern no dossier (charges, a change of address,
# advertising); log(1 + the correspondent's mail said to concern none);
# whether the text is closer to that mail than to any candidate dossier's.
NONE_FEATURES = (
    "none_bias",
    "unknown_correspondent",
    "none_text",
    "none_history",
    "none_text_best",  # the text is closer to that mail than to any candidate's
    "none_nearest",  # cosine to the closest single message said to concern none
    "none_nearest_best",  # that message is closer than any candidate's
)

# Hand-set weights: the starting point of the fit (its regularisation pulls
# towards them) and the whole model while there are too few examples; and the
# fixed first ranking that picks the candidates (roughly what matters).
_PRIOR = {
    "text": (3.0, 1.0),
    "title": (2.0, 1.0),
    "sender_history": (0.8, 0.0),
    "sender_share": (2.0, 1.0),
    "company_history": (0.4, 0.0),
    "company_share": (1.0, 1.0),
    "sender_party": (2.0, 1.0),
    "company_party": (1.0, 0.0),
    "company_party_share": (1.0, 1.0),
    "sender_condominium": (1.0, 0.5),
    "condominium_named": (1.5, 1.0),
    "other_condominium_named": (-2.0, -0.5),
    "party_lot_named": (2.0, 1.0),
    "condominium_lot_named": (0.5, 0.2),
    "recent_mail": (0.5, 0.2),
    "recently_opened": (0.5, 0.2),
    "sender_recent": (1.0, 0.5),
    "text_best": (0.5, 0.0),
    "nearest": (2.0, 1.0),
    "nearest_best": (0.5, 0.0),
    "type_text": (2.0, 0.5),
    "own_lot_named": (1.0, 0.5),
    "none_bias": (2.5, None),
    "unknown_correspondent": (0.5, None),
    "none_text": (3.0, None),
    "none_history": (1.0, None),
    "none_text_best": (0.5, None),
    "none_nearest": (2.0, None),
    "none_nearest_best": (0.5, None),
}
PRIOR_WEIGHTS = np.array([_PRIOR[name][0] for name in FEATURES + NONE_FEATURES])
_PREFILTER = np.array([_PRIOR[name][1] or 0.0 for name in FEATURES])
# Regularisation strength (a Gaussian prior around PRIOR_WEIGHTS).
L2 = 1.0

# Mail providers shared by many people: their domain says nothing about a
# company.
WEBMAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "neuf.fr",
        "laposte.net",
        "hotmail.com",
        "hotmail.fr",
        "live.com",
        "live.fr",
        "outlook.com",
        "outlook.fr",
        "msn.com",
        "yahoo.com",
        "yahoo.fr",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "aol.fr",
        "gmx.fr",
        "gmx.com",
        "gmx.de",
        "bbox.fr",
        "numericable.fr",
        "club-internet.fr",
        "aliceadsl.fr",
        "protonmail.com",
        "proton.me",
        "tutanota.com",
        "mailo.com",
    ]  # fmt: skip
)
# Words that start condominium names without telling them apart.
_GENERIC_NAME_WORDS = ("residence", "copropriete", "immeuble", "le", "la", "les", "l'")
_STREET = re.compile(
    r"\b(?:rue|avenue|av|boulevard|bd|place|quai|chemin|impasse|allee|cours|route|montee"
    r"|square|passage|voie|sentier|clos)\b.*"
)


@dataclass(frozen=True)
class Suggestion:
    """A dossier a message may belong to: `score` in [0, 1] (the estimated
    probability that it is the right one; a message's scores add up to at
    most 1), and `reason`, in French, the signals that made it."""

    dossier: Dossier
    score: float
    reason: str


# ---------------------------------------------------------------------------
# What the model knows of the agency: dossiers, condominiums, contacts


def _fold_name(name: str) -> str:
    return text_fold(name).strip(" .,;:-")


def _name_variants(name: str) -> set[str]:
    """The ways a condominium's name is written in mail: as it is, and
    without a leading generic word ("Résidence Les Tilleuls" → "les tilleuls",
    "tilleuls") when what remains is distinctive enough."""
    folded = _fold_name(name)
    variants = {folded} if len(folded) >= 4 else set()
    rest = folded
    changed = True
    while changed:
        changed = False
        for word in _GENERIC_NAME_WORDS:
            if rest.startswith(word + " ") or (word.endswith("'") and rest.startswith(word)):
                rest = rest[len(word) :].strip()
                changed = True
                if len(rest) >= 6:
                    variants.add(rest)
    return variants


def _street_variants(address: str) -> set[str]:
    """The street of an address ("12 rue des Tilleuls, 69003 Lyon" → "rue des
    tilleuls"): mail names the street, rarely the postal code."""
    found = set()
    for line in address.splitlines():
        first = _fold_name(line.split(",")[0])
        match = _STREET.search(first)
        if match and len(match[0].split()) >= 2:
            found.add(match[0].strip())
    return found


def _alternation(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One regular expression matching any of `phrases` on word boundaries,
    longest first."""
    ordered = sorted({p for p in phrases if p}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p in ordered) + r")(?!\w)")


@dataclass
class _Directory:
    """The agency's dossiers (closed ones included: they were open when older
    mail was filed), condominiums and contacts, as arrays and dicts."""

    agency_domain: str
    own_addresses: frozenset[str]
    # The dossiers, with their condominium: what suggestions return, read once
    # per change of the agency's dossiers (see `_signature`).
    dossiers: list[Dossier]
    index_of: dict[int, int]  # Dossier pk → index
    titles: list[str]
    condominium_of: np.ndarray  # index → condominium index
    condominium_members: list[np.ndarray]  # condominium index → its dossier indices
    type_of: np.ndarray  # index → position of its type in DossierType
    opened_at: np.ndarray  # timestamps
    closed_at: np.ndarray  # timestamps, nan when open
    is_open: np.ndarray  # bool: open now
    condominium_names: list[str]
    condominium_pattern: re.Pattern[str] | None
    condominium_of_phrase: dict[str, int]
    # lot number (folded) → [(condominium index, lot pk)]
    lots_by_number: dict[str, list[tuple[int, int]]]
    # lot pk → dossier indices it is a party lot of
    dossiers_of_lot: dict[int, list[int]]
    # address → person pk; person pk → (company pk | None, dossiers, condominiums, lots)
    person_of_address: dict[str, int]
    person_company: dict[int, int | None]
    person_dossiers: dict[int, set[int]]
    person_party_lots: dict[int, dict[int, str]]  # person → dossier index → lot number
    person_lots: dict[int, set[int]]  # person → the lots they own
    person_condominiums: dict[int, set[int]]
    person_council: dict[int, set[int]]
    # company pk → name, party dossier indices; and how mail is attributed to it
    company_names: dict[int, str]
    company_dossiers: dict[int, set[int]]
    company_of_address: dict[str, int]
    company_of_domain: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.dossiers)


def _timestamp(value: Any) -> float:
    """A date or datetime as seconds since the epoch (dates at midnight UTC)."""
    if value is None:
        return math.nan
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(calendar.timegm(value.timetuple()))


def _directory_load(agency_id: int) -> _Directory:
    """Read the agency's dossiers, condominiums and contacts (a constant
    number of queries, whatever their number)."""
    agency = Agency.objects.only("mail_domain", "shared_mailbox").get(pk=agency_id)
    dossiers = list(
        Dossier.objects.filter(agency_id=agency_id).select_related("condominium").order_by("pk")
    )
    index_of = {dossier.pk: index for index, dossier in enumerate(dossiers)}
    condominiums = list(
        Condominium.objects.filter(agency_id=agency_id)
        .order_by("pk")
        .values("pk", "name", "nicknames", "address", "other_addresses")
    )
    condo_index = {row["pk"]: index for index, row in enumerate(condominiums)}
    phrases: dict[str, int] = {}
    ambiguous: set[str] = set()
    for index, row in enumerate(condominiums):
        names = _name_variants(row["name"])
        for nickname in row["nicknames"].splitlines():
            names |= _name_variants(nickname)
        names |= _street_variants(row["address"]) | _street_variants(row["other_addresses"])
        for phrase in names:
            if phrases.get(phrase, index) != index:
                ambiguous.add(phrase)  # two condominiums share it: it names neither
            phrases[phrase] = index
    for phrase in ambiguous:
        del phrases[phrase]

    lots_by_number: dict[str, list[tuple[int, int]]] = {}
    for lot in Lot.objects.filter(condominium__agency_id=agency_id).values(
        "pk", "number", "condominium_id"
    ):
        number = text_fold(lot["number"]).lstrip("0") or "0"
        lots_by_number.setdefault(number, []).append(
            (condo_index[lot["condominium_id"]], lot["pk"])
        )
    dossiers_of_lot: dict[int, list[int]] = {}
    for link in Dossier.party_lots.through.objects.filter(dossier__agency_id=agency_id).values(
        "dossier_id", "lot_id"
    ):
        dossiers_of_lot.setdefault(link["lot_id"], []).append(index_of[link["dossier_id"]])

    person_of_address = {
        row["address"].lower(): row["person_id"]
        for row in PersonEmail.objects.filter(agency_id=agency_id).values("address", "person_id")
    }
    persons = list(
        Person.objects.filter(agency_id=agency_id).values("pk", "company_id", "staff_role")
    )
    person_company: dict[int, int | None] = {row["pk"]: row["company_id"] for row in persons}
    staff = {row["pk"] for row in persons if row["staff_role"]}
    own_addresses = {address for address, person in person_of_address.items() if person in staff}
    own_addresses.add(agency.shared_mailbox.lower())
    person_dossiers: dict[int, set[int]] = {}
    for party in Dossier.party_persons.through.objects.filter(dossier__agency_id=agency_id).values(
        "dossier_id", "person_id"
    ):
        person_dossiers.setdefault(party["person_id"], set()).add(index_of[party["dossier_id"]])
    person_party_lots: dict[int, dict[int, str]] = {}
    person_lots: dict[int, set[int]] = {}
    person_condominiums: dict[int, set[int]] = {}
    for owned in Ownership.objects.filter(person__agency_id=agency_id).values(
        "person_id", "lot_id", "lot__number", "lot__condominium_id"
    ):
        person = owned["person_id"]
        person_lots.setdefault(person, set()).add(owned["lot_id"])
        person_condominiums.setdefault(person, set()).add(condo_index[owned["lot__condominium_id"]])
        for index in dossiers_of_lot.get(owned["lot_id"], ()):
            person_dossiers.setdefault(person, set()).add(index)
            person_party_lots.setdefault(person, {})[index] = owned["lot__number"]
    person_council: dict[int, set[int]] = {}
    for seat in CouncilMembership.objects.filter(person__agency_id=agency_id).values(
        "person_id", "condominium_id"
    ):
        person_council.setdefault(seat["person_id"], set()).add(condo_index[seat["condominium_id"]])

    companies = list(Company.objects.filter(agency_id=agency_id).values("pk", "name", "email"))
    company_of_address = {row["email"].lower(): row["pk"] for row in companies if row["email"]}
    company_of_domain = {
        row["domain"].lower().lstrip("@"): row["company_id"]
        for row in CompanyDomain.objects.filter(company__agency_id=agency_id).values(
            "domain", "company_id"
        )
    }
    company_dossiers: dict[int, set[int]] = {}
    for named in Dossier.party_companies.through.objects.filter(
        dossier__agency_id=agency_id
    ).values("dossier_id", "company_id"):
        company_dossiers.setdefault(named["company_id"], set()).add(index_of[named["dossier_id"]])

    condominium_of = np.array(
        [condo_index[dossier.condominium_id] for dossier in dossiers], dtype=np.int64
    )
    return _Directory(
        agency_domain=(agency.mail_domain or "").lower(),
        own_addresses=frozenset(own_addresses),
        dossiers=dossiers,
        index_of=index_of,
        titles=[f"{dossier.title}\n{dossier.description}" for dossier in dossiers],
        condominium_of=condominium_of,
        condominium_members=[
            np.flatnonzero(condominium_of == index) for index in range(len(condominiums))
        ],
        type_of=np.array(
            [_TYPES.get(dossier.type, _TYPES[DossierType.OTHER]) for dossier in dossiers],
            dtype=np.int64,
        ),
        opened_at=np.array([_timestamp(dossier.opened_on) for dossier in dossiers], dtype=float),
        closed_at=np.array([_timestamp(dossier.closed_on) for dossier in dossiers], dtype=float),
        is_open=np.array([dossier.status != DossierStatus.CLOSED for dossier in dossiers]),
        condominium_names=[row["name"] for row in condominiums],
        condominium_pattern=_alternation(phrases),
        condominium_of_phrase=phrases,
        lots_by_number=lots_by_number,
        dossiers_of_lot=dossiers_of_lot,
        person_of_address=person_of_address,
        person_company=person_company,
        person_dossiers=person_dossiers,
        person_party_lots=person_party_lots,
        person_lots=person_lots,
        person_condominiums=person_condominiums,
        person_council=person_council,
        company_names={row["pk"]: row["name"] for row in companies},
        company_dossiers=company_dossiers,
        company_of_address=company_of_address,
        company_of_domain=company_of_domain,
    )


# ---------------------------------------------------------------------------
# Messages as the model reads them


@dataclass
class _Mail:
    """What the model reads of one message."""

    pk: int | None
    at: float  # when it was written (timestamp)
    outbound: bool
    correspondents: tuple[str, ...]  # addresses of the other side
    from_name: str
    text: str  # subject and new text, for the text model
    label: int = -1  # dossier index, or -1: none
    thread_id: int | None = None
    # It carries one of Lanterne's references (its Message-ID, reply address
    # or subject tag): the reference stage files such mail, not suggestions.
    referenced: bool = False


def _addresses(items: Any) -> list[str]:
    found = []
    for item in items or []:
        value = item.get("address", "") if isinstance(item, dict) else item
        if isinstance(value, str) and "@" in value:
            found.append(value.strip().lower())
    return found


def _correspondents(
    directory: _Directory, *, outbound: bool, sender: str, recipients: list[str]
) -> tuple[str, ...]:
    """The other side of a message: its sender when received, its recipients
    outside the agency when sent."""
    if not outbound:
        return (sender.strip().lower(),) if "@" in sender else ()
    domain = directory.agency_domain
    return tuple(
        address
        for address in dict.fromkeys(recipients)
        if address not in directory.own_addresses
        and not (domain and address.rpartition("@")[2] == domain)
    )


_MAIL_FIELDS = (
    "pk",
    "date",
    "parsed_at",
    "direction",
    "from_address",
    "from_name",
    "to",
    "cc",
    "thread_id",
    "dossier_id",
    "in_reply_to",
    "references",
)
# A subject tag of Lanterne's own format.
_TAG = re.compile(r"\[\s*DOS-\d{4}-\d+\s*\]", re.IGNORECASE)


def _carries_reference(row: dict[str, Any]) -> bool:
    """Whether a message answers or names a mail Lanterne sent (a cheap
    look, without verifying tokens: enough to leave it out of the training
    examples of the suggestions, which such mail never reaches)."""
    for value in [*(row["in_reply_to"] or []), *(row["references"] or [])]:
        if isinstance(value, str) and value.strip("<> ").lower().startswith(MESSAGE_ID_PREFIX):
            return True
    recipients = _addresses(row["to"]) + _addresses(row["cc"])
    if any(f"+{REPLY_DETAIL_PREFIX}" in address for address in recipients):
        return True
    return bool(_TAG.search(row.get("subject") or ""))


def _mail_from_row(directory: _Directory, row: dict[str, Any], *, with_text: bool) -> _Mail:
    outbound = row["direction"] == Direction.OUTBOUND
    at = row["date"] or row["parsed_at"]
    label = directory.index_of.get(row["dossier_id"], -1) if row["dossier_id"] else -1
    return _Mail(
        pk=row["pk"],
        at=_timestamp(at),
        outbound=outbound,
        correspondents=_correspondents(
            directory,
            outbound=outbound,
            sender=row["from_address"] or "",
            recipients=_addresses(row["to"]) + _addresses(row["cc"]),
        ),
        from_name=row["from_name"] or "",
        text=mail_text(row["subject"], row["body"]) if with_text else "",
        label=label,
        thread_id=row["thread_id"],
        referenced=with_text and _carries_reference(row),
    )


def _mail_of(directory: _Directory, message: Message) -> _Mail:
    outbound = message.direction == Direction.OUTBOUND
    return _Mail(
        pk=message.pk,
        at=_timestamp(message.date or message.parsed_at),
        outbound=outbound,
        correspondents=_correspondents(
            directory,
            outbound=outbound,
            sender=message.from_address or "",
            recipients=_addresses(message.to) + _addresses(message.cc),
        ),
        from_name=message.from_name or "",
        text=mail_text(message.subject or "", message.new_text or message.text or ""),
    )


# The body the text model reads: the new text, or the whole text when the
# parser found no new text (an empty string is not NULL: NullIf makes it so).
_BODY = Coalesce(
    NullIf(Substr("new_text", 1, BODY_CHARS), Value("")), Substr("text", 1, BODY_CHARS)
)


def _training_queryset(agency_id: int) -> Any:
    """The agency's messages the model learns from (see the module's docstring)."""
    return Message.objects.filter(agency_id=agency_id).filter(
        Q(dossier__isnull=False, filing_method__in=TRAINING_METHODS)
        | Q(not_dossier_related=True, filing_method__in=NONE_METHODS),
        is_auto_reply=False,
        is_bounce=False,
        is_bulk=False,
    )


def _training_rows(agency_id: int, *, with_text: bool, only: Sequence[int] | None = None) -> Any:
    queryset = _training_queryset(agency_id)
    if only is not None:
        queryset = queryset.filter(pk__in=only)
    fields = list(_MAIL_FIELDS)
    if with_text:
        queryset = queryset.annotate(body=_BODY)
        fields += ["subject", "body"]
    return queryset.values(*fields).iterator(chunk_size=2000)


@dataclass(frozen=True)
class _Mentions:
    """The condominiums and lot numbers a message names."""

    condominiums: frozenset[int]
    lot_numbers: tuple[str, ...]


def _folded(text: str) -> tuple[str, tuple[str, ...]]:
    """A text folded, and the lot numbers it names."""
    folded = fold(text)
    return folded, lot_numbers(folded)


def _mentions(directory: _Directory, folded: str, numbers: Sequence[str]) -> _Mentions:
    """The condominiums and lots of the agency a message names, from its
    folded text and the lot numbers in it (`suggest_text`)."""
    condominiums: set[int] = set()
    # The pattern only matches where one of its phrases is: most mail names
    # no condominium, and substring tests say so far faster.
    if directory.condominium_pattern is not None and any(
        phrase in folded for phrase in directory.condominium_of_phrase
    ):
        for match in directory.condominium_pattern.finditer(folded):
            condominiums.add(directory.condominium_of_phrase[match[1]])
    known = tuple(number for number in numbers if number in directory.lots_by_number)
    return _Mentions(frozenset(condominiums), known)


# ---------------------------------------------------------------------------
# Statistics of the mail already filed


def _company_key(directory: _Directory, address: str) -> str | None:
    """Who a mail is attributed to beyond its sender: the company the contact
    book knows for the address or its domain, else the domain itself unless
    it is a webmail provider's."""
    person = directory.person_of_address.get(address)
    if person is not None and directory.person_company.get(person):
        return f"c{directory.person_company[person]}"
    if address in directory.company_of_address:
        return f"c{directory.company_of_address[address]}"
    domain = address.rpartition("@")[2]
    if domain in directory.company_of_domain:
        return f"c{directory.company_of_domain[domain]}"
    if not domain or domain in WEBMAIL_DOMAINS or domain == directory.agency_domain:
        return None
    return f"d{domain}"


@dataclass
class _Nearest:
    """Every training message's vector, to find the single message of each
    dossier (and of "none") closest to a new one: a profile blurs what one
    earlier mail said in the same words ("Échafaudage devant ma fenêtre").

    Terms × messages, so that a product with a message walks only the
    postings of its own terms. Messages added one by one wait in `pending`
    (merged now and then); a message taken back is marked, not removed.
    During the training pass, `limit` hides the messages filed after the one
    being scored."""

    vocabulary: int
    base_t: sp.csr_matrix  # terms × messages
    labels: np.ndarray  # per message: dossier index, -1 none, -2 taken back
    row_of: dict[int, int]  # message pk → column
    pending: dict[int, tuple[sp.csr_matrix, int]] = field(default_factory=dict)
    limit: int | None = None
    _pending: tuple[sp.csr_matrix, np.ndarray] | None = None

    PENDING_MAX = 512

    @classmethod
    def build(
        cls, vocabulary: int, pks: Sequence[int], vectors: sp.csr_matrix, labels: Sequence[int]
    ) -> _Nearest:
        return cls(
            vocabulary=vocabulary,
            base_t=vectors.T.tocsr() if len(pks) else sp.csr_matrix((vocabulary, 0)),
            labels=np.array(labels, dtype=np.int64),
            row_of={pk: row for row, pk in enumerate(pks)},
        )

    def add(self, pk: int, vector: sp.csr_matrix, label: int) -> None:
        self.remove(pk)
        self.pending[pk] = (vector, label)
        self._pending = None
        if len(self.pending) >= self.PENDING_MAX:
            self._merge()

    def remove(self, pk: int) -> None:
        if self.pending.pop(pk, None) is not None:
            self._pending = None
        elif pk in self.row_of:
            self.labels[self.row_of.pop(pk)] = -2

    def _merge(self) -> None:
        start = self.base_t.shape[1]
        pks = list(self.pending)
        rows = sp.vstack([self.pending[pk][0] for pk in pks], format="csr")
        self.base_t = sp.hstack([self.base_t, rows.T], format="csr")
        self.labels = np.concatenate([self.labels, [self.pending[pk][1] for pk in pks]])
        for offset, pk in enumerate(pks):
            self.row_of[pk] = start + offset
        self.pending.clear()
        self._pending = None

    def nearest(self, vectors: sp.csr_matrix, size: int) -> tuple[np.ndarray, np.ndarray]:
        """For each message vector (a row of `vectors`): the highest cosine
        to a message of each dossier (messages × dossiers), and to a message
        said to concern none. One sparse product for all the rows; each
        row's numbers are those it would get alone."""
        count = vectors.shape[0]
        best = np.zeros((count, size))
        none = np.zeros(count)
        if not self.vocabulary or not vectors.nnz:
            return best, none
        found = (vectors @ self.base_t).tocsr()
        rows = np.repeat(np.arange(count), np.diff(found.indptr))
        columns, values = found.indices, found.data
        if self.limit is not None:
            keep = columns < self.limit
            rows, columns, values = rows[keep], columns[keep], values[keep]
        labels = self.labels[columns]
        if self.pending:
            if self._pending is None:
                pks = list(self.pending)
                self._pending = (
                    sp.vstack([self.pending[pk][0] for pk in pks], format="csr"),
                    np.array([self.pending[pk][1] for pk in pks], dtype=np.int64),
                )
            matrix, pending_labels = self._pending
            extra = (matrix @ vectors.T).toarray()  # pending × messages
            rows = np.concatenate([rows, np.repeat(np.arange(count), len(pending_labels))])
            labels = np.concatenate([labels, np.tile(pending_labels, count)])
            values = np.concatenate([values, extra.T.ravel()])
        # Cosines of non-negative vectors: never below the zeros they start from.
        dossiers = labels >= 0
        np.maximum.at(best, (rows[dossiers], labels[dossiers]), values[dossiers])
        unrelated = labels == -1
        np.maximum.at(none, rows[unrelated], values[unrelated])
        return best, none


@dataclass
class _Stats:
    """What the filed mail says of each dossier: its text profile (the sum
    of its messages' l2-normalised vectors), who wrote in it, when it last
    received mail.

    Built by blocks (the training pass, a rebuild) or one message at a time
    (`add_one`, `remove_one`: a filing, a re-filing). Single changes go to a
    small `pending` matrix merged into the base now and then, so that one
    filing costs a few sparse products, not a rebuild of every profile."""

    size: int
    vocabulary: int
    base_t: sp.csr_matrix  # terms × dossiers: the profiles
    norms2: np.ndarray  # squared norm of each profile (base and pending)
    by_sender: dict[str, Counter[int]] = field(default_factory=dict)
    by_company: dict[str, Counter[int]] = field(default_factory=dict)
    last_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # When each correspondent last wrote in each dossier.
    sender_last: dict[tuple[str, int], float] = field(default_factory=dict)
    # The mail said to concern no dossier: its profile, and who wrote it.
    none_sum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    none_by_sender: Counter[str] = field(default_factory=Counter)
    # Per dossier type: the sum of its mail's vectors (terms × types, so
    # that a product with message vectors reads contiguous rows), and its
    # squared norm — what mail about a water damage, works, a general
    # meeting looks like, whatever the building.
    type_sum: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    type_norms2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pending: list[tuple[int, sp.csr_matrix, float]] = field(default_factory=list)
    _pending_t: sp.csr_matrix | None = None
    nearest: _Nearest | None = None

    PENDING_MAX = 256

    @classmethod
    def empty(cls, size: int, vocabulary: int) -> _Stats:
        return cls(
            size=size,
            vocabulary=vocabulary,
            base_t=sp.csr_matrix((vocabulary, size), dtype=np.float64),
            norms2=np.zeros(size),
            last_at=np.full(size, np.nan),
            none_sum=np.zeros(vocabulary),
            type_sum=np.zeros((vocabulary, len(_TYPES))),
            type_norms2=np.zeros(len(_TYPES)),
            nearest=_Nearest.build(vocabulary, [], sp.csr_matrix((0, vocabulary)), []),
        )

    def grow(self, size: int) -> None:
        """Make room for dossiers opened since (appended at the end)."""
        if size <= self.size:
            return
        extra = size - self.size
        self.base_t = sp.hstack(
            [self.base_t, sp.csr_matrix((self.vocabulary, extra))], format="csr"
        )
        self.norms2 = np.concatenate([self.norms2, np.zeros(extra)])
        self.last_at = np.concatenate([self.last_at, np.full(extra, np.nan)])
        self.size = size
        self._pending_t = None

    def _count(self, directory: _Directory, mail: _Mail, label: int, sign: int) -> None:
        if label < 0:
            for address in mail.correspondents:
                self.none_by_sender[address] += sign
            return
        for address in mail.correspondents:
            if sign > 0 and not math.isnan(mail.at):
                key_at = (address, label)
                self.sender_last[key_at] = max(self.sender_last.get(key_at, mail.at), mail.at)
            counter = self.by_sender.setdefault(address, Counter())
            counter[label] += sign
            key = _company_key(directory, address)
            if key is not None:
                self.by_company.setdefault(key, Counter())[label] += sign
        if sign > 0 and not math.isnan(mail.at):
            previous = self.last_at[label]
            if math.isnan(previous) or mail.at > previous:
                self.last_at[label] = mail.at

    def add_block(
        self, directory: _Directory, mails: Sequence[_Mail], vectors: sp.csr_matrix
    ) -> None:
        """Count `mails` (with their rows of `vectors`) in their dossiers, or
        as concerning none."""
        unrelated = [i for i, mail in enumerate(mails) if mail.label < 0]
        if unrelated:
            if self.vocabulary:
                self.none_sum += np.asarray(vectors[unrelated].sum(axis=0)).ravel()
            for i in unrelated:
                self._count(directory, mails[i], -1, 1)
        rows = [i for i, mail in enumerate(mails) if mail.label >= 0]
        if not rows:
            return
        labels = np.array([mails[i].label for i in rows])
        if self.vocabulary:
            one_hot = sp.csr_matrix(
                (np.ones(len(rows)), (np.arange(len(rows)), labels)),
                shape=(len(rows), self.size),
            )
            self.base_t = (self.base_t + vectors[rows].T @ one_hot).tocsr()
            self._merge()
            types = sp.csr_matrix(
                (np.ones(len(rows)), (np.arange(len(rows)), directory.type_of[labels])),
                shape=(len(rows), len(_TYPES)),
            )
            self.type_sum += (vectors[rows].T @ types).toarray()
            self.type_norms2 = np.einsum("ij,ij->j", self.type_sum, self.type_sum)
        for i in rows:
            self._count(directory, mails[i], mails[i].label, 1)

    def _merge(self) -> None:
        """Fold the pending changes into the base, and recompute the norms."""
        if self.pending:
            self.base_t = (self.base_t + self._pending_matrix()).tocsr()
            self.pending.clear()
            self._pending_t = None
        self.norms2 = np.asarray(self.base_t.multiply(self.base_t).sum(axis=0)).ravel()

    def _pending_matrix(self) -> sp.csr_matrix:
        if self._pending_t is None:
            labels = np.array([label for label, _vector, _sign in self.pending])
            signs = np.array([sign for _label, _vector, sign in self.pending])
            rows = sp.vstack([vector for _label, vector, _sign in self.pending], format="csr")
            one_hot = sp.csr_matrix(
                (signs, (np.arange(len(labels)), labels)), shape=(len(labels), self.size)
            )
            self._pending_t = (rows.T @ one_hot).tocsr()
        return self._pending_t

    def _dot_with(self, vector: sp.csr_matrix, label: int) -> float:
        """The dot product of `vector` with one dossier's profile."""
        column = self.base_t[vector.indices, label].toarray().ravel()
        dot = float(column @ vector.data)
        for pending_label, pending_vector, sign in self.pending:
            if pending_label == label:
                dot += sign * float(pending_vector.multiply(vector).sum())
        return dot

    def _change_one(
        self, directory: _Directory, mail: _Mail, vector: sp.csr_matrix, label: int, sign: int
    ) -> None:
        if self.vocabulary and vector.nnz:
            # |C ± v|² = |C|² ± 2 C·v + |v|², with C·v read before the change.
            own = float(vector.multiply(vector).sum())
            self.norms2[label] += sign * 2.0 * self._dot_with(vector, label) + own
            self.pending.append((label, vector, float(sign)))
            self._pending_t = None
            kind = int(directory.type_of[label])
            along = float(self.type_sum[vector.indices, kind] @ vector.data)
            self.type_norms2[kind] += sign * 2.0 * along + own
            self.type_sum[vector.indices, kind] += sign * vector.data
            if len(self.pending) >= self.PENDING_MAX:
                self._merge()
        self._count(directory, mail, label, sign)

    def _change_none(self, mail: _Mail, vector: sp.csr_matrix, sign: int) -> None:
        if self.vocabulary and vector.nnz:
            self.none_sum[vector.indices] += sign * vector.data
        for address in mail.correspondents:
            self.none_by_sender[address] += sign

    def add_one(self, directory: _Directory, mail: _Mail, vector: sp.csr_matrix) -> None:
        if mail.label >= 0:
            self._change_one(directory, mail, vector, mail.label, 1)
        else:
            self._change_none(mail, vector, 1)
        if self.nearest is not None and mail.pk is not None:
            self.nearest.add(mail.pk, vector, mail.label)

    def remove_one(self, directory: _Directory, mail: _Mail, vector: sp.csr_matrix) -> None:
        """Take back a message counted under `mail.label` (it was re-filed).
        The dossier's last activity is left as it was."""
        if mail.label >= 0:
            self._change_one(directory, mail, vector, mail.label, -1)
        else:
            self._change_none(mail, vector, -1)
        if self.nearest is not None and mail.pk is not None:
            self.nearest.remove(mail.pk)

    # The scores of message vectors (the rows of `vectors`) against the
    # statistics: one product for all the rows, each row's numbers those it
    # would get alone (a row of a sparse product depends on that row only).

    def none_scores(self, vectors: sp.csr_matrix) -> np.ndarray:
        """Cosine of each message vector to the mail said to concern none."""
        count = vectors.shape[0]
        if not self.vocabulary:
            return np.zeros(count)
        norm = math.sqrt(float(self.none_sum @ self.none_sum))
        if norm <= 1e-9:
            return np.zeros(count)
        return np.asarray(vectors @ self.none_sum) / norm

    def type_scores(self, vectors: sp.csr_matrix) -> np.ndarray:
        """Cosine of each message vector to every dossier type's profile
        (messages × types)."""
        if not self.vocabulary:
            return np.zeros((vectors.shape[0], len(_TYPES)))
        dots = np.asarray(vectors @ self.type_sum)
        norms = np.sqrt(np.clip(self.type_norms2, 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norms > 1e-9, dots / norms, 0.0)

    def text_scores(self, vectors: sp.csr_matrix) -> np.ndarray:
        """Cosine of each message vector to every dossier's profile
        (messages × dossiers)."""
        if not self.vocabulary:
            return np.zeros((vectors.shape[0], self.size))
        dots = (vectors @ self.base_t).toarray()
        if self.pending:
            dots += (vectors @ self._pending_matrix()).toarray()
        norms = np.sqrt(np.clip(self.norms2, 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norms > 1e-9, dots / norms, 0.0)


# ---------------------------------------------------------------------------
# Signals of messages against every dossier


@dataclass
class _Signals:
    """The signals of one message for its candidate dossiers, and what is
    needed to put them into words."""

    candidates: np.ndarray  # dossier indices
    features: np.ndarray  # len(candidates) × len(FEATURES)
    none_features: np.ndarray  # len(NONE_FEATURES)
    mail: _Mail
    mentions: _Mentions
    sender_counts: np.ndarray  # per candidate
    company_counts: np.ndarray
    company_names: list[str]  # per candidate: the party company, if any
    company_party_here: np.ndarray  # per candidate: open dossiers of that company there
    party_lots: list[str]  # per candidate: the correspondent's lot that is a party
    council: np.ndarray  # per candidate: correspondent sits on the council there


@dataclass
class _Correspondents:
    """What the directory says of one message's correspondents, for its
    reasons: who they are, the dossiers whose party they are."""

    persons: list[int]
    company_ids: set[int]
    party_lots: dict[int, str]  # dossier index → their lot that is its party
    council: set[int]  # condominium indices where they sit on the council
    company_names: dict[int, str]  # dossier index → their company, its party
    company_party_here: dict[int, int]  # dossier index → that company's open dossiers there


_TEXT = _COLUMN["text"]
_TITLE = _COLUMN["title"]
_NEAREST = _COLUMN["nearest"]
_TYPE_TEXT = _COLUMN["type_text"]
# The first ranking's weights that are not zero, as (column, weight).
_PREFILTER_TERMS = [(column, float(weight)) for column, weight in enumerate(_PREFILTER) if weight]


def _prefilter_scores(features: np.ndarray) -> np.ndarray:
    """The first ranking of every (message, dossier) pair of `features`
    (messages × dossiers × FEATURES): a weighted sum of its signals, added
    column by column, so that a pair's score never depends on the other
    pairs computed with it (a matrix product may round differently with the
    shape of the matrix, and a suggestion must not depend on its batch)."""
    scores = np.zeros(features.shape[:2])
    for column, weight in _PREFILTER_TERMS:
        scores += features[:, :, column] * weight
    return scores


def _signals(
    directory: _Directory,
    stats: _Stats,
    titles: sp.csr_matrix | None,
    mails: Sequence[_Mail],
    vectors: sp.csr_matrix,
    mentions: Sequence[_Mentions],
    open_masks: np.ndarray,
) -> list[_Signals | None]:
    """The signals of each of `mails` (its row of `vectors`, its mentions)
    for its best candidates among the dossiers open for it (its row of
    `open_masks`, messages × dossiers); None for a mail no dossier is open
    for.

    Computed for the messages together: one sparse product per statistic
    for all of them, and array operations over all of them, rather than a
    few dozen small operations per message. Each message's signals are
    those it would get alone: the training pass scores a block of messages,
    the file stage of an import a run of a batch, a single message a batch
    of one, and the numbers are the same."""
    count, size = len(mails), directory.size
    if not count:
        return []
    features = np.zeros((count, size, len(FEATURES)))
    features[:, :, _TEXT] = stats.text_scores(vectors)
    features[:, :, _TYPE_TEXT] = stats.type_scores(vectors)[:, directory.type_of]
    none_nearest = np.zeros(count)
    if stats.nearest is not None:
        features[:, :, _NEAREST], none_nearest = stats.nearest.nearest(vectors, size)
    if titles is not None and titles.shape[0]:
        features[:, :, _TITLE] = (vectors @ titles).toarray()
    none_texts = stats.none_scores(vectors)

    # Recency; nothing for a mail without a date (its differences are nan).
    at = np.array([mail.at for mail in mails])[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        since_mail = (at - stats.last_at) / DAY
        features[:, :, _COLUMN["recent_mail"]] = np.where(
            since_mail >= 0, np.exp(-np.nan_to_num(since_mail, nan=1e9) / 30.0), 0.0
        )
        since_opened = (at - directory.opened_at) / DAY
        features[:, :, _COLUMN["recently_opened"]] = np.where(
            since_opened >= -1, np.exp(-np.clip(since_opened, 0, None) / 14.0), 0.0
        )

    # The correspondents' mail in each dossier, and their companies'.
    senders = np.zeros((count, size))
    companies = np.zeros((count, size))
    company_keys: list[list[str]] = []
    for row, mail in enumerate(mails):
        for address in mail.correspondents:
            counter = stats.by_sender.get(address)
            if counter:
                for index, count_here in counter.items():
                    senders[row, index] += count_here
        keys = [
            key
            for key in (_company_key(directory, a) for a in mail.correspondents)
            if key is not None
        ]
        company_keys.append(keys)
        for key in set(keys):
            counter = stats.by_company.get(key)
            if counter:
                for index, count_here in counter.items():
                    companies[row, index] += count_here
    # Counts of mail: sums of whole numbers, exact whatever their order.
    open_senders = np.where(open_masks, senders, 0.0).sum(axis=1)
    open_companies = np.where(open_masks, companies, 0.0).sum(axis=1)
    features[:, :, _COLUMN["sender_history"]] = np.log1p(senders)
    features[:, :, _COLUMN["company_history"]] = np.log1p(companies)
    with np.errstate(divide="ignore", invalid="ignore"):
        features[:, :, _COLUMN["sender_share"]] = np.where(
            open_senders[:, None] != 0, senders / open_senders[:, None], 0.0
        )
        features[:, :, _COLUMN["company_share"]] = np.where(
            open_companies[:, None] != 0, companies / open_companies[:, None], 0.0
        )

    # Who the correspondents are, what the mail names: a few entries per
    # message, set one by one.
    known: list[_Correspondents] = []
    for row, mail in enumerate(mails):
        found = features[row]
        correspondents = mail.correspondents
        persons = [
            directory.person_of_address[a]
            for a in correspondents
            if a in directory.person_of_address
        ]
        company_ids = {int(key[1:]) for key in company_keys[row] if key.startswith("c")}
        party_lots: dict[int, str] = {}
        for person in persons:
            for index in directory.person_dossiers.get(person, ()):
                found[index, _COLUMN["sender_party"]] = 1.0
            for index, number in directory.person_party_lots.get(person, {}).items():
                party_lots[index] = number
        condominiums = set().union(*(directory.person_condominiums.get(p, set()) for p in persons))
        council = set().union(*(directory.person_council.get(p, set()) for p in persons))
        for condominium in condominiums | council:
            found[directory.condominium_members[condominium], _COLUMN["sender_condominium"]] = 1.0
        company_names: dict[int, str] = {}
        company_party_here: dict[int, int] = {}
        open_mask = open_masks[row]
        for company in company_ids:
            indices = [i for i in directory.company_dossiers.get(company, ()) if open_mask[i]]
            if not indices:
                continue
            per_condominium = Counter(int(directory.condominium_of[i]) for i in indices)
            for index in indices:
                found[index, _COLUMN["company_party"]] = 1.0
                found[index, _COLUMN["company_party_share"]] = 1.0 / len(indices)
                company_names[index] = directory.company_names.get(company, "")
                company_party_here[index] = per_condominium[int(directory.condominium_of[index])]

        named = mentions[row]
        if named.condominiums:
            found[:, _COLUMN["other_condominium_named"]] = 1.0
            for condominium in named.condominiums:
                members = directory.condominium_members[condominium]
                found[members, _COLUMN["condominium_named"]] = 1.0
                found[members, _COLUMN["other_condominium_named"]] = 0.0
        # A lot named is evidence about the dossier when someone else's; a
        # co-owner naming their own lot mostly says who they are.
        own_lots = set().union(*(directory.person_lots.get(p, set()) for p in persons))
        for number in named.lot_numbers:
            for condominium, lot in directory.lots_by_number.get(number, ()):
                members = directory.condominium_members[condominium]
                found[members, _COLUMN["condominium_lot_named"]] = 1.0
                column = _COLUMN["own_lot_named" if lot in own_lots else "party_lot_named"]
                for index in directory.dossiers_of_lot.get(lot, ()):
                    found[index, column] = 1.0

        if not math.isnan(mail.at):
            column = _COLUMN["sender_recent"]
            for address in correspondents:
                for index in stats.by_sender.get(address, ()):
                    last = stats.sender_last.get((address, index))
                    if last is not None and last <= mail.at:
                        recent = math.exp(-(mail.at - last) / DAY / 30.0)
                        found[index, column] = max(found[index, column], recent)
        known.append(
            _Correspondents(
                persons, company_ids, party_lots, council, company_names, company_party_here
            )
        )

    first = _prefilter_scores(features)
    signals: list[_Signals | None] = []
    for row, mail in enumerate(mails):
        open_indices = np.flatnonzero(open_masks[row])
        if not len(open_indices):
            signals.append(None)
            continue
        who = known[row]
        order = np.argsort(-first[row, open_indices], kind="stable")[:CANDIDATES]
        candidates = open_indices[order]
        chosen = features[row, candidates]
        # Which candidate the text alone prefers, and whether the text is
        # more like mail of no dossier than like any of them: what a
        # weighted sum of the other signals cannot say (a co-owner who is a
        # party to a water damage writing about the scaffolding of the
        # facade works).
        texts = chosen[:, _TEXT]
        best_text = float(texts.max(initial=0.0))
        if best_text > 0.02:
            chosen[:, _COLUMN["text_best"]] = texts >= best_text
        nearest = chosen[:, _NEAREST]
        best_nearest = float(nearest.max(initial=0.0))
        none_near = float(none_nearest[row])
        if best_nearest > 0.02 and best_nearest >= none_near:
            chosen[:, _COLUMN["nearest_best"]] = nearest >= best_nearest
        none_text = float(none_texts[row])
        unknown = (
            not who.persons
            and not who.company_ids
            and not open_senders[row]
            and not open_companies[row]
        )
        none_history = sum(stats.none_by_sender.get(a, 0) for a in mail.correspondents)
        listed = candidates.tolist()
        signals.append(
            _Signals(
                candidates=candidates,
                features=chosen,
                none_features=np.array(
                    [
                        1.0,
                        1.0 if unknown else 0.0,
                        none_text,
                        math.log1p(max(0, none_history)),
                        1.0 if none_text > best_text else 0.0,
                        none_near,
                        1.0 if none_near > best_nearest else 0.0,
                    ]
                ),
                mail=mail,
                mentions=mentions[row],
                sender_counts=senders[row, candidates],
                company_counts=companies[row, candidates],
                company_names=[who.company_names.get(i, "") for i in listed],
                company_party_here=np.array(
                    [float(who.company_party_here.get(i, 0)) for i in listed]
                ),
                party_lots=[who.party_lots.get(i, "") for i in listed],
                council=np.array(
                    [int(directory.condominium_of[i]) in who.council for i in listed], dtype=bool
                ),
            )
        )
    return signals


# ---------------------------------------------------------------------------
# The choice model


def _probabilities(weights: np.ndarray, signals: _Signals) -> tuple[np.ndarray, float]:
    """The probability of each candidate, and of "none of them"."""
    utilities = signals.features @ weights[: len(FEATURES)]
    none = float(signals.none_features @ weights[len(FEATURES) :])
    top = max(float(utilities.max(initial=-np.inf)), none)
    exp = np.exp(utilities - top)
    exp_none = math.exp(none - top)
    total = exp.sum() + exp_none
    return exp / total, exp_none / total


def _fit_weights(examples: list[tuple[np.ndarray, np.ndarray, int]]) -> np.ndarray:
    """Maximum likelihood of the conditional logit with a Gaussian prior
    around PRIOR_WEIGHTS. `examples` are (candidate features, none features,
    index of the right candidate or -1 for none)."""
    if not examples:
        return PRIOR_WEIGHTS.copy()
    width = max(len(x[0]) for x in examples)
    count = len(examples)
    n_features = len(FEATURES)
    # Padded to `width` candidates; padding has utility -inf (a mask).
    X = np.zeros((count, width, n_features))
    mask = np.zeros((count, width), dtype=bool)
    Z = np.zeros((count, len(NONE_FEATURES)))
    label = np.full(count, width)  # `width` stands for "none"
    for row, (features, none, right) in enumerate(examples):
        X[row, : len(features)] = features
        mask[row, : len(features)] = True
        Z[row] = none
        if right >= 0:
            label[row] = right

    def objective(weights: np.ndarray) -> tuple[float, np.ndarray]:
        w, v = weights[:n_features], weights[n_features:]
        utilities = np.where(mask, X @ w, -np.inf)
        none = Z @ v
        all_u = np.concatenate([utilities, none[:, None]], axis=1)
        top = all_u.max(axis=1, keepdims=True)
        exp = np.exp(all_u - top)
        total = exp.sum(axis=1, keepdims=True)
        prob = exp / total
        chosen = all_u[np.arange(count), label]
        loss = -(chosen - top[:, 0] - np.log(total[:, 0])).sum()
        target = np.zeros_like(prob)
        target[np.arange(count), label] = 1.0
        residual = prob - target
        grad_w = np.einsum("nk,nkf->f", residual[:, :width], X)
        grad_v = residual[:, width] @ Z
        gap = weights - PRIOR_WEIGHTS
        return loss + 0.5 * L2 * float(gap @ gap), np.concatenate([grad_w, grad_v]) + L2 * gap

    # Imported here: a third of a second, and only a model with enough
    # examples to fit needs it.
    from scipy.optimize import minimize

    result = minimize(
        objective, PRIOR_WEIGHTS.copy(), jac=True, method="L-BFGS-B", options={"maxiter": 300}
    )
    return np.asarray(result.x)


# ---------------------------------------------------------------------------
# The model of one agency


# The text model: TF-IDF on words and word pairs (`suggest_text.terms`), with
# these settings of scikit-learn's TfidfVectorizer (`_Vocabulary`):
#   TfidfVectorizer(strip_accents="unicode", lowercase=True,
#       token_pattern=suggest_text.TOKEN_PATTERN, ngram_range=(1, 2), min_df=…, max_df=…,
#       max_features=MAX_TERMS, sublinear_tf=True, dtype=np.float64)
# where min_df and max_df are `_document_bounds`.
MAX_TERMS = 200_000


def _document_bounds(documents: int) -> tuple[int, float]:
    """min_df and max_df for a vocabulary learnt on `documents` texts: a
    term must be in two of them and in at most half (a handful of texts: in
    one, and in any number)."""
    return (2, 0.5) if documents >= 20 else (1, 1.0)


@dataclass(frozen=True)
class _Vocabulary:
    """The terms the text model knows, and their inverse document
    frequencies: what the TfidfVectorizer described above learns by `fit`,
    computed as it does (a test keeps them equal). Lanterne computes them
    itself so that a process filing mail never loads scikit-learn, whose
    import costs more CPU (0.7 s) than suggesting dossiers for a thousand
    messages."""

    index: dict[str, int]  # term → column; columns in the terms' alphabetical order
    idf: np.ndarray  # per column: ln((1 + documents) / (1 + documents with the term)) + 1

    @classmethod
    def fit(cls, documents: Sequence[str]) -> _Vocabulary | None:
        """The vocabulary of `documents`; None when no term is left (the
        vectorizer refuses to fit then)."""
        count = len(documents)
        low, high_share = _document_bounds(count)
        high = high_share * count
        in_documents: Counter[str] = Counter()
        occurrences: Counter[str] = Counter()
        for text in documents:
            found = terms(text)
            occurrences.update(found)
            in_documents.update(set(found))
        if not in_documents or high < low:
            return None
        known = sorted(in_documents)
        frequency = np.array([in_documents[term] for term in known], dtype=np.int64)
        keep = (frequency <= high) & (frequency >= low)
        if keep.sum() > MAX_TERMS:
            # The most frequent terms, chosen by the vectorizer's very call
            # on the same numbers in the same order: the same ties are kept.
            total = np.array([occurrences[term] for term in known], dtype=np.float64)
            chosen = (-total[keep]).argsort()[:MAX_TERMS]
            limited = np.zeros(len(known), dtype=bool)
            limited[np.flatnonzero(keep)[chosen]] = True
            keep = limited
        kept = np.flatnonzero(keep)
        if not len(kept):
            return None
        idf = np.full(len(kept), float(count + 1))
        idf /= frequency[kept].astype(np.float64) + 1.0
        np.log(idf, out=idf)
        idf += 1.0
        return cls(index={known[i]: column for column, i in enumerate(kept.tolist())}, idf=idf)

    def vectorize(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF vectors of `texts` (rows), l2-normalised: the
        vectorizer's `transform(texts)`, the same numbers (to the last bits
        of rounding)."""
        return self.vectorize_words([words(text) for text in texts])

    def vectorize_words(self, texts: Sequence[list[str]]) -> sp.csr_matrix:
        """`vectorize` of texts given by their words (`suggest_text.words`).
        The terms of all the texts are counted at once."""
        get = self.index.get
        found: list[int] = []
        ends = [0]
        for text in texts:
            found += [column for column in map(get, text) if column is not None]
            found += [column for column in map(get, pairs(text)) if column is not None]
            ends.append(len(found))
        size = len(self.index)
        if not found:
            return sp.csr_matrix((len(texts), size))
        # (text, term) pairs as one number each, counted, in text then term order.
        texts_of = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(ends))
        keys, tf = np.unique(texts_of * size + np.array(found, dtype=np.int64), return_counts=True)
        rows, columns = np.divmod(keys, size)
        weights = (1.0 + np.log(tf)) * self.idf[columns]  # sublinear tf × idf
        indptr = np.searchsorted(rows, np.arange(len(texts) + 1))
        for start, end in itertools.pairwise(indptr.tolist()):
            if end > start:
                row = weights[start:end]
                row /= np.sqrt(row @ row)
        return sp.csr_matrix((weights, columns, indptr), shape=(len(texts), size))


@dataclass
class _Known:
    """A training message as the model keeps it: its vector, and what the
    statistics counted it as (dossier, correspondents, date)."""

    vector: sp.csr_matrix
    mail: _Mail


@dataclass
class _Model:
    """The fitted model of one agency, and the statistics it scores with."""

    agency_id: int
    signature: tuple[Any, ...]
    audit_seen: int  # the last audit row of the agency taken into account
    directory: _Directory
    vectorizer: _Vocabulary | None
    weights: np.ndarray
    examples: int  # training examples the weights were fitted on
    fitted_on: int  # training messages when the vocabulary and weights were fitted
    stats: _Stats
    titles: sp.csr_matrix | None  # terms × dossiers: title and description vectors
    known: dict[int, _Known]  # training messages by pk

    @property
    def vocabulary(self) -> int:
        return len(self.vectorizer.index) if self.vectorizer is not None else 0

    def vectorize(self, texts: Sequence[str]) -> sp.csr_matrix:
        if self.vectorizer is None:
            return sp.csr_matrix((len(texts), 0))
        return self.vectorizer.vectorize(texts)


def _fit(agency_id: int, signature: tuple[Any, ...]) -> _Model:
    """Fit the vocabulary and the weights on the agency's filings, in date
    order (see the module's docstring), and build the statistics."""
    directory = _directory_load(agency_id)
    mails = [
        _mail_from_row(directory, row, with_text=True)
        for row in _training_rows(agency_id, with_text=True)
    ]
    mails.sort(key=lambda m: (m.at if not math.isnan(m.at) else 0.0, m.pk or 0))
    # No vocabulary when there is no usable word at all (an empty agency).
    vectorizer = _Vocabulary.fit([m.text for m in mails] + directory.titles)
    model = _Model(
        agency_id=agency_id,
        signature=signature,
        audit_seen=signature[1] or 0,
        directory=directory,
        vectorizer=vectorizer,
        weights=PRIOR_WEIGHTS.copy(),
        examples=0,
        fitted_on=len(mails),
        stats=_Stats.empty(directory.size, 0),
        titles=None,
        known={},
    )
    vectors = model.vectorize([m.text for m in mails])
    model.titles = _titles(model)
    # Mail filed into a dossier before its opening date (history imported
    # into dossiers created on migration day) says the dossier was open then.
    for mail in mails:
        if mail.label >= 0 and not math.isnan(mail.at):
            index = mail.label
            directory.opened_at[index] = np.fmin(directory.opened_at[index], mail.at)
            if not math.isnan(directory.closed_at[index]):
                directory.closed_at[index] = max(directory.closed_at[index], mail.at)

    # The date-ordered pass: each conversation's first message is scored
    # against the dossiers open at its date, with the statistics of the mail
    # filed before its block.
    stats = _Stats.empty(directory.size, model.vocabulary)
    stats.nearest = _Nearest.build(
        model.vocabulary, [m.pk or 0 for m in mails], vectors, [m.label for m in mails]
    )
    seen_threads: set[int] = set()
    examples: list[tuple[np.ndarray, np.ndarray, int]] = []
    for start in range(0, len(mails), TRAINING_BLOCK):
        block = mails[start : start + TRAINING_BLOCK]
        stats.nearest.limit = start
        # Examples are the mail that reaches the suggestions: the first of
        # its conversation, without a reference of Lanterne's.
        rows: list[int] = []
        for offset, mail in enumerate(block):
            if mail.thread_id is not None:
                if mail.thread_id in seen_threads:
                    continue
                seen_threads.add(mail.thread_id)
            if not mail.referenced:
                rows.append(start + offset)
        if rows:
            chosen = [mails[row] for row in rows]
            at = np.array([mail.at for mail in chosen])[:, None]
            open_masks = (directory.opened_at <= at + DAY) & ~(directory.closed_at < at - DAY)
            for mail, signals in zip(
                chosen,
                _signals(
                    directory,
                    stats,
                    model.titles,
                    chosen,
                    vectors[rows],
                    [_mentions(directory, *_folded(mail.text)) for mail in chosen],
                    open_masks,
                ),
                strict=True,
            ):
                if signals is None:
                    continue
                right = np.flatnonzero(signals.candidates == mail.label)
                examples.append(
                    (signals.features, signals.none_features, int(right[0]) if len(right) else -1)
                )
        stats.add_block(directory, block, vectors[start : start + len(block)])
    stats.nearest.limit = None
    model.examples = len(examples)
    if len(examples) >= MIN_EXAMPLES:
        model.weights = _fit_weights(examples)
    model.stats = stats
    for index, mail in enumerate(mails):
        assert mail.pk is not None
        mail.text = ""  # not kept: the vector is
        model.known[mail.pk] = _Known(vectors[index], mail)
    return model


def _titles(model: _Model) -> sp.csr_matrix:
    """The dossiers' title and description vectors, terms × dossiers."""
    return model.vectorize(model.directory.titles).T.tocsr()


def _trains(row: dict[str, Any]) -> bool:
    """Whether a message (a row of `_training_rows`' fields) is one the
    model learns from: the same test as `_training_queryset`."""
    if row["is_auto_reply"] or row["is_bounce"] or row["is_bulk"]:
        return False
    if row["dossier_id"] is not None:
        return row["filing_method"] in TRAINING_METHODS
    return bool(row["not_dossier_related"]) and row["filing_method"] in NONE_METHODS


def _rebuild(model: _Model, signature: tuple[Any, ...]) -> _Model:
    """Rebuild the statistics from every current filing, with the fitted
    vocabulary and weights: new messages are vectorised, the others reused."""
    directory = _directory_load(model.agency_id)
    model.directory = directory
    model.signature = signature
    model.audit_seen = signature[1] or 0
    model.titles = _titles(model)
    rows = list(_training_rows(model.agency_id, with_text=False))
    missing = [row["pk"] for row in rows if row["pk"] not in model.known]
    vectors: dict[int, sp.csr_matrix] = {pk: known.vector for pk, known in model.known.items()}
    if missing:
        fresh = [
            _mail_from_row(directory, row, with_text=True)
            for row in _training_rows(model.agency_id, with_text=True, only=missing)
        ]
        matrix = model.vectorize([m.text for m in fresh])
        for index, mail in enumerate(fresh):
            assert mail.pk is not None
            vectors[mail.pk] = matrix[index]
    mails = [_mail_from_row(directory, row, with_text=False) for row in rows]
    mails = [m for m in mails if m.pk in vectors]
    pks = [m.pk for m in mails if m.pk is not None]
    matrix = (
        sp.vstack([vectors[pk] for pk in pks]).tocsr()
        if pks
        else sp.csr_matrix((0, model.vocabulary))
    )
    stats = _Stats.empty(directory.size, model.vocabulary)
    stats.nearest = _Nearest.build(model.vocabulary, pks, matrix, [m.label for m in mails])
    stats.add_block(directory, mails, matrix)
    model.stats = stats
    model.known = {m.pk: _Known(vectors[m.pk], m) for m in mails if m.pk is not None}
    return model


def _directory_refresh(model: _Model) -> bool:
    """Reload the agency's dossiers and contacts. Dossiers opened since are
    appended to the statistics; the companies' counts are redone (a contact
    may have changed company). False when a dossier disappeared: the
    statistics must then be rebuilt."""
    directory = _directory_load(model.agency_id)
    before = [dossier.pk for dossier in model.directory.dossiers]
    if [dossier.pk for dossier in directory.dossiers[: len(before)]] != before:
        return False
    model.directory = directory
    model.titles = _titles(model)
    stats = model.stats
    stats.grow(directory.size)
    stats.by_company.clear()
    for known in model.known.values():
        if known.mail.label >= 0:
            for address in known.mail.correspondents:
                key = _company_key(directory, address)
                if key is not None:
                    stats.by_company.setdefault(key, Counter())[known.mail.label] += 1
    return True


# Audit rows read at most per update; beyond, the statistics are rebuilt.
UPDATE_MAX = 2000
_MESSAGE_TYPE = "mail.message"


def _update(model: _Model, signature: tuple[Any, ...]) -> _Model:
    """Bring the statistics up to date with what the audit log says changed
    since the model last looked: messages filed, re-filed or unfiled (each is
    taken back from where it was counted and counted where it is now), and
    dossiers or contacts changed (the directory is reloaded)."""
    rows = list(
        AuditLog.objects.filter(agency_id=model.agency_id, pk__gt=model.audit_seen)
        .order_by("pk")
        .values_list("pk", "object_type", "object_id")[: UPDATE_MAX + 1]
    )
    if len(rows) > UPDATE_MAX:
        return _rebuild(model, signature)
    directory_changed = model.signature[2:] != signature[2:] or any(
        object_type != _MESSAGE_TYPE for _pk, object_type, _id in rows
    )
    if directory_changed and not _directory_refresh(model):
        return _rebuild(model, signature)
    touched = {
        int(object_id)
        for _pk, object_type, object_id in rows
        if object_type == _MESSAGE_TYPE and object_id.isdigit()
    }
    if touched:
        _messages_update(model, touched)
    if rows:
        model.audit_seen = max(model.audit_seen, rows[-1][0])
    model.signature = signature
    return model


def _messages_update(model: _Model, pks: set[int]) -> None:
    """Count again the messages `pks` as they are filed now."""
    directory = model.directory
    fields = [
        *_MAIL_FIELDS,
        "subject",
        "body",
        "filing_method",
        "not_dossier_related",
        "is_auto_reply",
        "is_bounce",
        "is_bulk",
    ]
    rows = (
        Message.objects.filter(agency_id=model.agency_id, pk__in=pks)
        .annotate(body=_BODY)
        .values(*fields)
    )
    for pk in pks:
        old = model.known.pop(pk, None)
        if old is not None:
            model.stats.remove_one(directory, old.mail, old.vector)
    for row in rows:
        if not _trains(row):
            continue
        mail = _mail_from_row(directory, row, with_text=True)
        vector = model.vectorize([mail.text])
        mail.text = ""
        model.stats.add_one(directory, mail, vector)
        model.known[row["pk"]] = _Known(vector, mail)


@functools.cache
def _signature_sql(vendor: str) -> str:
    """The query `_signature` runs: one row of scalar subqueries, each served
    by an index on the agency (or on the rows' parent), written once as SQL —
    it runs before every suggestion, and building it with the ORM would cost
    ten times more than running it. Cached per database vendor (quoting)."""
    table = {
        model.__name__: connection.ops.quote_name(model._meta.db_table)
        for model in (
            Agency,
            AuditLog,
            Dossier,
            PersonEmail,
            Person,
            Company,
            CompanyDomain,
            Condominium,
            Lot,
        )
    }
    # Table names from our own models; the agency id is a parameter.
    return (
        f"SELECT a.created_at,"  # noqa: S608
        f" (SELECT MAX(id) FROM {table['AuditLog']} WHERE agency_id = a.id),"
        f" (SELECT COUNT(*) FROM {table['Dossier']} WHERE agency_id = a.id),"
        f" (SELECT MAX(updated_at) FROM {table['Dossier']} WHERE agency_id = a.id),"
        f" (SELECT MAX(id) FROM {table['PersonEmail']} WHERE agency_id = a.id),"
        f" (SELECT COUNT(*) FROM {table['PersonEmail']} WHERE agency_id = a.id),"
        f" (SELECT COUNT(*) FROM {table['Person']} WHERE agency_id = a.id),"
        f" (SELECT MAX(d.id) FROM {table['CompanyDomain']} d JOIN {table['Company']} c"
        f" ON c.id = d.company_id WHERE c.agency_id = a.id),"
        f" (SELECT COUNT(*) FROM {table['CompanyDomain']} d JOIN {table['Company']} c"
        f" ON c.id = d.company_id WHERE c.agency_id = a.id),"
        f" (SELECT MAX(l.id) FROM {table['Lot']} l JOIN {table['Condominium']} k"
        f" ON k.id = l.condominium_id WHERE k.agency_id = a.id),"
        f" (SELECT COUNT(*) FROM {table['Lot']} l JOIN {table['Condominium']} k"
        f" ON k.id = l.condominium_id WHERE k.agency_id = a.id)"
        f" FROM {table['Agency']} a WHERE a.id = %s"
    )


def _signature(agency_id: int) -> tuple[Any, ...] | None:
    """What changes when the model must be rebuilt, read in one query: the
    agency itself (a new agency under a reused id is another agency), its
    audit log (every filing and re-filing is audited, as are dossiers opened,
    changed and closed), its dossiers, contacts and lots (also changed outside
    the audited services, by imports and the admin). None when the agency
    does not exist."""
    with connection.cursor() as cursor:
        cursor.execute(_signature_sql(connection.vendor), [agency_id])
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def _refit_due(model: _Model) -> bool:
    """Whether the vocabulary and weights should be fitted again: the training
    set grew by half since (and by REFIT_MIN_NEW messages) — or, while the
    weights are still the priors, by a fifth (such a fit is small and cheap,
    and it is what lets a new agency's model start to learn)."""
    known, before = len(model.known), model.fitted_on
    if model.examples < MIN_EXAMPLES:
        return known >= max(before * 1.2, before + 20)
    return known >= max(before * (1 + REFIT_GROWTH), before + REFIT_MIN_NEW)


class _Cache:
    """The models of this process, per agency (least recently used dropped
    first)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.models: OrderedDict[int, _Model] = OrderedDict()
        self.stale: set[int] = set()
        # Reentrant: a suggestion asked inside a `suggestion_session` of the
        # same thread must not wait for itself.
        self.agency_locks: dict[int, threading.RLock] = {}

    @contextlib.contextmanager
    def use(self, agency_id: int) -> Iterator[_Model | None]:
        """The agency's model, brought up to date (see `_signature`), held
        for this thread until the block ends (another thread may be updating
        it); None when the agency does not exist."""
        signature = _signature(agency_id)
        if signature is None:
            yield None
            return
        with self.lock:
            agency_lock = self.agency_locks.setdefault(agency_id, threading.RLock())
        with agency_lock:
            yield self._current(agency_id, signature)

    def model(self, agency_id: int) -> _Model | None:
        """The agency's model, brought up to date (for inspection: use `use`
        to score with it)."""
        with self.use(agency_id) as model:
            return model

    def _current(self, agency_id: int, signature: tuple[Any, ...]) -> _Model:
        """Fit, update or keep the agency's model (the agency's lock held)."""
        with self.lock:
            model = self.models.get(agency_id)
            stale = agency_id in self.stale
            self.stale.discard(agency_id)
        if model is not None and model.signature[0] != signature[0]:
            model = None  # another agency under a reused id
        if model is None:
            model = _fit(agency_id, signature)
        elif stale or model.signature != signature:
            model = _update(model, signature)
            if _refit_due(model):
                model = _fit(agency_id, signature)
        with self.lock:
            self.models[agency_id] = model
            self.models.move_to_end(agency_id)
            while len(self.models) > CACHED_AGENCIES:
                self.models.popitem(last=False)
        return model

    def invalidate(self, agency_id: int) -> None:
        with self.lock:
            self.stale.add(agency_id)

    def clear(self) -> None:
        with self.lock:
            self.models.clear()
            self.stale.clear()


_cache = _Cache()


# ---------------------------------------------------------------------------
# Reasons, in French


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _at(name: str) -> str:
    """« à » before a condominium's name, contracted as French wants it:
    « aux Tilleuls », « au Belvédère », « à la Résidence du Parc »."""
    for article, contracted in (("Les ", "aux "), ("Le ", "au ")):
        if name.startswith(article):
            return contracted + name[len(article) :]
    if name.startswith(("La ", "L'", "L’")):
        return "à " + name[0].lower() + name[1:]
    if name.split(" ", 1)[0] in ("Résidence", "Villa", "Copropriété"):
        return "à la " + name
    return "à " + name


@functools.cache
def _type_label(value: str) -> str:
    """A dossier type's French name, in lower case, for the reasons (once
    per process: switching the language costs more than writing a reason)."""
    with translation.override("fr"):
        return str(DossierType(value).label).lower()


def _reason(model: _Model, signals: _Signals, position: int) -> str:
    """The signals that made this suggestion, strongest first, in words a
    manager reads (at most three)."""
    directory = model.directory
    # As Python numbers: read a dozen times each (the same products and sums).
    features = signals.features[position].tolist()
    weights = model.weights[: len(FEATURES)].tolist()
    contributions = [value * weight for value, weight in zip(features, weights, strict=True)]
    index = int(signals.candidates[position])
    condominium = directory.condominium_names[int(directory.condominium_of[index])]
    who = "le destinataire" if signals.mail.outbound else "l'expéditeur"
    phrases: list[tuple[float, str]] = []

    def say(names: Sequence[str], text: str) -> None:
        phrases.append((float(sum(contributions[_COLUMN[n]] for n in names)), text))

    senders = int(signals.sender_counts[position])
    companies = int(signals.company_counts[position])
    if senders:
        say(
            ("sender_history", "sender_share", "sender_recent"),
            f"{_plural(senders, 'courriel', 'courriels')} "
            + ("avec le destinataire" if signals.mail.outbound else "de l'expéditeur")
            + " déjà dans ce dossier",
        )
    elif companies:
        say(
            ("company_history", "company_share"),
            f"{_plural(companies, 'courriel', 'courriels')} de son entreprise déjà dans ce dossier",
        )
    if features[_COLUMN["sender_party"]]:
        lot = signals.party_lots[position]
        say(
            ("sender_party",),
            f"{who} est copropriétaire du lot {lot}, concerné par le dossier"
            if lot
            else f"{who} est une personne concernée par le dossier",
        )
    if features[_COLUMN["company_party"]]:
        here = int(signals.company_party_here[position])
        name = signals.company_names[position]
        say(
            ("company_party", "company_party_share"),
            f"l'entreprise de {who} ({name}) est partie à "
            f"{_plural(here, 'dossier ouvert', 'dossiers ouverts')} {_at(condominium)}",
        )
    if features[_COLUMN["sender_condominium"]] and not features[_COLUMN["sender_party"]]:
        say(
            ("sender_condominium",),
            f"{who} est membre du conseil syndical {_at(condominium)}"
            if signals.council[position]
            else f"{who} est copropriétaire {_at(condominium)}",
        )
    if features[_COLUMN["condominium_named"]]:
        say(("condominium_named",), f"mentionne {condominium}")
    lots_here = [
        number
        for number in signals.mentions.lot_numbers
        if any(
            condo == directory.condominium_of[index]
            for condo, _lot in directory.lots_by_number.get(number, ())
        )
    ]
    if features[_COLUMN["party_lot_named"]] or features[_COLUMN["own_lot_named"]]:
        party = [
            number
            for number in lots_here
            if any(
                index in directory.dossiers_of_lot.get(lot, ())
                for _condo, lot in directory.lots_by_number.get(number, ())
            )
        ]
        say(
            ("party_lot_named", "own_lot_named"),
            f"mentionne le lot {', '.join(party) or lots_here[0]}",
        )
    elif features[_COLUMN["condominium_lot_named"]] and lots_here:
        say(("condominium_lot_named",), f"mentionne le lot {lots_here[0]} {_at(condominium)}")
    if features[_COLUMN["nearest"]] >= 0.5:
        say(("nearest", "nearest_best"), "un courriel très semblable est déjà dans ce dossier")
    elif features[_COLUMN["text"]] >= 0.05:
        say(("text", "text_best", "nearest"), "texte proche des courriels du dossier")
    if features[_COLUMN["type_text"]] >= 0.05:
        kind = _type_label(directory.dossiers[index].type)
        say(("type_text",), f"ressemble aux courriels des dossiers « {kind} »")
    if features[_COLUMN["title"]] >= 0.05:
        say(("title",), f"proche de l'intitulé « {directory.titles[index].splitlines()[0]} »")
    if features[_COLUMN["recently_opened"]] >= 0.5:
        say(("recently_opened",), "dossier ouvert récemment")
    kept = [text for weight, text in sorted(phrases, key=lambda p: -p[0]) if weight > 0.1][:3]
    return " ; ".join(kept) or "peu d'indices : à vérifier"


# ---------------------------------------------------------------------------
# Public API


def message_suggestions(message: Message, *, limit: int = 3) -> list[Suggestion]:
    """The open dossiers of the message's agency that `message` most likely
    belongs to, best first, at most `limit`, each with its score and reason;
    [] when there is nothing to suggest (no open dossier, no signal)."""
    with _cache.use(message.agency_id) as model:
        if model is None:
            return []
        return _suggest(model, [message], limit=limit)[0]


class SuggestionSession:
    """The suggestions of one agency's model, brought up to date once, for
    many messages (see `suggestion_session`)."""

    def __init__(self, agency_id: int, model: _Model | None) -> None:
        self.agency_id = agency_id
        self._model = model

    def __call__(self, message: Message, limit: int = 3) -> list[Suggestion]:
        """`message_suggestions(message, limit=limit)`."""
        return self.many([message], limit=limit)[0]

    def many(
        self,
        messages: Sequence[Message],
        limit: int = 3,
        *,
        texts: Mapping[int, PreparedText] | None = None,
    ) -> list[list[Suggestion]]:
        """`message_suggestions` of each of `messages`, the same suggestions,
        computed together (see `_signals`): what makes suggestions cheap for
        an import. `texts`: their texts prepared ahead, by pk (`_suggest`)."""
        if any(message.agency_id != self.agency_id for message in messages):
            raise ValueError("the message belongs to another agency")
        if self._model is None:
            return [[] for _message in messages]
        return _suggest(self._model, messages, limit=limit, texts=texts)


@contextlib.contextmanager
def suggestion_session(agency_id: int) -> Iterator[SuggestionSession]:
    """Many `message_suggestions` for one agency's messages with the model
    brought up to date once, when the session opens: what a bulk import uses
    for a batch (`autofile.messages_autofile`). Yields a `SuggestionSession`:
    `session(message, limit=3)`, or `session.many(messages, limit=3)`. The
    model is held for the session (the agency's lock): no filing may run
    inside it — close it first (a filing may update the model)."""
    with _cache.use(agency_id) as model:
        yield SuggestionSession(agency_id, model)


def _suggest(
    model: _Model,
    messages: Sequence[Message],
    *,
    limit: int,
    texts: Mapping[int, PreparedText] | None = None,
) -> list[list[Suggestion]]:
    """The suggestions of each of `messages` (all of the model's agency).
    `texts` may hold, by message pk, their text already prepared
    (`suggest_text.PreparedText`, by the parse workers of an import); one is
    used only when it is the message's own text."""
    directory = model.directory
    if not directory.is_open.any():
        # No open dossier: nothing to suggest, and no need to read the mail.
        return [[] for _message in messages]
    found: list[list[Suggestion]] = []
    for start in range(0, len(messages), SCORING_BLOCK):
        block = messages[start : start + SCORING_BLOCK]
        mails = [_mail_of(directory, message) for message in block]
        given = texts or {}
        prepared = [
            text
            if (text := given.get(message.pk)) is not None and text.text == mail.text
            # Nothing prepared, or not this text: read it here.
            else PreparedText.of(mail.text)
            for message, mail in zip(block, mails, strict=True)
        ]
        vectors = (
            model.vectorizer.vectorize_words([text.words for text in prepared])
            if model.vectorizer is not None
            else model.vectorize([mail.text for mail in mails])
        )
        every = _signals(
            directory,
            model.stats,
            model.titles,
            mails,
            vectors,
            [_mentions(directory, text.folded, text.lot_numbers) for text in prepared],
            np.broadcast_to(directory.is_open, (len(mails), directory.size)),
        )
        found.extend(
            _suggestions(model, message, signals, limit=limit)
            for message, signals in zip(block, every, strict=True)
        )
    return found


def _suggestions(
    model: _Model, message: Message, signals: _Signals | None, *, limit: int
) -> list[Suggestion]:
    """The best `limit` dossiers of a message's signals, with their reasons."""
    if signals is None:
        return []
    directory = model.directory
    probabilities, _none = _probabilities(model.weights, signals)
    if model.examples < MIN_EXAMPLES:
        # Prior weights only: suggest, never file automatically.
        probabilities = np.minimum(probabilities, AUTO_FILE_THRESHOLD * 0.99)
    order = [i for i in np.argsort(-probabilities, kind="stable") if probabilities[i] >= MIN_SCORE]
    suggestions = []
    for position in order[:limit]:
        dossier = directory.dossiers[int(signals.candidates[position])]
        # The directory holds the agency's dossiers only, and only open ones
        # are candidates; checked again all the same: a leak would be costly.
        if dossier.agency_id != message.agency_id or dossier.status == DossierStatus.CLOSED:
            continue
        suggestions.append(
            Suggestion(
                dossier=dossier,
                score=round(float(probabilities[position]), 4),
                reason=_reason(model, signals, position),
            )
        )
    return suggestions


def suggester_invalidate(agency_id: int) -> None:
    """Make the next suggestion for the agency learn from what changed (call
    after a person filed, moved or unfiled a message). Cheap: the model is
    rebuilt lazily, by the next `message_suggestions` of this process; other
    processes see the change through `_signature`."""
    _cache.invalidate(agency_id)
