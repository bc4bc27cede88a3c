"""Inserting many new rows without Django preparing every value on its own.

`QuerySet.bulk_create` hands each value of each row to its field's
`get_db_prep_save` through the SQL compiler: a history import inserts about
a hundred values per message (the message, its attachments, its search
row), and the compiler's per-value work was a third of the importing
process's time under cProfile (measured without it, writing the rows this
way takes a tenth off that process's CPU). `rows_create` does what
`bulk_create` does for the plain case — a model whose primary key the
database assigns, no parent model, no conflict clause — but asks a field
to prepare a value only when the value is not already what the database
driver takes as is (a `str`, `int`, `bool` or `None` in a text, number,
boolean or foreign key column). Dates, JSON, decimals, enumerations and
anything else still go through their field, so the rows written are the
rows `bulk_create` would write; the tests compare the two."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, models, router, transaction
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

# Django's own field classes (exactly these: a subclass may prepare values
# its own way, as `EncryptedTextField` does) whose value the drivers
# (sqlite3, psycopg) take as is when it is exactly one of `_AS_IS_TYPES`:
# the field would hand it over unchanged.
_AS_IS_FIELDS: frozenset[type[Field[Any, Any]]] = frozenset(
    {
        models.CharField,
        models.TextField,
        models.EmailField,
        models.SlugField,
        models.URLField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveBigIntegerField,
        models.BooleanField,
        models.ForeignKey,
        models.OneToOneField,
    }
)
_AUTOMATIC_KEYS: frozenset[type[Field[Any, Any]]] = frozenset(
    {models.AutoField, models.BigAutoField, models.SmallAutoField}
)
_AS_IS_TYPES = (str, int, bool, type(None))
# PostgreSQL's protocol numbers a statement's parameters on 16 bits.
_POSTGRESQL_PARAMETERS = 65_535


def _parameters_at_most(connection: Any) -> int:
    """How many parameters one statement may carry. Django assumes 999 on
    SQLite (its limit before 3.32), which cuts an insert of 200 messages
    into nine statements; the library linked in says its own limit."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit: int = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return limit
    if connection.vendor == "postgresql":
        return _POSTGRESQL_PARAMETERS
    return int(connection.features.max_query_params or 999)


def _as_is(field: Field[Any, Any]) -> bool:
    if type(field) not in _AS_IS_FIELDS:
        return False
    if field.is_relation:
        # A foreign key stores its target's value: as is only when that is.
        return type(field.target_field) in _AUTOMATIC_KEYS | _AS_IS_FIELDS  # type: ignore[attr-defined]
    return True


def rows_create(objects: Sequence[M]) -> list[M]:
    """Insert `objects` (new instances of one model, primary keys unset) as
    `bulk_create(objects)` would, and set their primary keys. Returns them."""
    if not objects:
        return []
    model = type(objects[0])
    meta = model._meta
    if meta.parents or type(meta.pk) not in _AUTOMATIC_KEYS:
        raise ValueError(f"rows_create: {meta.label} is not a plain model; use bulk_create")
    if any(type(item) is not model or item.pk is not None for item in objects):
        raise ValueError("rows_create: new instances of one model only")
    using = router.db_for_write(model)
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert:
        return model._default_manager.using(using).bulk_create(objects)  # type: ignore[return-value]
    for item in objects:
        # As `bulk_create`: a related object saved since it was assigned
        # gives its key; an unsaved one is refused.
        item._prepare_related_fields_for_save(operation_name="rows_create")  # type: ignore[attr-defined]
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    plain = [_as_is(field) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, _parameters_at_most(connection) // max(1, len(fields)))
    # All the statements or none, as `bulk_create`.
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(objects), size):
            batch = objects[start : start + size]
            parameters: list[Any] = []
            for item in batch:
                for field, as_is in zip(fields, plain, strict=True):
                    value = getattr(item, field.attname)
                    if not (as_is and type(value) in _AS_IS_TYPES):
                        value = field.get_db_prep_save(
                            field.pre_save(item, add=True), connection=connection
                        )
                    parameters.append(value)
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 — names from the model
                f"VALUES {', '.join([row] * len(batch))} RETURNING {quote(str(meta.pk.column))}",
                parameters,
            )
            keys = [found[0] for found in cursor.fetchall()]
            if len(keys) != len(batch):
                raise RuntimeError(f"rows_create: {len(batch)} rows sent, {len(keys)} returned")
            for item, key in zip(batch, keys, strict=True):
                item.pk = key
                item._state.adding = False
                item._state.db = using
    return list(objects)
