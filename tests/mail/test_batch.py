"""The batch pipeline of bulk imports (`lanterne.mail.batch`, `ThreadBatch`)
decides exactly what the one-message pipeline decides: same messages, same
duplicates, same threads, same signature logos, same directions — whatever
the order of arrival and wherever the batches are cut."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.mailcorpus import CorpusGenerator
from lanterne.condominiums.models import Agency
from lanterne.mail import importing
from lanterne.mail.importing import mail_import
from lanterne.mail.models import Attachment, Message, RawMessage
from lanterne.mail.services import mail_receive_and_process

from ..factories import AgencyFactory

pytestmark = pytest.mark.django_db


def _corpus(count: int, seed: int) -> list[bytes]:
    """Realistic mail (threads, replies quoting each other, logos, PDFs), with
    repeats: the same bytes twice, and the same message with other bytes (a
    second mailbox's Received header)."""
    generator = CorpusGenerator(seed)
    messages = [generator.message(index) for index in range(count)]
    rng = random.Random(seed)
    messages += rng.sample(messages, 5)
    messages += [b"Received: from relay.example.net\r\n" + m for m in rng.sample(messages, 5)]
    return messages


def _outcome(agency: Agency) -> dict[str, object]:
    """What the pipeline decided for an agency, comparable across agencies."""
    threads: dict[int, set[str]] = defaultdict(set)
    messages = Message.objects.filter(agency=agency)
    for message_id, thread_id in messages.values_list("message_id", "thread_id"):
        threads[thread_id].add(message_id)
    return {
        "messages": sorted(messages.values_list("message_id", "direction", "raw__sha256")),
        "threads": sorted(sorted(group) for group in threads.values()),
        "logos": sorted(
            Attachment.objects.filter(message__agency=agency).values_list(
                "message__message_id", "position", "is_signature_logo"
            )
        ),
        "raw": sorted(
            RawMessage.objects.filter(agency=agency).values_list(
                "sha256", "state", "duplicate_of__message_id"
            )
        ),
    }


@pytest.mark.parametrize(("seed", "batch"), [(7, 23), (11, 200)])
def test_batches_decide_what_one_message_at_a_time_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, batch: int
) -> None:
    messages = _corpus(150, seed)
    # Out of order: replies before their parents, across batch boundaries.
    random.Random(seed).shuffle(messages)
    one_by_one = AgencyFactory(mail_domain="cabinet-lumiere.fr")
    batched = AgencyFactory(mail_domain="cabinet-lumiere.fr")

    for data in messages:
        mail_receive_and_process(agency=one_by_one, data=data)

    folder = tmp_path / "mail"
    folder.mkdir()
    for index, data in enumerate(messages):
        (folder / f"{index:05d}.eml").write_bytes(data)
    monkeypatch.setattr(importing, "BATCH_MAX_MESSAGES", batch)
    summary = mail_import(agency=batched, paths=[folder])

    assert summary.imported == Message.objects.filter(agency=batched).count() == 150
    expected, found = _outcome(one_by_one), _outcome(batched)
    for key in expected:
        assert found[key] == expected[key], key
    # Threads were found, not one per message.
    assert len(found["threads"]) < 100  # type: ignore[arg-type]


def test_a_batch_costs_a_bounded_number_of_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = AgencyFactory(mail_domain="cabinet-lumiere.fr")
    folder = tmp_path / "mail"
    folder.mkdir()
    for index, data in enumerate(_corpus(200, 3)[:200]):
        (folder / f"{index:05d}.eml").write_bytes(data)
    monkeypatch.setattr(importing, "BATCH_MAX_MESSAGES", 1000)
    monkeypatch.setattr(importing, "BATCH_MAX_SECONDS", 3600)
    with CaptureQueriesContext(connection) as queries:
        mail_import(agency=agency, paths=[folder])
    assert Message.objects.filter(agency=agency).count() == 200
    # One batch of 200 messages, stored, parsed, threaded and filed: a few
    # dozen statements, not several per message (SQLite's parameter limit
    # cuts the message INSERT in a few; the file stage reads the agency's
    # rules, references and conversations once, and the suggestion model is
    # brought up to date once).
    assert len(queries) <= 60, "\n".join(q["sql"][:100] for q in queries)
