"""The triage inbox's index: mail in no dossier, per agency, newest first
and undated mail last — the order of `triage.triage_page` — so that a page
of the inbox reads fifty index entries, not the whole backlog.

Written in SQL for each database rather than as a `Meta.indexes` entry:
PostgreSQL needs NULLS LAST in the index for it to serve that order, and
SQLite's CREATE INDEX does not accept it (there, NULL sorts first, hence
last in a descending order, by itself). Like the search indexes
(`search.backends`), Django's model state does not know it."""

from django.db import migrations

POSTGRESQL = (
    "CREATE INDEX IF NOT EXISTS message_triage ON mail_message "
    "(agency_id, date DESC NULLS LAST, id DESC) WHERE dossier_id IS NULL"
)
SQLITE = (
    "CREATE INDEX IF NOT EXISTS message_triage ON mail_message "
    "(agency_id, date DESC, id DESC) WHERE dossier_id IS NULL"
)


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor in ("postgresql", "sqlite"):
        schema_editor.execute(POSTGRESQL if vendor == "postgresql" else SQLITE)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor in ("postgresql", "sqlite"):
        schema_editor.execute("DROP INDEX IF EXISTS message_triage")


class Migration(migrations.Migration):
    dependencies = [("mail", "0007_attachment_text")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
