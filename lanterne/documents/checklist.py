"""The documents a professional syndic must put online for each condominium,
and the checklist that tells staff what is missing or out of date.

The law: loi du 10 juillet 1965, art. 18 (a secure online access to the
documents of the condominium, differentiated between co-owners and council
members), and the décret n° 2019-502 du 23 mai 2019, art. 1er, which lists the
minimum: I — for all co-owners, II — for each co-owner about their own lots,
III — for the council. `REQUIRED_DOCUMENTS` is that list, one line per
requirement, in the décret's words; `condominium_checklist` judges a
condominium against it.

Only documents outside any dossier count: the space is what co-owners consult
by category, a dossier's documents are read in its timeline.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from lanterne.condominiums.models import Condominium, Ownership, Person

from .choices import SPACE_LABELS_FOR_STAFF, DocumentKind, DocumentSpace
from .models import Document


class Rule(enum.Enum):
    """How the checklist judges whether the documents of a requirement are current."""

    KEPT = "kept"  # a document on file is enough (bylaws, maintenance log)
    RECENT = "recent"  # the newest is dated within `max_age`; `count` are expected
    IN_FORCE = "in_force"  # one whose validity has not ended (contracts, diagnostics)


class ChecklistStatus(models.TextChoices):
    PRESENT = "present", _("Présent")
    OUT_OF_DATE = "out_of_date", _("Périmé")
    INCOMPLETE = "incomplete", _("Incomplet")
    MISSING = "missing", _("Manquant")
    # Asked for only in some condominiums (asbestos file of a building permitted
    # before 1 July 1997, pending proceedings…): nothing filed, and Lanterne
    # cannot tell whether something should be.
    TO_CHECK = "to_check", _("À vérifier")


@dataclass(frozen=True)
class Requirement:
    """One line of the décret's list."""

    key: str
    space: DocumentSpace
    kinds: tuple[DocumentKind, ...]
    rule: Rule
    label: Promise  # the décret's wording
    reference: str
    max_age: dt.timedelta | None = None  # Rule.RECENT
    count: int = 1  # Rule.RECENT: how many of the latest documents are expected
    # Rule.IN_FORCE: how long a document stays valid from its date when it has
    # no `valid_until` of its own; None: until a `valid_until` says otherwise.
    validity_years: int | None = None
    condition: Promise | None = None  # when the law asks for it only in some cases


YEAR = dt.timedelta(days=365)

REQUIRED_DOCUMENTS: tuple[Requirement, ...] = (
    # --- I. For all co-owners ------------------------------------------------------
    Requirement(
        key="bylaws",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.BYLAWS,),
        rule=Rule.KEPT,
        label=_(
            "Le règlement de copropriété, l'état descriptif de division ainsi que les actes "
            "les modifiant, s'ils ont été publiés"
        ),
        reference="art. 1er, I",
    ),
    Requirement(
        key="summary_sheet",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.SUMMARY_SHEET,),
        # Updated every year (loi du 10 juillet 1965, art. 8-2).
        rule=Rule.RECENT,
        max_age=YEAR,
        label=_("La dernière fiche synthétique de la copropriété réalisée par le syndic"),
        reference="art. 1er, I",
    ),
    Requirement(
        key="maintenance_log",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.MAINTENANCE_LOG,),
        rule=Rule.KEPT,
        label=_("Le carnet d'entretien de l'immeuble"),
        reference="art. 1er, I",
    ),
    Requirement(
        key="diagnostic_energy",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.DIAGNOSTIC_ENERGY,),
        rule=Rule.IN_FORCE,
        validity_years=10,
        label=_(
            "Les diagnostics techniques relatifs aux parties communes en cours de validité : "
            "diagnostic de performance énergétique collectif"
        ),
        reference="art. 1er, I",
    ),
    Requirement(
        key="diagnostic_asbestos",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.DIAGNOSTIC_ASBESTOS,),
        rule=Rule.IN_FORCE,
        label=_(
            "Les diagnostics techniques relatifs aux parties communes en cours de validité : "
            "dossier technique amiante"
        ),
        reference="art. 1er, I",
        condition=_("immeuble dont le permis de construire est antérieur au 1er juillet 1997"),
    ),
    Requirement(
        key="diagnostic_dtg",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.DIAGNOSTIC_DTG,),
        rule=Rule.IN_FORCE,
        label=_(
            "Les diagnostics techniques relatifs aux parties communes en cours de validité : "
            "diagnostic technique global"
        ),
        reference="art. 1er, I",
        condition=_("lorsque l'assemblée générale l'a fait réaliser"),
    ),
    Requirement(
        key="insurance_contract",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.INSURANCE_CONTRACT,),
        rule=Rule.IN_FORCE,
        label=_(
            "Les contrats d'assurance de l'immeuble conclus par le syndic au nom du syndicat "
            "des copropriétaires en cours de validité"
        ),
        reference="art. 1er, I",
    ),
    Requirement(
        key="maintenance_contracts",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.MAINTENANCE_CONTRACT,),
        rule=Rule.IN_FORCE,
        label=_(
            "L'ensemble des contrats et marchés en cours signés par le syndic au nom du "
            "syndicat, dont les contrats d'entretien et de maintenance des équipements communs"
        ),
        reference="art. 1er, I",
    ),
    Requirement(
        key="syndic_contract",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.SYNDIC_CONTRACT,),
        rule=Rule.IN_FORCE,
        label=_("Le contrat de syndic en cours"),
        reference="art. 1er, I",
    ),
    Requirement(
        key="minutes",
        space=DocumentSpace.OWNERS,
        kinds=(DocumentKind.MINUTES,),
        # The general meeting is held at least once a year (décret du 17 mars
        # 1967, art. 7): minutes older than fifteen months miss the last one.
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=456),
        count=3,
        label=_("Les procès-verbaux des trois dernières assemblées générales"),
        reference="art. 1er, I",
    ),
    # --- II. For each co-owner, about their own lots ----------------------------------
    Requirement(
        key="owner_account",
        space=DocumentSpace.LOT,
        kinds=(DocumentKind.OWNER_ACCOUNT,),
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=548),
        label=_(
            "Le compte individuel du copropriétaire arrêté après approbation des comptes du "
            "syndicat par l'assemblée générale"
        ),
        reference="art. 1er, II",
    ),
    Requirement(
        key="charges_statement",
        space=DocumentSpace.LOT,
        kinds=(DocumentKind.CHARGES_STATEMENT,),
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=548),
        label=_(
            "Le montant des charges courantes du budget prévisionnel et des charges hors "
            "budget prévisionnel payées au titre des deux exercices comptables précédents"
        ),
        reference="art. 1er, II",
    ),
    Requirement(
        key="works_fund_share",
        space=DocumentSpace.LOT,
        kinds=(DocumentKind.WORKS_FUND_SHARE,),
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=548),
        label=_(
            "Le montant de la part du fonds de travaux rattachée au lot principal et de la "
            "dernière cotisation versée"
        ),
        reference="art. 1er, II",
        condition=_("lorsque le syndicat dispose d'un fonds de travaux"),
    ),
    Requirement(
        key="calls_for_funds",
        space=DocumentSpace.LOT,
        kinds=(DocumentKind.CALL_FOR_FUNDS,),
        # Provisions are called each quarter (loi du 10 juillet 1965, art. 14-1).
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=123),
        label=_(
            "Les avis d'appel de fonds adressés au copropriétaire sur les trois dernières années"
        ),
        reference="art. 1er, II",
    ),
    # --- III. For the council -----------------------------------------------------------
    Requirement(
        key="accounts",
        space=DocumentSpace.COUNCIL,
        kinds=(DocumentKind.ACCOUNTS,),
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=548),
        label=_(
            "Les balances générales des comptes du syndicat ainsi que le relevé général des "
            "charges et produits de l'exercice échu"
        ),
        reference="art. 1er, III",
    ),
    Requirement(
        key="bank_statements",
        space=DocumentSpace.COUNCIL,
        kinds=(DocumentKind.BANK_STATEMENT,),
        rule=Rule.RECENT,
        max_age=dt.timedelta(days=100),
        label=_("Les relevés périodiques des comptes bancaires séparés ouverts au nom du syndicat"),
        reference="art. 1er, III",
    ),
    Requirement(
        key="owners_list",
        space=DocumentSpace.COUNCIL,
        kinds=(DocumentKind.OWNERS_LIST,),
        rule=Rule.RECENT,
        max_age=YEAR,
        label=_("La liste de tous les copropriétaires"),
        reference="art. 1er, III",
    ),
    Requirement(
        key="syndic_credentials",
        space=DocumentSpace.COUNCIL,
        kinds=(DocumentKind.SYNDIC_CREDENTIALS,),
        rule=Rule.IN_FORCE,
        label=_(
            "La carte professionnelle du syndic et ses attestations d'assurance de "
            "responsabilité civile professionnelle et de garantie financière en cours de validité"
        ),
        reference="art. 1er, III",
    ),
    Requirement(
        key="legal_proceedings",
        space=DocumentSpace.COUNCIL,
        kinds=(DocumentKind.LEGAL_PROCEEDINGS,),
        rule=Rule.KEPT,
        label=_(
            "Les assignations en justice relatives aux procédures judiciaires en cours et les "
            "décisions de justice dont les délais de recours n'ont pas expiré"
        ),
        reference="art. 1er, III",
        condition=_("s'il y a des procédures en cours"),
    ),
)

SPACE_ORDER = (DocumentSpace.OWNERS, DocumentSpace.LOT, DocumentSpace.COUNCIL)


def spaces_for_kind(kind: str) -> tuple[DocumentSpace, ...]:
    """The spaces a document of `kind` may be filed in.

    A co-owner's statements go in their lot's space only, the council's
    documents (bank statements, the list of co-owners…) in the council's only:
    filed anywhere wider, they would show one person's accounts or personal
    data to every co-owner. A document for all co-owners may also go to the
    council alone; the other kinds go anywhere."""
    spaces = {r.space for r in REQUIRED_DOCUMENTS if kind in r.kinds}
    if DocumentSpace.LOT in spaces:
        return (DocumentSpace.LOT,)
    if DocumentSpace.COUNCIL in spaces:
        return (DocumentSpace.COUNCIL,)
    if DocumentSpace.OWNERS in spaces:
        return (DocumentSpace.OWNERS, DocumentSpace.COUNCIL)
    return SPACE_ORDER


def space_refusal(kind: str, space: str) -> str | None:
    """Why a document of `kind` may not be filed in `space`, or None if it may."""
    allowed = spaces_for_kind(kind)
    if space in allowed:
        return None
    return _("Un document « %(kind)s » se range dans l'espace %(spaces)s.") % {
        "kind": DocumentKind(kind).label,
        "spaces": _(" ou ").join(f"« {SPACE_LABELS_FOR_STAFF[s]} »" for s in allowed),
    }


def kind_order() -> list[str]:
    """Document kinds in the order of the décret's list, then the others."""
    ordered = [kind.value for r in REQUIRED_DOCUMENTS for kind in r.kinds]
    return ordered + [k for k in DocumentKind.values if k not in ordered]


# --- Judging a condominium -------------------------------------------------------------


@dataclass
class ChecklistItem:
    """Where a condominium stands on one requirement."""

    requirement: Requirement
    status: ChecklistStatus
    # The documents that answer it (the latest ones), or the out-of-date one.
    documents: list[Document] = field(default_factory=list)
    detail: str = ""
    # For a lot's requirement: the co-owners whose lots lack a current document.
    owners_lacking: list[Person] = field(default_factory=list)


def effective_date(document: Document) -> dt.date:
    """The date a document speaks of; its upload date when none was given."""
    if document.document_date is not None:
        return document.document_date
    return timezone.localdate(document.uploaded_at)


def _expiry(document: Document, requirement: Requirement) -> dt.date | None:
    if document.valid_until is not None:
        return document.valid_until
    if requirement.validity_years is not None:
        start = effective_date(document)
        try:
            return start.replace(year=start.year + requirement.validity_years)
        except ValueError:  # 29 February
            return start.replace(year=start.year + requirement.validity_years, day=28)
    return None


def _judge(
    requirement: Requirement, documents: list[Document], today: dt.date
) -> tuple[ChecklistStatus, list[Document]]:
    """The status of one requirement given its documents (of one condominium, or of
    one co-owner's lots), and the documents to show for it."""
    if not documents:
        status = ChecklistStatus.TO_CHECK if requirement.condition else ChecklistStatus.MISSING
        return status, []
    newest_first = sorted(documents, key=lambda d: (effective_date(d), d.pk), reverse=True)
    if requirement.rule is Rule.KEPT:
        return ChecklistStatus.PRESENT, newest_first
    if requirement.rule is Rule.IN_FORCE:
        in_force = [
            d
            for d in newest_first
            if (expiry := _expiry(d, requirement)) is None or expiry >= today
        ]
        if in_force:
            return ChecklistStatus.PRESENT, in_force
        return ChecklistStatus.OUT_OF_DATE, newest_first[:1]
    assert requirement.max_age is not None
    if today - effective_date(newest_first[0]) > requirement.max_age:
        return ChecklistStatus.OUT_OF_DATE, newest_first[:1]
    if len(newest_first) < requirement.count:
        return ChecklistStatus.INCOMPLETE, newest_first
    return ChecklistStatus.PRESENT, newest_first[: requirement.count]


def _detail(requirement: Requirement, status: ChecklistStatus, documents: list[Document]) -> str:
    if status is ChecklistStatus.INCOMPLETE:
        return ngettext(
            "%(found)d document sur les %(count)d attendus",
            "%(found)d documents sur les %(count)d attendus",
            len(documents),
        ) % {"found": len(documents), "count": requirement.count}
    if status is ChecklistStatus.TO_CHECK and requirement.condition is not None:
        return str(_("Obligatoire seulement %(condition)s.") % {"condition": requirement.condition})
    return ""


def _lot_item(
    requirement: Requirement,
    documents: list[Document],
    lots_of: dict[Person, set[int]],
    today: dt.date,
) -> ChecklistItem:
    """A lot's requirement is met when every co-owner has a current document on
    one of their lots (an account covers all the lots of its owner)."""
    statuses: dict[Person, ChecklistStatus] = {}
    for person, lot_ids in lots_of.items():
        own = [d for d in documents if d.lot_id in lot_ids]
        statuses[person], _shown = _judge(requirement, own, today)
    lacking = sorted(
        (p for p, s in statuses.items() if s is not ChecklistStatus.PRESENT),
        key=lambda p: (p.last_name, p.first_name, p.pk),
    )
    absent = {ChecklistStatus.MISSING, ChecklistStatus.TO_CHECK}
    values = set(statuses.values())
    if values <= {ChecklistStatus.PRESENT}:
        status = ChecklistStatus.PRESENT
    elif values == {ChecklistStatus.TO_CHECK}:
        status = ChecklistStatus.TO_CHECK
    elif values <= absent:
        status = ChecklistStatus.MISSING
    elif values & absent:
        status = ChecklistStatus.INCOMPLETE
    else:
        status = ChecklistStatus.OUT_OF_DATE
    current = len(statuses) - len(lacking)
    detail = ngettext(
        "À jour pour %(current)d copropriétaire sur %(total)d",
        "À jour pour %(current)d copropriétaires sur %(total)d",
        current,
    ) % {"current": current, "total": len(statuses)}
    if status is ChecklistStatus.TO_CHECK:
        detail = _detail(requirement, status, [])
    return ChecklistItem(
        requirement=requirement, status=status, detail=detail, owners_lacking=lacking
    )


def condominium_checklist(
    condominium: Condominium, *, today: dt.date | None = None
) -> list[ChecklistItem]:
    """Each required document of `condominium`: present, out of date, incomplete,
    missing (or to check, where the law asks for it only in some cases).

    It reads every document of the condominium's space: show it only to those
    `policy.may_see_document_checklist` admits (`selectors.checklist_for_viewer`).
    Two queries, whatever the number of documents and lots."""
    today = today or timezone.localdate()
    by_kind: dict[str, list[Document]] = defaultdict(list)
    for document in Document.objects.filter(condominium=condominium, dossier__isnull=True):
        by_kind[document.kind].append(document)
    lots_of: dict[Person, set[int]] = defaultdict(set)
    for ownership in Ownership.objects.filter(lot__condominium=condominium).select_related(
        "person"
    ):
        lots_of[ownership.person].add(ownership.lot_id)

    items: list[ChecklistItem] = []
    for requirement in REQUIRED_DOCUMENTS:
        documents = [
            d
            for kind in requirement.kinds
            for d in by_kind.get(kind, [])
            if d.space == requirement.space
        ]
        if requirement.space == DocumentSpace.LOT:
            items.append(_lot_item(requirement, documents, lots_of, today))
            continue
        status, shown = _judge(requirement, documents, today)
        items.append(
            ChecklistItem(
                requirement=requirement,
                status=status,
                documents=shown,
                detail=_detail(requirement, status, shown),
            )
        )
    return items


def checklist_summary(items: Iterable[ChecklistItem]) -> dict[str, int]:
    """How many requirements stand in each status."""
    counts = dict.fromkeys(ChecklistStatus.values, 0)
    for item in items:
        counts[item.status] += 1
    return counts
