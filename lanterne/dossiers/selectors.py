"""Reads on dossiers, already filtered by the access policy."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    ManyToManyField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.http import Http404

from lanterne.condominiums.models import Company, Condominium, Lot, Person

from . import policy
from .choices import DossierStatus
from .models import Dossier, StatusChange, Task, TimelineEntry

TIMELINE_PAGE_SIZE = 20
# Dossiers per page of a list (the home page, a condominium's page).
DOSSIER_PAGE_SIZE = 50


def _with_status_since(dossiers: QuerySet[Dossier]) -> QuerySet[Dossier]:
    """`status_since`: when each dossier entered its status (its last status
    change), for `Dossier.status_line` — in the same query."""
    last_change = (
        StatusChange.objects.filter(dossier=OuterRef("pk"))
        .order_by("-changed_at", "-id")
        .values("changed_at")[:1]
    )
    return dossiers.annotate(status_since=Subquery(last_change))


def dossier_for_viewer(viewer: policy.Viewer, dossier_id: int, *, parties: bool = True) -> Dossier:
    """The dossier if `viewer` may see it; 404 otherwise (its existence is not
    revealed). With its parties, in the order its page lists them, unless
    the caller shows none (`parties=False`: three queries fewer; the policy
    then reads only their keys, and only for a reader outside the staff)."""
    dossiers = _with_status_since(Dossier.objects.all()).select_related(
        "condominium", "manager", "agency"
    )
    dossier = dossiers.filter(pk=dossier_id).first()
    if dossier is None:
        raise Http404
    if parties:
        _parties_read(dossier)
    if not policy.may_see_dossier(viewer, dossier):
        raise Http404
    return dossier


# Each kind of party of a dossier, in the order its page lists them.
_PARTIES: tuple[tuple[str, type[Any], str], ...] = (
    # Lot numbers are text: "8" before "10".
    ("party_lots", Lot, "LENGTH(party.number), party.number"),
    ("party_persons", Person, "party.last_name, party.first_name"),
    ("party_companies", Company, "party.name"),
)


@functools.cache
def _parties_sql(name: str, model: type[Any], order: str) -> str:
    field = Dossier._meta.get_field(name)
    assert isinstance(field, ManyToManyField)
    qn = connection.ops.quote_name
    # Names from the models' own metadata, quoted; the dossier a parameter.
    return (
        f"SELECT party.* FROM {qn(model._meta.db_table)} party"  # noqa: S608
        f" JOIN {qn(field.m2m_db_table())} link"
        f" ON link.{qn(field.m2m_reverse_name())} = party.{qn(model._meta.pk.column)}"
        f" WHERE link.{qn(field.m2m_column_name())} = %s ORDER BY {order}"
    )


def _parties_read(dossier: Dossier) -> None:
    """Read the dossier's lots, persons and companies, and keep them where
    `prefetch_related` keeps what it reads: `dossier.party_lots.all()` and
    the others then read nothing more (the policy, the page, the API).

    A plain statement for each (`raw`, model instances with every field):
    Django's prefetching spent 1.2–1.7 ms building each of its three
    queries, for a dozen rows; these take 0.3–0.5 ms. (How Django keeps
    prefetched rows is its own: a change there fails the page's and the
    policy's query counts.)"""
    kept = dossier.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, model, order in _PARTIES:
        related = getattr(dossier, name).all()
        related._result_cache = list(
            model.objects.raw(_parties_sql(name, model, order), [dossier.pk])
        )
        related._prefetch_done = True
        kept[name] = related


def dossiers_for_viewer(
    viewer: policy.Viewer,
    *,
    condominium: Condominium | None = None,
    include_closed: bool = False,
    status: str | None = None,
    type: str | None = None,
) -> QuerySet[Dossier]:
    """The dossiers `viewer` may see, newest first."""
    dossiers = _with_status_since(policy.dossiers_visible_to(viewer)).select_related(
        "condominium", "manager"
    )
    if condominium is not None:
        dossiers = dossiers.filter(condominium=condominium)
    if not include_closed:
        dossiers = dossiers.exclude(status=DossierStatus.CLOSED)
    if status:
        dossiers = dossiers.filter(status=status)
    if type:
        dossiers = dossiers.filter(type=type)
    return dossiers.order_by("-opened_on", "-id")


@dataclass(frozen=True)
class DossierPage:
    """One page of a list of dossiers, newest first, and the cursor of the next page."""

    dossiers: list[Dossier]
    next_cursor: str | None


def _encode_dossier_cursor(dossier: Dossier) -> str:
    raw = f"{dossier.opened_on.isoformat()}|{dossier.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_dossier_cursor(cursor: str) -> tuple[dt.date, int] | None:
    """The (opened_on, id) of a cursor, or None when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        day, _, pk = base64.urlsafe_b64decode(padded).decode().partition("|")
        return dt.date.fromisoformat(day), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def dossier_page(
    dossiers: QuerySet[Dossier], *, after: str | None = None, page_size: int | None = None
) -> DossierPage:
    """A page of `dossiers` (from `dossiers_for_viewer`), newest first.

    Keyset pagination on (opened_on, id), like the timeline: one query,
    the same for every page, and no OFFSET to skip thousands of rows."""
    page_size = page_size or DOSSIER_PAGE_SIZE
    position = _decode_dossier_cursor(after) if after else None
    if position is not None:
        opened_on, pk = position
        dossiers = dossiers.filter(Q(opened_on__lt=opened_on) | Q(opened_on=opened_on, pk__lt=pk))
    rows = list(dossiers.order_by("-opened_on", "-id")[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return DossierPage(
        dossiers=rows, next_cursor=_encode_dossier_cursor(rows[-1]) if more else None
    )


def my_dossier_ids(viewer: policy.Viewer) -> set[int]:
    """Dossiers where the viewer is a party (directly, or through a lot they
    own): read from the two party tables, each by its index, rather than by
    joining both to every dossier. One query; none for a viewer who is
    nobody's party."""
    parts: list[QuerySet[Any]] = []
    if viewer.person_ids:
        parts.append(
            Dossier.party_persons.through.objects.filter(
                person_id__in=viewer.person_ids
            ).values_list("dossier_id", flat=True)
        )
    if viewer.owned_lot_ids:
        parts.append(
            Dossier.party_lots.through.objects.filter(lot_id__in=viewer.owned_lot_ids).values_list(
                "dossier_id", flat=True
            )
        )
    if not parts:
        return set()
    return set(parts[0].union(*parts[1:]))


@dataclass(frozen=True)
class TimelinePage:
    """One page of a timeline, newest first, and the cursor of the next page."""

    entries: list[TimelineEntry]
    next_cursor: str | None


def encode_cursor(entry: TimelineEntry) -> str:
    raw = f"{entry.occurred_at.isoformat()}|{entry.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """The (occurred_at, id) of a cursor, or None when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred, _, pk = base64.urlsafe_b64decode(padded).decode().partition("|")
        moment = dt.datetime.fromisoformat(occurred)
        if moment.tzinfo is None:
            return None
        return moment, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


# What every timeline entry is read with: its actor and its mail (most
# entries are mail), joined.
_ENTRY_JOINED = ("actor", "message")


def _entry_objects() -> tuple[tuple[Callable[[TimelineEntry], Any], str | Prefetch[Any]], ...]:
    """What a timeline entry points at beyond its actor and its mail (joined):
    each kind of object with the test of whether an entry has one."""
    from lanterne.mail.models import Message

    return (
        (lambda e: e.task_id, Prefetch("task", queryset=Task.objects.select_related("assignee"))),
        (lambda e: e.decision_id, "decision"),
        (lambda e: e.note_id, "note"),
        (lambda e: e.status_change_id, "status_change"),
        (lambda e: e.document_id, "document"),
        (lambda e: e.message_id, "message__attachments"),
        # What a bounce shows of the mail that bounced: read only when the
        # page has bounces, rather than joined as a second mail to each row.
        (
            lambda e: e.message_id and e.message.bounce_of_id,
            Prefetch("message__bounce_of", queryset=Message.objects.only("subject", "dossier_id")),
        ),
    )


def entries_with_objects(
    entries: QuerySet[TimelineEntry], *, joined: tuple[str, ...] = ()
) -> QuerySet[TimelineEntry]:
    """`entries` with the objects they point at: the actor and the mail
    (most entries are mail) joined, with `joined`; each other kind of object
    (task and assignee, decision, note, status change, document) read by one
    query when some entries point at one, the mail's attachments by one,
    and the mails bounces are about by one. So a page costs one query, plus
    one per kind of object on it: at most seven more, whatever the
    dossier's size.

    Not one query joining them all: PostgreSQL then weighs every order of
    ten joins, and planning a 20-row page took 30 to 45 ms against 1 ms to
    run it (docs/benchmarks.md)."""
    return entries.select_related(*_ENTRY_JOINED, *joined).prefetch_related(
        *(lookup for _, lookup in _entry_objects())
    )


def entry_objects_read(entries: list[TimelineEntry]) -> None:
    """Read what `entries` (joined with their actor and mail) point at, as
    `entries_with_objects` does, asking only for the kinds present: Django
    builds the SQL of every lookup it is given, even one with nothing to
    read (three of seven on the big dossier's first page of the scale data,
    a sixth of `timeline_page`'s time there)."""
    prefetch_related_objects(
        entries, *(lookup for present, lookup in _entry_objects() if any(map(present, entries)))
    )


def timeline_page(
    viewer: policy.Viewer,
    dossier: Dossier,
    *,
    after: str | None = None,
    kinds: list[str] | None = None,
    page_size: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """A page of the dossier's timeline that `viewer` may see.

    Keyset pagination on (occurred_at, id), newest first: the cost of a page
    does not grow with its depth, and neither does the number of queries
    (`entries_with_objects`)."""
    entries = policy.entries_visible_to(viewer, dossier).select_related(*_ENTRY_JOINED)
    if kinds:
        entries = entries.filter(kind__in=kinds)
    position = decode_cursor(after) if after else None
    if position is not None:
        occurred_at, pk = position
        entries = entries.filter(
            Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, pk__lt=pk)
        )
    rows = list(entries.order_by("-occurred_at", "-id")[: page_size + 1])
    next_cursor = encode_cursor(rows[page_size - 1]) if len(rows) > page_size else None
    rows = rows[:page_size]
    entry_objects_read(rows)
    return TimelinePage(entries=rows, next_cursor=next_cursor)
