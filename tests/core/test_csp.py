"""The Content-Security-Policy of Lanterne's pages (`lanterne.core.middleware`).

- Every URL of the project that answers GET is requested as staff, as a
  co-owner and anonymously, as a full page and as htmx asks for it: every
  response carries a policy, whose scripts may come neither from inline code
  nor from `eval` nor from anywhere; Lanterne's own pages forbid inline style
  too, and their markup holds no inline script, event handler or style.
- No template of Lanterne holds an inline script, an `on…=` handler, an
  `hx-on` attribute (htmx evaluates it), a `style=` attribute or a <style>
  element: a static scan, so that it stays that way.

That no hostile mail runs in a browser is in tests/browser/test_xss_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from lanterne.core.middleware import ContentSecurityPolicyMiddleware
from lanterne.documents.choices import DocumentKind
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import TimelineEntry
from lanterne.dossiers.services import task_create
from lanterne.mail.choices import SourceKind
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, MailRule, MailSource, Message
from lanterne.mail.publication import message_publish, message_unmask
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World
from ..mail.test_display import contractor_reply

pytestmark = pytest.mark.django_db

LANTERNE = Path(__file__).resolve().parents[2] / "lanterne"
ROLES = ("staff", "owner_party", "anonymous")
SCRIPT_DIRECTIVES = ("script-src-elem", "script-src-attr", "script-src", "default-src")


# --- Reading a policy ---------------------------------------------------------------------


def directives(csp: str) -> dict[str, list[str]]:
    """A policy as {directive: [sources]} (CSP 3, §2.2: names are case-insensitive)."""
    parsed: dict[str, list[str]] = {}
    for directive in csp.split(";"):
        tokens = directive.split()
        if tokens:
            parsed.setdefault(tokens[0].lower(), [token.lower() for token in tokens[1:]])
    return parsed


def permissive(sources: list[str]) -> list[str]:
    """The sources that would let injected code run or come from anywhere."""
    return [
        source
        for source in sources
        if source in {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'"}
        or "*" in source
        or source in {"data:", "blob:", "http:", "https:", "filesystem:"}
    ]


def script_problems(csp: str) -> list[str]:
    """Why scripts under `csp` are not locked down: no directive governs
    them, or one allows inline code, eval or any origin."""
    parsed = directives(csp)
    governing = [name for name in SCRIPT_DIRECTIVES if name in parsed]
    if "script-src" not in governing and "default-src" not in governing:
        return ["no script-src nor default-src"]
    return [f"{name} {source}" for name in governing for source in permissive(parsed[name])]


def test_reading_a_policy_finds_what_is_permissive() -> None:
    assert script_problems(settings.CONTENT_SECURITY_POLICY) == []
    assert script_problems("default-src 'none'; sandbox") == []
    assert script_problems("img-src 'self'") == ["no script-src nor default-src"]
    assert script_problems("default-src 'self'; script-src 'self' 'unsafe-inline'") == [
        "script-src 'unsafe-inline'"
    ]
    assert script_problems("default-src *") == ["default-src *"]
    assert script_problems("script-src 'self' https:; script-src-attr 'UNSAFE-EVAL'") == [
        "script-src-attr 'unsafe-eval'",
        "script-src https:",
    ]


# --- Reading markup -----------------------------------------------------------------------

# Template comments (Django's, Jinja2's) are not markup: they never reach the browser.
TEMPLATE_COMMENTS = re.compile(r"\{#.*?#\}|\{%\s*comment\b.*?%\}.*?\{%\s*endcomment\s*%\}", re.S)
HANDLER = re.compile(r"^(on[a-z]+|(data-)?hx-on.*)$")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "hx-get", "hx-post"}


class InlineCode(HTMLParser):
    """Finds what a page's policy would refuse (or that htmx would evaluate):
    inline <script> bodies, event handlers, `hx-on`, `javascript:` URLs,
    `style=` attributes and <style> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue  # a bare word: `{% if … only %}` inside a tag, not an attribute
            if HANDLER.match(name):
                self.problems.append(f"<{tag} {name}=…>")
            elif name == "style":
                self.problems.append(f'<{tag} style="{value}">')
            elif name in URL_ATTRIBUTES and re.sub(r"\s", "", value).lower().startswith(
                "javascript:"
            ):
                self.problems.append(f'<{tag} {name}="{value}">')
        if tag == "style":
            self.problems.append("<style> element")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]}")


def inline_code(markup: str) -> list[str]:
    parser = InlineCode()
    parser.feed(TEMPLATE_COMMENTS.sub("", markup))
    parser.close()
    return parser.problems


def test_reading_markup_finds_every_kind_of_inline_code() -> None:
    markup = (
        "{# <script>ignored()</script> #}"
        '<script src="/static/x.js"></script><script>run()</script>'
        '<select onchange="this.form.submit()"></select><button hx-on:click="go()">'
        '<a href=" JavaScript:go()">x</a><p style="color:red"><style>p{}</style>'
        "<div {% if x %}hidden{% endif %}>"
    )
    assert inline_code(markup) == [
        "inline <script>: run()",
        "<select onchange=…>",
        "<button hx-on:click=…>",
        '<a href=" JavaScript:go()">',
        '<p style="color:red">',
        "<style> element",
    ]


def templates() -> list[Path]:
    """Lanterne's page templates. Mail templates (an `email/` folder) are
    excluded: they are read in mail clients, never served as pages."""
    found = [
        path
        for folder in ("templates", "jinja2")
        for path in sorted(LANTERNE.rglob(f"{folder}/**/*.html"))
        if "email" not in path.relative_to(LANTERNE).parts
    ]
    assert len(found) > 30
    return found


@pytest.mark.parametrize("template", templates(), ids=lambda path: str(path.relative_to(LANTERNE)))
def test_no_template_holds_inline_script_handler_or_style(template: Path) -> None:
    """Behaviour lives in static scripts, look in the static style sheet:
    the policy forbids the rest, so a page that used it would break."""
    assert inline_code(template.read_text(encoding="utf-8")) == []


# --- The middleware -----------------------------------------------------------------------


def test_the_middleware_adds_the_policy_and_keeps_a_response_own() -> None:
    plain = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("page"))
    assert plain(HttpRequest())["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY

    def sandboxed(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("file")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    own = ContentSecurityPolicyMiddleware(sandboxed)
    assert own(HttpRequest())["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_the_policy_is_in_the_middleware_chain_before_anything_answers() -> None:
    """Early in MIDDLEWARE, so that responses other middleware answer by
    themselves (static files, CSRF failures, the first-run redirect) get it."""
    chain = settings.MIDDLEWARE
    position = chain.index("lanterne.core.middleware.ContentSecurityPolicyMiddleware")
    assert position < chain.index("whitenoise.middleware.WhiteNoiseMiddleware")
    assert position < chain.index("django.middleware.csrf.CsrfViewMiddleware")


# --- Every URL, every role ----------------------------------------------------------------


def url_names() -> Iterator[tuple[str, list[str]]]:
    """Every named URL of the project with the names of its arguments."""

    def arguments(pattern: object) -> list[str]:
        converters = getattr(pattern, "converters", None)
        if converters is not None:
            return list(converters)
        return list(pattern.regex.groupindex)  # type: ignore[attr-defined]

    def walk(
        entries: list[URLPattern | URLResolver], namespace: str, outer: list[str]
    ) -> Iterator[tuple[str, list[str]]]:
        for entry in entries:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, inner, outer + arguments(entry.pattern))
            else:
                assert entry.name, f"unnamed URL {entry.pattern}: name it, the walk needs it"
                yield f"{namespace}{entry.name}", outer + arguments(entry.pattern)

    yield from walk(get_resolver().url_patterns, "", [])


@pytest.fixture
def url_arguments(world: World) -> dict[str, object]:
    """A value for every URL argument: objects of the world that staff and
    the co-owner may read (a mail published and unmasked, with an inline
    image and attachments; a document; a task), and tokens that are wrong."""
    staff = world.users["staff"]
    viewer = policy.Viewer.for_user(staff)
    result = mail_receive_and_process(agency=world.agency, data=contractor_reply())
    message = Message.objects.get(raw=result.raw)
    message_file(
        viewer=viewer,
        actor=staff,
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="Réponse du plombier",
    )
    message_publish(viewer=viewer, actor=staff, message=message, audience=Audience.OWNERS)
    message_unmask(viewer=viewer, actor=staff, message=message, reason="Pour le test")
    inline_image = message.attachments.get(filename="fuite.png")
    document = document_upload(
        viewer=viewer,
        actor=staff,
        condominium=world.condominium,
        file=ContentFile(b"%PDF-1.4\n%%EOF\n"),
        filename="devis.pdf",
        kind=DocumentKind.QUOTE,
        audience=Audience.OWNERS,
        dossier=world.dossier,
    )
    task = task_create(viewer=viewer, actor=staff, dossier=world.dossier, title="Relancer")
    source = MailSource.objects.create(
        agency=world.agency,
        kind=SourceKind.IMAP,
        name="Boîte de gestion",
        imap_host="127.0.0.1",
        imap_port=1,
        imap_ssl=False,
        imap_username="gestion",
        imap_password="secret",
    )
    rule = MailRule.objects.create(
        agency=world.agency, name="Plombier", sender_domain="plomberie-martin.fr"
    )
    return {
        "condominium_id": world.condominium.pk,
        "dossier_id": world.dossier.pk,
        "person_id": world.persons["owner_party"].pk,
        "document_id": document.pk,
        "message_id": message.pk,
        "attachment_id": inline_image.pk,
        "raw_id": message.raw_id,
        "task_id": task.pk,
        "entry_id": TimelineEntry.objects.get(message=message).pk,
        "source_id": source.pk,
        "rule_id": rule.pk,
        "uidb64": "MQ",
        "token": "jeton-invalide",
        # No reminder in the world: its views answer 404 or 405, which must
        # carry the policy too.
        "reminder_id": 999_999,
        # The API answers 401 without its token: ids need not exist.
        "lot_id": world.party_lot.pk,
        "decision_id": 999_999,
    }


def urls(arguments: dict[str, object]) -> list[tuple[str, str]]:
    found = []
    for name, needed in url_names():
        missing = [argument for argument in needed if argument not in arguments]
        assert not missing, f"{name}: give url_arguments a value for {missing}"
        found.append(
            (name, reverse(name, kwargs={argument: arguments[argument] for argument in needed}))
        )
    return found


# Pages each role must reach, so that the walk is known to test real pages.
REACHED = {
    "staff": {
        "home",
        "condominium",
        "dossiers:detail",
        "dossiers:create",
        "condominiums:persons",
        "mail:triage",
        "mail:rules",
        "mail:sources",
        "mail:quarantine",
        "mail:message_html",
    },
    "owner_party": {"home", "condominium", "dossiers:detail", "mail:message_html", "api:tokens"},
    "anonymous": {"accounts:login", "accounts:password_reset", "api:v1:openapi-view"},
}


@pytest.mark.parametrize("role", ROLES)
def test_every_response_carries_a_policy_forbidding_inline_script(  # type: ignore[no-untyped-def]
    world, client_for, url_arguments, role: str
) -> None:
    """Every URL answering GET, as a page and as htmx asks for it: a policy
    on every response; its scripts locked down; on Lanterne's own pages
    inline style refused too and no inline code in the markup (the sandboxed
    documents served from a mail have their own, stricter policy)."""
    client: Client = client_for(role)
    pages: set[str] = set()
    for name, url in urls(url_arguments):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            where = f"{name} {url} as {role} {headers}: {response.status_code}"
            assert response.status_code < 500, where
            csp = response.get("Content-Security-Policy")
            assert csp, f"{where}: no Content-Security-Policy"
            assert script_problems(csp) == [], where
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            if response.status_code == 200 and not headers:
                pages.add(name)
            if "sandbox" in directives(csp):
                continue
            assert csp == settings.CONTENT_SECURITY_POLICY, where
            assert permissive(directives(csp)["style-src"]) == [], where
            assert directives(csp)["frame-ancestors"] == ["'none'"], where
            assert inline_code(response.content.decode()) == [], where
    assert REACHED[role] <= pages, f"{role} did not reach {REACHED[role] - pages}"
