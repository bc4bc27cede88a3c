"""The reminders on the dossier page (the « Relances » block), setting one,
cancelling it or saying the answer came — staff only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lanterne.dossiers import policy
from lanterne.reminders.choices import ReminderState
from lanterne.reminders.models import Reminder
from lanterne.reminders.services import reminder_create

from ..conftest import World
from ..factories import CompanyFactory

pytestmark = pytest.mark.django_db

CONTRACTOR = "contact@plomberie-durand.fr"


def reminder(world: World, address: str = CONTRACTOR, days: int = 5) -> Reminder:
    return reminder_create(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        dossier=world.dossier,
        waiting_for_name="Plomberie Durand",
        waiting_for_address=address,
        due_on=timezone.localdate() + timedelta(days=days),
        about="Devis de reprise",
    )


def test_staff_set_a_reminder_from_the_dossier_page(
    world: World, client_for: Callable[..., Any]
) -> None:
    company = CompanyFactory(agency=world.agency, name="Plomberie Durand", email=CONTRACTOR)
    world.dossier.party_companies.add(company)
    client = client_for("staff")
    url = reverse("reminders:create", args=[world.dossier.pk])
    page = client.get(url)
    assert page.status_code == 200 and CONTRACTOR in page.content.decode()
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(
        url, {"contact": CONTRACTOR, "address": "", "about": "Devis", "due_on": due}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/dossiers/{world.dossier.pk}/#relances")
    created = Reminder.objects.get()
    assert (created.waiting_for_address, created.waiting_for_name) == (
        CONTRACTOR,
        "Plomberie Durand",
    )
    assert (created.due_on.isoformat(), created.auto_send, created.created_by) == (
        due,
        False,
        world.users["staff"],
    )

    # Neither a contact nor an address: refused, in French.
    response = client.post(url, {"contact": "", "address": "", "due_on": due})
    assert response.status_code == 400
    assert "Choisissez un contact ou indiquez une adresse." in response.content.decode()
    assert Reminder.objects.count() == 1


def test_the_dossier_page_shows_open_reminders_to_staff_only(
    world: World, client_for: Callable[..., Any]
) -> None:
    reminder(world)
    url = reverse("dossiers:detail", args=[world.dossier.pk])
    html = client_for("staff").get(url).content.decode()
    assert 'id="relances"' in html
    assert "Plomberie Durand" in html and CONTRACTOR in html
    assert reverse("mail:compose", args=[world.dossier.pk]) in html
    for role in ("owner_not_party", "council_member"):
        other = client_for(role).get(url).content.decode()
        assert CONTRACTOR not in other and 'id="relances"' not in other


def test_the_reminders_block_costs_the_same_whatever_their_number(
    world: World, client_for: Callable[..., Any]
) -> None:
    client = client_for("staff")
    url = reverse("dossiers:detail", args=[world.dossier.pk])
    reminder(world)
    client.get(url)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    few = queries()
    for number in range(6):
        reminder(world, address=f"entreprise{number}@exemple.fr", days=number)
    Reminder.objects.filter(waiting_for_address__startswith="entreprise1").update(
        state=ReminderState.CANCELLED, closed_at=timezone.now()
    )
    assert queries() == few


def test_cancel_and_answered_by_staff_only(world: World, client_for: Callable[..., Any]) -> None:
    first, second = reminder(world), reminder(world, address="expert@exemple.fr")
    cancel = reverse("reminders:cancel", args=[first.pk])
    answered = reverse("reminders:answered", args=[second.pk])
    assert client_for("council_member").post(cancel).status_code == 404
    assert client_for("staff_other_agency").post(answered).status_code == 404
    assert client_for("staff").get(cancel).status_code == 405
    assert client_for("staff").post(cancel).status_code == 302
    assert client_for("staff").post(answered).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (ReminderState.CANCELLED, ReminderState.ANSWERED)
    assert first.closed_by == world.users["staff"]


def test_a_reminder_about_a_sent_mail_starts_from_its_timeline_entry(
    world: World, client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    from lanterne.dossiers.choices import Audience
    from lanterne.mail.outbound import dossier_mail_send

    with django_capture_on_commit_callbacks(execute=True):
        sent = dossier_mail_send(
            viewer=policy.Viewer.for_user(world.users["staff"]),
            actor=world.users["staff"],
            dossier=world.dossier,
            to=[CONTRACTOR],
            subject="Devis de reprise",
            body="Bonjour, votre devis ?",
            audience=Audience.INTERNAL,
        )
    url = reverse("reminders:create", args=[world.dossier.pk])
    page = client_for("staff").get(url + f"?courriel={sent.pk}").content.decode()
    assert f'<option value="{sent.pk}" selected>' in page
    due = (timezone.localdate() + timedelta(days=3)).isoformat()
    client_for("staff").post(
        url,
        {"address": CONTRACTOR, "message": str(sent.pk), "due_on": due, "auto_send": "on"},
    )
    created = Reminder.objects.get()
    assert (created.message, created.auto_send) == (sent, True)
