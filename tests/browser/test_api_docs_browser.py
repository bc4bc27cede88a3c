"""The API's documentation in a real browser (Debian's chromium): Swagger UI
starts under the site's Content-Security-Policy, lists the operations, and
calls the API with a token typed in « Authorize »."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from lanterne.api.services import api_token_create

from ..conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def docs_page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    yield page
    page.close()


def test_swagger_ui_runs_under_the_policy_and_calls_the_api(world: World, docs_page: Page) -> None:
    page = docs_page
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/api/docs/")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/dossiers" in paths and len(paths) >= 28
    expect(page.get_by_text("Les dossiers", exact=True).first).to_be_visible()
    secret = api_token_create(
        actor=None, user=world.users["staff"], agency=world.agency, scope="read", name="Docs"
    ).secret
    page.locator("button.authorize").first.click()
    page.locator(".auth-container input").first.fill(secret)
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button.btn-done").click()
    operation = page.locator("#operations-Dossiers-dossier_list")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(live).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text(world.dossier.reference)
    scripts = [v for v in violations if "script" in v.lower() or "eval" in v.lower()]
    assert scripts == [], scripts
