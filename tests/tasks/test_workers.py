"""Background work on a real queue: mail stored by a source is processed by
`lanterne worker` processes, on the database's queue and on Redis.

Everything is real: the `lanterne` command run as separate processes (the
SMTP receiver, the workers), an installation of its own per test (see
conftest.py), Redis on this machine; the outcome is read straight from the
database."""

from __future__ import annotations

import signal
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

from benchmarks.installations import free_port

from .conftest import Installation, wait_for_port
from .installation_script import AGENCY_DOMAIN

MESSAGES = 200


def _states(installation: Installation) -> dict[str, int]:
    rows = installation.query("SELECT state, COUNT(*) FROM mail_rawmessage GROUP BY state")
    return {state: count for state, count in rows}


def test_mail_received_over_smtp_is_processed_by_a_worker(
    installation: Installation, tmp_path: Path
) -> None:
    """The receiver stores the message and answers 250, but leaves its parsing
    to the queue; a worker process then parses, threads and files it, and
    indexes it for search."""
    installation.script("store", "0")  # the agency whose domain the receiver accepts
    port = free_port()
    log = tmp_path / "receiver.log"
    receiver = installation.start("receive-mail", "--port", str(port), log=log)
    try:
        wait_for_port(port, receiver, log)
        message = EmailMessage()
        message["From"] = "jean.martin@plomberie-martin.example"
        message["To"] = f"gestion@{AGENCY_DOMAIN}"
        message["Subject"] = "Fuite au 3e étage"
        message["Message-ID"] = "<fuite-3e@plomberie-martin.example>"
        message.set_content("Bonjour, une fuite d’eau coule dans l’escalier B.")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            refused = client.send_message(message)
        assert refused == {}
    finally:
        # SIGTERM: the receiver finishes what it took on (the enqueue), then exits.
        receiver.send_signal(signal.SIGTERM)
        assert receiver.wait(timeout=60) == 0, log.read_text()

    # Stored and acknowledged, not processed: no worker has run yet.
    assert _states(installation) == {"stored": 1}
    assert installation.count("SELECT COUNT(*) FROM mail_message") == 0

    installation.work()

    assert _states(installation) == {"parsed": 1}
    assert installation.query("SELECT subject, message_id FROM mail_message") == [
        ("Fuite au 3e étage", "fuite-3e@plomberie-martin.example")
    ]
    # The side work of the task ran in the worker (not queued again): the
    # message is in the search index.
    assert (
        installation.count("SELECT COUNT(*) FROM search_searchdocument WHERE kind = 'message'") == 1
    )


def test_two_workers_process_every_stored_message_exactly_once(
    installation: Installation,
) -> None:
    """200 stored messages, each enqueued twice in overlapping batches, worked
    on by two worker processes at once: each becomes exactly one Message, none
    is lost, none is quarantined."""
    raw_ids = installation.script("store", str(MESSAGES))["raw_ids"]
    assert len(set(raw_ids)) == MESSAGES
    enqueued = installation.script("enqueue-ingest", *map(str, raw_ids))
    assert enqueued["batches"] == 2 * MESSAGES // 10

    output = installation.work(processes=2)

    assert "Started 2" in output
    assert _states(installation) == {"parsed": MESSAGES}
    assert installation.count("SELECT COUNT(*) FROM mail_message") == MESSAGES
    assert installation.count("SELECT COUNT(DISTINCT raw_id) FROM mail_message") == MESSAGES
    assert installation.count("SELECT COUNT(DISTINCT message_id) FROM mail_message") == MESSAGES
    # Every message threaded once, and indexed once.
    assert installation.count("SELECT COUNT(*) FROM mail_message WHERE thread_id IS NULL") == 0
    assert (
        installation.count("SELECT COUNT(*) FROM search_searchdocument WHERE kind = 'message'")
        == MESSAGES
    )


def test_a_failing_task_is_recorded_with_its_error(installation: Installation) -> None:
    """Neither backend retries a task that raised: the database backend keeps
    its result row as FAILED with the traceback, RQ keeps the job in its
    failed registry with the traceback. The worker goes on with the rest."""
    reason = "panne volontaire du test"
    task_id = installation.script("enqueue-failing", reason)["task_id"]
    raw_ids = installation.script("store", "3")["raw_ids"]
    batches = installation.script("enqueue-ingest", *map(str, raw_ids))["batches"]

    installation.work()

    assert _states(installation) == {"parsed": 3}
    if installation.backend == "database":
        [(result_id, status, error)] = installation.query(
            "SELECT id, status, exception_class_path || ' ' || traceback "
            "FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'tests.tasks.failing.always_fails'"
        )
        assert str(uuid.UUID(str(result_id))) == task_id
        assert status == "FAILED"
        assert "DeliberateFailureError" in error
        assert reason in error
        statuses = installation.query(
            "SELECT status, COUNT(*) FROM django_tasks_database_dbtaskresult GROUP BY status"
        )
        assert dict(statuses) == {"FAILED": 1, "SUCCESSFUL": batches}
    else:
        import redis
        from rq.job import Job
        from rq.registry import FailedJobRegistry

        connection = redis.Redis.from_url(installation.redis_url)
        try:
            job = Job.fetch(task_id, connection=connection)
            assert job.get_status() == "failed"
            result = job.latest_result()
            assert result is not None
            assert "DeliberateFailureError" in (result.exc_string or "")
            assert reason in (result.exc_string or "")
            registry = FailedJobRegistry("default", connection=connection)
            assert registry.get_job_ids() == [task_id]
        finally:
            connection.close()
