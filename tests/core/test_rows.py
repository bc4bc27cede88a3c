"""`rows_create` writes the very rows `bulk_create` writes, and gives each
instance its own primary key, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model

from lanterne.core import rows
from lanterne.core.rows import rows_create
from lanterne.mail.models import (
    Direction,
    MailSource,
    Message,
    RawMessage,
    RawState,
    SourceKind,
)
from tests.factories import AgencyFactory

pytestmark = pytest.mark.django_db


def _stored(model: type[Model], pk: int) -> dict[str, Any]:
    """The row as the database holds it, but for its key."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        values = cursor.fetchone()
    return {field.column: value for field, value in zip(fields, values, strict=True)}


def _raw(agency: Any, n: int) -> RawMessage:
    return RawMessage(
        agency=agency,
        sha256=f"{n:064x}",
        size=1000 + n % 3,
        storage_name=f"raw/{n}",
        state=RawState.PARSED,
        received_at=datetime(2026, 3, 1, 8, n % 3, tzinfo=UTC),
    )


def _message(agency: Any, raw: RawMessage, n: int) -> Message:
    """Messages n and n + 3 differ only by what identifies them."""
    k = n % 3
    return Message(
        agency=agency,
        raw=raw,
        message_id=f"<m{n}@exemple.fr>",
        subject=f"Fuite au 3e étage n°{k} — « devis »",
        from_address=f"artisan{k}@plomberie.fr",
        from_name="Plomberie Dupré",
        to=[{"name": "Cabinet", "address": "gestion@cabinet-lumiere.fr"}],
        references=[f"<m{k}@exemple.fr>"] if k else [],
        in_reply_to=[],
        date=datetime(2026, 3, 1, 9, k, 7, 123456, tzinfo=UTC),
        direction=Direction.INBOUND,
        text="Bonjour,\nci-joint le devis.\n\n> message cité",
        new_text="Bonjour,\nci-joint le devis.",
        quoted_text="> message cité",
        headers={"x-mailer": "Outlook", "k": k},
        defects=["bad-header"] if k % 2 else [],
        filing_score=0.5 + k / 1000,
    )


def test_the_rows_are_those_bulk_create_writes() -> None:
    agency = AgencyFactory()
    made = [_raw(agency, n) for n in range(6)]
    RawMessage.objects.bulk_create(made[:3])
    rows_create(made[3:])
    messages = [_message(agency, raw, n) for n, raw in enumerate(made)]
    Message.objects.bulk_create(messages[:3])
    rows_create(messages[3:])
    for model, objects in ((RawMessage, made), (Message, messages)):
        assert all(item.pk is not None and not item._state.adding for item in objects)
        for by_django, by_rows in zip(objects[:3], objects[3:], strict=True):
            expected = _stored(model, by_django.pk)
            written = _stored(model, by_rows.pk)
            different = {k for k in expected if expected[k] != written[k]}
            # Only what tells the two apart differs (their digest, their
            # Message-ID, the moment each was made).
            assert different <= {"raw_id", "sha256", "storage_name", "message_id", "parsed_at"}
            # … and read back through the ORM, each instance finds its own row.
            again = model.objects.get(pk=by_rows.pk)
            for field in model._meta.concrete_fields:
                assert getattr(again, field.attname) == getattr(by_rows, field.attname)


def test_each_instance_gets_its_own_key_across_statements(monkeypatch) -> None:
    agency = AgencyFactory()
    # Few parameters per statement: 25 rows go in several statements.
    monkeypatch.setattr(rows, "_parameters_at_most", lambda _connection: 40)
    made = rows_create([_raw(agency, n) for n in range(25)])
    assert len({raw.pk for raw in made}) == 25
    for n, raw in enumerate(made):
        assert RawMessage.objects.get(pk=raw.pk).sha256 == f"{n:064x}"


def test_a_field_of_its_own_prepares_its_values() -> None:
    """An encrypted column is written encrypted, as `bulk_create` writes it."""
    agency = AgencyFactory()
    (source,) = rows_create(
        [
            MailSource(
                agency=agency,
                kind=SourceKind.IMAP,
                name="Boîte",
                imap_host="imap.exemple.fr",
                imap_password="secret-de-boite",  # noqa: S106
            )
        ]
    )
    stored = _stored(MailSource, source.pk)
    assert stored["imap_password"].startswith("fernet:")
    assert stored["kind"] == "imap"
    assert MailSource.objects.get(pk=source.pk).imap_password == "secret-de-boite"  # noqa: S105


def test_only_new_instances_of_one_model() -> None:
    agency = AgencyFactory()
    (raw,) = rows_create([_raw(agency, 1)])
    with pytest.raises(ValueError, match="new instances"):
        rows_create([raw])
    with pytest.raises(ValueError, match="new instances"):
        rows_create([_raw(agency, 2), MailSource(agency=agency, kind=SourceKind.IMAP)])
    assert rows_create([]) == []
