"""Pages built for scale: the same number of SQL queries for the first page
and a deep page, for a dossier of 2,000 entries and a small one, for the
triage inbox and the dossier lists — whatever their size."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.accounts.models import User
from lanterne.core.scale import ScaleSummary
from lanterne.dossiers import policy, selectors
from lanterne.dossiers.choices import Audience, DossierStatus, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.mail.choices import Review
from lanterne.mail.models import Message
from lanterne.mail.triage import TRIAGE_PAGE_SIZE, triage_messages

from ..queries import constant_part

pytestmark = pytest.mark.django_db

# The page of the timeline a deep link points at (20 entries a page).
DEEP_PAGE = 60


def _client(email: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


def _queries(client: Client, url: str, **params: Any) -> list[str]:
    """The SQL a page runs (the session and login ones included: the same for
    every page), less one read per kind of object on its timeline
    (`tests.queries.constant_part`)."""
    client.get(url, params)  # warm the session: its first read is not the page's
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, url
    return constant_part([query["sql"] for query in captured.captured_queries])


def _difference(*pages: list[str]) -> str:
    """The queries that are not on every page (their shape, numbers blanked)."""
    import re

    shapes = [[re.sub(r"\d+", "N", sql)[:300] for sql in page] for page in pages]
    common = set.intersection(*(set(shape) for shape in shapes))
    return "\n".join(
        f"page {i}: {sql}" for i, shape in enumerate(shapes) for sql in shape if sql not in common
    )


def _cursor_at(viewer: policy.Viewer, dossier: Dossier, index: int) -> str:
    entries = policy.entries_visible_to(viewer, dossier).order_by("-occurred_at", "-id")
    return selectors.encode_cursor(entries[index])


def _shape_page(viewer: policy.Viewer, dossier: Dossier, start: int) -> None:
    """Give the page of `dossier` starting at entry `start` (as `viewer`
    sees it) the same shape as the others compared: a mail the viewer
    reads, which for staff waits for review and answers another (staff are
    proposed an audience for such mail: only such pages run those queries).
    The mail is taken in the middle of the page, so that it stays on it."""
    entries = list(
        policy.entries_visible_to(viewer, dossier).order_by("-occurred_at", "-id")[
            start : start + selectors.TIMELINE_PAGE_SIZE
        ]
    )
    middle = entries[len(entries) // 4 : -len(entries) // 4]
    newest, oldest = middle[0].occurred_at, middle[-1].occurred_at
    entry = TimelineEntry.objects.filter(
        dossier=dossier, kind=EntryKind.MESSAGE, occurred_at__range=(oldest, newest)
    ).first()
    assert entry is not None and entry.message_id is not None, (dossier.pk, start)
    if viewer.is_staff_of(dossier.agency_id):
        parent = Message.objects.filter(dossier=dossier).exclude(pk=entry.message_id).first()
        assert parent is not None
        fields: dict[str, Any] = {
            "review": Review.PENDING,
            "audience": Audience.INTERNAL,
            "in_reply_to": [parent.message_id],
        }
    else:
        fields = {"review": Review.PUBLISHED, "audience": Audience.OWNERS, "redactions": {"v": 1}}
    Message.objects.filter(pk=entry.message_id).update(**fields)
    TimelineEntry.objects.filter(pk=entry.pk).update(audience=fields["audience"])


def _small_dossier(viewer: policy.Viewer, scale: ScaleSummary) -> Dossier:
    """A dossier of the big dossier's building with a few visible mails,
    notes and tasks: a page of every kind, like the big one's pages."""
    candidates = (
        policy.dossiers_visible_to(viewer)
        .filter(condominium_id=scale.big_condominium_id)
        .exclude(pk=scale.big_dossier_id)
        # Open, like the big one: a closed dossier's page also reads the
        # status it had before closing (to offer reopening it).
        .exclude(status=DossierStatus.CLOSED)
    )
    best: tuple[int, Dossier] | None = None
    for dossier in candidates:
        entries = policy.entries_visible_to(viewer, dossier)
        kinds = Counter(entries.values_list("kind", flat=True))
        fits = kinds[EntryKind.NOTE] and 12 <= kinds.total() < 100
        if fits and (best is None or kinds[EntryKind.MESSAGE] > best[0]):
            best = (kinds[EntryKind.MESSAGE], dossier)
    assert best is not None, "no small dossier with mail and notes"
    return best[1]


@pytest.mark.parametrize("who", ["staff", "party"])
def test_dossier_page_queries_do_not_grow_with_the_dossier_or_the_depth(
    scale: ScaleSummary, who: str
) -> None:
    email = scale.staff_logins[0] if who == "staff" else scale.party_logins[0]
    client = _client(email)
    viewer = policy.Viewer.for_user(User.objects.get(email=email))
    big = Dossier.objects.get(pk=scale.big_dossier_id)
    visible = policy.entries_visible_to(viewer, big).count()
    assert visible > DEEP_PAGE * selectors.TIMELINE_PAGE_SIZE + 20 or who == "party"
    deep = min(DEEP_PAGE * selectors.TIMELINE_PAGE_SIZE, visible - 40)
    url = reverse("dossiers:detail", args=[big.pk])
    small = _small_dossier(viewer, scale)
    for dossier, start in ((big, 0), (big, deep + 1), (small, 0)):
        _shape_page(viewer, dossier, start)
    first = _queries(client, url)
    deep_page = _queries(client, url, apres=_cursor_at(viewer, big, deep))
    small_page = _queries(client, reverse("dossiers:detail", args=[small.pk]))
    assert len(first) == len(deep_page) == len(small_page), _difference(
        first, deep_page, small_page
    )


def test_triage_queries_do_not_grow_with_the_inbox(scale: ScaleSummary) -> None:
    client = _client(scale.staff_logins[0])
    agency_ids = frozenset({Dossier.objects.get(pk=scale.big_dossier_id).agency_id})
    waiting = triage_messages(policy.Viewer(user_id=0, staff_agency_ids=agency_ids))
    assert waiting.count() > TRIAGE_PAGE_SIZE
    url = reverse("mail:triage")
    first = _queries(client, url)
    # The last page: what is left after the first page's last mail.
    last_on_first = waiting.order_by("-date", "-pk")[TRIAGE_PAGE_SIZE - 1]
    from lanterne.mail.triage import _encode_cursor

    last = _queries(client, url, apres=_encode_cursor(last_on_first))
    assert len(first) == len(last), (first, last)


def test_dossier_lists_are_paged_with_constant_queries(
    scale: ScaleSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of ten: the small agency then has several.
    monkeypatch.setattr(selectors, "DOSSIER_PAGE_SIZE", 10)
    client = _client(scale.staff_logins[0])
    response = client.get(reverse("home"))
    cursor = response.context["next_cursor"]
    assert cursor, "the home page shows one page of dossiers, with a link to the next"
    first = _queries(client, reverse("home"))
    second = _queries(client, reverse("home"), apres=cursor)
    page = client.get(reverse("home"), {"apres": cursor})
    assert not set(d.pk for d in page.context["other_dossiers"]) & set(
        d.pk for d in response.context["other_dossiers"]
    )
    # The person's own dossiers are only on the first page (one query less after).
    mine = bool(response.context["my_dossiers"])
    assert len(first) == len(second) + mine, (first, second)
    url = reverse("condominium", args=[scale.big_condominium_id])
    response = client.get(url, {"clos": "1"})
    assert response.context["next_query"]
    condo_first = _queries(client, url, clos="1")
    condo_next = _queries(client, url + "?" + response.context["next_query"])
    assert len(condo_first) == len(condo_next), (condo_first, condo_next)
