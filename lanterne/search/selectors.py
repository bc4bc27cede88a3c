"""Reads of the search index, with the access policy inside the query.

`search_page` answers one page of results in a constant number of queries,
whatever the number of matches: the count, the page (ranked), the
highlighted snippets of that page, the timeline entries the results link
to, and the attachments whose text a mail was found by. What `viewer` may
not see is never matched — it adds nothing to the count and lends no
snippet (`policy.search_scope`).

Ranking: the loose words found side by side (as typed) first, then
PostgreSQL's cover density rank (`ts_rank_cd`: words close together, in the
title rather than the quoted text, score higher) or, on SQLite, FTS5's BM25
(title weighted above the text, above the quoted text); ties newest first."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorExact,
    SearchVectorField,
)
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import (
    Coalesce,
    Concat,
    Greatest,
    Least,
    Length,
    Replace,
    StrIndex,
    Substr,
)
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from lanterne.dossiers import policy
from lanterne.dossiers.choices import EntryEvent
from lanterne.dossiers.models import TimelineEntry
from lanterne.dossiers.selectors import encode_cursor
from lanterne.mail.models import Attachment

from .backends import CONFIG, FTS
from .choices import KIND_LABELS, SearchKind, SearchOrder
from .models import SearchDocument
from .query import (
    LESS_THAN,
    MARK_START,
    MARK_STOP,
    ParsedQuery,
    fts_expression,
    fts_phrase_expression,
    locator_pattern,
    parse,
    tsquery_text,
    tsquery_words_text,
)
from .services import search_index_flush

PAGE_SIZE = 20
# Matches counted at most: beyond, the page says « plus de 1 000 résultats ».
# Counting every match of a common word over a million mails (« fuite »
# matches almost half of a syndic's mail) costs seconds; nobody reads past
# the fiftieth page of results.
COUNT_LIMIT = 1000
# Matches ranked by relevance at most: when there are more, the most recent
# ones (the words' order in a reader's mind is « recent first, then
# relevant »). Ranking every match of a common word costs seconds too; a
# precise query, under the limit, is ranked over all its matches.
RANKED_LIMIT = 1000
# A phrase is looked for among this many of the most recent rows holding its
# words, before all of them (`_matches`).
PHRASE_CANDIDATES = 2 * (COUNT_LIMIT + 1)
# …among those of this last period first (`_matches`).
PHRASE_RECENT = dt.timedelta(days=30)
# The passage shown under a result is looked for in this many characters of
# its texts first, from a little before the likely first place of the words
# (`_PostgreSQL.highlights`).
HEADLINE_CHARACTERS = 800
HEADLINE_BEFORE = 60
ORIGINAL_COLUMNS = ("title", "body", "more")
PUBLIC_COLUMNS = ("public_title", "public_body", "public_more")
_EMPTY_VECTOR = Value("", output_field=SearchVectorField())
# The pointer of each kind of row to the object its timeline entry is about.
_POINTERS = ("message", "note", "decision", "task", "document")


@dataclass(frozen=True)
class SearchFilters:
    """What the results are narrowed to, besides the words."""

    condominium_id: int | None = None
    dossier_id: int | None = None
    kinds: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    order: str = SearchOrder.RELEVANCE

    def apply(self, documents: QuerySet[SearchDocument]) -> QuerySet[SearchDocument]:
        if self.condominium_id is not None:
            documents = documents.filter(condominium_id=self.condominium_id)
        if self.dossier_id is not None:
            documents = documents.filter(dossier_id=self.dossier_id)
        if self.kinds:
            documents = documents.filter(kind__in=self.kinds)
        if self.date_from is not None:
            documents = documents.filter(date__gte=_day_start(self.date_from))
        if self.date_to is not None:
            documents = documents.filter(date__lt=_day_start(self.date_to + dt.timedelta(days=1)))
        return documents


@dataclass(frozen=True)
class SearchResult:
    """One result as the page shows it: the index row (with its dossier and
    condominium), its title and snippet with the words found in <mark>
    (everything else escaped), and the link to it."""

    document: SearchDocument
    title_html: SafeString
    snippet_html: SafeString
    url: str
    # For a mail found through the text of one of its attachments: its name.
    found_in_file: str = ""

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[SearchKind(self.document.kind)])


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    total: int  # at most COUNT_LIMIT
    number: int
    page_size: int = PAGE_SIZE
    query: ParsedQuery = field(default_factory=lambda: ParsedQuery(clauses=()))
    more_than_total: bool = False  # more matches than `total` (COUNT_LIMIT) exist

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _marked(text: str | None) -> SafeString:
    """`text` escaped, its highlight sentinels turned into <mark>. The
    indexed texts hold no sentinel of their own (`query.strip_sentinels`)."""
    shown = escape(" ".join((text or "").split()))
    return mark_safe(  # noqa: S308 - escaped above; only our sentinels become tags
        shown.replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>")
    )


def _either(scope: policy.SearchScope, original: Any, public: Any, output_field: Any) -> Any:
    """An expression computed on the original texts for the rows read as
    staff, on the public texts for the others."""
    if scope.published is None:
        return original
    if scope.original is None:
        return public
    return Case(When(scope.original, then=original), default=public, output_field=output_field)


def _all_of(clauses: Iterable[str]) -> SearchQuery:
    """A `to_tsquery` of clauses that must all be found."""
    return SearchQuery(
        " & ".join(f"({clause})" for clause in clauses), config=CONFIG, search_type="raw"
    )


def _unindexed(column: str, tsquery: SearchQuery) -> Q:
    """`column @@ tsquery` in a form the word index cannot answer."""
    return Q(SearchVectorExact(Coalesce(column, _EMPTY_VECTOR), tsquery))


def _matching(scope: policy.SearchScope, original: Q, public: Q) -> Q:
    """Rows read as staff matched on their original texts, the others on
    their public texts."""
    found = Q(pk__in=[])
    if scope.original is not None:
        found |= scope.original & original
    if scope.published is not None:
        found |= scope.published & public
    return found


class _PostgreSQL:
    """Stored `tsvector`s in the `lanterne_fr` configuration, GIN-indexed."""

    def __init__(self, query: ParsedQuery) -> None:
        self.tsquery = _all_of(tsquery_text(clause) for clause in query.clauses)
        # The query with its phrases loosened to their words, when it has
        # phrases: the word index finds its rows without reading them.
        self.words_tsquery = (
            _all_of(tsquery_words_text(clause) for clause in query.clauses)
            if any(clause.is_phrase for clause in query.clauses)
            else None
        )
        self.locator = locator_pattern(query)
        words = query.loose_words
        self.phrase = (
            SearchQuery(" <-> ".join(f"'{w}'" for w in words), config=CONFIG, search_type="raw")
            if len(words) > 1
            else None
        )

    def matching(self, scope: policy.SearchScope, *, indexed: bool = True) -> Q:
        """The rows the query matches. Not `indexed`: each row is checked
        (for a few rows known otherwise), the word index is not read."""
        original = Q(vector=self.tsquery) if indexed else _unindexed("vector", self.tsquery)
        public = Q(public_vector=self.tsquery)
        if scope.narrow or not indexed:
            # The same test, in a form the word index cannot answer: the
            # database then starts from the reader's few rows and checks
            # each, instead of reading every row a common word matches
            # (350,000 for « fuite ») to keep the few hundred of theirs.
            public = _unindexed("public_vector", self.tsquery)
        return _matching(scope, original, public)

    def matching_words(self, scope: policy.SearchScope) -> Q | None:
        """The rows holding the query's words, its phrases loosened (more
        rows than `matching`), found by the word index; None when the query
        has no phrase, or when the reader's rows are few (`scope.narrow`)
        and each is checked anyway."""
        if self.words_tsquery is None or scope.narrow:
            return None
        return _matching(scope, Q(vector=self.words_tsquery), Q(public_vector=self.words_tsquery))

    def ranked(
        self, documents: QuerySet[SearchDocument], scope: policy.SearchScope
    ) -> QuerySet[Any]:
        rank = _either(
            scope,
            SearchRank(F("vector"), self.tsquery, cover_density=True),
            SearchRank(F("public_vector"), self.tsquery, cover_density=True),
            FloatField(),
        )
        phrase: Any = Value(0)
        if self.phrase is not None:
            phrase = _either(
                scope,
                Case(When(vector=self.phrase, then=Value(1)), default=Value(0)),
                Case(When(public_vector=self.phrase, then=Value(1)), default=Value(0)),
                IntegerField(),
            )
        return documents.annotate(search_rank=rank, search_phrase=phrase)

    def highlights(
        self, scope: policy.SearchScope, documents: Sequence[Any]
    ) -> dict[int, tuple[str, str, str]]:
        """The title and a passage of each document with the words marked.

        `ts_headline` parses and stems all the text it is given: a page of
        long mails (25,000 characters each) took 50 ms. It is given
        `HEADLINE_CHARACTERS` of the new and quoted texts, from a little
        before the first place one of the query's words seems to be
        (`query.locator_pattern`, a plain regular expression, some fifty
        times cheaper to run than the parse), or from the beginning when
        none is seen; then, for the rows whose words were neither there nor
        in the title, the whole texts."""
        pks = [d.pk for d in documents]
        shown = self._highlights(scope, pks, whole=False)
        later = [
            pk
            for pk, (title, text, whole) in shown.items()
            if MARK_START not in title + text and not whole
        ]
        if later:
            shown.update(self._highlights(scope, later, whole=True))
        return {pk: (title, text, "") for pk, (title, text, _) in shown.items()}

    def _window(self, text: Any, length: Any) -> Any:
        """`HEADLINE_CHARACTERS` of `text` (`length` characters long) from
        `HEADLINE_BEFORE` before the first place the locator sees, else from
        the beginning; without the end of a word it may begin with."""
        found: Any = Value(0)
        if self.locator is not None:
            seen = Func(text, Value(self.locator), function="substring", arg_joiner=" from ")
            found = Coalesce(StrIndex(text, seen), 0)
        start = Greatest(Least(found - HEADLINE_BEFORE, length - HEADLINE_CHARACTERS + 1), Value(1))
        # One character more, the one before the window (a space before the
        # text's first): when it is not a blank, the window begins inside a
        # word, whose end is dropped.
        spaced = Concat(Value(" "), text, output_field=TextField())
        window = Substr(spaced, start, HEADLINE_CHARACTERS + 1)
        return Func(window, Value(r"^\S*"), Value(""), function="regexp_replace")

    def _highlights(
        self, scope: policy.SearchScope, pks: list[int], *, whole: bool
    ) -> dict[int, tuple[str, str, bool]]:
        """(title, passage, whether the passage was looked for in the whole
        texts) of each row: in their window (`_window`) unless `whole`."""

        def headline(expression: Any, **options: Any) -> SearchHeadline:
            return SearchHeadline(
                expression,
                self.tsquery,
                config=CONFIG,
                start_sel=MARK_START,
                stop_sel=MARK_STOP,
                **options,
            )

        def title(column: str) -> Any:
            return Replace(F(column), Value("<"), Value(LESS_THAN))

        def length(columns: tuple[str, ...]) -> Any:
            # The new text, a blank line, the quoted text.
            return F(f"{columns[1]}_length") + F(f"{columns[2]}_length") + 2

        def text(columns: tuple[str, ...]) -> Any:
            joined: Any = Concat(
                F(columns[1]), Value("\n\n"), F(columns[2]), output_field=TextField()
            )
            if not whole:
                joined = self._window(joined, length(columns))
            return Replace(joined, Value("<"), Value(LESS_THAN))

        def in_full(columns: tuple[str, ...]) -> Any:
            if whole:
                return Value(True)
            return LessThanOrEqual(length(columns), HEADLINE_CHARACTERS)

        # One passage around the words found (the whole text when short).
        snippet = {"max_words": 35, "min_words": 15}
        rows = (
            SearchDocument.objects.filter(pk__in=pks)
            .annotate(
                **{
                    f"{column}_length": Length(column)
                    for column in (*ORIGINAL_COLUMNS[1:], *PUBLIC_COLUMNS[1:])
                }
            )
            .annotate(
                shown_title=_either(
                    scope,
                    headline(title("title"), highlight_all=True),
                    headline(title("public_title"), highlight_all=True),
                    None,
                ),
                shown_text=_either(
                    scope,
                    headline(text(ORIGINAL_COLUMNS), **snippet),
                    headline(text(PUBLIC_COLUMNS), **snippet),
                    None,
                ),
                shown_whole=_either(
                    scope,
                    ExpressionWrapper(in_full(ORIGINAL_COLUMNS), output_field=BooleanField()),
                    ExpressionWrapper(in_full(PUBLIC_COLUMNS), output_field=BooleanField()),
                    BooleanField(),
                ),
            )
            .values_list("pk", "shown_title", "shown_text", "shown_whole")
        )
        return {
            pk: (
                shown_title.replace(LESS_THAN, "<"),
                shown_text.replace(LESS_THAN, "<"),
                shown_whole,
            )
            for pk, shown_title, shown_text, shown_whole in rows
        }


class _SQLite:
    """The FTS5 table `search_fts`: BM25 ranking, light French stemming by
    prefix (`query.fts_clause`)."""

    # BM25 weights of the six columns: titles, texts, quoted texts.
    WEIGHTS = "10.0, 4.0, 1.0, 10.0, 4.0, 1.0"

    def __init__(self, query: ParsedQuery) -> None:
        self.original = fts_expression(query, ORIGINAL_COLUMNS)
        self.public = fts_expression(query, PUBLIC_COLUMNS)
        self.original_phrase = fts_phrase_expression(query, ORIGINAL_COLUMNS)
        self.public_phrase = fts_phrase_expression(query, PUBLIC_COLUMNS)

    @staticmethod
    def _rowids(expression: str) -> RawSQL:
        # The MATCH expression is a parameter; the rest is this module's constants.
        return RawSQL(f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH %s", (expression,))  # noqa: S608,S611

    def matching(self, scope: policy.SearchScope) -> Q:
        if self.original is None or self.public is None:
            return Q(pk__in=[])  # only stop words
        return _matching(
            scope, Q(pk__in=self._rowids(self.original)), Q(pk__in=self._rowids(self.public))
        )

    def _bm25(self, expression: str) -> RawSQL:
        table = SearchDocument._meta.db_table
        return RawSQL(  # noqa: S611
            f"SELECT -bm25({FTS}, {self.WEIGHTS}) FROM {FTS} "  # noqa: S608
            f'WHERE {FTS} MATCH %s AND rowid = "{table}"."id"',
            (expression,),
            output_field=FloatField(),
        )

    def ranked(
        self, documents: QuerySet[SearchDocument], scope: policy.SearchScope
    ) -> QuerySet[Any]:
        if self.original is None or self.public is None:
            # Only stop words: nothing matches, nothing to rank.
            return documents.annotate(search_rank=Value(0.0), search_phrase=Value(0))
        rank = _either(scope, self._bm25(self.original), self._bm25(self.public), FloatField())
        phrase: Any = Value(0)
        if self.original_phrase is not None and self.public_phrase is not None:
            phrase = _either(
                scope,
                Case(
                    When(pk__in=self._rowids(self.original_phrase), then=Value(1)),
                    default=Value(0),
                ),
                Case(
                    When(pk__in=self._rowids(self.public_phrase), then=Value(1)),
                    default=Value(0),
                ),
                IntegerField(),
            )
        return documents.annotate(search_rank=rank, search_phrase=phrase)

    def highlights(
        self, scope: policy.SearchScope, documents: Sequence[Any]
    ) -> dict[int, tuple[str, str, str]]:
        assert self.original is not None and self.public is not None  # else nothing matched
        parts: list[str] = []
        params: list[Any] = []
        marks = (MARK_START, MARK_STOP)
        for first, expression, rowids in (
            (0, self.original, [d.pk for d in documents if d.search_as_staff]),
            (3, self.public, [d.pk for d in documents if not d.search_as_staff]),
        ):
            if not rowids:
                continue
            parts.append(
                f"SELECT rowid, highlight({FTS}, {first}, %s, %s), "  # noqa: S608
                f"snippet({FTS}, {first + 1}, %s, %s, ' … ', 24), "
                f"snippet({FTS}, {first + 2}, %s, %s, ' … ', 24) "
                f"FROM {FTS} WHERE {FTS} MATCH %s "
                f"AND rowid IN ({', '.join('%s' for _ in rowids)})"
            )
            params += [*marks, *marks, *marks, expression, *rowids]
        if not parts:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            return {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}


def _backend(query: ParsedQuery) -> _PostgreSQL | _SQLite:
    if connection.vendor == "postgresql":
        return _PostgreSQL(query)
    return _SQLite(query)


def _snippet(body: str, more: str) -> str:
    """The text's snippet if it shows a word found, else the quoted text's,
    else the beginning of the text."""
    for candidate in (body, more):
        if MARK_START in (candidate or ""):
            return candidate
    return body or more


# A masked value in a public text (« [téléphone masqué] »), or any short
# bracketed text: passages are cut there, what surrounds them being verbatim.
_BRACKETED = re.compile(r"\[[^\[\]\n]{1,60}\]")


def _quoted_line(text: str) -> str:
    """The verbatim piece of a snippet around its first word found: its line,
    without the snippet's ellipses, cut at masked values."""
    line = next(line for line in text.split("\n") if MARK_START in line)
    for piece in _BRACKETED.split(line):
        if MARK_START in piece:
            plain = piece.replace(MARK_START, "").replace(MARK_STOP, "")
            return plain.replace("…", " ").strip()
    return ""


def _found_in_files(snippets: dict[int, tuple[int, str]]) -> dict[int, str]:
    """For mail found through the text of an attachment, by index row: that
    attachment's name — the first of the mail's attachments whose text
    holds the line its snippet quotes. `snippets`: row → (message, snippet),
    for rows the search's scope let through (`policy.search_scope`, which
    admits a mail's row only to whom `policy.may_read_message` admits, and
    whose attachments are those they may download). One query.

    The attachments are not filtered through `attachments_visible_to` a
    second time: building and compiling that filter took 15–25 ms a page."""
    wanted = Q(pk__in=[])
    lines: dict[int, str] = {}
    for message_id, snippet in snippets.values():
        line = _quoted_line(snippet)
        if len(line) >= 3:
            lines[message_id] = line
            wanted |= Q(message_id=message_id, text__contains=line)
    if not lines:
        return {}
    names: dict[int, str] = {}
    for message_id, filename in (
        Attachment.objects.filter(wanted, is_inline=False, is_signature_logo=False)
        .order_by("-position")
        .values_list("message_id", "filename")
    ):
        names[message_id] = filename  # the first one holding it wins
    return {
        row: names[message_id]
        for row, (message_id, _snippet) in snippets.items()
        if message_id in names
    }


def _links(documents: Sequence[SearchDocument]) -> dict[int, str]:
    """Where each result leads: the dossier, or the dossier's timeline
    opened at the result's entry (a cursor just above it, and its anchor);
    staff go to the triage page of mail in no dossier. One query."""
    wanted = [
        Q(**{f"{name}_id__in": ids})
        for name in _POINTERS
        if (ids := [getattr(d, f"{name}_id") for d in documents if getattr(d, f"{name}_id")])
    ]
    entries: dict[tuple[str, int], TimelineEntry] = {}
    if wanted:
        condition = wanted[0]
        for other in wanted[1:]:
            condition |= other
        for row in TimelineEntry.objects.filter(condition, event=EntryEvent.CREATED).only(
            "pk", "occurred_at", "dossier_id", *(f"{name}_id" for name in _POINTERS)
        ):
            for name in _POINTERS:
                pointed = getattr(row, f"{name}_id")
                if pointed:
                    entries[(name, pointed)] = row
    links: dict[int, str] = {}
    for document in documents:
        entry: TimelineEntry | None = None
        for name in _POINTERS:
            pointed = getattr(document, f"{name}_id")
            if pointed:
                entry = entries.get((name, pointed))
        if entry is not None:
            # The page that starts with this entry: the keyset cursor of a
            # (virtual) entry just after it.
            cursor = encode_cursor(TimelineEntry(pk=entry.pk + 1, occurred_at=entry.occurred_at))
            links[document.pk] = (
                reverse("dossiers:detail", args=[entry.dossier_id])
                + f"?apres={cursor}#entry-{entry.pk}"
            )
        elif document.dossier_id is not None:
            links[document.pk] = reverse("dossiers:detail", args=[document.dossier_id])
        elif document.message_id is not None:
            links[document.pk] = reverse("mail:triage_message", args=[document.message_id])
    return links


def _recent(
    backend: _PostgreSQL | _SQLite,
    matched: QuerySet[SearchDocument],
    scope: policy.SearchScope,
    order: str,
) -> QuerySet[Any]:
    """The query of `_order_in_python`: the most recent `COUNT_LIMIT` + 1
    matches, newest first, with what relevance sorts them by."""
    recent = backend.ranked(matched, scope).order_by("-date", "-pk")
    if order == SearchOrder.DATE:
        return recent.values_list("pk", Value(0), Value(0.0))[: COUNT_LIMIT + 1]
    return recent.values_list("pk", "search_phrase", "search_rank")[: COUNT_LIMIT + 1]


def _order_in_python(recent: QuerySet[Any], order: str) -> tuple[list[int], int]:
    """The pks of the rows of `recent` (`_recent`) in the order of the
    results — newest first, or by relevance: the phrase, then the rank, then
    the date, over the `RANKED_LIMIT` most recent — and how many they are."""
    # Newest first, and the rows come in that order: a stable sort by
    # relevance keeps it among equals (the dates themselves are not read:
    # parsing a thousand of them took 8 ms).
    rows = list(recent)
    found = len(rows)
    if order != SearchOrder.DATE:
        rows = rows[:RANKED_LIMIT]
        rows.sort(key=lambda row: (row[1], row[2]), reverse=True)
    return [row[0] for row in rows], found


def _reads_every_match(recent: QuerySet[Any]) -> bool:
    """Whether PostgreSQL would read every row the word index gives for
    `recent` (a bitmap scan) rather than walk the rows by date."""
    return "Bitmap Heap Scan" in recent.explain(format="json")


def _matches(
    backend: _PostgreSQL | _SQLite, scope: policy.SearchScope, filters: SearchFilters
) -> tuple[list[int], int]:
    """The matches in the order of the results, and how many they are (up
    to one more than are counted): one query reads the matches, newest
    first, with their rank — it counts them and gives what is ranked.
    (Counting, then ranking, read the words' matches twice.)

    A phrase on PostgreSQL: the word index knows which rows hold each word,
    not where. When its words are common, the database walks the rows by
    date and stops at the last one counted. When they are rarer, it takes
    every row the index gives and reads each to check the words' order —
    25,000 rows, 300 ms, for « "assemblée générale" convocation » over a
    million mails. That plan (a bitmap scan: asked of the planner first,
    which costs a planning) is replaced: the phrase is checked in the
    `PHRASE_CANDIDATES` most recent rows holding its words (which the index
    alone finds, reading no text); when more than are counted match there,
    or there are no more such rows, those are the matches; otherwise all
    rows are checked.

    Finding those most recent rows still reads every row holding the words
    for its date (25,000 rows, 13,000 pages of the table: 75 ms). They are
    first looked for among the rows of the last `PHRASE_RECENT` days, which
    the database finds by crossing the word index with the date index
    before reading any row (2,000 rows, 900 pages: 25 ms); when more than
    are counted match there, they are the most recent matches of all (the
    period holds every row after its start). Otherwise, the same over all
    rows."""
    matched = filters.apply(SearchDocument.objects.filter(backend.matching(scope)))
    recent = _recent(backend, matched, scope, filters.order)
    words = backend.matching_words(scope) if isinstance(backend, _PostgreSQL) else None
    if words is not None and _reads_every_match(recent):
        worded = filters.apply(SearchDocument.objects.filter(words))
        lately = worded.filter(date__gte=timezone.now() - PHRASE_RECENT)
        for rows, all_rows in ((lately, False), (worded, True)):
            candidates = rows.order_by("-date", "-pk").values("pk")[:PHRASE_CANDIDATES]
            # One statement: the candidates are not sent back and forth.
            among = SearchDocument.objects.filter(pk__in=candidates).filter(
                backend.matching(scope, indexed=False)
            )
            order, found = _order_in_python(
                _recent(backend, among, scope, filters.order), filters.order
            )
            if found > COUNT_LIMIT or (all_rows and candidates.count() < PHRASE_CANDIDATES):
                return order, found
    return _order_in_python(recent, filters.order)


def _with_what_results_show(scope: policy.SearchScope, documents: QuerySet[Any]) -> QuerySet[Any]:
    """`documents` with their dossier and condominium, without their texts
    (the highlights bring what is shown of them), and which texts each row
    is read in: the original ones (staff), or the public ones."""
    return (
        documents.annotate(
            search_as_staff=_either(scope, Value(True), Value(False), BooleanField())
        )
        .select_related("dossier", "condominium")
        .defer(
            *ORIGINAL_COLUMNS, *PUBLIC_COLUMNS, "vector", "public_vector", "dossier__description"
        )
    )


def search_page(
    viewer: policy.Viewer,
    text: str,
    filters: SearchFilters | None = None,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> SearchPage:
    """One page of the results of `text` that `viewer` may see, ranked (or
    newest first), with their snippets and links."""
    filters = filters or SearchFilters()
    query = parse(text)
    if not query:
        return SearchPage(results=[], total=0, number=1, page_size=page_size, query=query)
    # What this transaction wrote is found too (a no-op in a page request).
    search_index_flush()
    scope = policy.search_scope(viewer)
    if scope.original is None and scope.published is None:
        return SearchPage(results=[], total=0, number=1, page_size=page_size, query=query)
    backend = _backend(query)
    order, found = _matches(backend, scope, filters)
    more_than_total = found > COUNT_LIMIT
    total = min(found, COUNT_LIMIT)
    if total == 0:
        return SearchPage(results=[], total=0, number=1, page_size=page_size, query=query)
    number = max(1, min(page, max(1, math.ceil(total / page_size))))
    offset = (number - 1) * page_size
    shown_pks = order[offset : offset + page_size]
    # Read by pk: the rows are those the policy let through just above.
    by_pk = {
        d.pk: d
        for d in _with_what_results_show(scope, SearchDocument.objects.filter(pk__in=shown_pks))
    }
    documents: list[Any] = [by_pk[pk] for pk in shown_pks if pk in by_pk]
    shown = backend.highlights(scope, documents)
    links = _links(documents)
    snippets = {
        document.pk: _snippet(*shown.get(document.pk, ("", "", ""))[1:]) for document in documents
    }
    files = _found_in_files(
        {
            document.pk: (document.message_id, snippets[document.pk])
            for document in documents
            if document.message_id is not None and MARK_START in snippets[document.pk]
        },
    )
    results = []
    for document in documents:
        title = shown.get(document.pk, ("", "", ""))[0]
        results.append(
            SearchResult(
                document=document,
                title_html=_marked(title),
                snippet_html=_marked(snippets[document.pk]),
                url=links.get(document.pk, ""),
                found_in_file=files.get(document.pk, ""),
            )
        )
    return SearchPage(
        results=results,
        total=total,
        number=number,
        page_size=page_size,
        query=query,
        more_than_total=more_than_total,
    )
