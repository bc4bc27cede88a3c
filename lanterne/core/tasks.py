"""What every app's tasks share: knowing whether side work runs here and now
or goes to the task queue.

Tasks are Django's Tasks framework (django-tasks); `settings.TASKS` names the
backend (`LANTERNE_TASKS_BACKEND`). With the immediate backend a task runs as
it is enqueued, in the enqueuing process; with the database or Redis backend
it waits for `lanterne worker`. Work a task itself causes (the search index of
the messages a worker just parsed, the notifications of what it filed) runs
in that worker at once rather than being queued again: a second round trip
through the queue would only add latency and load."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django_tasks import task_backends
from django_tasks.backends.immediate import ImmediateBackend

_RUNNING_TASK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "lanterne_running_task", default=False
)


def tasks_run_at_once() -> bool:
    """Whether the configured backend is the immediate one: a task runs as
    it is enqueued, in the enqueuing process (no queue, no worker)."""
    return isinstance(task_backends["default"], ImmediateBackend)


def side_work_in_process() -> bool:
    """Whether side work (indexing, notifications, processing stored mail)
    should run here and now rather than be enqueued: with the immediate
    backend, or inside a task already running."""
    return _RUNNING_TASK.get() or tasks_run_at_once()


@contextlib.contextmanager
def task_running() -> Iterator[None]:
    """Mark the body of a task: the side work it causes runs in it."""
    token = _RUNNING_TASK.set(True)
    try:
        yield
    finally:
        _RUNNING_TASK.reset(token)
