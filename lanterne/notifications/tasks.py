"""Background tasks of the notifications app: sending the immediate
notifications a publication queued."""

from __future__ import annotations

from django_tasks import task

from lanterne.core.tasks import task_running

from .services import notifications_send


@task()
def entry_notifications_send(entry_ids: list[int]) -> int:
    """Send the pending immediate notifications of these timeline entries.
    Safe to run twice or in two workers at once: `notifications_send` claims
    each row before sending it. A mail server that cannot be reached raises
    (the task is recorded as failed) and the rows stay pending for
    `lanterne send-notifications`. Returns the number of mails sent."""
    with task_running():
        return notifications_send(entry_ids=entry_ids).sent
