"""The batch pipeline of bulk imports (`lanterne.mail.batch`, `ThreadBatch`)
decides exactly what the one-message pipeline decides: same messages, same
duplicates, same threads, same signature logos, same directions — whatever
the order of arrival and wherever the batches are cut."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.filing_eval.corpus import Contact, MessageSpec, generate
from benchmarks.filing_eval.run import _LiveReferences, _World
from benchmarks.mailcorpus import CorpusGenerator
from lanterne.condominiums.models import Agency
from lanterne.mail import importing, suggest, suggest_text
from lanterne.mail.autofile import message_autofile, messages_autofile
from lanterne.mail.filing import message_file, message_mark_not_dossier_related
from lanterne.mail.importing import mail_import
from lanterne.mail.models import Attachment, FilingMethod, Message, RawMessage
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


def _filings(agency: Agency) -> dict[str, tuple[Any, ...]]:
    """What the file stage decided for each message of an agency: dossier,
    method, score, reason, triage suggestions (with their scores and reasons)."""
    return {
        row[0]: row[1:]
        for row in Message.objects.filter(agency=agency).values_list(
            "message_id",
            "dossier__reference",
            "not_dossier_related",
            "filing_method",
            "filing_score",
            "filing_reason",
            "suggestions",
        )
    }


def _agency_with_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[_World, list[bytes]]:
    """An agency with open dossiers and two months of mail filed by hand —
    a few dozen training conversations: enough for fitted weights (and
    automatic filing) once the floor is lowered — and the next month's
    mail, to import."""
    monkeypatch.setattr(suggest, "MIN_EXAMPLES", 20)
    corpus = generate(5, messages=600, months=3)
    world = _World(corpus)
    for dossier in corpus.dossiers:
        world.dossier_open(dossier)
    world.rules_create()
    references = _LiveReferences(world)
    history = [m for m in corpus.messages if corpus.month_of(m.at) < 2]
    later = [m for m in corpus.messages if corpus.month_of(m.at) >= 2]
    # Replies right after the message they answer: filing a message in the
    # middle of a batch files its conversation, and what was scored for the
    # rest of the batch must not be used as it was.
    indices = {spec.index for spec in later}
    replies: dict[int, list[MessageSpec]] = defaultdict(list)
    for spec in later:
        if spec.parent is not None and spec.parent.index in indices:
            replies[spec.parent.index].append(spec)

    stranger = Contact("ack", "Paul", "Durand", "paul.durand@exemple.org", "outsider")

    def with_replies(spec: MessageSpec) -> Iterator[MessageSpec]:
        yield spec
        if replies[spec.index]:
            # And a short answer from a stranger, which nothing files but
            # its conversation.
            yield dataclasses.replace(
                replies[spec.index][0],
                index=spec.index + 100_000,
                message_id=f"ack.{spec.message_id}",
                sender=stranger,
                paragraphs=["Merci, bien reçu."],
                quoted=[],
                tag=None,
                lanterne_dossier=None,
                channel="",
            )
        for reply in replies[spec.index]:
            yield from with_replies(reply)

    later = [
        item
        for spec in later
        if spec.parent is None or spec.parent.index not in indices
        for item in with_replies(spec)
    ]
    # The history imported without its file stage, then filed by hand.
    folder = tmp_path / "history"
    folder.mkdir()
    for index, spec in enumerate(history):
        (folder / f"{index:05d}.eml").write_bytes(spec.render(references))
    with monkeypatch.context() as patch:
        patch.setattr(importing, "messages_autofile", lambda messages, **options: None)
        mail_import(agency=world.agency, paths=[folder])
    for spec in history:
        message = Message.objects.filter(agency=world.agency, message_id=spec.message_id).first()
        if message is None:
            continue
        if spec.label is None:
            message_mark_not_dossier_related(viewer=world.viewer, actor=None, message=message)
        else:
            message_file(
                viewer=world.viewer,
                actor=None,
                message=message,
                dossier=world.dossiers[spec.label],
                method=FilingMethod.MANUAL,
                reason="Classé à la main",
            )
    for dossier in corpus.dossiers:
        closed = datetime.combine(dossier.closed, time(20), tzinfo=UTC) if dossier.closed else None
        if closed is not None and corpus.month_of(closed) < 2:
            world.dossier_close(dossier, closed)
    return world, [spec.render(references) for spec in later]


def _folder(tmp_path: Path, name: str, messages: list[bytes]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for index, data in enumerate(messages):
        (folder / f"{index:05d}.eml").write_bytes(data)
    return folder


def test_in_an_agency_with_dossiers_the_batch_file_stage_decides_what_it_decides_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With open dossiers and a model fitted on the agency's filings, the
    file stage of a batch (`messages_autofile`) files, marks and suggests
    exactly what `message_autofile` decides for each message in turn —
    learned suggestions with their scores and reasons included, also after a
    message filed in the middle of the batch changed what the model knows
    (the rest of its conversation is learned from)."""
    world, later = _agency_with_history(tmp_path, monkeypatch)
    # Imported without their file stage: stored, parsed, threaded.
    with monkeypatch.context() as patch:
        patch.setattr(importing, "messages_autofile", lambda messages, **options: None)
        mail_import(agency=world.agency, paths=[_folder(tmp_path, "later", later)])
    waiting = list(
        Message.objects.filter(agency=world.agency, filing_method=FilingMethod.NONE)
        .exclude(not_dossier_related=True)
        .order_by("pk")
    )
    assert len(waiting) > 40

    # One message at a time, then undone.
    suggest._cache.clear()
    with transaction.atomic():
        for message in Message.objects.filter(pk__in=[m.pk for m in waiting]).order_by("pk"):
            message_autofile(message)
        expected = _filings(world.agency)
        transaction.set_rollback(True)
    # By batches, as an import files them.
    suggest._cache.clear()
    for start in range(0, len(waiting), 40):
        batch = [m.pk for m in waiting[start : start + 40]]
        messages_autofile(list(Message.objects.filter(pk__in=batch).order_by("pk")))
    found = _filings(world.agency)

    assert found.keys() == expected.keys()
    for message_id, decided in expected.items():
        assert found[message_id] == decided, message_id
    # The comparison covered every way of filing, learned suggestions included.
    methods = Counter(decided[2] for decided in expected.values())
    assert methods[FilingMethod.SUGGESTION] >= 3, methods
    assert methods[FilingMethod.THREAD] and methods[FilingMethod.REFERENCE], methods
    triaged = [d for d in expected.values() if d[2] == FilingMethod.NONE and not d[1]]
    assert sum(1 for d in triaged if d[5] and d[5][0]["score"] is not None) >= 10


def test_the_texts_the_parse_workers_prepare_change_no_filing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import with parse workers hands the file stage each message's text
    as the suggestions read it (`suggest_text.PreparedText`): the importing
    process reads almost no text itself, and files and suggests exactly what
    it does reading every text."""
    world, later = _agency_with_history(tmp_path, monkeypatch)
    folder = _folder(tmp_path, "later", later)
    read_here = Counter[str]()
    now = {"mode": ""}
    prepare = suggest_text.PreparedText.of.__func__  # type: ignore[attr-defined]

    def counted(cls: type[suggest_text.PreparedText], text: str) -> suggest_text.PreparedText:
        read_here[now["mode"]] += 1
        return prepare(cls, text)

    monkeypatch.setattr(suggest_text.PreparedText, "of", classmethod(counted))
    found = {}
    for mode, workers in (("workers", 1), ("here", 0)):
        now["mode"] = mode
        suggest._cache.clear()
        with transaction.atomic():
            mail_import(agency=world.agency, paths=[folder], parse_processes=workers)
            found[mode] = _filings(world.agency)
            transaction.set_rollback(True)

    assert found["workers"] == found["here"]
    suggested = sum(1 for decided in found["here"].values() if decided[5])
    assert suggested >= 10
    # Read here with workers: only what the whole stage decided (a filing
    # by suggestion scores its message again, alone).
    assert read_here["here"] > 25
    assert read_here["workers"] <= read_here["here"] // 4, read_here
