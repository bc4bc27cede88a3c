"""The triage inbox: the mail the file stage could not place with enough
certainty, waiting for a person — with the dossiers it suggested — and what
staff do with it: file a message in one click, pick another dossier, open a
new dossier from it, say it concerns no dossier, or do that to several at once.

A manager triages dozens of mails each morning, so the page is built for the
keyboard (j/k, 1/2/3, n, x, ?) and costs the same few queries whatever the
size of the backlog. Every action is a plain POST form (it works without
JavaScript); htmx only spares the page reload.

What this module writes goes through the filing services
(`filing.message_file`, `filing.message_mark_not_dossier_related`) and the
dossier services (`dossier_open`): they check the permissions, keep the
timeline and write the audit log. A filing by a person feeds the learned
suggestions (`suggest.suggester_invalidate`) once it is committed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, NullIf, Substr
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from lanterne.condominiums.models import Company, Condominium, Person
from lanterne.core.htmx import render_page
from lanterne.dossiers import policy
from lanterne.dossiers.choices import DEFAULT_AUDIENCE, DossierStatus, DossierType
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer
from lanterne.dossiers.services import dossier_open

from .filing import is_machine_mail, message_file, message_mark_not_dossier_related, text_fold
from .forms_triage import (
    TRIAGE_AUDIENCE_CHOICES,
    TriageBulkForm,
    TriageDossierForm,
    TriageFileForm,
)
from .models import Attachment, FilingMethod, Message
from .suggest import suggester_invalidate

# Messages per page: a morning's worth, and a page that stays light.
TRIAGE_PAGE_SIZE = 50
# Characters of a message's new text read for its preview line.
SNIPPET_CHARS = 300
# Suggestions shown per message (the file stage stores at most three).
SUGGESTIONS_SHOWN = 3
# Dossiers a search returns: a search is refined, not scrolled.
SEARCH_LIMIT = 10
# The count in the navigation stops there ("999+"): it is read on every page,
# and a backlog of a history import must not make every page slow.
COUNT_CAP = 999


class TriageView:
    """The lists the page shows (`?filtre=`): every waiting message, those
    written by persons, the machine mail (auto-replies, bounces, bulk), or
    the mail set aside as "not dossier-related" — where a mistake is undone
    by filing the message after all."""

    ALL = ""
    PERSONS = "personnes"
    MACHINE = "automatiques"
    NOT_RELATED = "sans-rapport"

    CHOICES = (ALL, PERSONS, MACHINE, NOT_RELATED)


# ---------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class TriageSuggestion:
    """A dossier the file stage suggested for a message, still of its agency."""

    rank: int
    dossier: Dossier
    score: float | None
    reason: str

    @property
    def score_percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)


@dataclass(frozen=True)
class TriageItem:
    """One message of the list, with what a manager needs to decide."""

    message: Message
    snippet: str
    suggestions: list[TriageSuggestion]
    attachment_count: int
    # Other messages of its conversation waiting too: filing this one files them.
    waiting_mates: int

    @property
    def is_machine(self) -> bool:
        return is_machine_mail(self.message)


@dataclass(frozen=True)
class TriagePage:
    items: list[TriageItem]
    # Counted up to `COUNT_CAP` + 1: a history import's backlog is not
    # counted on every page.
    total: int
    next_cursor: str | None

    @property
    def total_capped(self) -> bool:
        return self.total > COUNT_CAP


@dataclass(frozen=True)
class StoredSuggestion:
    """One entry of `Message.suggestions`, read defensively: the list is
    JSON written by the file stage and may name a dossier since deleted."""

    dossier_id: int
    score: float | None
    reason: str


def stored_suggestions(message: Message) -> list[StoredSuggestion]:
    """The well-formed entries of `message.suggestions`, in their order,
    each dossier once."""
    found: list[StoredSuggestion] = []
    seen: set[int] = set()
    raw = message.suggestions if isinstance(message.suggestions, list) else []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        dossier_id = entry.get("dossier_id")
        if not isinstance(dossier_id, int) or isinstance(dossier_id, bool) or dossier_id in seen:
            continue
        score = entry.get("score")
        if not isinstance(score, int | float) or isinstance(score, bool):
            score = None
        reason = entry.get("reason")
        seen.add(dossier_id)
        found.append(
            StoredSuggestion(
                dossier_id=dossier_id,
                score=float(score) if score is not None else None,
                reason=reason if isinstance(reason, str) else "",
            )
        )
    return found


def _unfiled(viewer: Viewer) -> QuerySet[Message]:
    """The viewer's mail in no dossier, without the wrappers of forwards: a
    manager's forward is filed through the original it carries, which waits
    here in its place when it could not be filed."""
    return policy.unfiled_messages_visible_to(viewer).filter(forwarded_message__isnull=True)


def _machine() -> Q:
    return Q(is_auto_reply=True) | Q(is_bounce=True) | Q(is_bulk=True)


def triage_messages(viewer: Viewer, *, view: str = TriageView.ALL) -> QuerySet[Message]:
    """The messages of one list of the page (see `TriageView`), unordered."""
    unfiled = _unfiled(viewer)
    if view == TriageView.NOT_RELATED:
        return unfiled.filter(not_dossier_related=True)
    waiting = unfiled.filter(not_dossier_related=False)
    if view == TriageView.PERSONS:
        return waiting.exclude(_machine())
    if view == TriageView.MACHINE:
        return waiting.filter(_machine())
    return waiting


def triage_count(viewer: Viewer) -> int:
    """How many messages wait in triage, counted up to `COUNT_CAP` + 1."""
    return triage_messages(viewer)[: COUNT_CAP + 1].count()


def _encode_cursor(message: Message) -> str:
    moment = message.date.isoformat() if message.date else ""
    return base64.urlsafe_b64encode(f"{moment}|{message.pk}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime | None, int] | None:
    """The (date, id) a cursor points after, or None when it is not one of
    ours. A message without a Date header has no date: those come last."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment_text, separator, pk_text = base64.urlsafe_b64decode(padded).decode().partition("|")
        if not separator:
            return None
        moment = dt.datetime.fromisoformat(moment_text) if moment_text else None
        if moment is not None and moment.tzinfo is None:
            return None
        return moment, int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _after(position: tuple[dt.datetime | None, int]) -> Q:
    """Messages after `position` in the order newest first, undated last."""
    moment, pk = position
    if moment is None:
        return Q(date__isnull=True, pk__lt=pk)
    return Q(date__lt=moment) | Q(date=moment, pk__lt=pk) | Q(date__isnull=True)


def _snippet(text: str | None) -> str:
    words = " ".join((text or "").split())
    if len(words) > SNIPPET_CHARS - 60:
        return words[: SNIPPET_CHARS - 60].rsplit(" ", 1)[0] + " …"
    return words


def _suggestions_for(
    viewer: Viewer, messages: Sequence[Message]
) -> dict[int, list[TriageSuggestion]]:
    """The stored suggestions of each message whose dossier still exists in
    the message's agency — in one query for the whole page. A dossier
    deleted since, or of another agency, is left out; one closed since is
    kept (a late invoice belongs to finished works) and shown as closed."""
    stored = {message.pk: stored_suggestions(message) for message in messages}
    wanted = {s.dossier_id for entries in stored.values() for s in entries}
    dossiers: dict[int, Dossier] = {}
    if wanted:
        dossiers = {
            dossier.pk: dossier
            for dossier in policy.dossiers_visible_to(viewer)
            .filter(pk__in=wanted)
            .select_related("condominium")
            .only("pk", "agency_id", "reference", "title", "status", "type", "condominium__name")
        }
    found: dict[int, list[TriageSuggestion]] = {}
    for message in messages:
        kept: list[TriageSuggestion] = []
        for entry in stored[message.pk]:
            dossier = dossiers.get(entry.dossier_id)
            if dossier is None or dossier.agency_id != message.agency_id:
                continue
            kept.append(
                TriageSuggestion(
                    rank=len(kept) + 1, dossier=dossier, score=entry.score, reason=entry.reason
                )
            )
            if len(kept) == SUGGESTIONS_SHOWN:
                break
        found[message.pk] = kept
    return found


def triage_page(
    viewer: Viewer,
    *,
    view: str = TriageView.ALL,
    after: str | None = None,
    page_size: int = TRIAGE_PAGE_SIZE,
) -> TriagePage:
    """A page of a triage list, newest first (undated mail last).

    Keyset pagination on (date, id), served by the `message_triage` index:
    a page costs the same whatever its depth and the inbox's size, and
    filing messages meanwhile does not shift the next page. Four queries
    whatever the number of messages: the total (up to `COUNT_CAP`), the page (with its
    attachment and conversation counts and a preview of the new text, read
    by the database rather than loading whole bodies), and the dossiers of
    the suggestions."""
    selected = triage_messages(viewer, view=view)
    total = selected[: COUNT_CAP + 1].count()
    attachments = (
        Attachment.objects.filter(message=OuterRef("pk"), is_inline=False)
        .order_by()
        .values("message")
        .annotate(count=Count("pk"))
        .values("count")
    )
    mates = (
        Message.objects.filter(
            thread=OuterRef("thread"), dossier__isnull=True, not_dossier_related=False
        )
        .exclude(pk=OuterRef("pk"))
        .order_by()
        .values("thread")
        .annotate(count=Count("pk"))
        .values("count")
    )
    rows = (
        selected.select_related("agency", "filed_by")
        .only(
            "pk",
            "agency_id",
            "agency__name",
            "thread_id",
            "subject",
            "from_name",
            "from_address",
            "date",
            "parsed_at",
            "direction",
            "is_auto_reply",
            "is_bounce",
            "is_bulk",
            "suggestions",
            "not_dossier_related",
            "filed_at",
            "filed_by__full_name",
            "filed_by__email",
        )
        .annotate(
            preview=Substr(Coalesce(NullIf("new_text", Value("")), "text"), 1, SNIPPET_CHARS),
            attachment_count=Coalesce(Subquery(attachments, output_field=IntegerField()), 0),
            waiting_mates=Coalesce(Subquery(mates, output_field=IntegerField()), 0),
        )
        .order_by(F("date").desc(nulls_last=True), "-pk")
    )
    position = _decode_cursor(after) if after else None
    if position is not None:
        rows = rows.filter(_after(position))
    found = list(rows[: page_size + 1])
    more = len(found) > page_size
    found = found[:page_size]
    suggestions = _suggestions_for(viewer, found)
    items = [
        TriageItem(
            message=message,
            snippet=_snippet(message.preview),
            suggestions=suggestions[message.pk],
            attachment_count=message.attachment_count,
            waiting_mates=message.waiting_mates,
        )
        for message in found
    ]
    return TriagePage(
        items=items,
        total=total,
        next_cursor=_encode_cursor(found[-1]) if more and found else None,
    )


def triage_dossier_search(
    viewer: Viewer, *, agency_ids: Iterable[int], query: str, limit: int = SEARCH_LIMIT
) -> list[Dossier]:
    """Dossiers of `agency_ids` (among those the viewer may file into) whose
    reference, title or condominium contains every word of `query`, ignoring
    case and accents (« elagage » finds « Élagage des tilleuls »): open ones
    first, then the most recent.

    The words are matched here, on the folded text of every dossier of the
    agencies (a few columns, read in one query), the way rules are: a
    database filter would not fold accents the same way on SQLite and
    PostgreSQL. An agency's dossiers number in the thousands, not millions."""
    terms = text_fold(query).split()[:6]
    if not terms:
        return []
    allowed = [pk for pk in agency_ids if policy.may_manage_dossiers(viewer, pk)]
    dossiers = policy.dossiers_visible_to(viewer).filter(agency_id__in=allowed)
    matches: list[tuple[bool, dt.date, int]] = []
    for pk, reference, title, condominium, status, opened_on in dossiers.values_list(
        "pk", "reference", "title", "condominium__name", "status", "opened_on"
    ):
        text = text_fold(f"{reference} {title} {condominium}")
        if all(term in text for term in terms):
            matches.append((status == DossierStatus.CLOSED, opened_on, pk))
    # Open first; within each, the most recently opened first.
    matches.sort(key=lambda match: (match[0], -match[1].toordinal(), -match[2]))
    chosen = [pk for _closed, _opened, pk in matches[:limit]]
    found = Dossier.objects.filter(pk__in=chosen).select_related("condominium", "agency")
    by_pk = {dossier.pk: dossier for dossier in found}
    return [by_pk[pk] for pk in chosen if pk in by_pk]


def triage_dossier_resolve(
    viewer: Viewer, *, agency_id: int, dossier_id: int | None = None, query: str = ""
) -> Dossier:
    """The dossier of `agency_id` staff chose: by id (a suggestion or a
    search result), else by what they typed — an exact reference, or the one
    dossier whose reference, title or condominium contains every word.
    Anything else is a French error saying what to do."""
    dossiers = policy.dossiers_visible_to(viewer).filter(agency_id=agency_id)
    if not policy.may_manage_dossiers(viewer, agency_id):
        dossiers = dossiers.none()
    if dossier_id is not None:
        dossier = dossiers.filter(pk=dossier_id).first()
        if dossier is None:
            raise ValidationError(_("Ce dossier n'existe pas ou plus dans ce cabinet."))
        return dossier
    query = " ".join(query.split())
    if not query:
        raise ValidationError(
            _("Choisissez un dossier : une suggestion, ou tapez sa référence ou son titre.")
        )
    exact = dossiers.filter(reference__iexact=query).first()
    if exact is not None:
        return exact
    found = triage_dossier_search(
        viewer, agency_ids=[agency_id], query=query, limit=SEARCH_LIMIT + 1
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationError(_("Aucun dossier ne correspond à « %(query)s ».") % {"query": query})
    references = ", ".join(dossier.reference for dossier in found[:SEARCH_LIMIT])
    raise ValidationError(
        _("Plusieurs dossiers correspondent à « %(query)s » (%(references)s) : précisez.")
        % {"query": query, "references": references}
    )


# French and foreign reply and forward prefixes, and [tags] (the subject
# fallback of `threads` knows the same list; this one keeps the case).
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|rep|aw|sv|vs|antw|res|tr|fw|fwd|wg|vl|rv|doorst|enc)"
    r"\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*:|r[ée]f\s*(?:\.\s*:?|:))\s*",
    re.IGNORECASE,
)
_SUBJECT_TAG = re.compile(r"\[[^\[\]]{0,80}\]")


def title_from_subject(subject: str) -> str:
    """A dossier title from a mail's subject: « RE : TR: [EXT] Fuite lot 12 »
    gives « Fuite lot 12 »."""
    text = " ".join(_SUBJECT_TAG.sub(" ", subject or "").split())
    while True:
        stripped = _SUBJECT_PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return text.strip(" -–—:;,.")[:200]


def sender_contacts(viewer: Viewer, message: Message) -> tuple[Person | None, Company | None]:
    """The person of the agency who wrote `message` (one of their addresses),
    and their company (or the company whose domain the address is in): the
    parties a dossier opened from this mail would likely have. Staff of the
    agency are never proposed as parties."""
    address = message.from_address.strip()
    if not address or "@" not in address or message.direction != "inbound":
        return None, None
    person = (
        policy.persons_visible_to(viewer)
        .filter(agency_id=message.agency_id, staff_role="", emails__address__iexact=address)
        .select_related("company")
        .first()
    )
    company = person.company if person is not None else None
    if company is None:
        domain = address.rpartition("@")[2].strip().lower()
        company = (
            Company.objects.filter(agency_id=message.agency_id)
            .filter(Q(domains__domain__iexact=domain) | Q(email__iexact=address))
            .first()
        )
    return person, company


# ---------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class TriageResult:
    """What an action did: the dossier (when filing), how many of the
    messages asked were handled, how many more of their conversations
    followed them, and how many had been handled by someone else meanwhile."""

    dossier: Dossier | None
    done: int
    followed: int = 0
    skipped: int = 0


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


def _actor_name(actor: Any) -> str:
    return str(actor) if getattr(actor, "is_authenticated", False) else "Lanterne"


def _lock_unfiled(message: Message) -> bool:
    """Lock the message's row and say whether it is still in no dossier: two
    managers triaging the same inbox must not move each other's filings."""
    current = (
        Message.objects.select_for_update()
        .filter(pk=message.pk)
        .values("dossier_id", "not_dossier_related")
        .first()
    )
    if current is None:
        return False
    message.dossier_id = current["dossier_id"]
    message.not_dossier_related = current["not_dossier_related"]
    return current["dossier_id"] is None


def _already_filed(message: Message) -> ValidationError:
    reference = None
    if message.dossier_id is not None:
        reference = (
            Dossier.objects.filter(pk=message.dossier_id)
            .values_list("reference", flat=True)
            .first()
        )
    return ValidationError(
        _("Ce courriel a été classé entre-temps dans le dossier %(reference)s.")
        % {"reference": reference or "?"}
    )


def _waiting_mates(message: Message) -> int:
    if message.thread_id is None:
        return 0
    return (
        Message.objects.filter(
            agency_id=message.agency_id,
            thread_id=message.thread_id,
            dossier__isnull=True,
            not_dossier_related=False,
        )
        .exclude(pk=message.pk)
        .count()
    )


def _feed_suggester(agency_id: int) -> None:
    """A person filed mail: the learned suggestions retrain on it, once the
    filing is committed (a rolled-back filing must teach nothing)."""
    transaction.on_commit(lambda: suggester_invalidate(agency_id))


def _file_one(
    *,
    viewer: Viewer,
    actor: Any,
    message: Message,
    dossier: Dossier,
    audience: str | None,
    reason: str,
) -> None:
    """File a message that is still unfiled (locked by the caller), with the
    score of the suggestion that named this dossier, if one did."""
    rank, score = None, None
    for index, entry in enumerate(stored_suggestions(message), start=1):
        if entry.dossier_id == dossier.pk:
            rank, score = index, entry.score
            break
    if rank is not None:
        detail = f"suggestion n° {rank}"
        if score is not None:
            detail += f", score {round(score * 100)} %"
        reason = f"{reason} ({detail})"
    message_file(
        viewer=viewer,
        actor=actor,
        message=message,
        dossier=dossier,
        method=FilingMethod.MANUAL,
        score=score,
        reason=reason,
        audience=audience,
    )


@transaction.atomic
def triage_file(
    *,
    viewer: Viewer,
    actor: Any,
    message: Message,
    dossier: Dossier,
    audience: str | None = None,
) -> TriageResult:
    """File `message`, which waits in triage (or was set aside as unrelated),
    into `dossier`, as a manual filing by `actor` — with the score of the
    suggestion that named it, if one did. The rest of its conversation that
    waits follows it (`message_file`). A message filed by someone else
    meanwhile is refused, not moved."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if not _lock_unfiled(message):
        raise _already_filed(message)
    followed = _waiting_mates(message)
    _file_one(
        viewer=viewer,
        actor=actor,
        message=message,
        dossier=dossier,
        audience=audience,
        reason=f"Classé par {_actor_name(actor)} depuis le tri",
    )
    _feed_suggester(message.agency_id)
    return TriageResult(dossier=dossier, done=1, followed=followed)


@transaction.atomic
def triage_not_related(*, viewer: Viewer, actor: Any, message: Message) -> TriageResult:
    """Say that `message` concerns no dossier: it leaves the triage inbox
    (and can still be filed from the "not dossier-related" list)."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if not _lock_unfiled(message):
        raise _already_filed(message)
    message_mark_not_dossier_related(
        viewer=viewer,
        actor=actor,
        message=message,
        reason=f"Sans rapport avec un dossier, selon {_actor_name(actor)} (tri)",
    )
    _feed_suggester(message.agency_id)
    return TriageResult(dossier=None, done=1)


@transaction.atomic
def triage_dossier_open(
    *,
    viewer: Viewer,
    actor: Any,
    message: Message,
    condominium: Condominium,
    title: str,
    type: str,
    dossier_audience: str | None = None,
    audience: str | None = None,
    party_persons: Iterable[Person] = (),
    party_companies: Iterable[Company] = (),
) -> TriageResult:
    """Open a dossier from `message` and file the message there, in one
    transaction: either both happen or neither. The dossier's audience is
    the type's default unless given (`DEFAULT_AUDIENCE`)."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if condominium.agency_id != message.agency_id:
        raise ValidationError(_("Cette copropriété n'est pas gérée par le cabinet de ce courriel."))
    if type not in DossierType.values:
        raise ValidationError(_("Type de dossier inconnu."))
    if not _lock_unfiled(message):
        raise _already_filed(message)
    followed = _waiting_mates(message)
    dossier = dossier_open(
        viewer=viewer,
        actor=actor,
        condominium=condominium,
        title=title,
        type=type,
        audience=dossier_audience or DEFAULT_AUDIENCE[type],
        party_persons=party_persons,
        party_companies=party_companies,
    )
    _file_one(
        viewer=viewer,
        actor=actor,
        message=message,
        dossier=dossier,
        audience=audience,
        reason=f"Dossier ouvert par {_actor_name(actor)} depuis le tri à partir de ce courriel",
    )
    _feed_suggester(message.agency_id)
    return TriageResult(dossier=dossier, done=1, followed=followed)


@transaction.atomic
def triage_bulk_file(
    *,
    viewer: Viewer,
    actor: Any,
    messages: list[Message],
    dossier: Dossier,
    audience: str | None = None,
) -> TriageResult:
    """File every message of `messages` into `dossier`, all or none.

    A message of another agency than the dossier's is an error for the whole
    batch. A message filed meanwhile — by someone else, or because it is in
    the conversation of one filed just before — is skipped, not moved."""
    for message in messages:
        _require(policy.may_manage_dossiers(viewer, message.agency_id))
        if message.agency_id != dossier.agency_id:
            raise ValidationError(_("Ce dossier appartient à un autre cabinet que ces courriels."))
    done = skipped = 0
    for message in messages:
        if not _lock_unfiled(message):
            # In this dossier already: a conversation mate of one filed above.
            if message.dossier_id == dossier.pk:
                done += 1
            else:
                skipped += 1
            continue
        _file_one(
            viewer=viewer,
            actor=actor,
            message=message,
            dossier=dossier,
            audience=audience,
            reason=f"Classé par {_actor_name(actor)} depuis le tri (sélection)",
        )
        done += 1
    if done:
        _feed_suggester(dossier.agency_id)
    return TriageResult(dossier=dossier, done=done, skipped=skipped)


@transaction.atomic
def triage_bulk_not_related(*, viewer: Viewer, actor: Any, messages: list[Message]) -> TriageResult:
    """Say that none of `messages` concerns a dossier, all or none. Those
    filed meanwhile are left in their dossier."""
    for message in messages:
        _require(policy.may_manage_dossiers(viewer, message.agency_id))
    done = skipped = 0
    for message in messages:
        if not _lock_unfiled(message):
            skipped += 1
            continue
        message_mark_not_dossier_related(
            viewer=viewer,
            actor=actor,
            message=message,
            reason=f"Sans rapport avec un dossier, selon {_actor_name(actor)} (tri, sélection)",
        )
        done += 1
    if done:
        for agency_id in {message.agency_id for message in messages}:
            _feed_suggester(agency_id)
    return TriageResult(dossier=None, done=done, skipped=skipped)


# ---------------------------------------------------------------------------
# Pages


def _staff_viewer(request: HttpRequest) -> Viewer:
    """Triage is for staff: anyone else is refused outright (403)."""
    viewer = policy.viewer_of(request)
    if not viewer.is_staff_anywhere:
        raise PermissionDenied
    return viewer


def _staff_message(request: HttpRequest, message_id: int) -> tuple[Viewer, Message]:
    """A message of one of the viewer's agencies; 404 for staff of another
    agency (its existence is not revealed)."""
    viewer = _staff_viewer(request)
    message = (
        Message.objects.filter(pk=message_id)
        .defer("html", "text", "quoted_text", "signature", "headers", "defects")
        .first()
    )
    if message is None or not policy.may_manage_dossiers(viewer, message.agency_id):
        raise Http404
    return viewer, message


def _state(data: Mapping[str, Any]) -> dict[str, str]:
    """Which list and page the manager was on (`filtre`, `apres`), kept
    through an action so they come back to it."""
    view = str(data.get("filtre") or "")
    after = str(data.get("apres") or "")
    state: dict[str, str] = {}
    if view in TriageView.CHOICES and view:
        state["filtre"] = view
    if after and _decode_cursor(after) is not None:
        state["apres"] = after
    return state


def _triage_url(state: Mapping[str, str]) -> str:
    url = reverse("mail:triage")
    return f"{url}?{urlencode(state)}" if state else url


def _list_context(request: HttpRequest, viewer: Viewer, state: Mapping[str, str]) -> dict[str, Any]:
    view = state.get("filtre", TriageView.ALL)
    page = triage_page(viewer, view=view, after=state.get("apres"))
    return {
        "page": page,
        "view": view,
        "state": state,
        "state_query": urlencode(state),
        "next_query": urlencode({**({"filtre": view} if view else {}), "apres": page.next_cursor})
        if page.next_cursor
        else "",
        "views": [
            (TriageView.ALL, _("Tous")),
            (TriageView.PERSONS, _("Écrits par des personnes")),
            (TriageView.MACHINE, _("Automatiques")),
            (TriageView.NOT_RELATED, _("Sans rapport avec un dossier")),
        ],
        "audiences": TRIAGE_AUDIENCE_CHOICES,
        "spans_agencies": len(viewer.staff_agency_ids) > 1,
        "count_cap": COUNT_CAP,
        "is_htmx": bool(getattr(request, "htmx", False)),
    }


@login_required
@require_GET
def triage(request: HttpRequest) -> HttpResponse:
    """The triage inbox: the full page, or the list alone for htmx."""
    viewer = _staff_viewer(request)
    context = _list_context(request, viewer, _state(request.GET))
    return render_page(
        request, "mail/triage.html", context, partial="mail/partials/triage_list.html"
    )


@login_required
@require_GET
def triage_count_badge(request: HttpRequest) -> HttpResponse:
    """The number of waiting messages, for the navigation (loaded by htmx
    after the page, so that no page waits for it)."""
    viewer = policy.viewer_of(request)
    count = triage_count(viewer) if viewer.is_staff_anywhere else 0
    return render(
        request, "mail/partials/triage_count.html", {"count": count, "capped": count > COUNT_CAP}
    )


def _after_action(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """Back to the list the manager was on: the list itself for htmx (with the
    flash messages in its status line, and an event that refreshes the count
    in the navigation), a redirect otherwise."""
    state = _state(request.POST)
    if getattr(request, "htmx", False):
        response = render(
            request, "mail/partials/triage_list.html", _list_context(request, viewer, state)
        )
        response["HX-Trigger"] = "triage-changed"
        return response
    return redirect(_triage_url(state))


def _form_errors(request: HttpRequest, form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


def _with_html(text: str, **values: Any) -> SafeString:
    """`text`, a translated message with %(name)s placeholders, filled with
    `values` — a link among them — every part escaped unless already safe."""
    escaped = {name: conditional_escape(value) for name, value in values.items()}
    return mark_safe(conditional_escape(text) % escaped)  # noqa: S308 — every part is escaped


def _filed_message(result: TriageResult) -> SafeString:
    """The flash message of a filing, with a link to the dossier."""
    dossier = result.dossier
    assert dossier is not None
    link = format_html(
        '<a href="{}">{} — {}</a>',
        reverse("dossiers:detail", args=[dossier.pk]),
        dossier.reference,
        dossier.title,
    )
    parts = [
        _with_html(
            ngettext(
                "%(count)s courriel classé dans le dossier %(dossier)s.",
                "%(count)s courriels classés dans le dossier %(dossier)s.",
                result.done,
            ),
            count=result.done,
            dossier=link,
        )
    ]
    if result.followed:
        parts.append(
            _with_html(
                ngettext(
                    "%(count)s autre courriel de la même conversation l'a suivi.",
                    "%(count)s autres courriels de la même conversation l'ont suivi.",
                    result.followed,
                ),
                count=result.followed,
            )
        )
    if result.skipped:
        parts.append(
            _with_html(
                ngettext(
                    "%(count)s courriel, classé entre-temps, a été laissé tel quel.",
                    "%(count)s courriels, classés entre-temps, ont été laissés tels quels.",
                    result.skipped,
                ),
                count=result.skipped,
            )
        )
    return mark_safe(" ".join(parts))  # noqa: S308 — the parts are safe strings


@login_required
@require_POST
def triage_file_view(request: HttpRequest, message_id: int) -> HttpResponse:
    """File one message: a suggestion's button, or the dossier typed."""
    viewer, message = _staff_message(request, message_id)
    form = TriageFileForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _after_action(request, viewer)
    try:
        dossier = triage_dossier_resolve(
            viewer,
            agency_id=message.agency_id,
            dossier_id=form.cleaned_data["dossier"],
            query=form.cleaned_data["query"],
        )
        result = triage_file(
            viewer=viewer,
            actor=request.user,
            message=message,
            dossier=dossier,
            audience=form.cleaned_data["audience"],
        )
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, _filed_message(result))
    return _after_action(request, viewer)


@login_required
@require_POST
def triage_not_related_view(request: HttpRequest, message_id: int) -> HttpResponse:
    viewer, message = _staff_message(request, message_id)
    try:
        triage_not_related(viewer=viewer, actor=request.user, message=message)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(
            request,
            _("« %(subject)s » : sans rapport avec un dossier.")
            % {"subject": message.subject or _("(sans objet)")},
        )
    return _after_action(request, viewer)


@login_required
@require_POST
def triage_bulk_view(request: HttpRequest) -> HttpResponse:
    """Act on the messages ticked in the list."""
    viewer = _staff_viewer(request)
    form = TriageBulkForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _after_action(request, viewer)
    ids = form.cleaned_data["messages"]
    if not ids:
        messages.error(request, _("Cochez d'abord les courriels à traiter."))
        return _after_action(request, viewer)
    # Only the viewer's unfiled mail: an id of another agency, or of a message
    # filed meanwhile, is simply not there — and counted as skipped.
    chosen = list(
        _unfiled(viewer)
        .filter(pk__in=ids)
        .defer("html", "text", "quoted_text", "signature", "headers", "defects")
        .order_by(F("date").desc(nulls_last=True), "-pk")
    )
    missing = len(ids) - len(chosen)
    try:
        if form.cleaned_data["action"] == TriageBulkForm.NOT_RELATED:
            result = triage_bulk_not_related(viewer=viewer, actor=request.user, messages=chosen)
        else:
            agencies = {message.agency_id for message in chosen}
            if len(agencies) > 1:
                raise ValidationError(
                    _("Les courriels cochés sont de plusieurs cabinets : classez-les séparément.")
                )
            if not agencies:
                result = TriageResult(dossier=None, done=0)
            else:
                dossier = triage_dossier_resolve(
                    viewer,
                    agency_id=agencies.pop(),
                    dossier_id=form.cleaned_data["dossier"],
                    query=form.cleaned_data["query"],
                )
                result = triage_bulk_file(
                    viewer=viewer,
                    actor=request.user,
                    messages=chosen,
                    dossier=dossier,
                    audience=form.cleaned_data["audience"],
                )
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return _after_action(request, viewer)
    result = TriageResult(
        dossier=result.dossier,
        done=result.done,
        followed=result.followed,
        skipped=result.skipped + missing,
    )
    if result.done == 0:
        messages.error(request, _("Aucun des courriels cochés n'était encore à classer."))
    elif result.dossier is not None:
        messages.success(request, _filed_message(result))
    else:
        text = ngettext(
            "%(count)s courriel mis de côté : sans rapport avec un dossier.",
            "%(count)s courriels mis de côté : sans rapport avec un dossier.",
            result.done,
        ) % {"count": result.done}
        if result.skipped:
            text += " " + ngettext(
                "%(count)s courriel, classé entre-temps, a été laissé tel quel.",
                "%(count)s courriels, classés entre-temps, ont été laissés tels quels.",
                result.skipped,
            ) % {"count": result.skipped}
        messages.success(request, text)
    return _after_action(request, viewer)


@login_required
@require_GET
def triage_dossier_search_view(request: HttpRequest) -> HttpResponse:
    """Dossiers matching what is typed in a picker, as buttons of that
    picker's form (htmx). `courriel` narrows the search to that message's
    agency; without it (the selection's picker), every agency of the viewer."""
    viewer = _staff_viewer(request)
    agency_ids: Iterable[int] = viewer.staff_agency_ids
    message_id = request.GET.get("courriel", "")
    if message_id.isdigit():
        message = (
            policy.unfiled_messages_visible_to(viewer)
            .filter(pk=int(message_id))
            .only("agency_id")
            .first()
        )
        agency_ids = [message.agency_id] if message is not None else []
    query = request.GET.get("query", "")
    dossiers = triage_dossier_search(viewer, agency_ids=agency_ids, query=query)
    return render(
        request,
        "mail/partials/triage_search.html",
        {
            "dossiers": dossiers,
            "query": " ".join(query.split()),
            # The selection's picker offers radio buttons (the form has two
            # actions); a message's picker, buttons that file at once.
            "radio": request.GET.get("choix") == "radio",
            "spans_agencies": len(viewer.staff_agency_ids) > 1,
        },
    )


@login_required
@require_GET
def triage_message_view(request: HttpRequest, message_id: int) -> HttpResponse:
    """The whole of a message waiting in triage, to read before deciding:
    the text only for htmx (unfolded in the list), a page otherwise. A
    message filed meanwhile is read in its dossier."""
    viewer, message = _staff_message(request, message_id)
    if message.dossier_id is not None:
        if getattr(request, "htmx", False):
            return render(request, "mail/partials/triage_message_filed.html", {"message": message})
        return redirect("dossiers:detail", message.dossier_id)
    message = (
        Message.objects.select_related("agency").prefetch_related("attachments").get(pk=message.pk)
    )
    # Inline images and signature logos belong to the HTML version.
    attachments = [
        attachment
        for attachment in message.attachments.all()
        if not attachment.is_inline and not attachment.is_signature_logo
    ]
    context = {"message": message, "attachments": attachments}
    return render_page(
        request,
        "mail/triage_message.html",
        context,
        partial="mail/partials/triage_message_body.html",
    )


@login_required
def triage_dossier_create_view(request: HttpRequest, message_id: int) -> HttpResponse:
    """« Nouveau dossier à partir de ce courriel »: the form prefilled from the
    mail (title from its subject, condominium from its first suggestion,
    its sender as a party when the agency knows them), then the dossier
    opened and the mail filed there together."""
    viewer, message = _staff_message(request, message_id)
    if message.dossier_id is not None:
        messages.error(request, _already_filed(message).messages[0])
        return redirect(_triage_url(_state(request.POST or request.GET)))
    sender, company = sender_contacts(viewer, message)
    suggested = _suggestions_for(viewer, [message])[message.pk]
    initial: dict[str, Any] = {
        "title": title_from_subject(message.subject),
        "audience": "",
    }
    if suggested:
        initial["condominium"] = suggested[0].dossier.condominium_id
    form = TriageDossierForm(
        request.POST or None,
        initial=initial,
        agency_id=message.agency_id,
        sender=sender,
        company=company,
    )
    state = _state(request.POST or request.GET)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = triage_dossier_open(
                viewer=viewer,
                actor=request.user,
                message=message,
                condominium=data["condominium"],
                title=data["title"],
                type=data["type"],
                dossier_audience=data["dossier_audience"] or None,
                audience=data["audience"],
                party_persons=[sender] if sender is not None and data.get("add_sender") else [],
                party_companies=[company]
                if company is not None and data.get("add_company")
                else [],
            )
        except ValidationError as error:
            for text in error.messages:
                form.add_error(None, text)
        else:
            messages.success(request, _filed_message(result))
            return redirect(_triage_url(state))
    return render(
        request,
        "mail/triage_dossier_form.html",
        {
            "form": form,
            "message": message,
            "state": state,
            "back_url": _triage_url(state),
            "default_audiences": {key: str(value) for key, value in DEFAULT_AUDIENCE.items()},
        },
        status=400 if request.method == "POST" else 200,
    )
