"""Condominiums, their lots and documents, and the contact book."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from lanterne.condominiums.models import Condominium
from lanterne.dossiers import policy

from ..common import READ_ERRORS, PathId, found, paginate, responses, viewer_of
from ..schemas import CondominiumOut, DocumentOut, LotOut, Page, PageParams, PersonOut
from ..serializers import (
    condominium_out,
    document_out,
    lot_out,
    person_out,
    sees_staff_fields,
)

router = Router(tags=["Copropriétés et contacts"])


def _condominium(viewer: policy.Viewer, condominium_id: int) -> Condominium:
    return found(policy.condominiums_visible_to(viewer).filter(pk=condominium_id).first())


@router.get(
    "/condominiums",
    response=responses({200: Page[CondominiumOut]}, READ_ERRORS),
    summary="Les copropriétés",
    description="Celles du cabinet pour son personnel ; pour les autres, celles où ils ont un lot "
    "ou siègent au conseil syndical. Par nom.",
)
def condominium_list(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    viewer = viewer_of(request)
    condominiums = policy.condominiums_visible_to(viewer).order_by("name", "id")
    return paginate(condominiums, page, lambda rows: (condominium_out(viewer, c) for c in rows))


@router.get(
    "/condominiums/{condominium_id}",
    response=responses({200: CondominiumOut}),
    summary="Une copropriété",
)
def condominium_detail(request: HttpRequest, condominium_id: PathId) -> CondominiumOut:
    viewer = viewer_of(request)
    return condominium_out(viewer, _condominium(viewer, condominium_id))


@router.get(
    "/condominiums/{condominium_id}/lots",
    response=responses({200: Page[LotOut]}),
    summary="Les lots d'une copropriété",
    description="Tous pour le personnel du cabinet ; ses propres lots pour un copropriétaire. "
    "Par numéro.",
)
def condominium_lots(
    request: HttpRequest, condominium_id: PathId, page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    condominium = _condominium(viewer, condominium_id)
    lots = policy.lots_visible_to(viewer).filter(condominium=condominium).order_by("number", "id")
    return paginate(lots, page, lambda rows: (lot_out(lot) for lot in rows))


@router.get("/lots/{lot_id}", response=responses({200: LotOut}), summary="Un lot")
def lot_detail(request: HttpRequest, lot_id: PathId) -> LotOut:
    return lot_out(found(policy.lots_visible_to(viewer_of(request)).filter(pk=lot_id).first()))


@router.get(
    "/condominiums/{condominium_id}/documents",
    response=responses({200: Page[DocumentOut]}),
    summary="Les documents de l'espace d'une copropriété",
    description="Les documents hors dossier : « Tous les copropriétaires », « Conseil "
    "syndical », « Mon lot » — ceux que le lecteur peut voir. Les plus récents d'abord.",
)
def condominium_documents(
    request: HttpRequest, condominium_id: PathId, page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    condominium = _condominium(viewer, condominium_id)
    documents = policy.condominium_documents_visible_to(viewer, condominium).order_by(
        "-uploaded_at", "-id"
    )
    staff = sees_staff_fields(viewer, condominium.agency_id)
    return paginate(documents, page, lambda rows: (document_out(d, staff=staff) for d in rows))


@router.get(
    "/persons",
    response=responses({200: Page[PersonOut]}, READ_ERRORS),
    summary="Le carnet de contacts",
    description="Toutes les personnes du cabinet pour son personnel ; soi-même pour les "
    "autres. Par nom.",
)
def person_list(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    viewer = viewer_of(request)
    persons = (
        policy.persons_visible_to(viewer)
        .prefetch_related("emails")
        .order_by("last_name", "first_name", "id")
    )
    return paginate(persons, page, lambda rows: (person_out(viewer, p) for p in rows))


@router.get("/persons/{person_id}", response=responses({200: PersonOut}), summary="Une personne")
def person_detail(request: HttpRequest, person_id: PathId) -> PersonOut:
    viewer = viewer_of(request)
    person = found(
        policy.persons_visible_to(viewer).prefetch_related("emails").filter(pk=person_id).first()
    )
    return person_out(viewer, person)
