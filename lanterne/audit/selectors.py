"""Reading the audit log: the journal staff see at /journal/, already filtered
by the access policy (`policy.audit_log_visible_to`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy

from lanterne.dossiers import policy

from .models import AuditLog

JOURNAL_PAGE_SIZE = 50
# A row without an author: written by a command or an automatic stage, or by
# a login deleted since (an erased person's).
NO_ACTOR_LABEL = gettext_lazy("Aucun compte (commande, traitement automatique ou compte supprimé)")

# The apps whose objects the log names (Lanterne's own, and the second-factor
# devices of django-otp).
_LOGGED_APPS = ("lanterne.", "django_otp.")


@dataclass(frozen=True)
class JournalFilters:
    """What the journal is narrowed to; every field optional. `actor_id` 0
    means rows without an author (commands, the system)."""

    action: str = ""
    object_type: str = ""
    actor_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""


@dataclass(frozen=True)
class JournalRow:
    """One row as the page shows it, in French."""

    entry: AuditLog
    actor: str
    action: str
    object_label: str
    link: str | None


@dataclass(frozen=True)
class JournalPage:
    rows: list[JournalRow]
    next_cursor: str | None


@cache
def object_type_labels() -> dict[str, str]:
    """`object_type` (a model's label_lower) → its French name, for the
    models the log may name; built from the app registry, no query."""
    labels = {}
    for model in apps.get_models():
        if model.__module__.startswith(_LOGGED_APPS):
            labels[model._meta.label_lower] = str(model._meta.verbose_name).capitalize()
    return labels


def object_type_choices() -> list[tuple[str, str]]:
    return sorted(object_type_labels().items(), key=lambda item: item[1].lower())


def _encode(entry: AuditLog) -> str:
    raw = f"{entry.created_at.isoformat()}|{entry.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, int] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, _sep, pk = base64.urlsafe_b64decode(padded).decode().partition("|")
        when = dt.datetime.fromisoformat(moment)
        if when.tzinfo is None:
            return None
        return when, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _filtered(viewer: policy.Viewer, filters: JournalFilters) -> models.QuerySet[AuditLog]:
    rows = policy.audit_log_visible_to(viewer)
    if filters.action:
        rows = rows.filter(action=filters.action)
    if filters.object_type:
        rows = rows.filter(object_type=filters.object_type)
    if filters.actor_id == 0:
        rows = rows.filter(actor__isnull=True)
    elif filters.actor_id is not None:
        rows = rows.filter(actor_id=filters.actor_id)
    if filters.since:
        rows = rows.filter(created_at__gte=_day_start(filters.since))
    if filters.until:
        rows = rows.filter(created_at__lt=_day_start(filters.until + dt.timedelta(days=1)))
    if filters.text:
        rows = rows.filter(
            Q(summary__icontains=filters.text)
            | Q(actor__email__icontains=filters.text)
            | Q(actor__full_name__icontains=filters.text)
        )
    return rows


def journal_page(
    viewer: policy.Viewer,
    filters: JournalFilters,
    *,
    after: str | None = None,
    page_size: int = JOURNAL_PAGE_SIZE,
) -> JournalPage:
    """A page of the audit log `viewer` may read, newest first.

    Keyset pagination on (created_at, id), served by the `audit_agency_keyset`
    index: a page costs the same at any depth. One query for the rows (their
    authors joined), and one per kind of object the page links to."""
    rows = _filtered(viewer, filters).select_related("actor")
    position = _decode(after) if after else None
    if position is not None:
        created_at, pk = position
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    entries = list(rows.order_by("-created_at", "-id")[: page_size + 1])
    next_cursor = _encode(entries[page_size - 1]) if len(entries) > page_size else None
    entries = entries[:page_size]
    links = _links(viewer, entries)
    labels = object_type_labels()
    return JournalPage(
        rows=[
            JournalRow(
                entry=entry,
                actor=_actor(entry),
                action=str(entry.get_action_display()),
                object_label=labels.get(entry.object_type, entry.object_type),
                link=links.get((entry.object_type, entry.object_id)),
            )
            for entry in entries
        ],
        next_cursor=next_cursor,
    )


def _actor(entry: AuditLog) -> str:
    if entry.actor is None:
        return str(NO_ACTOR_LABEL)
    return entry.actor.full_name or entry.actor.email


# --- Links to the objects that still exist ----------------------------------------


def _dossier_url(dossier_id: int, anchor: str = "") -> str:
    return reverse("dossiers:detail", args=[dossier_id]) + anchor


def _ids(rows: Iterable[AuditLog]) -> list[int]:
    return [int(row.object_id) for row in rows if row.object_id.isdigit()]


def _linker(
    model_label: str,
    fields: tuple[str, ...],
    agency_field: str,
    url: Callable[..., str],
) -> Callable[[policy.Viewer, list[int]], dict[int, str]]:
    """A link maker for one kind of object: one query for the page's ids of
    that kind, kept to the viewer's agencies, giving each id its URL."""

    def make(viewer: policy.Viewer, ids: list[int]) -> dict[int, str]:
        model = apps.get_model(model_label)
        found = model.objects.filter(
            pk__in=ids, **{f"{agency_field}__in": viewer.staff_agency_ids}
        ).values_list("pk", *fields)
        return {row[0]: url(*row) for row in found}

    return make


_LINKS: dict[str, Callable[[policy.Viewer, list[int]], dict[int, str]]] = {
    "dossiers.dossier": _linker("dossiers.Dossier", (), "agency_id", lambda pk: _dossier_url(pk)),
    "dossiers.task": _linker(
        "dossiers.Task", ("dossier_id",), "dossier__agency_id", lambda pk, d: _dossier_url(d)
    ),
    "dossiers.decision": _linker(
        "dossiers.Decision", ("dossier_id",), "dossier__agency_id", lambda pk, d: _dossier_url(d)
    ),
    "dossiers.note": _linker(
        "dossiers.Note", ("dossier_id",), "dossier__agency_id", lambda pk, d: _dossier_url(d)
    ),
    "dossiers.timelineentry": _linker(
        "dossiers.TimelineEntry",
        ("dossier_id",),
        "dossier__agency_id",
        lambda pk, d: _dossier_url(d),
    ),
    "reminders.reminder": _linker(
        "reminders.Reminder", ("dossier_id",), "dossier__agency_id", lambda pk, d: _dossier_url(d)
    ),
    "documents.document": _linker(
        "documents.Document",
        ("dossier_id", "condominium_id"),
        "agency_id",
        lambda pk, dossier, condominium: (
            _dossier_url(dossier) if dossier else reverse("documents:space", args=[condominium])
        ),
    ),
    "mail.message": _linker(
        "mail.Message",
        ("dossier_id",),
        "agency_id",
        lambda pk, dossier: (
            _dossier_url(dossier, f"#courriel-{pk}")
            if dossier
            else reverse("mail:triage_message", args=[pk])
        ),
    ),
    "mail.mailrule": _linker(
        "mail.MailRule", (), "agency_id", lambda pk: reverse("mail:rule_edit", args=[pk])
    ),
    "mail.mailsource": _linker(
        "mail.MailSource", (), "agency_id", lambda pk: reverse("mail:source_edit", args=[pk])
    ),
    "condominiums.person": _linker(
        "condominiums.Person",
        ("last_name",),
        "agency_id",
        lambda pk, name: reverse("condominiums:persons") + "?" + urlencode({"q": name}),
    ),
    "condominiums.condominium": _linker(
        "condominiums.Condominium", (), "agency_id", lambda pk: reverse("condominium", args=[pk])
    ),
}


def _links(viewer: policy.Viewer, entries: list[AuditLog]) -> dict[tuple[str, str], str]:
    """The URL of each row's object that still exists in the viewer's
    agencies: one query per kind of object on the page."""
    by_type: dict[str, list[AuditLog]] = defaultdict(list)
    for entry in entries:
        if entry.object_type in _LINKS:
            by_type[entry.object_type].append(entry)
    links: dict[tuple[str, str], str] = {}
    for object_type, rows in by_type.items():
        ids = _ids(rows)
        if not ids:
            continue
        for pk, url in _LINKS[object_type](viewer, ids).items():
            links[(object_type, str(pk))] = url
    return links


def journal_actor_choices(viewer: policy.Viewer) -> list[tuple[int, str]]:
    """The authors to filter by: the staff of the viewer's agencies (other
    authors are found by the text filter), and « nobody » (commands)."""
    staff = (
        policy.persons_visible_to(viewer)
        .filter(agency_id__in=viewer.staff_agency_ids, user__isnull=False)
        .exclude(staff_role="")
        .select_related("user")
        .order_by("last_name", "first_name")
    )
    choices: list[tuple[int, str]] = []
    seen: set[int] = set()
    for person in staff:
        user = person.user
        assert user is not None
        if user.pk not in seen:
            seen.add(user.pk)
            choices.append((user.pk, person.full_name or user.email))
    choices.append((0, str(NO_ACTOR_LABEL)))
    return choices
