"""Reads of the condominium's document space, already filtered by the access policy."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models.functions import Length
from django.http import Http404
from django.utils.text import slugify

from lanterne.condominiums.models import Condominium, Lot
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience

from .checklist import SPACE_ORDER, ChecklistItem, condominium_checklist, effective_date, kind_order
from .choices import DocumentKind, DocumentSpace
from .models import Document


@dataclass
class Category:
    """The documents of one kind in one space, newest first."""

    kind: str
    label: str
    documents: list[Document]


@dataclass
class SpaceSection:
    """One space of the condominium as the viewer sees it (one section per lot in
    the lots' space)."""

    space: DocumentSpace
    lot: Lot | None = None
    categories: list[Category] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The section's id in the page, for the links at its top."""
        if self.lot is not None:
            return f"espace-lot-{slugify(self.lot.number)}"
        return f"espace-{self.space}"


@dataclass
class DocumentSpacePage:
    condominium: Condominium
    sections: list[SpaceSection]
    is_staff: bool


def _visible_condominium(viewer: policy.Viewer, condominium_id: int) -> Condominium:
    condominium = Condominium.objects.filter(pk=condominium_id).first()
    if condominium is None or not policy.may_see_condominium(viewer, condominium):
        raise Http404
    return condominium


def _categories(documents: list[Document]) -> list[Category]:
    by_kind: dict[str, list[Document]] = defaultdict(list)
    for document in documents:
        by_kind[document.kind].append(document)
    return [
        Category(
            kind=kind,
            label=str(DocumentKind(kind).label),
            documents=sorted(by_kind[kind], key=lambda d: (effective_date(d), d.pk), reverse=True),
        )
        for kind in kind_order()
        if kind in by_kind
    ]


def document_space_for_viewer(viewer: policy.Viewer, condominium_id: int) -> DocumentSpacePage:
    """The condominium's document space as `viewer` may see it, by space and
    category: for all co-owners; one section per lot of theirs (every lot with
    documents, for staff); the council's for its members and staff. 404 when
    the condominium is not theirs. Three queries, whatever the number of
    documents."""
    condominium = _visible_condominium(viewer, condominium_id)
    is_staff = viewer.is_staff_of(condominium.agency_id)
    audiences = policy.condominium_audiences_for(viewer, condominium)
    documents = list(
        policy.condominium_documents_visible_to(viewer, condominium).select_related("lot")
    )
    by_space: dict[DocumentSpace, list[Document]] = defaultdict(list)
    by_lot: dict[int, list[Document]] = defaultdict(list)
    for document in documents:
        space = document.space
        if space is DocumentSpace.LOT:
            assert document.lot_id is not None
            by_lot[document.lot_id].append(document)
        elif space is not None:
            by_space[space].append(document)

    # A section per lot with documents. A co-owner none of whose lots has any
    # yet still sees their lots' sections, empty: where their statements will be
    # (once there are some, a cellar's empty section would only be noise).
    lot_ids = set(by_lot) if by_lot or is_staff else set(viewer.owned_lot_ids)
    lots = Lot.objects.filter(condominium=condominium, pk__in=lot_ids).order_by(
        Length("number"), "number"
    )
    sections: list[SpaceSection] = []
    for space in SPACE_ORDER:
        if space is DocumentSpace.LOT:
            sections.extend(
                SpaceSection(space=space, lot=lot, categories=_categories(by_lot[lot.pk]))
                for lot in (lots if lot_ids else [])
            )
        elif space is DocumentSpace.OWNERS or Audience.COUNCIL in audiences:
            sections.append(SpaceSection(space=space, categories=_categories(by_space[space])))
    return DocumentSpacePage(condominium=condominium, sections=sections, is_staff=is_staff)


def staff_condominium(viewer: policy.Viewer, condominium_id: int) -> Condominium:
    """The condominium whose checklist staff read and whose space they file
    documents in; 404 for anyone else (the pages' existence is not revealed)."""
    condominium = Condominium.objects.filter(pk=condominium_id).first()
    if condominium is None or not policy.may_see_document_checklist(viewer, condominium):
        raise Http404
    return condominium


def checklist_for_viewer(
    viewer: policy.Viewer, condominium_id: int
) -> tuple[Condominium, list[ChecklistItem]]:
    """The checklist of the documents the law requires for the condominium, for
    the agency's staff."""
    condominium = staff_condominium(viewer, condominium_id)
    return condominium, condominium_checklist(condominium)
