"""Which work goes to the queue and what the tasks do, in the test process:
the settings, the mail task's idempotence and claims, and the side work of a
request (notifications, search indexing) enqueued after its commit rather than
done in it — then done by django-tasks-db's worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.services import note_add
from lanterne.mail.choices import RawState
from lanterne.mail.models import Message, RawMessage
from lanterne.mail.services import mail_receive
from lanterne.mail.tasks import CLAIMED_ELSEWHERE, _raw_claim, raw_messages_ingest
from lanterne.search.models import SearchDocument

from ..conftest import World
from ..factories import AgencyFactory
from ..mail.test_webhook import basic_auth, french_message, mailgun_form, post
from ..mail.test_webhook import webhook as webhook  # the fixture: the webhook configured
from .installation_script import message_bytes

REPOSITORY = Path(__file__).resolve().parents[2]
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _work_in_process() -> None:
    """Run what waits in the database queue with django-tasks-db's worker,
    in this process (its command would close the test's database connection
    between tasks)."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    for result in DBTaskResult.objects.ready():
        result.claim(worker.worker_id)
        worker.run_task(result)


def test_an_unknown_backend_is_refused_with_the_choices(tmp_path: Path) -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LANTERNE_")
    }
    environment.update(
        LANTERNE_MODE="test",
        LANTERNE_DATA_DIR=str(tmp_path),
        LANTERNE_TASKS_BACKEND="celery",
        DJANGO_SETTINGS_MODULE="lanterne.settings",
    )
    done = subprocess.run(
        [sys.executable, "-m", "lanterne.cli", "check"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "LANTERNE_TASKS_BACKEND must be immediate, database or redis, not 'celery'" in (
        done.stderr
    )


def test_no_worker_runs_with_the_immediate_backend() -> None:
    with pytest.raises(CommandError, match="LANTERNE_TASKS_BACKEND is immediate"):
        call_command("worker")


@pytest.mark.django_db
def test_the_mail_task_processes_stored_messages_once(world: World) -> None:
    first = mail_receive(agency=world.agency, data=message_bytes(1)).raw
    second = mail_receive(agency=world.agency, data=message_bytes(2)).raw

    assert raw_messages_ingest.call([first.pk, second.pk]) == {"parsed": 2}
    # Enqueued again (a batch given twice, a second worker): nothing to do.
    assert raw_messages_ingest.call([first.pk, second.pk]) == {"skipped": 2}
    assert Message.objects.filter(raw__in=[first, second]).count() == 2


@pytest.mark.django_db
def test_a_message_another_worker_claimed_is_left_to_it(world: World) -> None:
    """On PostgreSQL a worker holding a message's claim keeps it: another
    worker's run of the same batch leaves it to the first."""
    if connection.vendor != "postgresql":
        pytest.skip("claims are PostgreSQL advisory locks; SQLite serialises the writers")
    import psycopg

    raw = mail_receive(agency=world.agency, data=message_bytes(3)).raw
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"],
        port=settings["PORT"] or None,
        autocommit=True,
    )
    try:
        with _raw_claim(raw.pk) as claimed:
            assert claimed
            # The claim is held by this connection: another one is refused it…
            key = other.execute("SELECT pg_try_advisory_lock(%s)", [_claim_key(raw.pk)])
            assert key.fetchone() == (False,)
        # …and, once released, a worker holding it makes this one step aside.
        other.execute("SELECT pg_advisory_lock(%s)", [_claim_key(raw.pk)])
        assert raw_messages_ingest.call([raw.pk]) == {CLAIMED_ELSEWHERE: 1}
        raw.refresh_from_db()
        assert raw.state == RawState.STORED
        other.execute("SELECT pg_advisory_unlock(%s)", [_claim_key(raw.pk)])
        assert raw_messages_ingest.call([raw.pk]) == {"parsed": 1}
    finally:
        other.close()


def _claim_key(raw_id: int) -> int:
    from lanterne.mail import tasks

    return tasks._RAW_CLAIM_NAMESPACE | raw_id


@pytest.mark.django_db
def test_a_request_s_side_work_is_queued_after_its_commit_then_done_by_a_worker(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """With a queue, publishing a note sends no mail and indexes nothing in
    the request: both wait in the queue once the transaction committed, and
    the worker (django-tasks-db's own, run in this process) does them."""
    actor = world.users["staff"]
    assert actor is not None
    with override_settings(TASKS=DATABASE_QUEUE):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            note = note_add(
                viewer=policy.Viewer.for_user(actor),
                actor=actor,
                dossier=world.dossier,
                text="Le plombier passe jeudi à 9 h.",
                audience=Audience.OWNERS,
            )
        assert not DBTaskResult.objects.exists()  # nothing before the commit
        for callback in callbacks:
            callback()

        assert mail.outbox == []
        assert not SearchDocument.objects.filter(note=note).exists()
        queued = {result.task_path: result.args_kwargs for result in DBTaskResult.objects.all()}
        assert set(queued) == {
            "lanterne.notifications.tasks.entry_notifications_send",
            "lanterne.search.tasks.search_documents_index_run",
        }
        assert queued["lanterne.search.tasks.search_documents_index_run"]["args"] == [
            {"note_ids": [note.pk]}
        ]

        _work_in_process()

    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert SearchDocument.objects.filter(note=note).exists()
    recipients = {address for message in mail.outbox for address in message.to}
    assert recipients == {
        world.users[role].email  # type: ignore[union-attr]
        for role in ("council_member", "council_chair", "owner_party")
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("webhook")
def test_the_webhook_answers_once_stored_and_leaves_the_parsing_to_a_worker(
    django_capture_on_commit_callbacks: Any,
) -> None:
    AgencyFactory.create(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")
    body, content_type = mailgun_form(french_message())
    with override_settings(TASKS=DATABASE_QUEUE):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(Client(), body, content_type, **basic_auth())
        assert response.status_code == 200
        raw = RawMessage.objects.get()
        assert raw.state == RawState.STORED
        assert not Message.objects.exists()
        [queued] = DBTaskResult.objects.all()
        assert queued.task_path == "lanterne.mail.tasks.raw_messages_ingest"
        assert queued.args_kwargs == {"args": [[raw.pk]], "kwargs": {}}

        _work_in_process()

    raw.refresh_from_db()
    assert raw.state == RawState.PARSED
    assert Message.objects.get(raw=raw).subject == "Dégât des eaux — lot 12"
