"""The database side of search: on PostgreSQL the `lanterne_fr` French
configuration with unaccent and the GIN indexes, on SQLite the FTS5 table
and its triggers (`lanterne.search.backends`). Nothing on other engines."""

from django.db import migrations

from lanterne.search import backends


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(backends.install, backends.uninstall, elidable=False)]
