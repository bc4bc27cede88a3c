"""A fresh installation: the first-run page, and `lanterne create-agency`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from lanterne.accounts.models import User
from lanterne.condominiums.choices import StaffRole
from lanterne.condominiums.models import Agency, Person
from tests.factories import PASSWORD, AgencyFactory

pytestmark = pytest.mark.django_db

SETUP_URL = "/installation/"
SETUP_DATA = {
    "name": "Syndic des Canuts",
    "mail_domain": "Syndic-Canuts.fr",
    "shared_mailbox": "gestion@syndic-canuts.fr",
    "first_name": "Claire",
    "last_name": "Gérante",
    "email": "Claire.Gerante@Syndic-Canuts.fr",
    "password": PASSWORD,
}


def test_setup_url_is_the_french_one() -> None:
    assert reverse("accounts:setup") == SETUP_URL


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/connexion/",
        "/mot-de-passe/oubli/",
        "/dossiers/1/",
        "/dossiers/nouveau/",
        "/cabinet/personnes/",
        "/coproprietes/1/",
        "/invitation/un-jeton/",
        "/une-page-qui-n-existe-pas/",
    ],
)
def test_without_an_agency_every_page_leads_to_setup(path: str) -> None:
    assert not Agency.objects.exists()
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == SETUP_URL


def test_without_an_agency_posts_are_redirected_too() -> None:
    response = Client().post("/connexion/", {"username": "a@exemple.fr", "password": "x"})
    assert response.status_code == 302
    assert response["Location"] == SETUP_URL


def test_setup_page_is_shown_in_french() -> None:
    response = Client().get(SETUP_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bienvenue dans Lanterne" in body
    assert "Nom du cabinet" in body
    assert "Créer le cabinet" in body


def test_setup_creates_the_agency_and_its_manager_and_logs_in() -> None:
    client = Client()
    assert client.get("/").status_code == 302
    response = client.post(SETUP_URL, SETUP_DATA)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")

    agency = Agency.objects.get()
    assert agency.name == "Syndic des Canuts"
    assert agency.mail_domain == "syndic-canuts.fr"
    assert agency.shared_mailbox == "gestion@syndic-canuts.fr"
    user = User.objects.get()
    assert user.email == "claire.gerante@syndic-canuts.fr"
    assert user.check_password(PASSWORD)
    person = Person.objects.get(user=user)
    assert person.agency == agency
    assert person.staff_role == StaffRole.MANAGER
    assert (person.first_name, person.last_name) == ("Claire", "Gérante")

    # Logged in, on the home page, as the agency's manager.
    assert client.session.get(SESSION_KEY) == str(user.pk)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    body = home.content.decode()
    assert "Bienvenue ! Votre cabinet est prêt." in body
    assert "Nouveau dossier" in body

    # The setup page is gone for good, for this client and any new one.
    assert client.get(SETUP_URL).status_code == 404
    assert client.post(SETUP_URL, {**SETUP_DATA, "name": "Autre"}).status_code == 404
    assert Agency.objects.count() == 1


def test_a_new_client_after_setup_gets_the_login_page() -> None:
    """The middleware remembers `installed` per instance; each test Client
    builds its own handler, so a client created before the agency existed must
    still see the change."""
    before = Client()
    assert before.get("/").status_code == 302
    AgencyFactory()
    # The same client (and its middleware instance) notices the agency.
    response = before.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    # A new client too.
    after = Client()
    response = after.get("/")
    assert response["Location"].startswith(reverse("accounts:login"))
    assert after.get(reverse("accounts:login")).status_code == 200
    assert after.get(SETUP_URL).status_code == 404


def test_setup_errors_are_french_and_create_nothing() -> None:
    client = Client()
    response = client.post(SETUP_URL, {**SETUP_DATA, "mail_domain": "pas un domaine"})
    assert response.status_code == 400
    assert "« pas un domaine » n&#x27;est pas un nom de domaine valide." in (
        response.content.decode()
    )
    response = client.post(SETUP_URL, {**SETUP_DATA, "password": "1234"})
    assert response.status_code == 400
    assert "Ce mot de passe est trop court" in response.content.decode()
    response = client.post(SETUP_URL, {**SETUP_DATA, "email": ""})
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    assert not Agency.objects.exists()
    assert not User.objects.exists()
    assert client.session.get(SESSION_KEY) is None
    # Still a fresh installation.
    assert client.get("/")["Location"] == SETUP_URL


# --- lanterne create-agency -------------------------------------------------------------


def test_create_agency_command(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LANTERNE_FIRST_PASSWORD", raising=False)
    out = StringIO()
    call_command(
        "create-agency",
        name="Syndic des Canuts",
        mail_domain="syndic-canuts.fr",
        shared_mailbox="gestion@syndic-canuts.fr",
        email="Claire.Gerante@syndic-canuts.fr",
        first_name="Claire",
        last_name="Gérante",
        password=PASSWORD,
        stdout=out,
    )
    assert "Syndic des Canuts" in out.getvalue()
    agency = Agency.objects.get()
    assert agency.mail_domain == "syndic-canuts.fr"
    person = Person.objects.get(agency=agency)
    assert person.staff_role == StaffRole.MANAGER
    assert person.user is not None
    assert person.user.email == "claire.gerante@syndic-canuts.fr"
    assert person.user.check_password(PASSWORD)
    # The installation is done: the setup page has gone.
    assert Client().get(SETUP_URL).status_code == 404


def test_create_agency_reads_the_password_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LANTERNE_FIRST_PASSWORD", PASSWORD)
    call_command(
        "create-agency",
        name="Syndic des Canuts",
        mail_domain="syndic-canuts.fr",
        shared_mailbox="gestion@syndic-canuts.fr",
        email="claire@syndic-canuts.fr",
        stdout=StringIO(),
    )
    assert User.objects.get(email="claire@syndic-canuts.fr").check_password(PASSWORD)


def test_create_agency_rejects_an_invalid_domain_in_french(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LANTERNE_FIRST_PASSWORD", raising=False)
    # At the command line nothing activates a language: LANGUAGE_CODE applies.
    with translation.override("fr"), pytest.raises(CommandError) as raised:
        call_command(
            "create-agency",
            name="Syndic des Canuts",
            mail_domain="pas_un_domaine",
            shared_mailbox="gestion@syndic-canuts.fr",
            email="claire@syndic-canuts.fr",
            password=PASSWORD,
            stdout=StringIO(),
        )
    assert str(raised.value) == "« pas_un_domaine » n'est pas un nom de domaine valide."
    assert not Agency.objects.exists()
    assert not User.objects.exists()


def test_create_agency_refuses_a_duplicate_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LANTERNE_FIRST_PASSWORD", raising=False)
    AgencyFactory(name="Syndic des Canuts")
    with (
        translation.override("fr"),
        pytest.raises(CommandError, match="Un cabinet porte déjà ce nom"),
    ):
        call_command(
            "create-agency",
            name="Syndic des Canuts",
            mail_domain="syndic-canuts.fr",
            shared_mailbox="gestion@syndic-canuts.fr",
            email="claire@syndic-canuts.fr",
            password=PASSWORD,
            stdout=StringIO(),
        )
    assert Agency.objects.count() == 1


def test_create_agency_needs_a_password_when_not_interactive(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LANTERNE_FIRST_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    with pytest.raises(CommandError, match="--password"):
        call_command(
            "create-agency",
            name="Syndic des Canuts",
            mail_domain="syndic-canuts.fr",
            shared_mailbox="gestion@syndic-canuts.fr",
            email="claire@syndic-canuts.fr",
            stdout=StringIO(),
        )
    assert not Agency.objects.exists()


@pytest.mark.django_db
def test_create_agency_with_an_existing_login_needs_its_password() -> None:
    from django.core.exceptions import ValidationError

    from lanterne.condominiums.models import Agency
    from lanterne.condominiums.services import agency_create

    common = {"mail_domain": "a.fr", "shared_mailbox": "gestion@a.fr", "staff_email": "g@a.fr"}
    agency_create(name="Premier", staff_password="Premier-mot-2026!", **common)
    with pytest.raises(ValidationError, match="Un compte existe déjà"):
        agency_create(name="Second", staff_password="Autre-mot-2026!", **common)
    assert not Agency.objects.filter(name="Second").exists()
    agency_create(name="Second", staff_password="Premier-mot-2026!", **common)
    assert Agency.objects.filter(name="Second").exists()
