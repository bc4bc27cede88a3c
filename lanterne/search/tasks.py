"""Background tasks of the search app: indexing what a transaction wrote."""

from __future__ import annotations

from django_tasks import task

from lanterne.core.tasks import task_running

from .services import search_documents_index


@task()
def search_documents_index_run(ids: dict[str, list[int]]) -> int:
    """Index these objects (`search_documents_index`'s arguments, e.g.
    `{"message_ids": [1, 2]}`) as the database holds them when the task runs.
    Safe to run twice or late: indexing rebuilds each object's row from its
    current state. Returns the number of rows written."""
    with task_running():
        return search_documents_index(**ids)
