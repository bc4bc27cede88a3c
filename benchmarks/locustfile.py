"""Co-owners browsing Lanterne, for locust (benchmarks/load_test.py runs it).

Each simulated co-owner logs in with an account of `LANTERNE_LOAD_ACCOUNTS`
(a JSON file of `{"email", "password"}`, the runner writes it; accounts are
handed out in turn, so distinct ones while there are enough), then, with a
pause of `LANTERNE_LOAD_WAIT` seconds ("1,3": between one and three) between
actions, does what a co-owner does:

- opens their home page (their dossiers and their building's);
- opens one of those dossiers, and often reads on: the « older entries »
  links, loaded by htmx as the browser does, one to three pages down;
- downloads a document or a mail's attachment the dossier shows;
- opens their building's page (its dossier list);
- searches, with the words co-owners type, sometimes within their building.

Every page must answer 200 (the login 302): anything else — a redirect to
the login page, an error, a 404 — counts as a failure. Requests are named by
their route, so that locust's table has one row per kind of page.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, between, events, task

_ACCOUNTS_FILE = os.environ.get("LANTERNE_LOAD_ACCOUNTS", "")
_ACCOUNTS: list[dict[str, str]] = (
    json.loads(Path(_ACCOUNTS_FILE).read_text()) if _ACCOUNTS_FILE else []
)
_NEXT_ACCOUNT = itertools.cycle(range(max(1, len(_ACCOUNTS))))
_WAIT = [float(x) for x in os.environ.get("LANTERNE_LOAD_WAIT", "1,3").split(",")]
# One line per request — when it ended, its name, its time in ms, whether it
# failed — for the runner to take the figures of the steady state, once
# every co-owner has logged in (locust's own table covers the whole run).
_RECORD_FILE = os.environ.get("LANTERNE_LOAD_RECORD", "")
_RECORD = open(_RECORD_FILE, "a", buffering=1) if _RECORD_FILE else None  # noqa: SIM115


@events.request.add_listener
def _record(
    name: str,
    response_time: float,
    exception: BaseException | None,
    start_time: float | None = None,
    **kwargs: Any,
) -> None:
    if _RECORD is not None:
        ended = (start_time or time.time()) + response_time / 1000
        _RECORD.write(f"{ended:.3f}\t{name}\t{response_time:.1f}\t{int(exception is not None)}\n")


SEARCH_WORDS = (
    "fuite",
    "ascenseur",
    "devis",
    "travaux",
    "infiltration",
    "chauffage",
    "ravalement",
    '"dégât des eaux"',
    "assemblée générale",
    "factur*",
    "expert",
    "toiture",
)

_DOSSIER = re.compile(r'href="(/dossiers/\d+/)"')
_CONDOMINIUM = re.compile(r'href="/coproprietes/(\d+)/"')
_OLDER = re.compile(r'href="(\?apres=[^"]+)"')
_DOWNLOAD = re.compile(r'href="(/(?:documents/\d+/telecharger|courriels/pieces-jointes/\d+)/)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class CoOwner(FastHttpUser):
    """A co-owner with a login, browsing their dossiers."""

    wait_time = between(_WAIT[0], _WAIT[-1])

    def on_start(self) -> None:
        if not _ACCOUNTS:
            raise RuntimeError("LANTERNE_LOAD_ACCOUNTS names no account (run load_test.py)")
        account = _ACCOUNTS[next(_NEXT_ACCOUNT)]
        self.dossiers: list[str] = []
        self.condominiums: list[str] = []
        self.downloads: list[str] = []
        form = self.client.get("/connexion/", name="/connexion/")
        token = _CSRF.search(form.text or "")
        form_data = {
            "csrfmiddlewaretoken": token[1] if token else "",
            "username": account["email"],
            "password": account["password"],
        }
        with self.client.post(
            "/connexion/",
            data=urlencode(form_data),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as login:
            if login.status_code != 302 or login.headers.get("Location") != "/":
                login.failure(f"login of {account['email']}: {login.status_code}")
                return
        self.home()

    def _page(self, path: str, name: str, **kwargs: Any) -> str:
        """GET a page that must answer 200; its text ("" on failure)."""
        with self.client.get(
            path, name=name, allow_redirects=False, catch_response=True, **kwargs
        ) as response:
            if response.status_code != 200:
                location = response.headers.get("Location", "")
                response.failure(f"{response.status_code} {location}")
                return ""
            return response.text or ""

    @task(3)
    def home(self) -> None:
        text = self._page("/", name="/")
        self.dossiers = sorted(set(_DOSSIER.findall(text))) or self.dossiers
        self.condominiums = sorted(set(_CONDOMINIUM.findall(text))) or self.condominiums

    @task(6)
    def dossier(self) -> None:
        if not self.dossiers:
            return
        path = random.choice(self.dossiers)
        text = self._page(path, name="/dossiers/[id]/")
        self.downloads = _DOWNLOAD.findall(text)
        # Reading on: the « older entries » link, as htmx loads it.
        for _ in range(random.choice((0, 1, 1, 2, 3))):
            older = _OLDER.search(text)
            if older is None:
                break
            text = self._page(
                path + unescape(older[1]),
                name="/dossiers/[id]/?apres= (htmx)",
                headers={"HX-Request": "true"},
            )
            self.downloads += _DOWNLOAD.findall(text)

    @task(2)
    def download(self) -> None:
        if not self.downloads:
            return
        path = random.choice(self.downloads)
        if path.startswith("/documents/"):
            name = "/documents/[id]/telecharger/"
        else:
            name = "/courriels/pieces-jointes/[id]/"
        with self.client.get(
            path, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200 or not response.content:
                response.failure(f"{response.status_code}, {len(response.content or b'')} bytes")

    @task(1)
    def condominium(self) -> None:
        if self.condominiums:
            self._page(
                f"/coproprietes/{random.choice(self.condominiums)}/", name="/coproprietes/[id]/"
            )

    @task(2)
    def search(self) -> None:
        params = {"q": random.choice(SEARCH_WORDS)}
        if self.condominiums and random.random() < 0.3:
            params["copropriete"] = random.choice(self.condominiums)
        self._page(f"/recherche/?{urlencode(params)}", name="/recherche/?q=")
