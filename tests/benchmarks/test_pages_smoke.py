"""The page benchmark (`benchmarks/pages.py`) in process, on the test world,
so that it cannot rot: it finds the dossier and its viewers, walks the
timeline's « older entries » links, and measures every page for staff and a
co-owner, each answering 200 with its queries counted."""

from __future__ import annotations

import pytest

from benchmarks.pages import (
    InProcess,
    measure,
    measure_interleaved,
    pages_for,
    subjects_find,
)
from lanterne.dossiers import services
from lanterne.dossiers.policy import Viewer
from lanterne.dossiers.selectors import TIMELINE_PAGE_SIZE
from tests.conftest import World


@pytest.fixture
def long_dossier(world: World) -> World:
    """The world's dossier with three pages of entries (owners may read them)."""
    staff = world.users["staff"]
    for number in range(2 * TIMELINE_PAGE_SIZE + 5):
        services.note_add(
            viewer=Viewer.for_user(staff),
            actor=staff,
            dossier=world.dossier,
            text=f"Passage de l'entreprise pour la fuite, visite {number}",
        )
    return world


def test_every_page_is_measured_for_staff_and_a_co_owner(long_dossier: World) -> None:
    world = long_dossier
    subjects = subjects_find(dossier_id=None, staff=None, owner=None)

    assert subjects.dossier_id == world.dossier.pk
    assert subjects.entries == 2 * TIMELINE_PAGE_SIZE + 5
    assert subjects.staff_email == world.users["staff"].email
    # A party to the dossier (through their lot), not a mere neighbour.
    assert subjects.owner_email == world.users["owner_party"].email

    for viewer, email in (("staff", subjects.staff_email), ("owner", subjects.owner_email)):
        session = InProcess(email)
        pages = list(pages_for(session, subjects, depth=5))
        labels = [page.label for page in pages]
        # Three pages: the walk stops at the last one, two links down.
        assert labels[:3] == [
            "dossier first",
            "dossier deep (page 3, htmx)",
            "dossier deep (page 3, full)",
        ]
        assert sum(label.startswith("search ") for label in labels) == 10
        for page in pages:
            result = measure(session, viewer, page, warmup=0, repeat=2)
            assert len(result.times_ms) == 2
            assert result.queries
            assert result.bytes > 0


def test_interleaved_rounds_measure_each_page_once_a_round(long_dossier: World) -> None:
    subjects = subjects_find(dossier_id=None, staff=None, owner=None)
    plan = []
    for viewer, email in (("staff", subjects.staff_email), ("owner", subjects.owner_email)):
        session = InProcess(email)
        pages = [page for page in pages_for(session, subjects, depth=5) if "dossier" in page.label]
        plan += [(viewer, session, page) for page in pages]
    results = measure_interleaved(plan, warmup=1, repeat=3)
    assert [(r.viewer, r.page) for r in results] == [(v, p.label) for v, _, p in plan]
    for result in results:
        assert len(result.times_ms) == 3
        assert result.queries
        assert result.bytes > 0
