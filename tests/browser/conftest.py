"""Browser fixtures: Debian's chromium, driven by Playwright (sync API), on
pytest-django's live server.

The browser is started once per session; every test gets a fresh context (no
cookies, no storage shared between tests) and a page in it. No browser is ever
downloaded: `playwright install` is not needed, the system chromium is used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio event loop in the main thread; Django
# refuses ORM calls from a thread with a running loop unless told otherwise.
# Must be set before any test touches the database.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)

from tests.factories import PASSWORD  # noqa: E402

CHROMIUM = os.environ.get("LANTERNE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous enough for a loaded CI machine, short enough to fail fast.
TIMEOUT_MS = 15_000
# For the assertions too: `expect` has its own timeout (5 s), which the
# context's default does not change.
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, live_server) -> Iterator[BrowserContext]:  # type: ignore[no-untyped-def]
    # The interface speaks French: ask for it explicitly rather than depend on
    # the locale of the machine running the tests.
    context = browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"},
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    yield page
    page.close()


def login(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()
    # Back on the home page, logged in.
    page.get_by_role("button", name="Se déconnecter").wait_for()


@pytest.fixture
def login_as(page: Page, world) -> Callable[[str], Page]:  # type: ignore[no-untyped-def]
    """Log the page in as one of the world's roles, through the login form."""

    def make(role: str) -> Page:
        user = world.users[role]
        assert user is not None, "the anonymous role cannot log in"
        login(page, user.email)
        return page

    return make
