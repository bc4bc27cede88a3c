"""What each database needs beyond the `SearchDocument` table, installed by
migration 0002 (and by any later migration that rebuilds the table on
SQLite, which drops its triggers: call `sqlite_install` again there).

- PostgreSQL: the `unaccent` extension, the `lanterne_fr` text search
  configuration — PostgreSQL's `french` (Snowball stemmer, French stop
  words) with accents removed before stemming, so that « degat » finds
  « dégâts » — and GIN indexes on the two stored `tsvector`s.
- SQLite: an FTS5 table over the six texts of `SearchDocument` (external
  content: the texts are stored once, in the table), tokenised with
  `unicode61 remove_diacritics 2` (case- and accent-insensitive), kept in
  step by triggers. FTS5 has no French stemmer: the query side strips
  French endings and matches by prefix instead (`query.fold_term`)."""

from __future__ import annotations

from typing import Any

# The statements below are written from the constants of this module only
# (table, column and configuration names), never from input: hence the
# `noqa: S608` on each.
CONFIG = "lanterne_fr"
TABLE = "search_searchdocument"
FTS = "search_fts"
TEXT_COLUMNS = ("title", "body", "more", "public_title", "public_body", "public_more")

_COLUMNS = ", ".join(TEXT_COLUMNS)
_NEW = ", ".join(f"new.{c}" for c in TEXT_COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in TEXT_COLUMNS)

SQLITE_INSTALL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5({_COLUMNS}, content='{TABLE}', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_insert AFTER INSERT ON {TABLE} BEGIN "  # noqa: S608
    f"INSERT INTO {FTS}(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_delete AFTER DELETE ON {TABLE} BEGIN "  # noqa: S608
    f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_update AFTER UPDATE OF {_COLUMNS} ON {TABLE} BEGIN "  # noqa: S608
    f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) VALUES ('delete', old.id, {_OLD}); "
    f"INSERT INTO {FTS}(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END",
    # Rows already in the table (a database migrated with documents in it).
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",  # noqa: S608
]
SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TRIGGER IF EXISTS {FTS}_update",
    f"DROP TABLE IF EXISTS {FTS}",
]

POSTGRESQL_INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}') THEN
            CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = french);
            ALTER TEXT SEARCH CONFIGURATION {CONFIG}
                ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
        END IF;
    END $$""",  # noqa: S608
    f"CREATE INDEX IF NOT EXISTS search_document_vector ON {TABLE} USING gin (vector)",
    f"CREATE INDEX IF NOT EXISTS search_document_public_vector ON {TABLE} "
    "USING gin (public_vector)",
]
POSTGRESQL_UNINSTALL = [
    "DROP INDEX IF EXISTS search_document_public_vector",
    "DROP INDEX IF EXISTS search_document_vector",
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}",
]


def _run(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def install(apps: Any, schema_editor: Any) -> None:
    """Migration step: what this database needs (nothing for other engines)."""
    _run(schema_editor, {"postgresql": POSTGRESQL_INSTALL, "sqlite": SQLITE_INSTALL})


def uninstall(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"postgresql": POSTGRESQL_UNINSTALL, "sqlite": SQLITE_UNINSTALL})
