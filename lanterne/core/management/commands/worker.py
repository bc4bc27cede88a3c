"""`lanterne worker`: run the background tasks queued in the database or on
Redis, as `LANTERNE_TASKS_BACKEND` says.

One process runs the library's own worker: django-tasks-db's `db_worker`
(database) or django-rq's `rqworker` (Redis; RQ forks a child per task, so a
task that leaks or crashes takes nothing else down). `--processes N` starts N
such workers as child processes and stops them together on SIGTERM or Ctrl-C.
Two workers never run the same queued task (the database backend claims it
with a row lock, RQ pops it from a Redis list), and Lanterne's tasks are
safe to run twice anyway (`lanterne/*/tasks.py`)."""

from __future__ import annotations

import importlib
import importlib.util
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tasks import DEFAULT_TASK_QUEUE_NAME, task_backends
from django_tasks.backends.immediate import ImmediateBackend

# How long the children have to finish their current task once told to stop.
STOP_GRACE_SECONDS = 60


def _backend_kind() -> str:
    """ "database", "redis" or "immediate": the backend tasks are queued on."""
    backend = task_backends["default"]
    if isinstance(backend, ImmediateBackend):
        return "immediate"
    from django_tasks_db import DatabaseBackend

    if isinstance(backend, DatabaseBackend):
        return "database"
    from django_tasks_rq import RQBackend

    if isinstance(backend, RQBackend):
        return "redis"
    raise CommandError(f"No worker for the tasks backend {type(backend).__name__}.")


def _tasks_preload() -> None:
    """Import every app's tasks module (and what it imports: the parser, the
    filing code) once, before working: RQ runs each task in a child forked
    from the worker, which then starts with them loaded instead of importing
    them again for every task."""
    for app in apps.get_app_configs():
        module = f"{app.name}.tasks"
        if app.name.startswith("lanterne.") and importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


class Command(BaseCommand):
    help = (
        "Run background task workers: processing of received mail, notifications, search "
        "indexing (LANTERNE_TASKS_BACKEND database or redis). Stop with Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="Worker processes to run (default 1; each runs one task at a time)",
        )
        parser.add_argument(
            "--burst",
            action="store_true",
            help="Run what is queued, then exit (benchmarks, a catch-up from cron)",
        )
        parser.add_argument(
            "--queue",
            default=DEFAULT_TASK_QUEUE_NAME,
            help=f"Queue to work on (default {DEFAULT_TASK_QUEUE_NAME!r})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = _backend_kind()
        if kind == "immediate":
            raise CommandError(
                "LANTERNE_TASKS_BACKEND is immediate: tasks run in the process that enqueues "
                "them, there is nothing for a worker to do. Set it to database or redis."
            )
        processes: int = options["processes"]
        if processes < 1:
            raise CommandError("--processes must be at least 1.")
        if processes > 1:
            sys.exit(self._supervise(processes, options))
        if kind == "database":
            call_command(
                "db_worker",
                queue_name=options["queue"],
                batch=options["burst"],
                reload=False,
                verbosity=options["verbosity"],
            )
        else:
            _tasks_preload()
            call_command(
                "rqworker",
                options["queue"],
                burst=options["burst"],
                verbosity=options["verbosity"],
            )

    def _supervise(self, processes: int, options: dict[str, Any]) -> int:
        """Run `processes` single workers as children until they end (burst),
        until this process is told to stop, or until one of them dies — then
        the others are stopped too, so that the service manager restarts the
        whole set. Returns the worst exit code."""
        command = [
            sys.executable,
            "-m",
            "lanterne.cli",
            "worker",
            "--processes",
            "1",
            "--queue",
            options["queue"],
            "--verbosity",
            str(options["verbosity"]),
        ]
        if options["burst"]:
            command.append("--burst")
        # Each child in a process group of its own: Ctrl-C in a terminal reaches
        # this process only, which passes one SIGTERM on (a worker takes a
        # second signal as "stop the task at once").
        children = [
            subprocess.Popen(command, process_group=0)  # noqa: S603
            for _ in range(processes)
        ]
        self.stdout.write(f"Started {processes} {_backend_kind()} workers.")
        # Set once the children are told to stop: when to kill those still running.
        deadline: float | None = None

        def stop_all() -> None:
            nonlocal deadline
            if deadline is None:
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop_all()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while any(child.poll() is None for child in children):
                ended = [child.returncode for child in children if child.returncode is not None]
                # In burst mode a worker ends when the queue is empty; otherwise
                # (or when one failed) one ending stops the others.
                if ended and (not options["burst"] or any(ended)):
                    stop_all()
                if deadline is not None and time.monotonic() > deadline:
                    for child in children:
                        if child.poll() is None:
                            child.kill()
                time.sleep(0.2)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                child.wait()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return max((abs(child.returncode) for child in children), default=0)
