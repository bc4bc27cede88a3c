"""The thread stage of the mail pipeline: which conversation a message belongs to.

Threading follows Jamie Zawinski's algorithm (https://www.jwz.org/doc/threading.html),
adapted to a database that receives messages one at a time and in any order:

- A message's ancestors are named by its References and In-Reply-To headers
  (RFC 5322 §3.6.4: References lists the thread from its root to the direct
  parent; In-Reply-To names the direct parent). `reference_chain` reads them
  defensively: real mail carries garbage, missing angle brackets, duplicates,
  self-references and References headers thousands of identifiers long.
- JWZ keeps an "empty container" for every Message-ID that is referenced but
  was never received. Lanterne keeps one `ThreadLink` row per Message-ID seen
  (the message's own and every one it references), so "which thread holds
  message-id X?" is one indexed query, received or not.
- JWZ builds the whole tree at once; Lanterne sees one message at a time. A
  reply may come before its parent, and a later message may reveal that two
  threads are one conversation: `message_thread` then merges them, keeping
  the thread created first. This is what makes out-of-order arrival converge
  to the same grouping as in-order arrival.
- Lanterne groups messages into threads, it does not draw the reply tree:
  a reference loop (A cites B, B cites A) cannot make grouping loop, it only
  puts A and B in the same thread, which is right.
- When the headers say nothing we know (Outlook replies without References,
  relays such as Gmail or Amazon SES that rewrite Message-IDs), JWZ falls back
  to the subject. Lanterne does so only under guard, because a wrong thread
  later means a mail filed into the wrong dossier: same normalised subject,
  not a generic one, an external participant in common, and a thread active
  within `SUBJECT_WINDOW` of the message's date (see `_thread_by_subject`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from lanterne.core.rows import rows_create

from .models import Message, Thread, ThreadLink

# The most ancestors looked up and linked for one message. RFC 5322 §3.6.4
# lets References grow with every reply; trimmed, it keeps its first
# identifier (the root) and the most recent ones (the nearest parents), as
# RFC 5537 §3.4.4 advises for trimming References.
MAX_CHAIN = 50
# The longest Message-ID kept (the length of `Message.message_id`).
MAX_ID_LENGTH = 998

# The subject fallback only joins a thread active this close to the message's
# date, before or after it (a reply may be imported before its parent).
SUBJECT_WINDOW = timedelta(days=30)
# How many same-subject threads, and how many of their messages, the subject
# fallback inspects: it keeps the stage's cost independent of thread size.
SUBJECT_CANDIDATES = 20
SUBJECT_PARTICIPANT_ROWS = 500

# Reply and forward prefixes, compared after casefolding and removing accents
# ("Réf." is "ref."). French clients write "RE : " and "TR : " (a space
# before the colon, often a non-breaking one); German AW:/WG:, Scandinavian
# SV:/VS:/VL:, Spanish RV:, Dutch Antw:/Doorst:, Portuguese RES:/ENC:; some
# clients count replies: "Re[2]:", "Re^2:", "RE(2):".
_REPLY_PREFIXES = ("re", "rep", "aw", "sv", "vs", "antw", "res")
_FORWARD_PREFIXES = ("tr", "fw", "fwd", "wg", "vl", "rv", "doorst", "enc")
_PREFIX = re.compile(
    r"^(?:"
    r"(?:" + "|".join(_REPLY_PREFIXES + _FORWARD_PREFIXES) + r")"
    r"\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*:"
    r"|ref\s*(?:\.\s*:?|:)"  # "Réf.", "Réf :", "Réf. :"
    r")\s*"
)
# [DOS-2026-0042], [EXT], [SPAM], [Ticket#123]: tags added by Lanterne,
# ticketing tools and mail gateways, anywhere in the subject.
_TAG = re.compile(r"\[[^\[\]]{0,80}\]")
_FWD_SUFFIX = re.compile(r"\(fwd\)\s*$")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " \t-–—_:;,.!?*|/\\\"'«»()"

# Subjects too common to say that two messages belong together, compared
# after `normalize_subject`. Subjects shorter than four characters, or
# without a letter, are generic too.
GENERIC_SUBJECTS = frozenset(
    {
        "bonjour",
        "bonsoir",
        "hello",
        "salut",
        "merci",
        "sans objet",
        "pas d'objet",
        "aucun objet",
        "no subject",
        "message",
        "test",
        "urgent",
        "tres urgent",
        "important",
        "question",
        "questions",
        "demande",
        "demande de devis",
        "devis",
        "facture",
        "factures",
        "information",
        "informations",
        "info",
        "infos",
        "renseignement",
        "renseignements",
        "relance",
        "rappel",
        "suite",
        "suivi",
        "document",
        "documents",
        "piece jointe",
        "pieces jointes",
        "photo",
        "photos",
        "scan",
        "numerisation",
        "copie",
        "contact",
        "reclamation",
        "probleme",
        "rendez-vous",
        "intervention",
        "travaux",
        "fuite",
        "degat des eaux",
        "sinistre",
        "courrier",
        "rapport",
        "compte rendu",
    }
)

_ANGLE_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")
_ID_SEPARATORS = re.compile(r"[\s,;]+")
_CONTROL = re.compile(r"[\x00-\x20\x7f<>]")


def _fold(text: str) -> str:
    """Casefolded, compatibility-normalised (non-breaking and narrow spaces
    become spaces, "：" becomes ":"), without accents or repeated spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _SPACES.sub(" ", text).strip()


def _subject_parts(subject: str) -> tuple[str, bool]:
    """The normalised subject, and whether the subject carried a reply or
    forward prefix."""
    text = _TAG.sub(" ", _fold(subject or ""))
    text = _FWD_SUFFIX.sub("", text).strip()
    prefixed = False
    while True:
        text = text.lstrip(_EDGE_PUNCTUATION)
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        prefixed, text = True, stripped
    text = _SPACES.sub(" ", text).strip(_EDGE_PUNCTUATION)
    return text, prefixed


def normalize_subject(subject: str) -> str:
    """The subject as the thread stage compares it: without reply and forward
    prefixes, however many and in whatever language ("RE : TR : Re: Fwd:"),
    without [tags] such as [DOS-2026-0042], casefolded, without accents and
    with single spaces. "RE : [DOS-2026-0042] Réf. Fuite  lot 12" and "Fuite
    lot 12" give the same "fuite lot 12"."""
    return _subject_parts(subject)[0]


def subject_is_reply(subject: str) -> bool:
    """True when the subject starts with a reply or forward prefix."""
    return _subject_parts(subject)[1]


def subject_is_generic(normalized: str) -> bool:
    """True for a normalised subject too common to group messages by
    ("", "bonjour", "devis", "question"…)."""
    return (
        len(normalized) < 4
        or normalized in GENERIC_SUBJECTS
        or not any(c.isalpha() for c in normalized)
    )


def _clean_id(value: str) -> str | None:
    """One Message-ID without its angle brackets, lower-cased, or None when it
    cannot be one (RFC 5322 §3.6.4: "id-left@id-right", no spaces).

    Message-IDs are compared without case: the id-left is case-sensitive in
    theory, but two distinct identifiers differing only by case do not
    happen, while clients that change the case of the ones they quote do."""
    item = value.strip().strip("<>").strip().rstrip(".,;:")
    local, at, domain = item.rpartition("@")
    if not at or not local or not domain or len(item) > MAX_ID_LENGTH:
        return None
    if _CONTROL.search(item):
        return None
    return item.lower()


def _ids_in(values: str | Iterable[str] | None) -> list[str]:
    """The Message-IDs in header values, in order: those in angle brackets,
    or, when a value has none, its bare tokens that look like identifiers."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    found: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        tokens = _ANGLE_ID.findall(value) or [
            token
            for token in _ID_SEPARATORS.split(value)
            # A token with one bracket is a fragment ("<with space@x>").
            if token.startswith("<") == token.endswith(">")
        ]
        for token in tokens:
            item = _clean_id(token)
            if item is not None:
                found.append(item)
    return found


def own_message_id(message_id: str) -> str:
    """The key a message's own Message-ID is linked under: cleaned like the
    references that cite it, but kept even when malformed (it is still the
    identifier others would quote)."""
    cleaned = _clean_id(message_id)
    if cleaned is not None:
        return cleaned
    return message_id.strip().strip("<>").strip().lower()[:MAX_ID_LENGTH]


def reference_chain(
    in_reply_to: str | Iterable[str] | None,
    references: str | Iterable[str] | None,
    message_id: str = "",
) -> list[str]:
    """The ancestors of a message, from the thread's root to the direct
    parent, cleaned (RFC 5322 §3.6.4).

    References comes first, in its order; then the first identifier of
    In-Reply-To — the direct parent — moved to the end (JWZ: only the first
    "thing that looks like a msgid" of In-Reply-To is trusted; old clients
    add addresses and dates to it). Garbage, repeats and the message's own
    Message-ID are dropped; a chain longer than `MAX_CHAIN` keeps its root
    and the nearest parents. Accepts parsed lists or raw header text."""
    own = own_message_id(message_id) if message_id else None
    chain: list[str] = []
    seen: set[str] = set()
    for item in _ids_in(references):
        if item != own and item not in seen:
            seen.add(item)
            chain.append(item)
    parents = _ids_in(in_reply_to)
    if parents and parents[0] != own:
        parent = parents[0]
        if parent in seen:
            chain.remove(parent)
        chain.append(parent)
    if len(chain) > MAX_CHAIN:
        chain = [chain[0], *chain[-(MAX_CHAIN - 1) :]]
    return chain


def _address_set(items: Iterable[Any]) -> set[str]:
    """Lower-cased addresses of a `Message.to`/`cc` list."""
    result: set[str] = set()
    for item in items or ():
        address = item.get("address", "") if isinstance(item, dict) else ""
        if isinstance(address, str) and address:
            result.add(address.strip().lower())
    return result


def _addresses(message: Message) -> set[str]:
    """Every address of a message: sender and recipients."""
    addresses = _address_set(message.to) | _address_set(message.cc)
    if message.from_address:
        addresses.add(message.from_address.strip().lower())
    return addresses


def _external(addresses: set[str], own_domain: str) -> set[str]:
    """The addresses outside the agency's own domain. The shared mailbox is a
    recipient of nearly every inbound mail: having it in common says nothing
    about two messages being one conversation."""
    if not own_domain:
        return addresses
    return {
        a
        for a in addresses
        if not (a.endswith("@" + own_domain) or a.rpartition("@")[2].endswith("." + own_domain))
    }


def _message_moment(message: Message) -> datetime:
    """When the message was written (its Date header), or when it arrived
    when it has no usable date."""
    if message.date is not None:
        return message.date
    return message.raw.received_at


@transaction.atomic
def message_thread(*, message: Message) -> Thread:
    """Put a saved message into its thread, and return the thread.

    1. The message's Message-ID and its reference chain are looked up among
       the agency's `ThreadLink`s (one query). Every thread found — and the
       message's current one, so re-running keeps it — is merged into the
       one created first.
    2. Nothing found: the subject fallback (`_thread_by_subject`), else a
       new thread.
    3. Every identifier of the chain is linked to the thread, so that
       replies and parents arriving later find it.

    Idempotent, and a bounded number of queries whatever the thread's size.
    Message-IDs are unique per agency only: agencies never share a thread."""
    agency_id = message.agency_id
    moment = _message_moment(message)
    normalized, prefixed = _subject_parts(message.subject)
    normalized = normalized[:255]
    addresses = _addresses(message)
    # An address in angle brackets in In-Reply-To ("your message of … <user@host>")
    # is not a Message-ID: linking it would join every mail of that person.
    chain = [
        item
        for item in reference_chain(message.in_reply_to, message.references, message.message_id)
        if item not in addresses
    ]
    ids = [*chain, own_message_id(message.message_id)]

    found = set(
        ThreadLink.objects.filter(agency_id=agency_id, message_id__in=ids).values_list(
            "thread_id", flat=True
        )
    )
    if message.thread_id is not None:
        found.add(message.thread_id)
    thread = _threads_merge(agency_id=agency_id, thread_ids=found) if found else None
    if thread is None:
        participants = _external(addresses, message.agency.mail_domain.strip().lower())
        thread = _thread_by_subject(
            message=message,
            normalized_subject=normalized,
            moment=moment,
            participants=participants,
            is_reply=prefixed or bool(chain),
        )
    if thread is None:
        thread = Thread.objects.create(
            agency_id=agency_id,
            normalized_subject=normalized,
            first_message_at=moment,
            last_message_at=moment,
        )
    else:
        _thread_widen(thread, moment=moment, normalized_subject=normalized)

    ThreadLink.objects.bulk_create(
        [ThreadLink(agency_id=agency_id, message_id=item, thread=thread) for item in ids],
        ignore_conflicts=True,
    )
    # Another worker may have linked one of these identifiers to another
    # thread between our lookup and our insert (PostgreSQL, READ COMMITTED):
    # its links won, so the two threads are one.
    racing = set(
        ThreadLink.objects.filter(agency_id=agency_id, message_id__in=ids)
        .exclude(thread=thread)
        .values_list("thread_id", flat=True)
    )
    if racing:
        thread = _threads_merge(agency_id=agency_id, thread_ids={thread.pk, *racing}) or thread

    if message.thread_id != thread.pk:
        Message.objects.filter(pk=message.pk).update(thread=thread)
    message.thread = thread
    return thread


def _threads_merge(*, agency_id: int, thread_ids: set[int]) -> Thread | None:
    """Merge threads that turned out to be one conversation into the one
    created first (lowest id: the one staff and exports may already know),
    moving their messages and links; None when none of them exists any more.

    A constant number of queries: messages and links move in one UPDATE each.
    (When threads carry a dossier, a merge of threads filed differently will
    need a decision of the filing stage.)"""
    threads = list(
        Thread.objects.select_for_update()
        .filter(agency_id=agency_id, pk__in=thread_ids)
        .order_by("pk")
    )
    if not threads:
        return None
    keeper, absorbed = threads[0], threads[1:]
    if absorbed:
        absorbed_ids = [t.pk for t in absorbed]
        Message.objects.filter(thread_id__in=absorbed_ids).update(thread=keeper)
        ThreadLink.objects.filter(thread_id__in=absorbed_ids).update(thread=keeper)
        keeper.first_message_at = min(t.first_message_at for t in threads)
        keeper.last_message_at = max(t.last_message_at for t in threads)
        if not keeper.normalized_subject:
            keeper.normalized_subject = next(
                (t.normalized_subject for t in absorbed if t.normalized_subject), ""
            )
        keeper.save(update_fields=["first_message_at", "last_message_at", "normalized_subject"])
        Thread.objects.filter(pk__in=absorbed_ids).delete()
    return keeper


def _thread_widen(thread: Thread, *, moment: datetime, normalized_subject: str) -> None:
    """Stretch a thread's dates to include a message (they only widen: a
    re-parsed date does not shrink them), and give a subject to a thread
    that had none."""
    changed: list[str] = []
    if moment < thread.first_message_at:
        thread.first_message_at = moment
        changed.append("first_message_at")
    if moment > thread.last_message_at:
        thread.last_message_at = moment
        changed.append("last_message_at")
    if not thread.normalized_subject and normalized_subject:
        thread.normalized_subject = normalized_subject
        changed.append("normalized_subject")
    if changed:
        thread.save(update_fields=changed)


def _thread_by_subject(
    *,
    message: Message,
    normalized_subject: str,
    moment: datetime,
    participants: set[str],
    is_reply: bool,
) -> Thread | None:
    """The thread a message joins by subject alone, or None.

    JWZ groups by subject whatever the participants; a syndic's mailbox
    cannot: "Infiltration cave" comes from many co-owners about many
    buildings. A thread qualifies when it has the same normalised subject,
    not a generic one ("bonjour", "devis"…); it was active within
    `SUBJECT_WINDOW` of the message's date (before or after: mail arrives out
    of order); and one of its messages in that window has an external
    participant (sender or recipient outside the agency's domain) in common
    with this one.

    A message with neither a reply prefix nor reference headers starts a
    conversation: it may only join a thread that began after it (the
    original arriving after the replies to it), never a conversation already
    under way — a contractor's two separate mails with the same subject stay
    two threads. Among qualifying threads, the most recently active wins."""
    if not participants or subject_is_generic(normalized_subject):
        return None
    try:
        window_start, window_end = moment - SUBJECT_WINDOW, moment + SUBJECT_WINDOW
    except OverflowError:
        # A Date header at the edge of the calendar (year 1 or 9999): no
        # window to search, the message starts its own thread.
        return None
    candidates = Thread.objects.filter(
        agency_id=message.agency_id,
        normalized_subject=normalized_subject,
        last_message_at__gte=window_start,
        first_message_at__lte=window_end,
    )
    if not is_reply:
        candidates = candidates.filter(first_message_at__gt=moment)
    threads = list(candidates.order_by("-last_message_at", "-pk")[:SUBJECT_CANDIDATES])
    if not threads:
        return None
    rows = (
        Message.objects.filter(thread__in=[t.pk for t in threads])
        .filter(Q(date__isnull=True) | Q(date__range=(window_start, window_end)))
        .exclude(pk=message.pk)
        .order_by("-pk")
        .values_list("thread_id", "from_address", "to", "cc")[:SUBJECT_PARTICIPANT_ROWS]
    )
    return _subject_choice(threads, _participant_rows(rows), participants)


def _participant_rows(rows: Iterable[tuple[Any, str, Any, Any]]) -> list[tuple[Any, set[str]]]:
    """(thread id, its message's addresses) from (thread_id, from, to, cc) rows."""
    return [
        (thread_id, _address_set(to) | _address_set(cc) | {from_address.strip().lower()})
        for thread_id, from_address, to, cc in rows
    ]


def _subject_choice(
    threads: list[Any], rows: Iterable[tuple[Any, set[str]]], participants: set[str]
) -> Any | None:
    """The first of `threads` (most recently active first) one of whose
    messages (`rows`: thread key and addresses) shares a participant."""
    sharing = {thread_id for thread_id, addresses in rows if addresses & participants}
    return next((t for t in threads if t.pk in sharing), None)


# ---------------------------------------------------------------------------
# The thread stage for a batch of messages (bulk imports)


@dataclass(frozen=True)
class ThreadInput:
    """What the thread stage reads of a message about to be saved."""

    message_id: str
    in_reply_to: Sequence[str]
    references: Sequence[str]
    subject: str
    from_address: str
    to: Sequence[dict[str, str]]
    cc: Sequence[dict[str, str]]
    moment: datetime


@dataclass
class _Prepared:
    ids: list[str]
    chain: list[str]
    normalized: str
    is_reply: bool
    participants: set[str]
    addresses: set[str]
    moment: datetime


class ThreadBatch:
    """The thread stage over a batch of new messages, with the result of
    `message_thread` run on each in turn, for a handful of queries per batch
    instead of six or seven per message.

    The agency's links, the threads they name and the same-subject threads
    near the batch's dates are read in one query each; the messages are then
    threaded one after the other in memory, each seeing what the previous
    ones did (their links, the threads they created or widened, their
    participants); the new threads, the widened ones, merges and links are
    written at the end. Use: `assign(items)` before the messages are saved
    (it returns each message's saved `Thread`), then `finish()` once they are
    saved (links, and the merge with threads a concurrent writer created).

    One difference with `message_thread`: the subject fallback reads at most
    `SUBJECT_PARTICIPANT_ROWS` messages per subject of the batch rather than
    per message — the same bound, counted once."""

    def __init__(self, *, agency_id: int, own_domain: str) -> None:
        self.agency_id = agency_id
        self.own_domain = own_domain.strip().lower()
        self._links: dict[str, Thread] = {}
        self._new_links: dict[str, Thread] = {}
        self._created: list[Thread] = []
        self._order: dict[int, int] = {}  # id(thread) → creation rank, for new threads
        self._widened: dict[int, Thread] = {}
        self._merged: list[tuple[Thread, Thread]] = []  # (keeper, absorbed), both saved
        self._merged_new: list[tuple[Thread, Thread]] = []  # absorbed not saved yet
        self._assigned: list[Thread] = []

    # -- phase 1 ------------------------------------------------------------

    def assign(self, items: Sequence[ThreadInput]) -> list[Thread]:
        prepared = [self._prepare(item) for item in items]
        all_ids = {value for item in prepared for value in item.ids}
        for message_id, thread in self._existing_links(all_ids).items():
            self._links[message_id] = thread
        loaded = {id(t): t for t in self._links.values()}
        candidates, rows = self._subject_candidates(prepared, loaded)
        assigned: list[Thread] = []
        for item in prepared:
            thread = self._thread_for(item, candidates, rows)
            for value in item.ids:
                if self._links.get(value) is not thread:
                    self._links[value] = thread
                    self._new_links[value] = thread
            if item.participants:
                rows.append((thread, item.participants, item.moment))
            candidates.setdefault(id(thread), thread)
            assigned.append(thread)
        self._write_threads()
        # A merge later in the batch may have absorbed a thread assigned earlier.
        self._assigned = [self._keeper(t) for t in assigned]
        return self._assigned

    def _prepare(self, item: ThreadInput) -> _Prepared:
        normalized, prefixed = _subject_parts(item.subject)
        addresses = _address_set(item.to) | _address_set(item.cc)
        if item.from_address:
            addresses.add(item.from_address.strip().lower())
        chain = [
            value
            for value in reference_chain(item.in_reply_to, item.references, item.message_id)
            if value not in addresses
        ]
        return _Prepared(
            ids=[*chain, own_message_id(item.message_id)],
            chain=chain,
            normalized=normalized[:255],
            is_reply=prefixed or bool(chain),
            participants=_external(addresses, self.own_domain),
            addresses=addresses,
            moment=item.moment,
        )

    def _existing_links(self, ids: set[str]) -> dict[str, Thread]:
        pairs = list(
            ThreadLink.objects.filter(agency_id=self.agency_id, message_id__in=ids).values_list(
                "message_id", "thread_id"
            )
        )
        threads = Thread.objects.in_bulk({thread_id for _id, thread_id in pairs})
        return {message_id: threads[thread_id] for message_id, thread_id in pairs}

    def _subject_candidates(
        self, prepared: list[_Prepared], loaded: dict[int, Thread]
    ) -> tuple[dict[int, Thread], list[tuple[Thread, set[str], datetime | None]]]:
        """Threads the subject fallback may choose from, and their messages'
        participants: one query each, over the batch's subjects and dates."""
        wanted = [
            item
            for item in prepared
            if item.participants and not subject_is_generic(item.normalized)
        ]
        candidates: dict[int, Thread] = dict(loaded)
        rows: list[tuple[Thread, set[str], datetime | None]] = []
        if not wanted:
            return candidates, rows
        try:
            start = min(item.moment for item in wanted) - SUBJECT_WINDOW
            end = max(item.moment for item in wanted) + SUBJECT_WINDOW
        except OverflowError:
            return candidates, rows
        found = Thread.objects.filter(
            agency_id=self.agency_id,
            normalized_subject__in={item.normalized for item in wanted},
            last_message_at__gte=start,
            first_message_at__lte=end,
        ).order_by("-last_message_at", "-pk")
        per_subject: dict[str, int] = {}
        for thread in found:
            count = per_subject.get(thread.normalized_subject, 0)
            if count < SUBJECT_CANDIDATES:
                per_subject[thread.normalized_subject] = count + 1
                candidates.setdefault(id(thread), thread)
        saved = {t.pk: t for t in candidates.values() if t.pk is not None}
        if saved:
            limit = SUBJECT_PARTICIPANT_ROWS * max(1, len(per_subject))
            query = (
                Message.objects.filter(thread__in=list(saved))
                .filter(Q(date__isnull=True) | Q(date__range=(start, end)))
                .order_by("-pk")
                .values_list("thread_id", "from_address", "to", "cc", "date")[:limit]
            )
            for thread_id, from_address, to, cc, date in query:
                addresses = _address_set(to) | _address_set(cc) | {from_address.strip().lower()}
                rows.append((saved[thread_id], addresses, date))
        return candidates, rows

    def _thread_for(
        self,
        item: _Prepared,
        candidates: dict[int, Thread],
        rows: list[tuple[Thread, set[str], datetime | None]],
    ) -> Thread:
        found: dict[int, Thread] = {}
        for value in item.ids:
            thread = self._links.get(value)
            if thread is not None:
                thread = self._keeper(thread)
                found[id(thread)] = thread
        if found:
            thread = self._merge(list(found.values()))
        else:
            chosen = self._by_subject(item, candidates, rows)
            if chosen is None:
                thread = Thread(
                    agency_id=self.agency_id,
                    normalized_subject=item.normalized,
                    first_message_at=item.moment,
                    last_message_at=item.moment,
                )
                self._order[id(thread)] = len(self._created)
                self._created.append(thread)
                return thread
            thread = chosen
        self._widen(thread, item)
        return thread

    def _by_subject(
        self,
        item: _Prepared,
        candidates: dict[int, Thread],
        rows: list[tuple[Thread, set[str], datetime | None]],
    ) -> Thread | None:
        """`_thread_by_subject`, in memory (see its docstring for the rules)."""
        if not item.participants or subject_is_generic(item.normalized):
            return None
        try:
            start, end = item.moment - SUBJECT_WINDOW, item.moment + SUBJECT_WINDOW
        except OverflowError:
            return None
        threads = [
            thread
            for thread in (self._keeper(t) for t in candidates.values())
            if thread.normalized_subject == item.normalized
            and thread.last_message_at >= start
            and thread.first_message_at <= end
            and (item.is_reply or thread.first_message_at > item.moment)
        ]
        if not threads:
            return None
        threads.sort(key=self._recency, reverse=True)
        threads = list({id(t): t for t in threads}.values())[:SUBJECT_CANDIDATES]
        sharing = {
            id(self._keeper(thread))
            for thread, addresses, date in rows
            if (date is None or start <= date <= end) and addresses & item.participants
        }
        return next((t for t in threads if id(t) in sharing), None)

    def _recency(self, thread: Thread) -> tuple[datetime, int]:
        return (thread.last_message_at, self._rank(thread))

    def _rank(self, thread: Thread) -> int:
        """Creation order: saved threads by id, then the batch's new ones."""
        return thread.pk if thread.pk is not None else 2**62 + self._order[id(thread)]

    def _keeper(self, thread: Thread) -> Thread:
        for keeper, absorbed in self._merged_pairs():
            if absorbed is thread:
                return self._keeper(keeper)
        return thread

    def _merged_pairs(self) -> list[tuple[Thread, Thread]]:
        return self._merged + self._merged_new

    def _merge(self, threads: list[Thread]) -> Thread:
        """Threads found to be one conversation: the one created first keeps
        the others' links and dates (`_threads_merge`, in memory)."""
        threads.sort(key=self._rank)
        keeper, absorbed = threads[0], threads[1:]
        for other in absorbed:
            if other.pk is not None:
                self._merged.append((keeper, other))
            else:
                self._merged_new.append((keeper, other))
                self._created.remove(other)
            for value, thread in list(self._links.items()):
                if thread is other:
                    self._links[value] = keeper
                    self._new_links[value] = keeper
            if other.first_message_at < keeper.first_message_at:
                keeper.first_message_at = other.first_message_at
                self._touch(keeper)
            if other.last_message_at > keeper.last_message_at:
                keeper.last_message_at = other.last_message_at
                self._touch(keeper)
            if not keeper.normalized_subject and other.normalized_subject:
                keeper.normalized_subject = other.normalized_subject
                self._touch(keeper)
        return keeper

    def _widen(self, thread: Thread, item: _Prepared) -> None:
        if item.moment < thread.first_message_at:
            thread.first_message_at = item.moment
            self._touch(thread)
        if item.moment > thread.last_message_at:
            thread.last_message_at = item.moment
            self._touch(thread)
        if not thread.normalized_subject and item.normalized:
            thread.normalized_subject = item.normalized
            self._touch(thread)

    def _touch(self, thread: Thread) -> None:
        if thread.pk is not None:
            self._widened[id(thread)] = thread

    def _write_threads(self) -> None:
        if self._created:
            rows_create(self._created)
        absorbed_ids = {absorbed.pk for _keeper, absorbed in self._merged}
        widened = [t for t in self._widened.values() if t.pk not in absorbed_ids]
        if widened:
            Thread.objects.bulk_update(
                widened, ["first_message_at", "last_message_at", "normalized_subject"]
            )

    # -- phase 2 ------------------------------------------------------------

    def finish(self) -> None:
        """Once the messages are saved: move what the merged threads held,
        write the new links, and merge with any thread a concurrent writer
        linked one of them to meanwhile (as `message_thread` does)."""
        for keeper, absorbed in self._merged:
            final = self._keeper(keeper)
            _threads_merge(agency_id=self.agency_id, thread_ids={final.pk, absorbed.pk})
        links = {value: self._keeper(thread) for value, thread in self._new_links.items()}
        ThreadLink.objects.bulk_create(
            [
                ThreadLink(agency_id=self.agency_id, message_id=value, thread=thread)
                for value, thread in links.items()
            ],
            ignore_conflicts=True,
        )
        # Links that already existed point to their old thread: move them.
        moved: dict[int, set[int]] = {}
        existing = ThreadLink.objects.filter(
            agency_id=self.agency_id, message_id__in=list(links)
        ).values_list("message_id", "thread_id")
        for message_id, thread_id in existing:
            wanted = links[message_id]
            if thread_id != wanted.pk:
                moved.setdefault(wanted.pk, set()).add(thread_id)
        for thread_id, others in moved.items():
            _threads_merge(agency_id=self.agency_id, thread_ids={thread_id, *others})
