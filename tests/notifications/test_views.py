"""The pages: the follow button of the dossier page, « Mes notifications », and
the unsubscribe link of notification mails, used without logging in."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lanterne.accounts.models import User
from lanterne.audit.models import AuditLog
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.services import note_add
from lanterne.notifications import services
from lanterne.notifications.choices import Frequency, NotificationStatus
from lanterne.notifications.models import Follow, Notification, NotificationPreference

from ..conftest import World

pytestmark = pytest.mark.django_db


def detail(world: World) -> str:
    return reverse("dossiers:detail", args=[world.dossier.pk])


def follow_url(world: World) -> str:
    return reverse("notifications:follow", args=[world.dossier.pk])


# --- The follow button ---------------------------------------------------------------


def test_the_dossier_page_says_whether_one_follows_it(world: World, client_for: Any) -> None:
    party_page = client_for("owner_party").get(detail(world)).content.decode()
    assert "Ne plus suivre" in party_page
    neighbour_page = client_for("owner_not_party").get(detail(world)).content.decode()
    assert "Suivre ce dossier" in neighbour_page
    assert "Ne plus suivre" not in neighbour_page


def test_following_without_javascript_posts_and_comes_back(world: World, client_for: Any) -> None:
    client = client_for("owner_not_party")
    response = client.post(follow_url(world), {"suivre": "1"})
    assert response.status_code == 302 and response["Location"] == detail(world)
    user = world.users["owner_not_party"]
    assert Follow.objects.get(user=user, dossier=world.dossier).following is True
    assert "Ne plus suivre" in client.get(detail(world)).content.decode()
    assert AuditLog.objects.filter(object_type="notifications.follow", actor=user).exists()


def test_the_button_swaps_itself_with_htmx(world: World, client_for: Any) -> None:
    client = client_for("owner_party")
    response = client.post(follow_url(world), {"suivre": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<form") and "Suivre ce dossier" in html
    assert "Vous ne suivez plus ce dossier." in html
    assert not Follow.objects.get(user=world.users["owner_party"]).following


@pytest.mark.parametrize("role", ["owner_other_condominium", "staff_other_agency"])
def test_a_dossier_one_cannot_see_cannot_be_followed(
    world: World, client_for: Any, role: str
) -> None:
    response = client_for(role).post(follow_url(world), {"suivre": "1"})
    assert response.status_code == 404
    assert not Follow.objects.exists()


def test_following_needs_a_login_and_a_post(world: World, client_for: Any) -> None:
    response = client_for("anonymous").post(follow_url(world), {"suivre": "1"})
    assert response.status_code == 302 and "/connexion/" in response["Location"]
    assert client_for("owner_party").get(follow_url(world)).status_code == 405
    assert not Follow.objects.exists()


def test_the_dossier_page_pays_one_query_for_the_button(world: World, client_for: Any) -> None:
    client = client_for("owner_party")
    client.get(detail(world))
    with CaptureQueriesContext(connection) as page:
        client.get(detail(world))
    follows = [q["sql"] for q in page.captured_queries if "notifications_follow" in q["sql"]]
    assert len(follows) == 1


# --- « Mes notifications » -----------------------------------------------------------


def test_the_preferences_page_lists_the_followed_dossiers_and_saves_the_choice(
    world: World, client_for: Any
) -> None:
    client = client_for("council_member")
    page = client.get(reverse("notifications:preferences"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Mes notifications" in html
    assert world.dossier.reference in html
    assert re.search(r'value="immediate"[^>]*checked', html)  # the default
    response = client.post(reverse("notifications:preferences"), {"frequency": "digest"})
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=world.users["council_member"])
    assert preference.frequency == Frequency.DIGEST
    bad = client.post(reverse("notifications:preferences"), {"frequency": "hourly"})
    assert bad.status_code == 400


def test_the_preferences_page_does_not_list_what_one_unfollowed(
    world: World, client_for: Any
) -> None:
    client = client_for("owner_party")
    client.post(follow_url(world), {"suivre": "0", "next": reverse("notifications:preferences")})
    html = client.get(reverse("notifications:preferences")).content.decode()
    assert world.dossier.reference not in html


def test_every_page_links_to_the_preferences(world: World, client_for: Any) -> None:
    html = client_for("owner_party").get(reverse("home")).content.decode()
    assert f'href="{reverse("notifications:preferences")}"' in html


# --- Unsubscribing without a login -------------------------------------------------------


def _mail_for(world: World, role: str, assistant: User, capture: Any) -> Any:
    with capture(execute=True):
        note_add(
            viewer=policy.Viewer.for_user(assistant),
            actor=assistant,
            dossier=world.dossier,
            text="Le plombier passe jeudi.",
            audience=Audience.OWNERS,
        )
    return next(m for m in mail.outbox if m.to == [world.users[role].email])


def _link(message: Any) -> str:
    header = message.extra_headers["List-Unsubscribe"]
    url = re.fullmatch(r"<(.+)>", header)[1]  # type: ignore[index]
    return urlsplit(url).path


def test_the_link_of_a_mail_asks_first_then_unsubscribes_without_login(
    world: World, assistant: User, django_capture_on_commit_callbacks: Any
) -> None:
    path = _link(_mail_for(world, "owner_party", assistant, django_capture_on_commit_callbacks))
    assert path in mail.outbox[0].body or any(path in m.body for m in mail.outbox)
    anonymous = Client(enforce_csrf_checks=True)
    # A mail scanner fetching the link changes nothing.
    page = anonymous.get(path)
    assert page.status_code == 200
    assert "Confirmer le désabonnement" in page.content.decode()
    assert world.dossier.reference in page.content.decode()
    assert not Follow.objects.exists()
    done = anonymous.post(path)
    assert done.status_code == 200
    assert "Vous ne recevrez plus de courriels sur le dossier" in done.content.decode()
    user = world.users["owner_party"]
    assert Follow.objects.get(user=user, dossier=world.dossier).following is False
    assert user.pk not in services.followers_of(world.dossier)
    # Other dossiers, and the login's preference, are left alone.
    assert not NotificationPreference.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(actor=user, object_type="notifications.follow").exists()


def test_the_one_click_post_of_a_mail_client_unsubscribes(
    world: World, assistant: User, django_capture_on_commit_callbacks: Any
) -> None:
    """RFC 8058: the client POSTs `List-Unsubscribe=One-Click`, with no cookie
    and no CSRF token."""
    message = _mail_for(world, "council_member", assistant, django_capture_on_commit_callbacks)
    response = Client(enforce_csrf_checks=True).post(
        _link(message),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not Follow.objects.get(user=world.users["council_member"]).following
    # Twice is harmless.
    again = Client(enforce_csrf_checks=True).post(
        _link(message),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert again.status_code == 200
    assert Follow.objects.filter(user=world.users["council_member"]).count() == 1


def test_the_digest_link_stops_all_mail(
    world: World, assistant: User, django_capture_on_commit_callbacks: Any
) -> None:
    user = world.users["council_chair"]
    services.preference_set(actor=user, frequency=Frequency.DIGEST)
    note_add(
        viewer=policy.Viewer.for_user(assistant),
        actor=assistant,
        dossier=world.dossier,
        text="Compte rendu de la visite.",
        audience=Audience.OWNERS,
    )
    services.digests_send(day=timezone.localdate())
    digest = next(m for m in mail.outbox if m.to == [user.email])
    page = Client().get(_link(digest))
    assert "Ne plus recevoir aucun courriel" in page.content.decode()
    Client(enforce_csrf_checks=True).post(_link(digest))
    assert NotificationPreference.objects.get(user=user).frequency == Frequency.NONE
    # What was still waiting for them is dropped.
    note_add(
        viewer=policy.Viewer.for_user(assistant),
        actor=assistant,
        dossier=world.dossier,
        text="Autre nouvelle.",
        audience=Audience.OWNERS,
    )
    assert not Notification.objects.filter(user=user, status=NotificationStatus.PENDING).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_refused_in_french(world: World, method: str) -> None:
    good = services.unsubscribe_token_make(
        user_id=world.users["owner_party"].pk, dossier_id=world.dossier.pk
    )
    # Someone changes the user id in the payload to unsubscribe a neighbour.
    forged = (
        services.unsubscribe_token_make(
            user_id=world.users["owner_not_party"].pk, dossier_id=world.dossier.pk
        ).split(":")[0]
        + ":"
        + good.split(":", 1)[1]
    )
    for token in (forged, good[:-2], "pas-un-jeton"):
        response = getattr(Client(enforce_csrf_checks=True), method)(
            reverse("notifications:unsubscribe", args=[token])
        )
        assert response.status_code == 400
        assert "Ce lien de désabonnement n'est pas valable" in response.content.decode()
    assert not Follow.objects.exists()


def test_a_token_of_another_purpose_is_no_unsubscribe_token(world: World) -> None:
    from django.core import signing

    other = signing.dumps({"u": world.users["owner_party"].pk, "d": None})
    assert services.unsubscribe_token_read(other) is None
    response = Client().post(reverse("notifications:unsubscribe", args=[other]))
    assert response.status_code == 400


def test_the_confirmation_does_not_name_a_dossier_its_holder_may_no_longer_see(
    world: World,
) -> None:
    token = services.unsubscribe_token_make(
        user_id=world.users["owner_not_party"].pk, dossier_id=world.dossier.pk
    )
    world.dossier.audience = Audience.COUNCIL
    world.dossier.save(update_fields=["audience"])
    html = Client().get(reverse("notifications:unsubscribe", args=[token])).content.decode()
    assert world.dossier.title not in html
    assert "Ne plus recevoir de courriels sur ce dossier ?" in html
