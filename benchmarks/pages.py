"""Page benchmark: how long the server takes to answer the pages people wait
for — a big dossier's timeline, first and deep, and full-text search — as
staff and as a co-owner.

    DATABASE_URL=postgres://… LANTERNE_DATA_DIR=… .venv/bin/python -m benchmarks.pages
        [--repeat 40] [--warmup 5] [--depth 60] [--dossier ID] [--staff EMAIL] [--owner EMAIL]
        [--interleave]
        [--url http://127.0.0.1:8000 --password …] [--json FILE]

Run it with the environment of the installation to measure (its database,
its data folder), from the repository's root. By default it measures in
process: Django's test client sends each request through the whole stack —
middleware, session, the access policy, the view, the templates — and the
time from request to rendered response is the server's time, without
network or WSGI server — loaded as a web worker is (`when_ready` of
lanterne/gunicorn_conf.py). Each page is requested `--warmup` times, then
`--repeat` times measured, then once more with its SQL queries counted (not
timed: counting costs). With `--interleave`, every page is requested once a
round for `--repeat` rounds instead: each page's times then span the whole
run, not the few seconds its requests in a row take — on a shared machine
whose speed drifts, the fairer p95. Every response must be a 200 with
content, or the run stops.

With `--url`, the same pages are requested over HTTP from a running server
(gunicorn, `docs/deployment.md`), each on a new connection, logging in with
the login form: the times are then round trips as a client on the same
machine sees them. Staff must then log in without a second step: start that
server with `LANTERNE_STAFF_2FA=false`.

What is measured, for each viewer:
- `dossier first`: the big dossier's page (its latest entries);
- `dossier deep`: the page `--depth` pages down its timeline, reached by
  following the « older entries » links as a reader does (the keyset cursor
  of each page), as htmx loads it (the timeline page alone) and as a link
  opened in a new tab (the whole page);
- `search …`: a set of French queries — words, a phrase, a prefix, with and
  without filters (a condominium, a kind, dates, sorted by date).

The big dossier is the one with the most timeline entries unless `--dossier`
says; staff is the first staff member of its agency with a login, the
co-owner the first login that is party to it (else owns a lot in its
condominium), unless `--staff` / `--owner` say. In process, both are logged
in with `force_login` (no password needed) and the staff second step is off
(`LANTERNE_STAFF_2FA=false`), so that staff pages are measured rather than
the second step's form.

The machine's description, the database and the load average before and
after each measure are printed with the figures: on a shared machine,
figures taken under load are not comparable. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import http.client
import http.cookies
import json
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

# Search queries, as people type them in the search box (lanterne/search/query.py):
# words, phrases, prefixes, with the filters of the search page. `{condominium}`
# is the big dossier's condominium; dates are relative to its last entry.
SEARCHES: tuple[tuple[str, dict[str, str]], ...] = (
    ("fuite", {}),
    ("ascenseur bloqué", {}),
    ('"recherche de fuite"', {}),
    ("infiltr*", {}),
    ("caméra thermique", {}),
    ('"assemblée générale" convocation', {}),
    ("devis", {"copropriete": "{condominium}"}),
    ("sinistre", {"type": "message", "tri": "date"}),
    ("facture", {"du": "{six_months_ago}", "au": "{last_day}"}),
    ("ravalement façade", {"copropriete": "{condominium}", "tri": "date"}),
)


# --- What is measured --------------------------------------------------------------------


@dataclass
class Measure:
    """One page for one viewer: its times and what it cost."""

    viewer: str
    page: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    queries: int | None = None
    bytes: int = 0
    load_before: float = 0.0
    load_after: float = 0.0

    def percentile(self, share: float) -> float:
        """Nearest-rank percentile: the smallest time at least `share` of
        the requests took no longer than."""
        ordered = sorted(self.times_ms)
        return ordered[max(1, math.ceil(len(ordered) * share)) - 1]

    def summary(self) -> dict[str, Any]:
        return {
            "viewer": self.viewer,
            "page": self.page,
            "path": self.path,
            "requests": len(self.times_ms),
            "p50_ms": round(statistics.median(self.times_ms), 1),
            "p95_ms": round(self.percentile(0.95), 1),
            "max_ms": round(max(self.times_ms), 1),
            "queries": self.queries,
            "kb": round(self.bytes / 1024, 1),
            "load_before": round(self.load_before, 2),
            "load_after": round(self.load_after, 2),
        }


@dataclass
class Page:
    """A request to measure: its label, its path, whether htmx asks it."""

    label: str
    path: str
    htmx: bool = False


@dataclass
class Subjects:
    """What the benchmark browses: the big dossier and who looks at it."""

    dossier_id: int
    dossier_reference: str
    entries: int
    condominium_id: int
    last_day: dt.date
    staff_email: str
    owner_email: str
    database: str
    messages: int


# --- The subjects, found in the database ----------------------------------------------


def django_setup(*, in_process: bool) -> None:
    """Lanterne's settings, from the environment. Demo mode unless told
    otherwise: it needs no secret key, and serves the static files without a
    collected manifest, which the pages measured do not depend on."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lanterne.settings")
    os.environ.setdefault("LANTERNE_MODE", "demo")
    if in_process:
        os.environ["LANTERNE_STAFF_2FA"] = "false"
    import django

    django.setup()
    import logging

    from django.conf import settings

    # django-axes logs every login at INFO (force_login included).
    logging.getLogger("axes").setLevel(logging.WARNING)

    if settings.DEBUG:
        sys.exit("LANTERNE_DEBUG is on: every query would be kept in memory; turn it off.")
    if in_process:
        # As gunicorn's master does before it forks the workers: the views
        # loaded, and what is loaded kept out of the garbage collector's
        # full passes.
        from lanterne.gunicorn_conf import when_ready

        when_ready(server=None)


def subjects_find(*, dossier_id: int | None, staff: str | None, owner: str | None) -> Subjects:
    from django.db.models import Count, Max, Q
    from django.utils import timezone

    from lanterne.accounts.models import User
    from lanterne.dossiers.models import Dossier, TimelineEntry
    from lanterne.mail.models import Message

    if dossier_id is None:
        dossier_id = _big_dossier_id()
    dossier = Dossier.objects.select_related("condominium").get(pk=dossier_id)
    timeline = TimelineEntry.objects.filter(dossier=dossier).aggregate(
        entries=Count("id"), last=Max("occurred_at")
    )
    users = User.objects.filter(is_active=True).order_by("pk")
    if staff is None:
        staff_user = users.filter(
            persons__agency_id=dossier.agency_id, persons__staff_role__gt=""
        ).first()
        if staff_user is None:
            sys.exit("No staff member of the dossier's agency has a login: pass --staff.")
        staff = staff_user.email
    if owner is None:
        co_owners = users.filter(persons__staff_role="")
        owner_user = (
            co_owners.filter(
                Q(persons__party_to_dossiers=dossier)
                | Q(persons__ownerships__lot__in=dossier.party_lots.all())
            ).first()
            or co_owners.filter(persons__ownerships__lot__condominium=dossier.condominium).first()
        )
        if owner_user is None:
            sys.exit("No co-owner of the dossier's condominium has a login: pass --owner.")
        owner = owner_user.email
    last = timeline["last"]
    return Subjects(
        dossier_id=dossier.pk,
        dossier_reference=dossier.reference,
        entries=timeline["entries"],
        condominium_id=dossier.condominium_id,
        last_day=timezone.localdate(last) if last else timezone.localdate(),
        staff_email=staff,
        owner_email=owner,
        database=database_description(),
        messages=Message.objects.count(),
    )


def database_description() -> str:
    """The database measured on: its engine, version and name."""
    from django.db import connection

    version = ""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = f" {cursor.fetchone()[0]}"
    return f"{connection.vendor}{version}, {connection.settings_dict['NAME']}"


def _big_dossier_id() -> int:
    """The scale data's big dossier (`lanterne generate-scale-data`): the
    scale agency's first, the one made to hold `BIG_DOSSIER_ENTRIES` — at a
    reduced `--scale` another dossier may well hold more. Elsewhere (the
    demo), the dossier with the most timeline entries."""
    from django.db.models import Count

    from lanterne.core.scale import SCALE_AGENCY_NAME
    from lanterne.dossiers.models import Dossier, TimelineEntry

    first = Dossier.objects.filter(agency__name=SCALE_AGENCY_NAME).order_by("pk").first()
    if first is not None:
        return first.pk
    biggest = (
        TimelineEntry.objects.values("dossier_id")
        .annotate(entries=Count("id"))
        .order_by("-entries")
        .first()
    )
    if biggest is None:
        sys.exit("No dossier has a timeline entry: generate data first (benchmarks/README.md).")
    return int(biggest["dossier_id"])


def search_pages(subjects: Subjects) -> list[Page]:
    values = {
        "condominium": str(subjects.condominium_id),
        "six_months_ago": (subjects.last_day - dt.timedelta(days=182)).isoformat(),
        "last_day": subjects.last_day.isoformat(),
    }
    pages = []
    for text, filters in SEARCHES:
        filled = {name: value.format(**values) for name, value in filters.items()}
        label = f"search {text}" + "".join(f" {k}={v}" for k, v in filled.items())
        query = {"q": text, **filled}
        pages.append(Page(label=label, path="/recherche/?" + urlencode(query)))
    return pages


# --- Two ways to send a request ------------------------------------------------------

_NEXT_LINK = re.compile(r'href="\?apres=([^"]+)"')


@dataclass
class Answer:
    status: int
    body: bytes
    location: str = ""


class InProcess:
    """Requests through Django's test client, in this process."""

    def __init__(self, email: str) -> None:
        from django.conf import settings
        from django.test import Client

        from lanterne.accounts.models import User

        # The test client's host name; never in a real installation's list.
        if "testserver" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        self.client = Client()
        self.client.force_login(User.objects.get(email=email))

    def get(self, page: Page) -> Answer:
        headers = {"HX-Request": "true"} if page.htmx else {}
        response = self.client.get(page.path, headers=headers)
        return Answer(response.status_code, response.content, response.get("Location", ""))

    def queries(self, page: Page) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            self.get(page)
        return len(captured)


class OverHttp:
    """Requests over HTTP to a running server, each on a new connection,
    with the cookies of a login made through the login form."""

    def __init__(self, url: str, email: str, password: str) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.cookies: dict[str, str] = {}
        form = self.request("GET", "/connexion/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
        if form.status != 200 or token is None:
            sys.exit(f"{url}/connexion/ did not give the login form ({form.status}).")
        login = self.request(
            "POST",
            "/connexion/",
            {"csrfmiddlewaretoken": token[1].decode(), "username": email, "password": password},
        )
        if login.status != 302 or "/double-authentification/" in login.location:
            sys.exit(
                f"Login of {email} failed ({login.status} {login.location}): wrong --password, "
                "or a staff second step (start the server with LANTERNE_STAFF_2FA=false)."
            )

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        htmx: bool = False,
    ) -> Answer:
        connection_class = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = connection_class(self.host, self.port, timeout=60)
        headers = {"Host": f"{self.host}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if htmx:
            headers["HX-Request"] = "true"
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return Answer(response.status, content, response.headers.get("Location", ""))

    def get(self, page: Page) -> Answer:
        return self.request("GET", page.path, htmx=page.htmx)

    def queries(self, page: Page) -> int | None:
        return None


Session = InProcess | OverHttp


# --- Running the measures --------------------------------------------------------------


def _load() -> float:
    return os.getloadavg()[0]


def _check(answer: Answer, page: Page) -> None:
    if answer.status != 200 or not answer.body:
        sys.exit(f"{page.path}: {answer.status} {answer.location} — not a page to measure.")


def deep_cursor(session: Session, dossier_id: int, depth: int) -> tuple[str | None, int]:
    """The cursor of the page `depth` pages down the timeline, following each
    page's « older entries » link; (None, 0) when there is no second page,
    else the deepest reached (a co-owner sees fewer entries than staff)."""
    cursor: str | None = None
    reached = 0
    for _ in range(depth):
        path = f"/dossiers/{dossier_id}/" + (f"?apres={cursor}" if cursor else "")
        answer = session.get(Page("walk", path, htmx=True))
        _check(answer, Page("walk", path))
        found = _NEXT_LINK.search(answer.body.decode("utf-8", "replace"))
        if found is None:
            break
        cursor = html.unescape(found[1]).split("&", 1)[0]
        reached += 1
    return cursor, reached


def measure(session: Session, viewer: str, page: Page, *, warmup: int, repeat: int) -> Measure:
    """One page alone: `measure_interleaved` of a plan of one."""
    return measure_interleaved([(viewer, session, page)], warmup=warmup, repeat=repeat)[0]


def measure_interleaved(
    plan: list[tuple[str, Session, Page]], *, warmup: int, repeat: int
) -> list[Measure]:
    """Every page of `plan`: each requested `warmup` times, then `repeat`
    rounds measured, each page once a round — so that, with several pages,
    each page's times span the whole run rather than a few seconds of it
    (on a shared machine, the speed of the same code drifts by half within
    a minute) — then once more with its queries counted."""
    results = []
    for viewer, session, page in plan:
        for _ in range(warmup):
            _check(session.get(page), page)
        results.append(Measure(viewer=viewer, page=page.label, path=page.path))
    load = _load()
    for _ in range(repeat):
        for (_, session, page), result in zip(plan, results, strict=True):
            started = time.perf_counter()
            answer = session.get(page)
            result.times_ms.append((time.perf_counter() - started) * 1000)
            _check(answer, page)
            result.bytes = len(answer.body)
    for (_, session, page), result in zip(plan, results, strict=True):
        result.load_before, result.load_after = load, _load()
        result.queries = session.queries(page)
    return results


def pages_for(session: Session, subjects: Subjects, depth: int) -> Iterator[Page]:
    dossier = f"/dossiers/{subjects.dossier_id}/"
    yield Page("dossier first", dossier)
    cursor, reached = deep_cursor(session, subjects.dossier_id, depth)
    if cursor is not None:
        deep = f"{dossier}?apres={cursor}"
        yield Page(f"dossier deep (page {reached + 1}, htmx)", deep, htmx=True)
        yield Page(f"dossier deep (page {reached + 1}, full)", deep)
    yield from search_pages(subjects)


def _line(summary: dict[str, Any]) -> str:
    queries = "-" if summary["queries"] is None else str(summary["queries"])
    return (
        f"{summary['viewer']:<6} {summary['page'][:58]:<58} {summary['p50_ms']:>8.1f} "
        f"{summary['p95_ms']:>8.1f} {summary['max_ms']:>8.1f} {queries:>7} "
        f"{summary['kb']:>7.1f}  {summary['load_before']:.2f}/{summary['load_after']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=40, help="Measured requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="Unmeasured requests first")
    parser.add_argument("--depth", type=int, default=60, help="Pages down the timeline")
    parser.add_argument("--dossier", type=int, help="The big dossier's id (default: found)")
    parser.add_argument("--staff", help="Staff login's e-mail (default: found)")
    parser.add_argument("--owner", help="Co-owner login's e-mail (default: found)")
    parser.add_argument("--viewers", default="staff,owner", help="staff, owner or both")
    parser.add_argument("--only", default="", help="Measure only pages whose label has this")
    parser.add_argument("--url", help="Measure over HTTP against this running server")
    parser.add_argument(
        "--password",
        help="The logins' password, over HTTP (default: the scale data's, lanterne.core.scale)",
    )
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="Request every page once a round, --repeat rounds (measure_interleaved)",
    )
    parser.add_argument("--json", type=argparse.FileType("w"), help="Write the figures here")
    args = parser.parse_args()

    django_setup(in_process=args.url is None)
    subjects = subjects_find(dossier_id=args.dossier, staff=args.staff, owner=args.owner)
    from benchmarks.ingest import machine

    description = machine()
    description["database"] = subjects.database
    description["mode"] = f"over HTTP, {args.url}" if args.url else "in process (test client)"
    for key, value in description.items():
        print(f"{key:>14}: {value}")
    print(
        f"{'data':>14}: {subjects.messages} messages; dossier {subjects.dossier_reference} "
        f"(id {subjects.dossier_id}) with {subjects.entries} timeline entries"
    )
    print(f"{'viewers':>14}: staff {subjects.staff_email}, co-owner {subjects.owner_email}")
    print(f"{'requests':>14}: {args.warmup} warm-up, {args.repeat} measured per page\n")
    print(
        f"{'viewer':<6} {'page':<58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>7} "
        f"{'KB':>7}  load"
    )

    password = args.password
    if args.url and password is None:
        from lanterne.core.scale import SCALE_PASSWORD

        password = SCALE_PASSWORD

    def make(email: str) -> Session:
        if args.url:
            return OverHttp(args.url, email, password or "")
        return InProcess(email)

    emails = {"staff": subjects.staff_email, "owner": subjects.owner_email}
    plan = []
    for viewer in [v.strip() for v in args.viewers.split(",") if v.strip()]:
        session = make(emails[viewer])
        plan += [
            (viewer, session, page)
            for page in pages_for(session, subjects, args.depth)
            if args.only in page.label
        ]
    if args.interleave:
        measures = measure_interleaved(plan, warmup=args.warmup, repeat=args.repeat)
    else:
        measures = (
            measure(session, viewer, page, warmup=args.warmup, repeat=args.repeat)
            for viewer, session, page in plan
        )
    results = []
    for result in measures:
        summary = result.summary()
        print(_line(summary), flush=True)
        results.append({**summary, "times_ms": [round(t, 2) for t in result.times_ms]})
    if args.json:
        json.dump(
            {"machine": description, "subjects": asdict(subjects), "results": results},
            args.json,
            indent=2,
            default=str,
        )


if __name__ == "__main__":
    main()
