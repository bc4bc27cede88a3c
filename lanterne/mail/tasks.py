"""Background tasks of the mail pipeline: processing stored raw messages.

Every source stores a message's exact bytes first (`services.mail_receive`,
committed before the source is acknowledged) and only then asks for it to be
processed — parsed, threaded, filed. With the immediate tasks backend that
runs in the source's own process; with the database or Redis backend the
source enqueues `raw_messages_ingest` (`raw_messages_ingest_enqueue`) and
`lanterne worker` runs it.

The task is safe to run twice, late, or in two workers at once:

- a message no longer `stored` (already processed, quarantined, refused, a
  duplicate) is skipped, so a batch enqueued twice does its work once;
- on PostgreSQL each message is claimed with a session advisory lock for the
  time it is processed: a second worker that meets a claimed message leaves
  it to the first (the lock goes with the first worker's connection, should
  it die). On SQLite, write transactions are serialised (BEGIN IMMEDIATE):
  two workers meeting the same message parse it twice, and the second run
  updates the same Message (its uniqueness on the raw message and on the
  Message-ID holds), as `lanterne reprocess-mail` would;
- a message that breaks a stage is quarantined by the pipeline, as in any
  other process. Anything else (the database gone) is logged, leaves the
  message `stored` for `lanterne reprocess-mail`, and fails the task once the
  rest of the batch is done, so that the queue records it."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator, Sequence

from django.db import connection, transaction
from django_tasks import task

from lanterne.core.tasks import side_work_in_process, task_running

from . import autofile  # noqa: F401 — see below
from .choices import RawState
from .models import RawMessage
from .services import raw_message_ingest

# `autofile` (the file stage, which `raw_message_ingest` imports when it first
# runs) is imported with this module: a worker that preloads the tasks
# (`lanterne worker`) hands it, loaded, to the children RQ forks per task.

logger = logging.getLogger(__name__)

# PostgreSQL advisory locks share one 64-bit key space per database: the
# raw message's id goes in the low 40 bits, "LA" (Lanterne) above them.
_RAW_CLAIM_NAMESPACE = 0x4C41 << 40
# What a worker reports for a message another worker was processing.
CLAIMED_ELSEWHERE = "claimed_elsewhere"


class RawMessagesNotProcessedError(Exception):
    """Some messages of a batch could not be processed for a reason other
    than their content (they stay `stored`, for `lanterne reprocess-mail`)."""


@contextlib.contextmanager
def _raw_claim(raw_id: int) -> Iterator[bool]:
    """Claim a raw message for this worker while the block runs; False when
    another worker holds it. A no-op (always True) except on PostgreSQL."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = _RAW_CLAIM_NAMESPACE | raw_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        claimed = bool(cursor.fetchone()[0])
    try:
        yield claimed
    finally:
        if claimed:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@task()
def raw_messages_ingest(raw_ids: list[int]) -> dict[str, int]:
    """Process these stored raw messages (parse, thread, file), skipping
    those another run already processed. Returns how many ended in each
    state (and how many another worker was processing)."""
    outcome: Counter[str] = Counter()
    failed: list[int] = []
    with task_running():
        for raw_id in raw_ids:
            with _raw_claim(raw_id) as claimed:
                if not claimed:
                    outcome[CLAIMED_ELSEWHERE] += 1
                    continue
                # Read under the claim: a run that finished meanwhile is seen.
                raw = RawMessage.objects.select_related("agency").filter(pk=raw_id).first()
                if raw is None or raw.state != RawState.STORED:
                    outcome["skipped"] += 1
                    continue
                try:
                    raw_message_ingest(raw)
                except Exception:  # noqa: BLE001 — the others of the batch go on
                    logger.exception("Processing raw message %s failed", raw_id)
                    failed.append(raw_id)
                    continue
                outcome[str(raw.state)] += 1
    if failed:
        raise RawMessagesNotProcessedError(
            f"{len(failed)} of {len(raw_ids)} messages left stored "
            f"(lanterne reprocess-mail retries them): {failed}"
        )
    return dict(outcome)


def raw_messages_ingest_enqueue(raw_ids: Sequence[int]) -> None:
    """Queue the processing of these stored messages once the current
    transaction commits (at once outside one), so that a worker never looks
    for rows it cannot see yet. Should the queue refuse it (Redis down), the
    error is logged and the messages stay `stored` for `lanterne
    reprocess-mail`: they were stored, nothing is lost."""
    ids = [int(raw_id) for raw_id in raw_ids]
    if not ids:
        return

    def enqueue() -> None:
        try:
            raw_messages_ingest.enqueue(ids)
        except Exception:  # noqa: BLE001 — stored already; reprocess-mail catches up
            logger.exception("Queueing the processing of raw messages %s failed", ids)

    transaction.on_commit(enqueue)


def raw_messages_queued() -> bool:
    """Whether stored messages are processed by a worker (the database or
    Redis backend) rather than by the source that stored them."""
    return not side_work_in_process()
