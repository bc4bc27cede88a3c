"""Reminders (relances) and their daily run, on a fake clock (`today`, the
`--today` argument of `lanterne send-reminders`): the manager is reminded
once when no answer came, the reminder mail goes once in the conversation
when chosen, nothing happens when the answer came — an out-of-office is no
answer —, and running twice, or twice at once, changes nothing."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, make_msgid
from io import StringIO
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Task
from lanterne.mail.choices import Direction, SendStatus
from lanterne.mail.models import Message
from lanterne.mail.outbound import dossier_mail_send
from lanterne.mail.services import mail_receive, raw_message_ingest
from lanterne.mail.storage import blob_read
from lanterne.reminders.choices import ReminderState
from lanterne.reminders.models import Reminder
from lanterne.reminders.selectors import RECENT_CLOSED, DossierReminders, dossier_reminders
from lanterne.reminders.services import (
    ReminderRun,
    reminder_cancel,
    reminder_create,
    reminder_mark_answered,
    reminders_run,
)

from ..conftest import World

CONTRACTOR = "contact@plomberie-durand.fr"
MANAGER = "staff@exemple.fr"  # the login of the world's manager


def staff_viewer(world: World) -> policy.Viewer:
    return policy.Viewer.for_user(world.users["staff"])


def sent_mail(world: World) -> Message:
    """A mail the manager sent from the dossier, awaiting an answer."""
    message = dossier_mail_send(
        viewer=staff_viewer(world),
        actor=world.users["staff"],
        dossier=world.dossier,
        to=[f"André Durand <{CONTRACTOR}>"],
        subject="Devis pour la reprise de la canalisation",
        body="Bonjour,\n\nPouvez-vous nous adresser votre devis ?\n\nCordialement",
        audience=Audience.INTERNAL,
    )
    message.refresh_from_db()
    return message


def awaiting(world: World, message: Message | None, *, due_on: date, auto: bool) -> Reminder:
    return reminder_create(
        viewer=staff_viewer(world),
        actor=world.users["staff"],
        dossier=world.dossier,
        waiting_for_name="André Durand",
        waiting_for_address=CONTRACTOR,
        due_on=due_on,
        auto_send=auto,
        message=message,
    )


def answer(
    world: World,
    *,
    to: Message | None,
    written: datetime,
    subject: str = "RE: Devis",
    sender: str = CONTRACTOR,
    headers: tuple[str, ...] = (),
) -> Message:
    """A mail from the contractor, received through the pipeline (and filed
    by it: into the dossier when it answers one of its mails)."""
    lines = [
        f"From: André Durand <{sender}>",
        "To: gestion@cabinet-lumiere.fr",
        f"Subject: {subject}",
        f"Date: {format_datetime(written)}",
        f"Message-ID: {make_msgid(domain='plomberie-durand.fr')}",
    ]
    if to is not None:
        lines += [f"In-Reply-To: <{to.message_id}>", f"References: <{to.message_id}>"]
    lines += [*headers, "Content-Type: text/plain; charset=utf-8", "", "Bonjour, voici."]
    raw = mail_receive(agency=world.agency, data="\r\n".join(lines).encode()).raw
    message = raw_message_ingest(raw)
    assert message is not None
    return message


def mails_to(address: str) -> list[Any]:
    return [m for m in django_mail.outbox if address in " ".join(m.to)]


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.mark.django_db
def test_due_without_answer_reminds_once(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        awaited = sent_mail(world)
    reminder = awaiting(world, awaited, due_on=today + timedelta(days=7), auto=True)
    django_mail.outbox.clear()

    # The day before it is due: nothing yet.
    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_run(today=today + timedelta(days=6))
    assert (run.reminded, run.answered) == ([], [])
    assert django_mail.outbox == []

    # Due: the manager is told, a task is set, the reminder mail goes.
    due = today + timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_run(today=due)
    assert run.reminded == [reminder.pk] and len(run.mails) == 1
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.DONE and reminder.reminded_at is not None

    task = Task.objects.get(dossier=world.dossier)
    assert (task.title, task.due_on, task.audience) == (
        "Relancer André Durand : pas de réponse",
        due,
        Audience.INTERNAL,
    )
    assert reminder.task == task

    [notification] = mails_to(MANAGER)
    assert notification.extra_headers["X-Lanterne-Notification"] == "reminder"
    assert world.dossier.reference in notification.subject
    assert "Une relance lui a été envoyée automatiquement." in notification.body

    [polite] = mails_to(CONTRACTOR)
    sent = reminder.sent_message
    assert sent is not None and sent.pk == run.mails[0]
    assert (sent.dossier, sent.direction, sent.audience) == (
        world.dossier,
        Direction.OUTBOUND,
        Audience.INTERNAL,
    )
    assert sent.send_status == SendStatus.SENT
    parsed = email.message_from_bytes(blob_read(sent.raw.storage_name), policy=email.policy.default)
    # In the conversation, written by a program (RFC 3834).
    assert parsed["In-Reply-To"].strip() == f"<{awaited.message_id}>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Subject"].startswith("Relance : Devis pour la reprise de la canalisation")
    assert sent.thread_id == awaited.thread_id
    assert "Pourriez-vous nous faire part de votre retour" in polite.body

    # Running again — the same day, later, or with the answer arriving
    # afterwards — changes nothing.
    for later in (due, due, due + timedelta(days=3)):
        with django_capture_on_commit_callbacks(execute=True):
            run = reminders_run(today=later)
        assert (run.reminded, run.mails, run.answered) == ([], [], [])
    assert Task.objects.filter(dossier=world.dossier).count() == 1
    assert len(mails_to(CONTRACTOR)) == 1 and len(mails_to(MANAGER)) == 1


@pytest.mark.django_db
def test_answer_in_the_conversation_closes_it_without_reminding(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        awaited = sent_mail(world)
    reminder = awaiting(world, awaited, due_on=today + timedelta(days=2), auto=True)
    django_mail.outbox.clear()
    reply = answer(world, to=awaited, written=datetime.now(UTC) + timedelta(minutes=5))
    assert reply.dossier == world.dossier

    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_run(today=today + timedelta(days=5))
    assert (run.answered, run.reminded) == ([reminder.pk], [])
    reminder.refresh_from_db()
    assert (reminder.state, reminder.answer) == (ReminderState.ANSWERED, reply)
    assert django_mail.outbox == []
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_an_answer_from_the_address_in_another_conversation_counts(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    reminder = awaiting(world, None, due_on=today, auto=False)
    # A new mail (no In-Reply-To), filed into the dossier by its subject tag
    # from a participant: the dossier's contractor.
    from ..factories import CompanyDomainFactory, CompanyFactory

    company = CompanyFactory(agency=world.agency, email=CONTRACTOR)
    CompanyDomainFactory(company=company, domain="plomberie-durand.fr")
    world.dossier.party_companies.add(company)
    reply = answer(
        world,
        to=None,
        written=datetime.now(UTC) + timedelta(minutes=5),
        subject=f"Notre devis [{world.dossier.reference}]",
    )
    assert reply.dossier == world.dossier
    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_run(today=today)
    assert run.answered == [reminder.pk]


@pytest.mark.django_db
def test_out_of_office_and_earlier_mail_are_no_answer(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        awaited = sent_mail(world)
    reminder = awaiting(world, awaited, due_on=today + timedelta(days=1), auto=False)
    django_mail.outbox.clear()
    answer(
        world,
        to=awaited,
        written=datetime.now(UTC) + timedelta(minutes=5),
        subject="Absence du bureau",
        headers=("Auto-Submitted: auto-replied",),
    )
    # Written before the reminder was set: not an answer to it.
    Reminder.objects.filter(pk=reminder.pk).update(
        created_at=timezone.now() + timedelta(minutes=10)
    )
    answer(world, to=awaited, written=datetime.now(UTC) + timedelta(minutes=8))

    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_run(today=today + timedelta(days=1))
    assert (run.answered, run.reminded, run.mails) == ([], [reminder.pk], [])
    [notification] = mails_to(MANAGER)
    assert "Aucune relance ne lui a été envoyée" in notification.body
    assert mails_to(CONTRACTOR) == []


@pytest.mark.django_db
def test_the_dossiers_manager_is_told_and_assigned(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    from ..factories import StaffFactory

    manager = StaffFactory(agency=world.agency, email="claire.morel@cabinet-lumiere.fr")
    world.dossier.manager = manager
    world.dossier.save(update_fields=["manager"])
    awaiting(world, None, due_on=today, auto=False)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_run(today=today)
    assert [m.to for m in django_mail.outbox] == [["claire.morel@cabinet-lumiere.fr"]]
    assert Task.objects.get().assignee == manager


@pytest.mark.django_db
def test_cancelled_and_answered_by_hand_are_never_acted_on(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    viewer = staff_viewer(world)
    first = awaiting(world, None, due_on=today, auto=True)
    second = reminder_create(
        viewer=viewer,
        actor=None,
        dossier=world.dossier,
        waiting_for_address="expert@cabinet-expertise.fr",
        due_on=today,
    )
    reminder_cancel(viewer=viewer, actor=None, reminder=first)
    reminder_mark_answered(viewer=viewer, actor=None, reminder=second)
    # Closing again changes nothing.
    assert reminder_cancel(viewer=viewer, actor=None, reminder=second).state == "answered"
    with django_capture_on_commit_callbacks(execute=True):
        run = reminders_run(today=today + timedelta(days=30))
    assert (run.reminded, run.answered) == ([], [])
    assert django_mail.outbox == []


@pytest.mark.django_db
def test_only_staff_set_reminders_and_only_sensible_ones(world: World, today: date) -> None:
    council = policy.Viewer.for_user(world.users["council_member"])
    with pytest.raises(PermissionDenied):
        reminder_create(
            viewer=council,
            actor=None,
            dossier=world.dossier,
            waiting_for_address=CONTRACTOR,
            due_on=today,
        )
    for address, due_on in (("pas-une-adresse", today), (CONTRACTOR, today - timedelta(days=1))):
        with pytest.raises(ValidationError):
            reminder_create(
                viewer=staff_viewer(world),
                actor=None,
                dossier=world.dossier,
                waiting_for_address=address,
                due_on=due_on,
            )
    assert not Reminder.objects.exists()


@pytest.mark.django_db
def test_send_reminders_command_is_safe_to_run_twice(
    world: World, today: date, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        awaited = sent_mail(world)
    awaiting(world, awaited, due_on=today + timedelta(days=3), auto=True)
    django_mail.outbox.clear()
    day = (today + timedelta(days=3)).isoformat()
    outputs = []
    for _run in range(2):
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send-reminders", "--today", day, stdout=out)
        outputs.append(out.getvalue())
    assert "1 due (manager told), 1 reminder mails written" in outputs[0]
    assert "0 due (manager told), 0 reminder mails written" in outputs[1]
    assert len(mails_to(CONTRACTOR)) == 1 and len(mails_to(MANAGER)) == 1


@pytest.mark.django_db
def test_a_run_costs_a_bounded_number_of_queries_per_reminder(
    world: World, today: date, django_assert_num_queries: Any
) -> None:
    for number in range(10):
        reminder_create(
            viewer=staff_viewer(world),
            actor=None,
            dossier=world.dossier,
            waiting_for_address=f"entreprise{number}@exemple.fr",
            due_on=today + timedelta(days=1),
        )
    # Not due: the list, then for each one a read of the reminder and one
    # search for its answer, in a transaction of its own (a savepoint here).
    with django_assert_num_queries(1 + 10 * (1 + 1 + 2)):
        reminders_run(today=today)


@pytest.mark.django_db
def test_a_dossier_page_lists_open_reminders_then_the_latest_closed_in_one_query(
    world: World, today: date, django_assert_num_queries: Any
) -> None:
    viewer = staff_viewer(world)

    def reminder(number: int, due_in: int) -> Reminder:
        return reminder_create(
            viewer=viewer,
            actor=None,
            dossier=world.dossier,
            waiting_for_address=f"entreprise{number}@exemple.fr",
            due_on=today + timedelta(days=due_in),
        )

    late, soon, same_day = reminder(1, 9), reminder(2, 2), reminder(3, 9)
    closed = [reminder(10 + number, 1) for number in range(RECENT_CLOSED + 2)]
    for position, closing in enumerate(closed):
        closing = reminder_cancel(viewer=viewer, actor=None, reminder=closing)
        # Closed in an order of their own: neither by key nor by due date.
        closing.closed_at = timezone.now() - timedelta(hours=(position * 5) % 7)
        closing.save(update_fields=["closed_at"])
    with django_assert_num_queries(1):
        shown = dossier_reminders(viewer, world.dossier)
    assert shown.open == [soon, late, same_day]
    latest = sorted(closed, key=lambda r: Reminder.objects.get(pk=r.pk).closed_at, reverse=True)
    assert [r.pk for r in shown.recent_closed] == [r.pk for r in latest[:RECENT_CLOSED]]
    # Reminders name outsiders: nobody else gets them, nor a query.
    council = policy.Viewer.for_user(world.users["council_member"])
    with django_assert_num_queries(0):
        assert dossier_reminders(council, world.dossier) == DossierReminders(
            open=[], recent_closed=[]
        )


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_remind_once(world: World, today: date) -> None:
    awaited = sent_mail(world)
    reminder = awaiting(world, awaited, due_on=today, auto=True)
    django_mail.outbox.clear()
    start = threading.Barrier(2)
    runs: list[Any] = []

    def run() -> None:
        try:
            start.wait(timeout=10)
            runs.append(reminders_run(today=today))
        except OperationalError as error:
            # SQLite's shared-cache test database refuses a reader while the
            # other run writes ("table is locked") rather than making it
            # wait: that run did nothing at all, which is what is asserted.
            if connection.vendor != "sqlite" or "locked" not in str(error):
                raise
            runs.append(ReminderRun())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(runs) == 2
    # Whichever got it, it was acted on once; the other found it claimed
    # (PostgreSQL) or waited for the first (SQLite's single writer) — or, on
    # SQLite's shared test database, was refused the lock and leaves it.
    assert sorted(pk for r in runs for pk in r.reminded) == [reminder.pk]
    assert Task.objects.filter(dossier=world.dossier).count() == 1
    assert Message.objects.filter(direction=Direction.OUTBOUND, is_auto_reply=True).count() == 1
    assert len(mails_to(CONTRACTOR)) == 1 and len(mails_to(MANAGER)) == 1
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.DONE
