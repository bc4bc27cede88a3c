"""The triage inbox in a real browser: a manager logs in, opens the inbox from
the navigation, files one mail with a click on a suggestion and another with
the keyboard, sees each leave the list, and finds both in the dossier's
timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from lanterne.dossiers.choices import DossierStatus, DossierType
from lanterne.dossiers.models import Dossier
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process
from tests.factories import DossierFactory

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def receive(world, subject: str, *, hours: int, suggestions: list[Dossier]) -> Message:  # type: ignore[no-untyped-def]
    """A mail from a co-owner through the real pipeline, waiting in triage
    with the suggestions the file stage would have stored."""
    email = EmailMessage()
    email["From"] = "Jeanne Martin <jeanne.martin@orange.fr>"
    email["To"] = "gestion@cabinet-lumiere.fr"
    email["Subject"] = subject
    email["Date"] = format_datetime(MONDAY + timedelta(hours=hours))
    email["Message-ID"] = f"<triage-{hours}@orange.fr>"
    email.set_content(f"Bonjour,\n\n{subject}.\n\nJeanne Martin")
    result = mail_receive_and_process(agency=world.agency, data=email.as_bytes())
    message = Message.objects.get(raw=result.raw)
    assert message.dossier_id is None
    Message.objects.filter(pk=message.pk).update(
        suggestions=[
            {
                "dossier_id": dossier.pk,
                "reference": dossier.reference,
                "score": 0.8 - rank / 10,
                "reason": f"mentionne « {dossier.title} »",
            }
            for rank, dossier in enumerate(suggestions)
        ]
    )
    return message


def test_a_manager_files_mail_from_triage(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    works = DossierFactory(
        condominium=world.condominium,
        reference="DOS-2026-0042",
        title="Ravalement de façade",
        type=DossierType.WORKS,
        status=DossierStatus.QUOTES,
    )
    scaffolding = receive(
        world, "Échafaudage devant ma fenêtre", hours=3, suggestions=[works, world.dossier]
    )
    leak = receive(world, "La tache au plafond s'agrandit", hours=1, suggestions=[world.dossier])
    waiting = receive(world, "Question sur mes charges", hours=0, suggestions=[])

    login(page, world.users["staff"].email)
    nav_link = page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name=re.compile("À classer")
    )
    # The count of waiting mail, loaded after the page.
    expect(nav_link).to_contain_text("3")
    nav_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Courriels à classer")
    items = page.locator("li[data-triage-item]")
    expect(items).to_have_count(3)
    # The shortcuts are announced on the page.
    expect(page.get_by_text("Raccourcis clavier")).to_be_visible()

    # One click on the first suggestion of the first mail.
    first = page.locator(f"#courriel-{scaffolding.pk}")
    expect(first).to_contain_text("Échafaudage devant ma fenêtre")
    first.get_by_role("button", name=re.compile("DOS-2026-0042")).click()
    expect(page.locator(f"#courriel-{scaffolding.pk}")).to_have_count(0)
    expect(page.locator("#triage-status")).to_contain_text("classé dans le dossier")
    expect(items).to_have_count(2)
    expect(nav_link).to_contain_text("2")

    # With the keyboard: the next mail is current; "1" files it.
    current = page.locator(f"#courriel-{leak.pk}")
    expect(current).to_be_focused()
    page.keyboard.press("1")
    expect(page.locator(f"#courriel-{leak.pk}")).to_have_count(0)
    expect(items).to_have_count(1)
    expect(page.locator(f"#courriel-{waiting.pk}")).to_be_focused()

    # j/k move, x ticks, ? shows the help.
    page.keyboard.press("x")
    expect(page.locator(f"#cocher-{waiting.pk}")).to_be_checked()
    page.keyboard.press("?")
    expect(page.locator("#triage-help")).to_have_attribute("open", "")
    page.keyboard.press("o")
    expect(page.locator(f"#courriel-{waiting.pk} .triage-read-body")).to_contain_text(
        "Jeanne Martin"
    )

    scaffolding.refresh_from_db()
    leak.refresh_from_db()
    assert scaffolding.dossier_id == works.pk
    assert leak.dossier_id == world.dossier.pk
    assert scaffolding.filing_method == leak.filing_method == FilingMethod.MANUAL

    # Each mail is now in its dossier's timeline.
    page.goto(reverse("dossiers:detail", args=[works.pk]))
    expect(page.locator("#timeline")).to_contain_text("Échafaudage devant ma fenêtre")
    page.goto(reverse("dossiers:detail", args=[world.dossier.pk]))
    expect(page.locator("#timeline")).to_contain_text("La tache au plafond s'agrandit")


def test_the_dossier_picker_and_not_related_with_the_keyboard(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    DossierFactory(
        condominium=world.condominium, title="Élagage des tilleuls", reference="DOS-2026-0077"
    )
    newsletter = receive(world, "Lettre d'information chauffage", hours=2, suggestions=[])
    pruning = receive(world, "Branches sur le toit", hours=1, suggestions=[])

    login(page, world.users["staff"].email)
    page.goto(reverse("mail:triage"))
    page.keyboard.press("j")
    expect(page.locator(f"#courriel-{newsletter.pk}")).to_be_focused()
    page.keyboard.press("n")
    expect(page.locator(f"#courriel-{newsletter.pk}")).to_have_count(0)
    expect(page.locator(f"#courriel-{pruning.pk}")).to_be_focused()

    # "a" opens the search; typing shows the matching dossiers.
    page.keyboard.press("a")
    search = page.locator(f"#query-{pruning.pk}")
    expect(search).to_be_focused()
    # Without the accent nor the capital: found all the same.
    search.press_sequentially("elagage tilleuls")
    result = page.locator(f"#results-{pruning.pk}").get_by_role(
        "button", name=re.compile("DOS-2026-0077")
    )
    expect(result).to_be_visible()
    result.click()
    expect(page.locator(f"#courriel-{pruning.pk}")).to_have_count(0)
    expect(page.get_by_text("Rien à classer")).to_be_visible()

    newsletter.refresh_from_db()
    pruning.refresh_from_db()
    assert newsletter.not_dossier_related
    assert pruning.dossier.reference == "DOS-2026-0077"
