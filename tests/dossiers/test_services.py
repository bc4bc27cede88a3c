"""Writes on dossiers: references, lifecycles, the append-only timeline, the audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.dossiers import policy, services
from lanterne.dossiers.choices import (
    LIFECYCLES,
    Audience,
    DecisionBody,
    DossierStatus,
    DossierType,
    allowed_transitions,
)
from lanterne.dossiers.models import TimelineEntry

from ..factories import LotFactory

pytestmark = pytest.mark.django_db


def staff(world):  # type: ignore[no-untyped-def]
    return policy.Viewer.for_user(world.users["staff"]), world.users["staff"]


def test_references_follow_the_year_and_skip_imported_ones(world):  # type: ignore[no-untyped-def]
    viewer, actor = staff(world)
    first = services.dossier_open(
        viewer=viewer,
        actor=actor,
        condominium=world.condominium,
        title="A",
        type="works",
        audience="owners",
        opened_on=dt.date(2027, 3, 1),
    )
    # An imported dossier took the next number already: it is skipped.
    services.dossier_open(
        viewer=viewer,
        actor=actor,
        condominium=world.condominium,
        title="Importé",
        type="works",
        audience="owners",
        reference="DOS-2027-0002",
        opened_on=dt.date(2027, 1, 5),
    )
    third = services.dossier_open(
        viewer=viewer,
        actor=actor,
        condominium=world.condominium,
        title="C",
        type="works",
        audience="owners",
        opened_on=dt.date(2027, 4, 1),
    )
    assert first.reference == "DOS-2027-0001"
    assert third.reference == "DOS-2027-0003"
    with pytest.raises(ValidationError, match="existe déjà"):
        services.dossier_open(
            viewer=viewer,
            actor=actor,
            condominium=world.condominium,
            title="D",
            type="works",
            audience="owners",
            reference="DOS-2027-0001",
        )


def test_references_are_per_agency(world):  # type: ignore[no-untyped-def]
    from ..factories import CondominiumFactory, StaffFactory

    other_staff = StaffFactory(agency=world.other_agency)
    other_condo = CondominiumFactory(agency=world.other_agency)
    other_viewer = policy.Viewer.for_user(other_staff.user)
    viewer, actor = staff(world)
    ours = services.dossier_open(
        viewer=viewer,
        actor=actor,
        condominium=world.condominium,
        title="A",
        type="works",
        audience="owners",
    )
    theirs = services.dossier_open(
        viewer=other_viewer,
        actor=other_staff.user,
        condominium=other_condo,
        title="B",
        type="works",
        audience="owners",
    )
    assert ours.reference == theirs.reference


def test_staff_cannot_write_into_another_agency(world):  # type: ignore[no-untyped-def]
    other = policy.Viewer.for_user(world.users["staff_other_agency"])
    with pytest.raises(PermissionDenied):
        services.note_add(
            viewer=other, actor=world.users["staff_other_agency"], dossier=world.dossier, text="x"
        )
    with pytest.raises(PermissionDenied):
        services.dossier_open(
            viewer=other,
            actor=None,
            condominium=world.condominium,
            title="x",
            type="works",
            audience="owners",
        )


def test_parties_must_belong_to_the_condominium(world):  # type: ignore[no-untyped-def]
    viewer, actor = staff(world)
    far_lot = LotFactory(condominium=world.other_condominium, number="99")
    with pytest.raises(ValidationError, match="n'appartient pas"):
        services.dossier_open(
            viewer=viewer,
            actor=actor,
            condominium=world.condominium,
            title="x",
            type="works",
            audience="owners",
            party_lots=[far_lot],
        )
    with pytest.raises(ValidationError, match="inconnue de ce cabinet"):
        services.dossier_open(
            viewer=viewer,
            actor=actor,
            condominium=world.condominium,
            title="x",
            type="works",
            audience="owners",
            party_persons=[world.persons["staff_other_agency"]],
        )


@pytest.mark.parametrize("dossier_type", list(LIFECYCLES))
def test_every_lifecycle_starts_first_and_ends_closed(dossier_type):  # type: ignore[no-untyped-def]
    lifecycle = LIFECYCLES[dossier_type]
    assert lifecycle[-1] == DossierStatus.CLOSED
    assert allowed_transitions(dossier_type, lifecycle[0])[-1] == DossierStatus.CLOSED
    # A closed dossier reopens to where it was.
    assert allowed_transitions(
        dossier_type, DossierStatus.CLOSED, status_before_closing=lifecycle[1]
    ) == [lifecycle[1]]


def test_status_changes_follow_the_lifecycle(world):  # type: ignore[no-untyped-def]
    viewer, actor = staff(world)
    dossier = world.dossier  # a water damage, « declared »
    with pytest.raises(ValidationError, match="ne peut pas passer"):
        services.dossier_change_status(viewer=viewer, actor=actor, dossier=dossier, status="quotes")
    services.dossier_change_status(
        viewer=viewer, actor=actor, dossier=dossier, status="leak_search"
    )
    services.dossier_change_status(viewer=viewer, actor=actor, dossier=dossier, status="closed")
    dossier.refresh_from_db()
    assert dossier.is_closed and dossier.closed_on is not None
    with pytest.raises(ValidationError):
        services.dossier_change_status(
            viewer=viewer, actor=actor, dossier=dossier, status="declared"
        )
    services.dossier_change_status(
        viewer=viewer, actor=actor, dossier=dossier, status="leak_search"
    )
    dossier.refresh_from_db()
    assert dossier.status == "leak_search" and dossier.closed_on is None
    kinds = list(dossier.timeline.order_by("occurred_at", "id").values_list("kind", flat=True))
    assert kinds == ["status_change"] * 3
    assert (
        AuditLog.objects.filter(
            action=AuditAction.STATUS_CHANGED, object_id=str(dossier.pk)
        ).count()
        == 3
    )


def test_completing_a_task_appends_an_entry(world):  # type: ignore[no-untyped-def]
    viewer, actor = staff(world)
    task = services.task_create(
        viewer=viewer, actor=actor, dossier=world.dossier, title="Appeler le plombier"
    )
    services.task_complete(viewer=viewer, actor=actor, task=task)
    services.task_complete(viewer=viewer, actor=actor, task=task)  # twice: no second entry
    events = list(
        TimelineEntry.objects.filter(task=task).order_by("id").values_list("event", flat=True)
    )
    assert events == ["created", "completed"]
    assert task.audience == world.dossier.audience


def test_entry_audience_change_is_logged_and_applies_to_the_object(world):  # type: ignore[no-untyped-def]
    viewer, actor = staff(world)
    task = services.task_create(
        viewer=viewer, actor=actor, dossier=world.dossier, title="Devis", audience="owners"
    )
    services.task_complete(viewer=viewer, actor=actor, task=task)
    entry = TimelineEntry.objects.filter(task=task).first()
    services.entry_set_audience(viewer=viewer, actor=actor, entry=entry, audience=Audience.INTERNAL)
    task.refresh_from_db()
    assert task.audience == "internal"
    assert set(TimelineEntry.objects.filter(task=task).values_list("audience", flat=True)) == {
        "internal"
    }
    log = AuditLog.objects.get(action=AuditAction.AUDIENCE_CHANGED)
    assert log.changes == {"audience": ["owners", "internal"]} and log.actor == actor
    co_owner = policy.Viewer.for_user(world.users["owner_party"])
    with pytest.raises(PermissionDenied):
        services.entry_set_audience(viewer=co_owner, actor=None, entry=entry, audience="owners")


def test_council_chair_records_the_council_opinion(world):  # type: ignore[no-untyped-def]
    chair = policy.Viewer.for_user(world.users["council_chair"])
    decision = services.decision_record(
        viewer=chair,
        actor=world.users["council_chair"],
        dossier=world.dossier,
        decided_by=DecisionBody.COUNCIL,
        text="Le conseil approuve le devis A.",
        audience="internal",
    )
    # A chair cannot hide the council's own record from the council.
    assert decision.audience == Audience.COUNCIL
    member = policy.Viewer.for_user(world.users["council_member"])
    with pytest.raises(PermissionDenied):
        services.decision_record(
            viewer=member,
            actor=None,
            dossier=world.dossier,
            decided_by=DecisionBody.COUNCIL,
            text="x",
        )
    with pytest.raises(PermissionDenied):
        services.decision_record(
            viewer=chair,
            actor=None,
            dossier=world.dossier,
            decided_by=DecisionBody.MANAGER,
            text="x",
        )


def test_dossier_update_logs_changes(world):  # type: ignore[no-untyped-def]
    viewer, actor = staff(world)
    services.dossier_update(
        viewer=viewer,
        actor=actor,
        dossier=world.dossier,
        title="Fuite lot 12",
        description="",
        audience="parties",
        manager=world.persons["staff"],
        council_sees_parties=True,
        party_lots=[world.party_lot],
        party_persons=[],
        party_companies=[],
    )
    log = AuditLog.objects.get(action=AuditAction.AUDIENCE_CHANGED)
    assert log.changes["audience"] == ["owners", "parties"]
    assert log.changes["title"] == ["Fuite au plafond du lot 12", "Fuite lot 12"]
    assert DossierType(world.dossier.type) == DossierType.WATER_DAMAGE
