"""A task that always raises, to see what the queue records of a failure
(imported by the worker processes of `test_workers.py`)."""

from __future__ import annotations

from django_tasks import task


class DeliberateFailureError(Exception):
    """Raised by `always_fails`."""


@task()
def always_fails(reason: str) -> None:
    """Raise, with `reason` in the message."""
    raise DeliberateFailureError(reason)
