"""What the query-count tests compare: the SQL a page runs, less the reads of
the objects its timeline entries point at.

A page of entries reads each kind of object on it (tasks, decisions, notes,
status changes, documents) with one query, when the page holds some
(`dossiers.selectors.entries_with_objects`; by `IN`, by a one-column tuple
`IN` on PostgreSQL, or by `=` — ORed on SQLite — as Django writes it for
the backend and their number): two pages of the
same dossier differ by those reads only. `constant_part` takes them out —
and fails if one kind is read twice, which is what a page reading its
objects one at a time would do."""

from __future__ import annotations

import re
from collections import Counter

ENTRY_OBJECT_TABLES = (
    "dossiers_task",
    "dossiers_decision",
    "dossiers_note",
    "dossiers_statuschange",
    "documents_document",
)
# A pattern over SQL, not SQL.
_TABLES = "|".join(ENTRY_OBJECT_TABLES)
_READ = re.compile(
    rf'^SELECT .* FROM "(?P<table>{_TABLES})".*'  # noqa: S608
    r' WHERE \(*"(?P=table)"."id"\)? (?:IN \(+|= )(?:\d|%s)',
    re.DOTALL,
)


def constant_part(queries: list[str]) -> list[str]:
    """`queries` without the reads of the entries' objects, each kind read
    at most once."""
    kinds: Counter[str] = Counter()
    rest = []
    for sql in queries:
        read = _READ.match(sql)
        if read:
            kinds[read["table"]] += 1
        else:
            rest.append(sql)
    assert all(count == 1 for count in kinds.values()), kinds
    return rest
