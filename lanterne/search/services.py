"""Writes on the search index: (re)building the `SearchDocument` of objects.

The write services ask for their objects to be indexed as they write
(`search_index_schedule`: done once the transaction commits) —
`dossiers.services` (dossiers, entries, audiences), `mail.services` and
`mail.batch` (a message parsed), `mail.filing` (mail moved with its
conversation, or taken out of a dossier) and `mail.publication` (mail
published or unmasked). `search_index_rebuild` (`lanterne search-reindex`)
rebuilds everything, e.g. after a restore.

Indexing reads the objects again from the database by id rather than
trusting instances passed around: several services change audiences with
`QuerySet.update`, which leaves instances in memory stale."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Left
from django.utils import timezone

from lanterne.core.rows import rows_create
from lanterne.documents.models import Document
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Decision, Dossier, Note, Task
from lanterne.dossiers.policy import Viewer
from lanterne.mail.models import Attachment, Message

from .backends import CONFIG
from .choices import SearchKind
from .models import SearchDocument
from .query import strip_sentinels

__all__ = [
    "search_documents_index",
    "search_entry_index",
    "search_index_flush",
    "search_index_rebuild",
    "search_index_schedule",
]

# Objects indexed per round of statements when rebuilding.
REBUILD_BATCH = 500
# The text of files (a mail's attachments together, a document) an index row
# holds at most: enough for what anyone searches in a quote or a report,
# and a row's vector and snippets stay cheap.
FILE_TEXT_MAX = 100_000


def _masked_file_text(text: str) -> str:
    """The text of an attached or uploaded file as readers outside the
    agency find and are quoted it: every piece of personal data found in it
    masked — a file's text has no recorded spans, no kept contacts, and no
    reader's own data revealed."""
    from lanterne.mail import redaction

    spans = redaction.personal_data_spans(text)
    return redaction.masked(text, spans) if spans else text


def _file_words(filename: str) -> str:
    """A file name as words: « devis-plomberie.pdf » is one token to
    PostgreSQL's parser (a host name), « devis-plomberie pdf » is the words
    devis and plomberie."""
    return re.sub(r"[._]+", " ", filename).strip()


def _texts(*parts: str) -> str:
    return "\n\n".join(strip_sentinels(part).strip() for part in parts if part and part.strip())


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _document(
    *,
    kind: SearchKind,
    agency_id: int,
    dossier: Dossier | None,
    audience: str,
    date: dt.datetime,
    title: str,
    body: str,
    more: str,
    public: tuple[str, str, str] | None = None,
    **pointer: Any,
) -> SearchDocument:
    """One index row. The public texts are those given, else the texts
    themselves — and none while the object is internal (or in no dossier),
    since nobody but staff may find it."""
    shown_beyond_staff = dossier is not None and audience not in ("", Audience.INTERNAL)
    public_title, public_body, public_more = public or (title, body, more)
    if not shown_beyond_staff:
        public_title = public_body = public_more = ""
    return SearchDocument(
        kind=kind,
        agency_id=agency_id,
        condominium_id=dossier.condominium_id if dossier is not None else None,
        dossier=dossier,
        audience=audience,
        date=date,
        title=title,
        body=body,
        more=more,
        public_title=public_title,
        public_body=public_body,
        public_more=public_more,
        **pointer,
    )


def _dossier_rows(ids: set[int]) -> list[SearchDocument]:
    return [
        _document(
            kind=SearchKind.DOSSIER,
            agency_id=dossier.agency_id,
            dossier=dossier,
            audience=dossier.audience,
            date=_day_start(dossier.opened_on),
            title=_texts(dossier.title),
            body=_texts(dossier.description),
            more=_texts(dossier.reference),
        )
        for dossier in Dossier.objects.filter(pk__in=ids)
    ]


def _entry_rows(model: Any, kind: SearchKind, ids: set[int]) -> list[SearchDocument]:
    """Notes, decisions, tasks and documents of dossiers (a document of a
    condominium's space, outside dossiers, is not indexed)."""
    rows = []
    objects = model.objects.filter(pk__in=ids, dossier__isnull=False).select_related("dossier")
    if kind == SearchKind.DOCUMENT:
        # The text is left out of documents' queries unless asked for.
        objects = objects.annotate(indexed_text=Left("text", FILE_TEXT_MAX))
    for obj in objects:
        if kind in (SearchKind.NOTE, SearchKind.DECISION):
            texts = ("", obj.text, "")
            date = obj.created_at
        elif kind == SearchKind.TASK:
            texts = (obj.title, obj.description, "")
            date = obj.created_at
        else:
            # Its title, its text (`documents.texts`), its file name.
            texts = (obj.title, obj.indexed_text or "", _file_words(obj.filename))
            date = obj.uploaded_at
        title, body, more = (_texts(text) for text in texts)
        public = None
        if kind == SearchKind.DOCUMENT and body:
            public = (title, _texts(_masked_file_text(texts[1])), more)
        rows.append(
            _document(
                kind=kind,
                agency_id=obj.dossier.agency_id,
                dossier=obj.dossier,
                audience=obj.audience,
                date=date,
                title=title,
                body=body,
                more=more,
                public=public,
                **{kind.value: obj},
            )
        )
    return rows


def _message_rows(ids: set[int]) -> list[SearchDocument]:
    """A mail: its subject; its new text; its quoted text, signature, the
    names of its attached files (inline images and signature logos are not
    files anyone attached) and their text (`documents.texts`, at most
    `FILE_TEXT_MAX` characters for all of them). Published, its public
    texts are those served to readers outside the agency: personal data
    masked, unless staff unmasked the mail (`publication.message_texts_for`;
    for the files' text, `_masked_file_text`)."""
    from lanterne.mail.publication import message_texts_for

    messages = list(
        Message.objects.filter(pk__in=ids)
        .select_related("dossier")
        .defer("html", "headers", "defects", "suggestions")
    )
    files: dict[int, list[str]] = defaultdict(list)
    file_texts: dict[int, list[str]] = defaultdict(list)
    room: dict[int, int] = defaultdict(lambda: FILE_TEXT_MAX)
    for message_id, filename, text in (
        Attachment.objects.filter(
            message_id__in=[m.pk for m in messages], is_inline=False, is_signature_logo=False
        )
        .order_by("message_id", "position")
        .values_list("message_id", "filename", Left("text", FILE_TEXT_MAX))
    ):
        files[message_id].append(_file_words(filename))
        if text and room[message_id] > 0:
            file_texts[message_id].append(text[: room[message_id]])
            room[message_id] -= len(text)
    nobody = Viewer.anonymous()
    rows = []
    for message in messages:
        names = "\n".join(files.get(message.pk, []))
        attached = "\n\n".join(file_texts.get(message.pk, []))
        texts = (
            message.subject,
            message.new_text or message.text,
            message.quoted_text,
            message.signature,
        )
        public = None
        if (
            message.dossier is not None
            and message.audience not in ("", Audience.INTERNAL)
            and not message.unmasked
        ):
            # The texts as a reader with no data of their own in the mail is
            # served them: every span masked.
            served = message_texts_for(nobody, message, reveal=frozenset())
            texts = (
                served.subject,
                served.new_text or served.text,
                served.quoted_text,
                served.signature,
            )
            public = (
                _texts(texts[0]),
                _texts(texts[1]),
                _texts(texts[2], texts[3], names, _masked_file_text(attached)),
            )
        rows.append(
            _document(
                kind=SearchKind.MESSAGE,
                agency_id=message.agency_id,
                dossier=message.dossier,
                audience=message.audience if message.dossier is not None else "",
                date=message.date or message.parsed_at,
                title=_texts(message.subject),
                body=_texts(message.new_text or message.text),
                more=_texts(message.quoted_text, message.signature, names, attached),
                public=public,
                message=message,
            )
        )
    return rows


def _vector(*columns: str) -> Any:
    weights = ("A", "B", "C")
    vector: Any = SearchVector(columns[0], weight=weights[0], config=CONFIG)
    for column, weight in zip(columns[1:], weights[1:], strict=True):
        vector = vector + SearchVector(column, weight=weight, config=CONFIG)
    return vector


def _write(rows: list[SearchDocument], stale: Q) -> None:
    """Replace the index rows matched by `stale` with `rows`. On PostgreSQL
    the vectors are computed by the database from the stored texts; on
    SQLite the triggers of `search_fts` follow the inserts and deletes."""
    SearchDocument.objects.filter(stale).delete()
    created = rows_create(rows)
    if created and connection.vendor == "postgresql":
        SearchDocument.objects.filter(pk__in=[row.pk for row in created]).update(
            vector=_vector("title", "body", "more"),
            public_vector=_vector("public_title", "public_body", "public_more"),
        )


@transaction.atomic
def search_documents_index(
    *,
    dossier_ids: Iterable[int] = (),
    message_ids: Iterable[int] = (),
    note_ids: Iterable[int] = (),
    decision_ids: Iterable[int] = (),
    task_ids: Iterable[int] = (),
    document_ids: Iterable[int] = (),
) -> int:
    """(Re)build the index rows of these objects from what the database
    holds now, in a handful of statements whatever their number; an object
    that no longer exists (or a document outside dossiers) loses its row.
    Returns the number of rows written."""
    wanted = {
        SearchKind.DOSSIER: set(dossier_ids),
        SearchKind.MESSAGE: set(message_ids),
        SearchKind.NOTE: set(note_ids),
        SearchKind.DECISION: set(decision_ids),
        SearchKind.TASK: set(task_ids),
        SearchKind.DOCUMENT: set(document_ids),
    }
    if not any(wanted.values()):
        return 0
    rows: list[SearchDocument] = []
    stale = Q(pk__in=[])
    if wanted[SearchKind.DOSSIER]:
        rows += _dossier_rows(wanted[SearchKind.DOSSIER])
        stale |= Q(kind=SearchKind.DOSSIER, dossier_id__in=wanted[SearchKind.DOSSIER])
    if wanted[SearchKind.MESSAGE]:
        rows += _message_rows(wanted[SearchKind.MESSAGE])
        stale |= Q(message_id__in=wanted[SearchKind.MESSAGE])
    for kind, model in (
        (SearchKind.NOTE, Note),
        (SearchKind.DECISION, Decision),
        (SearchKind.TASK, Task),
        (SearchKind.DOCUMENT, Document),
    ):
        if wanted[kind]:
            rows += _entry_rows(model, kind, wanted[kind])
            stale |= Q(**{f"{kind.value}_id__in": wanted[kind]})
    _write(rows, stale)
    return len(rows)


def _id_batches(queryset: Any, size: int) -> Iterator[list[int]]:
    """The ids of `queryset` in batches, by increasing id (keyset: no
    OFFSET, whatever the table's size)."""
    last = 0
    while True:
        batch = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1]


def search_index_rebuild(
    *,
    agency_id: int | None = None,
    batch_size: int = REBUILD_BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Rebuild the index of every object (of one agency, or of all), one
    transaction per batch: the index stays usable while it is rebuilt, and a
    rebuild cut short is simply run again. (Rows of deleted objects go with
    them: their foreign keys cascade.) Returns the number of rows written
    per kind."""
    sources: list[tuple[SearchKind, Any, str]] = [
        (SearchKind.DOSSIER, Dossier.objects.all(), "dossier_ids"),
        (SearchKind.NOTE, Note.objects.all(), "note_ids"),
        (SearchKind.DECISION, Decision.objects.all(), "decision_ids"),
        (SearchKind.TASK, Task.objects.all(), "task_ids"),
        (SearchKind.DOCUMENT, Document.objects.filter(dossier__isnull=False), "document_ids"),
        (SearchKind.MESSAGE, Message.objects.all(), "message_ids"),
    ]
    counts: dict[str, int] = {}
    for kind, queryset, argument in sources:
        if agency_id is not None:
            field = (
                "agency_id"
                if kind in (SearchKind.DOSSIER, SearchKind.MESSAGE)
                else ("dossier__agency_id")
            )
            queryset = queryset.filter(**{field: agency_id})
        written = 0
        for ids in _id_batches(queryset, batch_size):
            written += search_documents_index(**{argument: ids})
            if progress is not None:
                progress(kind.value, written)
        counts[kind.value] = written
    return counts


# The argument of `search_documents_index` for the object of each kind of
# timeline entry (status changes are not searched).
_ENTRY_ARGUMENT = {
    "note": "note_ids",
    "decision": "decision_ids",
    "task": "task_ids",
    "document": "document_ids",
    "message": "message_ids",
}


def search_entry_index(entry: Any) -> None:
    """Index the object a timeline entry is about: the hook of
    `dossiers.services.timeline_entry_record` (a new note, decision, task,
    document, or mail filed) and of `entry_set_audience`."""
    argument = _ENTRY_ARGUMENT.get(entry.kind)
    if argument is not None:
        search_index_schedule(**{argument: [getattr(entry, f"{entry.kind}_id")]})


# The objects waiting to be indexed when the current transaction commits, per
# database connection (Django's connections are per thread).
_PENDING = "_lanterne_search_pending"


def search_index_schedule(**ids: Iterable[int]) -> None:
    """Index these objects (`search_documents_index`'s arguments) once the
    transaction commits — at once outside a transaction.

    The write services call this as they write. Indexing on commit keeps a
    write as cheap as before (a filing, a batch of imported mail), does the
    work once for everything a transaction touched, and never indexes what
    a rollback undid: indexing reads the objects as committed. Should it
    fail or lag, the policy hides from readers any row that no longer says
    what its object says (`policy.search_scope`), and `search-reindex`
    catches up; a search flushes what its own transaction wrote first."""
    pending: dict[str, set[int]] | None = getattr(connection, _PENDING, None)
    # What waits belongs to the transaction whose commit will flush it: when
    # that transaction was rolled back, Django dropped the flush, and what
    # it had scheduled is dropped with it rather than carried into the next.
    awaited = pending is not None and connection.in_atomic_block and _flush_awaited()
    if not awaited:
        pending = defaultdict(set)
        setattr(connection, _PENDING, pending)
    assert pending is not None
    for argument, values in ids.items():
        pending[argument].update(values)
    if not awaited:
        transaction.on_commit(_search_index_flush_committed, robust=True)


def _flush_awaited() -> bool:
    """Whether the current transaction will flush the pending index work on
    commit (Django's list of on-commit callbacks: (savepoints, function,
    robust), emptied of those of a rolled-back savepoint)."""
    return any(
        function is _search_index_flush_committed
        for _ids, function, _robust in connection.run_on_commit
    )


def _search_index_flush_committed() -> int:
    """The on-commit flush: index now, or, when a task queue is configured,
    enqueue the indexing for a worker (`tasks.search_documents_index_run`), so
    that a request does not wait for it. Inside a task (a worker that just
    processed mail) the indexing runs there, not queued once more."""
    from lanterne.core.tasks import side_work_in_process

    if side_work_in_process():
        return search_index_flush()
    pending: dict[str, set[int]] | None = getattr(connection, _PENDING, None)
    if not pending:
        return 0
    setattr(connection, _PENDING, None)
    from .tasks import search_documents_index_run

    search_documents_index_run.enqueue({key: sorted(ids) for key, ids in pending.items()})
    return 0


def search_index_flush() -> int:
    """Index now what `search_index_schedule` was asked for on this
    connection; nothing (no query) when nothing waits."""
    pending: dict[str, set[int]] | None = getattr(connection, _PENDING, None)
    if not pending:
        return 0
    setattr(connection, _PENDING, None)
    return search_documents_index(**pending)
