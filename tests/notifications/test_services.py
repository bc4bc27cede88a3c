"""Who is told of what: follows (implicit and chosen), the access policy asked
for each follower, immediate mails and daily digests, the outbox's claims,
and the cost of queueing.

Entries are recorded through the dossier services (`note_add`…), as staff do:
`timeline_entry_record` calls the notifications hook."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lanterne.accounts.models import User
from lanterne.condominiums.models import Ownership
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DecisionBody, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.dossiers.services import decision_record, entry_set_audience, note_add, task_create
from lanterne.mail.models import Message
from lanterne.notifications import services
from lanterne.notifications.choices import Delivery, Frequency, NotificationStatus
from lanterne.notifications.models import Follow, Notification
from lanterne.notifications.selectors import (
    followers_of,
    implicit_follower_ids,
    is_implicitly_concerned,
)

from ..conftest import ROLES, World
from ..factories import LotFactory, OwnershipFactory, PersonFactory, UserFactory
from .conftest import receive_mail, roles_notified

pytestmark = pytest.mark.django_db


def add_note(
    world: World,
    actor: User,
    *,
    audience: str = Audience.OWNERS,
    text: str = "Le plombier passe jeudi à 9 h.",
    dossier: Dossier | None = None,
    occurred_at: dt.datetime | None = None,
) -> TimelineEntry:
    dossier = dossier or world.dossier
    note = note_add(
        viewer=policy.Viewer.for_user(actor),
        actor=actor,
        dossier=dossier,
        text=text,
        audience=audience,
        occurred_at=occurred_at,
    )
    return TimelineEntry.objects.get(note=note)


def choose(user: User | None, frequency: str) -> None:
    assert user is not None
    services.preference_set(actor=user, frequency=frequency)


def follow(world: World, role: str, *, following: bool = True) -> None:
    user = world.users[role]
    services.follow_set(
        viewer=policy.Viewer.for_user(user),
        actor=user,
        dossier=world.dossier,
        following=following,
    )


# --- Who gets what ----------------------------------------------------------------


def test_an_owners_entry_reaches_the_implicit_followers_who_may_see_it(
    world: World, assistant: User
) -> None:
    entry = add_note(world, assistant)
    # The dossier's manager, its council, the owner of its party lot; not a
    # neighbour who does not follow it, nobody of another condominium or agency.
    assert roles_notified(world, entry) == {
        "staff",
        "council_member",
        "council_chair",
        "owner_party",
    }
    assert set(Notification.objects.values_list("delivery", flat=True)) == {Delivery.IMMEDIATE}


def test_a_co_owner_who_follows_by_choice_is_told_too(world: World, assistant: User) -> None:
    follow(world, "owner_not_party")
    entry = add_note(world, assistant)
    assert "owner_not_party" in roles_notified(world, entry)


@pytest.mark.parametrize("role", ["owner_other_condominium", "staff_other_agency"])
def test_nobody_may_follow_a_dossier_they_cannot_see(world: World, role: str) -> None:
    with pytest.raises(PermissionDenied):
        follow(world, role)


@pytest.mark.parametrize("role", ["owner_other_condominium", "staff_other_agency"])
def test_a_follow_row_gives_no_right_the_policy_refuses(
    world: World, assistant: User, role: str
) -> None:
    """Following is a wish: even a follow written behind the services' back
    is checked against the access policy, entry by entry."""
    Follow.objects.create(user=world.users[role], dossier=world.dossier, following=True)
    assert world.users[role].pk in followers_of(world.dossier)
    entry = add_note(world, assistant)
    assert role not in roles_notified(world, entry)


def test_a_council_entry_reaches_the_council_and_staff_only(world: World, assistant: User) -> None:
    follow(world, "owner_not_party")
    entry = add_note(world, assistant, audience=Audience.COUNCIL)
    assert roles_notified(world, entry) == {"staff", "council_member", "council_chair"}


def test_a_parties_entry_reaches_the_parties_and_the_council_only_if_the_dossier_says_so(
    world: World, assistant: User
) -> None:
    follow(world, "owner_not_party")
    entry = add_note(world, assistant, audience=Audience.PARTIES)
    assert roles_notified(world, entry) == {"staff", "owner_party"}
    world.dossier.council_sees_parties = True
    world.dossier.save(update_fields=["council_sees_parties"])
    entry = add_note(world, assistant, audience=Audience.PARTIES)
    assert roles_notified(world, entry) == {
        "staff",
        "owner_party",
        "council_member",
        "council_chair",
    }


def test_an_internal_entry_is_news_to_nobody(world: World, assistant: User) -> None:
    follow(world, "owner_not_party")
    entry = add_note(world, assistant, audience=Audience.INTERNAL)
    services.entries_published([entry])  # even if someone asks
    assert not Notification.objects.exists()


def test_nothing_of_an_internal_dossier_is_news(world: World, assistant: User) -> None:
    world.dossier.audience = Audience.INTERNAL
    world.dossier.save(update_fields=["audience"])
    add_note(world, assistant, audience=Audience.OWNERS)
    assert not Notification.objects.exists()


def test_the_actor_is_not_told_of_what_they_did(world: World) -> None:
    manager = world.users["staff"]
    entry = add_note(world, manager)
    assert "staff" not in roles_notified(world, entry)
    assert "council_member" in roles_notified(world, entry)


def test_the_council_chair_s_opinion_reaches_the_manager_not_the_chair(world: World) -> None:
    chair = world.users["council_chair"]
    decision = decision_record(
        viewer=policy.Viewer.for_user(chair),
        actor=chair,
        dossier=world.dossier,
        decided_by=DecisionBody.COUNCIL,
        text="Le conseil est favorable au devis de Plomberie Martin.",
        audience=Audience.COUNCIL,
    )
    entry = TimelineEntry.objects.get(decision=decision)
    assert roles_notified(world, entry) == {"staff", "council_member"}


def test_an_unfollower_is_not_told(world: World, assistant: User) -> None:
    follow(world, "owner_party", following=False)
    entry = add_note(world, assistant)
    assert "owner_party" not in roles_notified(world, entry)
    assert world.users["owner_party"].pk not in followers_of(world.dossier)


def test_the_owner_of_a_party_lot_follows_through_the_lot(world: World, assistant: User) -> None:
    """A second owner of the party lot (joint ownership) follows too; the
    owner of another lot does not."""
    spouse = PersonFactory(agency=world.agency, last_name="Conjointe")
    spouse.user = UserFactory(email="conjointe@exemple.fr")
    spouse.save(update_fields=["user"])
    OwnershipFactory(person=spouse, lot=world.party_lot)
    entry = add_note(world, assistant)
    assert Notification.objects.filter(entry=entry, user=spouse.user).exists()


def test_a_person_without_login_or_with_an_inactive_login_is_not_a_follower(
    world: World, assistant: User
) -> None:
    no_login = PersonFactory(agency=world.agency, last_name="SansCompte")
    OwnershipFactory(person=no_login, lot=world.party_lot)
    council_user = world.users["council_member"]
    council_user.is_active = False
    council_user.save(update_fields=["is_active"])
    entry = add_note(world, assistant)
    assert "council_member" not in roles_notified(world, entry)
    assert Notification.objects.filter(entry=entry).count() == 3


@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
def test_the_page_s_follow_state_agrees_with_the_followers_query(world: World, role: str) -> None:
    """`is_implicitly_concerned` (the button, from the viewer) and
    `implicit_follower_ids` (the outbox, in SQL) say the same thing."""
    user = world.users[role]
    dossier = Dossier.objects.prefetch_related("party_persons", "party_lots").get(
        pk=world.dossier.pk
    )
    viewer = policy.Viewer.for_user(user)
    assert is_implicitly_concerned(viewer, dossier) == (user.pk in implicit_follower_ids(dossier))


def test_a_party_person_follows_without_owning_a_lot(world: World, assistant: User) -> None:
    tenant = PersonFactory(agency=world.agency, last_name="Locataire")
    tenant.user = UserFactory(email="locataire@exemple.fr")
    tenant.save(update_fields=["user"])
    world.dossier.party_persons.add(tenant)
    # An "owners" dossier is not for a tenant, party or not: the policy says no.
    entry = add_note(world, assistant, audience=Audience.PARTIES)
    assert not Notification.objects.filter(entry=entry, user=tenant.user).exists()
    world.dossier.audience = Audience.PARTIES
    world.dossier.save(update_fields=["audience"])
    entry = add_note(world, assistant, audience=Audience.PARTIES)
    assert Notification.objects.filter(entry=entry, user=tenant.user).exists()


# --- Machine mail ------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag", ["is_auto_reply", "is_bounce", "is_bulk", "is_lanterne_notification"]
)
def test_machine_mail_is_news_to_nobody(world: World, flag: str) -> None:
    """Even published to the owners by mistake, an auto-reply, a bounce, bulk
    mail or one of Lanterne's own notifications come back tell nobody."""
    message = receive_mail(world, message_id="<machine@plomberie.fr>")
    Message.objects.filter(pk=message.pk).update(
        **{flag: True}, dossier=world.dossier, audience=Audience.OWNERS
    )
    entry = TimelineEntry.objects.create(
        dossier=world.dossier,
        kind=EntryKind.MESSAGE,
        audience=Audience.OWNERS,
        message=message,
        occurred_at=timezone.now(),
    )
    services.entries_published([entry])
    assert not Notification.objects.exists()


# --- Preferences ------------------------------------------------------------------


def test_each_follower_gets_the_delivery_they_chose(world: World, assistant: User) -> None:
    choose(world.users["council_member"], Frequency.DIGEST)
    choose(world.users["council_chair"], Frequency.NONE)
    entry = add_note(world, assistant)
    assert roles_notified(world, entry, delivery=Delivery.IMMEDIATE) == {"staff", "owner_party"}
    assert roles_notified(world, entry, delivery=Delivery.DIGEST) == {"council_member"}
    assert "council_chair" not in roles_notified(world, entry)


def test_history_recorded_long_after_the_fact_tells_nobody(world: World, assistant: User) -> None:
    add_note(world, assistant, occurred_at=timezone.now() - dt.timedelta(days=400))
    assert not Notification.objects.exists()


def test_publishing_twice_tells_nobody_twice(world: World, assistant: User) -> None:
    entry = add_note(world, assistant)
    count = Notification.objects.count()
    services.entries_published([entry])
    assert Notification.objects.count() == count


# --- Immediate mails ---------------------------------------------------------------


def test_immediate_mails_leave_when_the_transaction_commits(
    world: World, assistant: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        entry = add_note(world, assistant, text="Le plombier passe jeudi à 9 h.")
        assert mail.outbox == []  # nothing before the commit
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted(
        world.users[role].email
        for role in ("staff", "council_member", "council_chair", "owner_party")
    )
    message = next(m for m in mail.outbox if m.to == [world.users["owner_party"].email])
    assert message.subject == f"[Lanterne] {world.dossier.reference} — Nouvelle note"
    assert "Le plombier passe jeudi à 9 h." in message.body
    assert f"/dossiers/{world.dossier.pk}/#entry-{entry.pk}" in message.body
    html = message.alternatives[0]
    assert html[1] == "text/html" and "Le plombier passe jeudi à 9 h." in str(html[0])
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SENT}


def test_a_notification_mail_carries_the_unsubscribe_and_loop_protection_headers(
    world: World, assistant: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_note(world, assistant)
    message = next(m for m in mail.outbox if m.to == [world.users["owner_party"].email])
    # As a mail client reads it: the bytes sent, parsed again.
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    headers = {name: str(value).strip() for name, value in parsed.items()}
    unsubscribe = headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://127.0.0.1:8000/notifications/desabonnement/")
    assert unsubscribe.endswith("/>")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["X-Lanterne-Notification"] == "immediate"
    # Replies go to the agency, addressed to the dossier; the Message-ID names it too.
    assert headers["Reply-To"].startswith("gestion+dos.")
    assert headers["Message-ID"].startswith("<lanterne.")
    assert "Cabinet Lumière via Lanterne" in headers["From"]


def test_the_task_and_the_decision_say_what_they_are(
    world: World, assistant: User, django_capture_on_commit_callbacks: Any
) -> None:
    viewer = policy.Viewer.for_user(assistant)
    with django_capture_on_commit_callbacks(execute=True):
        task_create(
            viewer=viewer,
            actor=assistant,
            dossier=world.dossier,
            title="Relancer l'assureur",
            due_on=dt.date(2026, 3, 20),
        )
    subjects = {m.subject for m in mail.outbox}
    assert subjects == {
        f"[Lanterne] {world.dossier.reference} — Nouvelle tâche : Relancer l'assureur"
    }
    assert "Échéance : 20 mars 2026" in mail.outbox[0].body


def test_an_entry_narrowed_after_queueing_is_dropped_for_those_who_lost_it(
    world: World, assistant: User, assistant_viewer: policy.Viewer
) -> None:
    entry = add_note(world, assistant, text="Devis accepté pour 4 200 €.")
    entry_set_audience(
        viewer=assistant_viewer, actor=assistant, entry=entry, audience=Audience.COUNCIL
    )
    report = services.notifications_send()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        world.users[role].email for role in ("staff", "council_member", "council_chair")
    )
    dropped = Notification.objects.get(user=world.users["owner_party"])
    assert dropped.status == NotificationStatus.DROPPED
    assert "may no longer see" in dropped.detail
    assert (report.sent, report.dropped) == (3, 1)


def test_an_entry_made_internal_after_queueing_is_sent_to_nobody(
    world: World, assistant: User, assistant_viewer: policy.Viewer
) -> None:
    entry = add_note(world, assistant)
    entry_set_audience(
        viewer=assistant_viewer, actor=assistant, entry=entry, audience=Audience.INTERNAL
    )
    services.notifications_send()
    assert mail.outbox == []
    assert set(Notification.objects.values_list("status", flat=True)) == {
        NotificationStatus.DROPPED
    }


def test_unfollowing_or_choosing_no_mail_after_queueing_drops_the_rows(
    world: World, assistant: User
) -> None:
    add_note(world, assistant)
    follow(world, "owner_party", following=False)
    choose(world.users["council_chair"], Frequency.NONE)
    services.notifications_send()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        world.users[role].email for role in ("staff", "council_member")
    )


def test_send_notifications_is_safe_twice(world: World, assistant: User, capsys: Any) -> None:
    add_note(world, assistant)
    call_command("send-notifications")
    assert len(mail.outbox) == 4
    assert "4 notifications sent" in capsys.readouterr().out
    call_command("send-notifications")
    assert len(mail.outbox) == 4
    assert "0 notifications sent" in capsys.readouterr().out


def test_a_row_claimed_by_another_sender_is_left_to_it_until_the_claim_is_stale(
    world: World, assistant: User
) -> None:
    add_note(world, assistant)
    taken = Notification.objects.filter(user=world.users["owner_party"])
    taken.update(status=NotificationStatus.SENDING, claim="other", claimed_at=timezone.now())
    services.notifications_send()
    assert world.users["owner_party"].email not in {m.to[0] for m in mail.outbox}
    assert taken.get().status == NotificationStatus.SENDING
    # The other sender died: after CLAIM_TIMEOUT its rows are taken over.
    taken.update(claimed_at=timezone.now() - services.CLAIM_TIMEOUT - dt.timedelta(minutes=1))
    services.notifications_send()
    assert [m.to[0] for m in mail.outbox].count(world.users["owner_party"].email) == 1
    assert taken.get().status == NotificationStatus.SENT


class RefusingBackend:
    """A mail backend whose server refuses every message (as an SMTP server
    answering 550 would, the error surfacing at `send`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> RefusingBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def send_messages(self, messages: list[Any]) -> int:
        raise OSError("550 mailbox unavailable")


def test_a_failed_mail_is_retried_by_a_later_run_then_given_up(
    world: World, assistant: User, settings: Any
) -> None:
    choose(world.users["council_member"], Frequency.NONE)
    choose(world.users["council_chair"], Frequency.NONE)
    follow(world, "owner_party", following=False)
    add_note(world, assistant)
    row = Notification.objects.get()  # the manager's
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    report = services.notifications_send()
    row.refresh_from_db()
    assert (report.failed, report.retried) == (1, 1)
    assert row.status == NotificationStatus.PENDING and row.attempts == 1
    assert "550 mailbox unavailable" in row.detail
    # Not retried within the same run; retried by the next ones.
    for _run in range(services.MAX_ATTEMPTS - 1):
        services.notifications_send()
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED and row.attempts == services.MAX_ATTEMPTS
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.notifications_send()
    assert mail.outbox == []


# --- Digests ---------------------------------------------------------------------


def test_the_daily_digest_gathers_a_login_s_news_by_dossier(
    world: World, assistant: User, capsys: Any
) -> None:
    choose(world.users["council_member"], Frequency.DIGEST)
    other = Dossier.objects.create(
        agency=world.agency,
        condominium=world.condominium,
        reference="DOS-2026-0777",
        title="Ravalement de la façade",
        type="works",
        status="quotes",
        audience=Audience.OWNERS,
    )
    add_note(world, assistant, text="Premier passage du plombier.")
    add_note(world, assistant, text="Le devis de ravalement est arrivé.", dossier=other)
    add_note(world, assistant, text="Second passage du plombier.")
    services.notifications_send()  # the immediate ones
    mail.outbox.clear()
    call_command("send-digests", "--date", timezone.localdate().isoformat())
    assert "1 digests sent" in capsys.readouterr().out
    assert len(mail.outbox) == 1
    digest = mail.outbox[0]
    assert digest.to == [world.users["council_member"].email]
    assert digest.subject.startswith("[Lanterne] Votre résumé du ")
    assert digest.subject.endswith("3 nouveautés")
    body = digest.body
    # Grouped by dossier, in the order of their first news.
    assert body.index(world.dossier.reference) < body.index("Premier passage")
    assert body.index("Premier passage") < body.index("Second passage")
    assert body.index("Second passage") < body.index("DOS-2026-0777")
    assert body.index("DOS-2026-0777") < body.index("Le devis de ravalement")
    headers = digest.message()
    assert headers["X-Lanterne-Notification"] == "digest"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Safe twice.
    call_command("send-digests", "--date", timezone.localdate().isoformat())
    assert len(mail.outbox) == 1
    assert "0 digests sent" in capsys.readouterr().out


def test_a_digest_covers_what_was_queued_until_the_end_of_its_day(
    world: World, assistant: User
) -> None:
    choose(world.users["council_member"], Frequency.DIGEST)
    add_note(world, assistant)
    today = timezone.localdate()
    services.digests_send(day=today - dt.timedelta(days=1))
    assert mail.outbox == []  # queued today: not in yesterday's digest
    services.digests_send(day=today)
    assert [m.to for m in mail.outbox] == [[world.users["council_member"].email]]


def test_a_digest_leaves_out_what_its_reader_may_no_longer_see(
    world: World, assistant: User, assistant_viewer: policy.Viewer
) -> None:
    choose(world.users["owner_party"], Frequency.DIGEST)
    kept = add_note(world, assistant, text="Visible par tous les copropriétaires.")
    narrowed = add_note(world, assistant, text="Montant de l'indemnisation.")
    entry_set_audience(
        viewer=assistant_viewer, actor=assistant, entry=narrowed, audience=Audience.COUNCIL
    )
    services.digests_send(day=timezone.localdate())
    digest = next(m for m in mail.outbox if m.to == [world.users["owner_party"].email])
    assert "Visible par tous les copropriétaires." in digest.body
    assert "indemnisation" not in digest.body
    assert "indemnisation" not in str(digest.alternatives[0][0])
    assert Notification.objects.get(entry=kept, user=world.users["owner_party"]).status == (
        NotificationStatus.SENT
    )
    assert Notification.objects.get(entry=narrowed, user=world.users["owner_party"]).status == (
        NotificationStatus.DROPPED
    )


def test_send_digests_refuses_a_malformed_date(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("send-digests", "--date", "03/03/2026")


# --- Cost ----------------------------------------------------------------------------


def _owners(world: World, count: int, start: int) -> None:
    """`count` more co-owners of the party lot, each with a login."""
    for number in range(start, start + count):
        person = PersonFactory(agency=world.agency, last_name=f"Indivisaire{number}")
        person.user = UserFactory(email=f"indivisaire{number}@exemple.fr")
        person.save(update_fields=["user"])
        Ownership.objects.create(person=person, lot=world.party_lot)


def _cost(world: World, assistant: User) -> int:
    entry = TimelineEntry.objects.create(
        dossier=world.dossier,
        kind=EntryKind.NOTE,
        audience=Audience.OWNERS,
        actor=assistant,
        note=world.dossier.notes.create(text="Relevé des compteurs.", audience="owners"),
    )
    with CaptureQueriesContext(connection) as queries:
        services.entries_published([entry])
    assert Notification.objects.filter(entry=entry).count() == len(followers_of(world.dossier))
    return len(queries)


def test_queueing_costs_the_policy_s_reads_per_follower_and_nothing_else(
    world: World, assistant: User
) -> None:
    few = _cost(world, assistant)
    followers_before = len(followers_of(world.dossier))
    _owners(world, 10, 0)
    assert len(followers_of(world.dossier)) == followers_before + 10
    many = _cost(world, assistant)
    # `Viewer.for_user` reads a login's roles in one query; nothing else
    # grows with the number of followers.
    assert many - few == 10 * 1, (few, many)
    assert few <= 8 + 1 * followers_before


def test_an_unrelated_lot_owner_is_not_a_follower(world: World) -> None:
    stranger = PersonFactory(agency=world.agency, last_name="Autre")
    stranger.user = UserFactory(email="autre@exemple.fr")
    stranger.save(update_fields=["user"])
    OwnershipFactory(person=stranger, lot=LotFactory(condominium=world.condominium, number="99"))
    assert stranger.user.pk not in followers_of(world.dossier)
