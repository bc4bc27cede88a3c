"""The dossier pages in a real browser: logging in, reading a timeline, the
staff's forms, htmx pagination, and a phone-sized screen."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from lanterne.dossiers import policy, services
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier, Task
from lanterne.dossiers.selectors import TIMELINE_PAGE_SIZE

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def staff_viewer(world) -> policy.Viewer:  # type: ignore[no-untyped-def]
    return policy.Viewer.for_user(world.users["staff"])


def dossier_url(dossier: Dossier) -> str:
    return reverse("dossiers:detail", args=[dossier.pk])


def timeline_entries(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#timeline > li.entry")


def test_co_owner_logs_in_and_reads_the_timeline(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    viewer, staff = staff_viewer(world), world.users["staff"]
    start = timezone.now() - dt.timedelta(days=3)
    services.note_add(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        text="Le plombier passe jeudi matin.",
        audience=Audience.OWNERS,
        occurred_at=start,
    )
    services.note_add(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        text="Relancer l'assureur, il traîne.",
        audience=Audience.INTERNAL,
        occurred_at=start + dt.timedelta(hours=1),
    )
    services.task_create(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        title="Recherche de fuite",
        audience=Audience.OWNERS,
        occurred_at=start + dt.timedelta(hours=2),
    )
    services.task_create(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        title="Appeler l'expert en secret",
        audience=Audience.INTERNAL,
        occurred_at=start + dt.timedelta(hours=3),
    )

    login(page, world.users["owner_party"].email)
    # The home page lists the dossier; the co-owner follows the link.
    expect(page).to_have_url(re.compile(r"/$"))
    page.get_by_role("link", name=world.dossier.title).click()
    expect(page).to_have_url(re.compile(re.escape(dossier_url(world.dossier)) + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.dossier.title)

    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Le plombier passe jeudi matin.")
    expect(timeline).to_contain_text("Recherche de fuite")
    expect(timeline).not_to_contain_text("Relancer l'assureur")
    expect(timeline).not_to_contain_text("Appeler l'expert")
    expect(timeline_entries(page)).to_have_count(2)
    # Newest first.
    expect(timeline_entries(page).first).to_contain_text("Recherche de fuite")
    # Co-owners see neither the audience badges nor the staff's forms.
    expect(page.locator("form.entry-audience")).to_have_count(0)
    expect(page.get_by_text("Ajouter au dossier")).to_have_count(0)
    assert "Relancer l'assureur" not in page.content()


def test_co_owner_of_another_condominium_gets_404(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    login(page, world.users["owner_other_condominium"].email)
    response = page.goto(dossier_url(world.dossier))
    assert response is not None
    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text(world.dossier.title)


def test_login_with_a_wrong_password_stays_on_the_form(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    login_page = "/connexion/"
    page.goto(login_page)
    page.get_by_label("Adresse e-mail").fill(world.users["owner_party"].email)
    page.get_by_label("Mot de passe").fill("pas le bon")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator(".errors")).to_contain_text("mot de passe")
    expect(page).to_have_url(re.compile(re.escape(login_page)))


def test_manager_creates_a_dossier_and_a_task(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    login(page, world.users["staff"].email)
    page.get_by_role("link", name="Nouveau dossier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouveau dossier")

    # An empty title: the form comes back with a French error, nothing is created.
    page.get_by_label("Copropriété").select_option(label="Les Tilleuls")
    page.get_by_label("Type").select_option(value="works")
    page.get_by_role("button", name="Créer le dossier").click()
    title_field = page.locator(".field", has=page.get_by_label("Titre"))
    expect(title_field.locator(".error")).to_have_text("Ce champ est obligatoire.")
    assert Dossier.objects.count() == 1

    # The form kept what was chosen; add the title and create the dossier.
    expect(page.get_by_label("Copropriété")).to_have_value(str(world.condominium.pk))
    page.get_by_label("Titre").fill("Ravalement de la façade nord")
    page.get_by_label("Lots concernés").select_option(value=str(world.party_lot.pk))
    page.get_by_role("button", name="Créer le dossier").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Ravalement de la façade nord")
    dossier = Dossier.objects.get(title="Ravalement de la façade nord")
    expect(page).to_have_url(re.compile(re.escape(dossier_url(dossier)) + "$"))
    expect(page.locator(".messages")).to_contain_text(f"Dossier {dossier.reference} créé.")

    # Open the « Une tâche » panel and add a task.
    panel = page.locator("details.action", has=page.locator("summary", has_text="Une tâche"))
    task_form = panel.locator("form")
    expect(task_form).to_be_hidden()
    panel.locator("summary").click()
    expect(task_form).to_be_visible()
    task_form.get_by_label("Intitulé").fill("Demander trois devis")
    task_form.get_by_label("Échéance").fill("2026-09-30")
    task_form.get_by_role("button", name="Ajouter la tâche").click()

    expect(page.locator(".messages")).to_contain_text("Tâche ajoutée.")
    task_entry = timeline_entries(page).filter(has_text="Demander trois devis")
    expect(task_entry).to_have_count(1)
    expect(task_entry).to_contain_text("30 septembre 2026")
    expect(task_entry.get_by_role("button", name="Marquer comme terminée")).to_be_visible()
    task = Task.objects.get(title="Demander trois devis")
    assert task.dossier_id == dossier.pk
    assert task.due_on == dt.date(2026, 9, 30)


def test_task_form_error_reopens_the_panel(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    login(page, world.users["staff"].email)
    page.goto(dossier_url(world.dossier))
    panel = page.locator("details.action", has=page.locator("summary", has_text="Une tâche"))
    panel.locator("summary").click()
    # The browser's own validation would stop an empty title; skip it to see
    # the server's answer.
    panel.locator("form").evaluate("form => form.setAttribute('novalidate', '')")
    panel.get_by_role("button", name="Ajouter la tâche").click()
    expect(page.locator(".messages")).to_contain_text("Le formulaire contient des erreurs")
    expect(panel).to_have_attribute("open", "")
    expect(panel.locator(".error")).to_have_text("Ce champ est obligatoire.")
    assert not Task.objects.exists()


def test_older_entries_load_through_htmx(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    viewer, staff = staff_viewer(world), world.users["staff"]
    total = TIMELINE_PAGE_SIZE + 5
    start = timezone.now() - dt.timedelta(days=30)
    for number in range(1, total + 1):
        # Two entries share each moment: the cursor must break the tie on the id.
        services.note_add(
            viewer=viewer,
            actor=staff,
            dossier=world.dossier,
            text=f"Note numéro {number:02d}",
            audience=Audience.OWNERS,
            occurred_at=start + dt.timedelta(hours=(number + 1) // 2),
        )

    login(page, world.users["owner_party"].email)
    page.goto(dossier_url(world.dossier))
    entries = timeline_entries(page)
    expect(entries).to_have_count(TIMELINE_PAGE_SIZE)
    expect(entries.first).to_contain_text(f"Note numéro {total:02d}")
    expect(page.locator("#timeline")).not_to_contain_text("Note numéro 01")

    # A marker on the window survives an htmx swap, not a page load.
    page.evaluate("window.__lanterneMarker = 'still here'")
    more = page.get_by_role("link", name="Voir les entrées plus anciennes")
    with page.expect_response(lambda r: "apres=" in r.url) as answer:
        more.click()
    response = answer.value
    assert response.status == 200
    assert response.request.headers.get("hx-request") == "true"

    expect(entries).to_have_count(total)
    expect(more).to_have_count(0)
    assert page.evaluate("window.__lanterneMarker") == "still here"
    expect(page).to_have_url(re.compile(re.escape(dossier_url(world.dossier)) + "$"))
    texts = [t.split("Note numéro ")[1][:2] for t in entries.all_inner_texts()]
    assert texts == [f"{n:02d}" for n in range(total, 0, -1)]
    # Only one page layout: the partial did not bring a second header along.
    expect(page.locator("header.topbar")).to_have_count(1)


@pytest.fixture
def page_without_javascript(browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A page in a browser context with JavaScript off: what htmx adds must
    have a plain link or form under it."""
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, locale="fr-FR"
    )
    yield context.new_page()
    context.close()


def test_older_entries_link_works_without_javascript(world, page_without_javascript) -> None:  # type: ignore[no-untyped-def]
    viewer, staff = staff_viewer(world), world.users["staff"]
    start = timezone.now() - dt.timedelta(days=30)
    for number in range(1, TIMELINE_PAGE_SIZE + 3):
        services.note_add(
            viewer=viewer,
            actor=staff,
            dossier=world.dossier,
            text=f"Note numéro {number:02d}",
            audience=Audience.OWNERS,
            occurred_at=start + dt.timedelta(hours=number),
        )
    page = page_without_javascript
    login(page, world.users["owner_party"].email)
    page.goto(dossier_url(world.dossier))
    page.get_by_role("link", name="Voir les entrées plus anciennes").click()
    expect(page).to_have_url(re.compile(r"\?apres="))
    expect(timeline_entries(page)).to_have_count(2)
    expect(page.locator("#timeline")).to_contain_text("Note numéro 01")


def test_staff_forms_work_without_javascript(world, page_without_javascript) -> None:  # type: ignore[no-untyped-def]
    """Without JavaScript a panel does not load its form: it links to the
    form's own page, which sends it as the panel would."""
    page = page_without_javascript
    login(page, world.users["staff"].email)
    page.goto(dossier_url(world.dossier))
    panel = page.locator("details.action", has=page.locator("summary", has_text="Une note"))
    panel.locator("summary").click()
    panel.get_by_role("link", name="Ouvrir le formulaire").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Une note")
    page.locator("#id_note-text").fill("Clés du local poubelles remises au gardien.")
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page).to_have_url(re.compile(re.escape(dossier_url(world.dossier)) + "$"))
    expect(page.locator(".messages")).to_contain_text("Note ajoutée.")
    expect(timeline_entries(page).first).to_contain_text("Clés du local poubelles")


@pytest.mark.parametrize("role", ["owner_party", "staff"])
def test_pages_fit_a_phone_screen(world, page: Page, role: str) -> None:  # type: ignore[no-untyped-def]
    viewer, staff = staff_viewer(world), world.users["staff"]
    services.note_add(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        text="Une très longue adresse sans espace : " + "https://exemple.fr/" + "a" * 120,
        audience=Audience.OWNERS,
    )
    services.task_create(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        title="Faire intervenir l'entreprise de recherche de fuite",
        audience=Audience.OWNERS,
        due_on=timezone.localdate() + dt.timedelta(days=10),
    )
    page.set_viewport_size({"width": 375, "height": 740})
    login(page, world.users[role].email)

    def assert_no_horizontal_scroll(where: str) -> None:
        # Measure the laid-out page: with its stylesheet applied, not while it
        # is still loading.
        page.wait_for_load_state("load")
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll_width <= inner_width, f"{where}: {scroll_width}px wide in {inner_width}px"

    expect(page.get_by_role("link", name=world.dossier.title)).to_be_visible()
    assert_no_horizontal_scroll("home page")

    page.get_by_role("link", name=world.dossier.title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.dossier.title)
    expect(page.locator("#timeline")).to_contain_text("Une très longue adresse")
    assert_no_horizontal_scroll("dossier page")
    # The timeline comes before the side panel on a narrow screen.
    timeline_box = page.locator("#timeline").bounding_box()
    facts_box = page.locator("#facts-title").bounding_box()
    assert timeline_box is not None and facts_box is not None
    assert timeline_box["y"] < facts_box["y"]
    assert timeline_box["width"] <= 375


def test_stylesheet_and_scripts_are_served(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    """Every page pulls its stylesheet and htmx from /static/: a missing file
    would leave the site unstyled (and unusable on a phone) without any error."""
    static_responses = []
    page.on("response", lambda r: static_responses.append(r) if "/static/" in r.url else None)
    page.goto("/connexion/")
    page.wait_for_load_state("load")
    urls = sorted(r.url.split("/static/")[1] for r in static_responses)
    assert "lanterne/lanterne.css" in urls
    assert any(url.startswith("django_htmx/htmx") for url in urls)
    assert [(r.url, r.status) for r in static_responses if r.status != 200] == []
    # The stylesheet applies: the top bar has its colour.
    expect(page.locator("header.topbar")).to_have_css("background-color", "rgb(18, 50, 79)")
    assert page.evaluate("typeof window.htmx") == "object"
