"""Background tasks of the documents app: reading the text of new files.

The services that save files — a message's attachments (`mail.services`,
`mail.batch`), an uploaded document (`documents.services`) — call
`texts_extract_schedule` in their transaction. Once it commits:

- with a task queue (the database or Redis backend), `texts_extract_run` is
  enqueued and `lanterne worker` reads the texts: the source or the request
  that saved the files does not wait for them;
- with the immediate backend (the demo, the tests), it runs there and then,
  after the commit — except for a bulk import (`bulk=True`), whose files are
  left pending: reading thousands of PDFs would multiply an import's
  duration, and `lanterne extract-text --pending` reads them afterwards.

Should the queue refuse the task (Redis down), the files stay pending for
`lanterne extract-text --pending`: nothing is lost."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django_tasks import task

from lanterne.core.tasks import task_running, tasks_run_at_once

from .texts import attachments_text_extract, documents_text_extract

logger = logging.getLogger(__name__)


@task()
def texts_extract_run(attachment_ids: list[int], document_ids: list[int]) -> dict[str, int]:
    """Read the text of these attachments and documents, those not read
    yet (safe to run twice or late), and index their messages and
    documents again. Returns how many of each were read."""
    with task_running():
        return {
            "attachments": attachments_text_extract(attachment_ids),
            "documents": documents_text_extract(document_ids),
        }


def texts_extract_schedule(
    *, attachment_ids: Iterable[int] = (), document_ids: Iterable[int] = (), bulk: bool = False
) -> None:
    """Read the text of these new files once the current transaction
    commits (at once outside one): on the task queue, or here with the
    immediate backend unless `bulk` (see the module's docstring)."""
    attachments = sorted({int(pk) for pk in attachment_ids if pk is not None})
    documents = sorted({int(pk) for pk in document_ids if pk is not None})
    if not attachments and not documents:
        return
    if bulk and tasks_run_at_once():
        return

    def enqueue() -> None:
        try:
            texts_extract_run.enqueue(attachments, documents)
        except Exception:  # noqa: BLE001 — they stay pending: extract-text catches up
            logger.exception(
                "Queueing the text extraction of attachments %s and documents %s failed",
                attachments,
                documents,
            )

    transaction.on_commit(enqueue, robust=True)
