"""Hostile mail in a real browser (Debian's chromium): whatever a sender puts
in a mail, nothing of it runs in Lanterne, for staff or for co-owners.

The hostile mails are tests/mail/samples/hostile/*.eml (one attack idea each:
script elements, event handlers, SVG, javascript: and data: URLs, meta
refresh, <base>, CSS tricks, style sheets, forms, malformed markup, encoded
URLs, an HTML attachment, UTF-7, hostile headers, embedded documents, markup
in plain text, a forwarded message) and two mails generated from the public
XSS corpora (tests/corpora/xss-payloads, tests/corpora/bleach-xss). Each goes
through the real pipeline (`mail_receive_and_process`: stored, parsed,
sanitised, filed by the file stage), is filed into a dossier, published to
every co-owner and unmasked (so that co-owners get the HTML version too: the
worst case), then read in the browser: the triage inbox, the dossier timeline
as the manager and as a co-owner with every fold and every HTML frame open,
and each HTML version opened on its own, as the "new tab" link does.

A payload that ran would leave a mark (see hostile/README.md): a dialog, a
`__xss` global in the page or a frame, a request to a `/xss-hit/…` URL or to
another origin, a window opened, the page sent elsewhere. `XssWatch` looks
for all of them, and for what would run on a click (event handler
attributes, script URLs, foreign scripts, frames and objects) in the page and
in every frame. The console is recorded: it shows what the policies refused.

The watch is checked on pages that are not protected (the same payloads
served raw, without sanitiser or policy), where it must see every mail run:
a test that cannot fail proves nothing. And the Content-Security-Policy of
Lanterne's pages is checked alone, on the raw payloads without the
sanitiser: no script of them runs.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Frame, Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.publication import message_publish, message_unmask
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TESTS = Path(__file__).resolve().parents[1]
HOSTILE = TESTS / "mail" / "samples" / "hostile"
CORPORA = TESTS / "corpora"

# Paths the watch answers itself, on Lanterne's origin: what a payload
# requests, and the unprotected pages of the sanity checks.
HIT_PATH = "/xss-hit"
RAW_PATH = "/xss-raw/"

# What shows that a payload ran (as opposed to markup that would run on a
# click, which the watch reports too).
RAN = frozenset({"dialog", "marker", "hit", "foreign request", "popup"})


# --- The hostile mails ---------------------------------------------------------------


@dataclass(frozen=True)
class HostileMail:
    name: str
    data: bytes


def _generated(name: str, subject: str, vectors: list[str]) -> HostileMail:
    """A mail carrying every vector of a corpus, in its text and its HTML."""
    message = EmailMessage()
    message["From"] = "Entreprise Martin <contact@martin-btp.fr>"
    message["To"] = "Cabinet Lumiere <gestion@cabinet-lumiere.fr>"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = f"<hostile-{name}@martin-btp.fr>"
    message.set_content("Bonjour,\n\n" + "\n".join(vectors))
    message.add_alternative(
        "<p>Bonjour,</p>\n" + "\n".join(f"<div>{vector}</div>" for vector in vectors),
        subtype="html",
    )
    return HostileMail(name, message.as_bytes())


@cache
def hostile_mails() -> tuple[HostileMail, ...]:
    """The written samples, then the two corpora as generated mails."""
    mails = [HostileMail(path.stem, path.read_bytes()) for path in sorted(HOSTILE.glob("*.eml"))]
    payloads = [
        line
        for path in sorted((CORPORA / "xss-payloads").glob("*.txt"))
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip()
    ]
    bleach = [
        path.read_text(encoding="utf-8").split("\n--\n")[0]
        for path in sorted((CORPORA / "bleach-xss").glob("*.test"))
    ]
    mails.append(_generated("corpus-xss-payloads", "Releve des payloads publics", payloads))
    mails.append(_generated("corpus-bleach", "Releve des tests de bleach", bleach))
    assert len(mails) >= 20 and len(payloads) > 80 and len(bleach) > 15
    return tuple(mails)


def raw_content(mail: HostileMail) -> str:
    """Everything a mail carries, as markup, as if a page inserted it
    unescaped and unsanitised: its headers, every part (text, HTML, SVG,
    attachments, the parts of a forwarded message) and the attachments'
    names."""
    parsed = email.message_from_bytes(mail.data, policy=email.policy.default)
    pieces = [str(parsed.get(name, "")) for name in ("Subject", "From", "To", "Cc")]
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        content = part.get_content()  # type: ignore[attr-defined]
        pieces.append(content.decode("utf-8", "replace") if isinstance(content, bytes) else content)
        pieces.append(part.get_filename() or "")
    return "\n<hr>\n".join(pieces)


# --- The watch -------------------------------------------------------------------------

# Run in the page and in every frame. Reports the marks of a payload that ran
# and the markup that would run on a click or load something it should not.
FRAME_CHECK = r"""() => {
  const found = [];
  const add = (kind, detail) => found.push([kind, String(detail).slice(0, 160)]);
  if (window.__xss !== undefined) add("marker", `__xss = ${window.__xss}`);
  const scriptUrl = /^(javascript|vbscript|livescript|data):/i;
  const urlAttributes = new Set(["href", "src", "action", "formaction", "xlink:href", "data",
    "background", "poster", "codebase", "lowsrc", "dynsrc", "srcset", "ping", "to", "values"]);
  const cssRisk = /url\s*\(|image-set|expression|javascript:|behavior|binding|@import/i;
  const ours = (value) => {
    const url = new URL(value, location.href);
    return url.origin === location.origin && url.pathname.startsWith("/static/");
  };
  for (const element of document.querySelectorAll("*")) {
    const tag = element.localName;
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith("on")) add("handler", `<${tag} ${name}="${attribute.value}">`);
      if (name === "srcdoc") add("srcdoc", `<${tag} srcdoc>`);
      // The URL parser drops controls and spaces: "jav\tascript:" is javascript:.
      const bare = attribute.value.replace(/[\u0000-\u0020]/g, "");
      if (urlAttributes.has(name) && scriptUrl.test(bare)) {
        add("script url", `<${tag} ${name}="${attribute.value}">`);
      }
      if (name === "style" && cssRisk.test(attribute.value)) {
        add("style", `<${tag} style="${attribute.value}">`);
      }
    }
    if (tag === "script" && !(element.hasAttribute("src") && ours(element.getAttribute("src")))) {
      add("script", element.getAttribute("src") || element.textContent);
    }
    if (tag === "link" && !ours(element.getAttribute("href") || "")) add("link", element.outerHTML);
    if (tag === "style" && cssRisk.test(element.textContent)) {
      add("style sheet", element.textContent);
    }
    if (tag === "meta" && element.hasAttribute("http-equiv")) add("meta", element.outerHTML);
    if (["base", "object", "embed", "applet", "frame", "frameset", "portal"].includes(tag)) {
      add("embedded", element.outerHTML);
    }
    if (tag === "iframe") {
      // The only frame Lanterne shows: a mail's HTML version, sandboxed, scripts off.
      const url = new URL(element.getAttribute("src") || "about:blank", location.href);
      const sandbox = element.getAttribute("sandbox");
      if (!(url.origin === location.origin && /^\/courriels\/\d+\/html\/$/.test(url.pathname)
            && sandbox !== null && !/allow-scripts/.test(sandbox))) {
        add("frame", element.outerHTML);
      }
    }
  }
  return found;
}"""


def frame_path(frame: Frame) -> str:
    """Where a frame is: its address and those of the frames around it."""
    path = []
    current: Frame | None = frame
    while current is not None:
        path.append(current.url or "(no address)")
        current = current.parent_frame
    return " < ".join(path)


class XssWatch:
    """Everything in a browser context that would show a payload ran, plus
    the console, recorded. Also serves the raw pages of the sanity checks."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.origin = origin
        self.dialogs: list[str] = []
        self.hits: list[str] = []
        self.foreign: list[str] = []
        self.popups: list[str] = []
        self.console: list[str] = []
        self.never_loaded: list[str] = []
        self.raw_pages: dict[str, tuple[str, str | None]] = {}
        self.watched: set[int] = set()
        context.route("**/*", self._route)
        context.on("page", self.watch)

    def watch(self, page: Page) -> None:
        """Listen to a page: its dialogs (dismissed) and its console. Pages
        opened after the first are popups."""
        if id(page) in self.watched:
            return
        if self.watched:
            self.popups.append(page.url)
        self.watched.add(id(page))
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def _route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(url)
            route.abort()
        elif parts.path.startswith(HIT_PATH):
            self.hits.append(url)
            route.fulfill(status=204)
        elif parts.path in self.raw_pages:
            body, csp = self.raw_pages[parts.path]
            headers = {"Content-Security-Policy": csp} if csp else {}
            route.fulfill(body=body, content_type="text/html; charset=utf-8", headers=headers)
        else:
            route.continue_()

    def raw_page(self, name: str, body: str, *, csp: str | None = None) -> str:
        """A page on Lanterne's origin serving `body` as is, without
        sanitiser, with `csp` as its policy (none by default)."""
        path = f"{RAW_PATH}{name}/"
        self.raw_pages[path] = (f"<!DOCTYPE html><html><body>{body}</body></html>", csp)
        return path

    def findings(self, page: Page) -> list[tuple[str, str]]:
        """What the watch saw so far, and what the page and each of its
        frames hold now."""
        found = [("dialog", message) for message in self.dialogs]
        found += [("hit", url) for url in self.hits]
        found += [("foreign request", url) for url in self.foreign]
        found += [("popup", url) for url in self.popups]
        for frame in page.frames:
            where = frame_path(frame)
            found += [(kind, f"{detail} (in {where})") for kind, detail in self._inspect(frame)]
        return found

    def _inspect(self, frame: Frame) -> list[tuple[str, str]]:
        """FRAME_CHECK's findings in one frame. Two kinds of frame have
        nothing to inspect: Chromium's own error page for a load a policy
        refused (chrome-error://), and a frame whose navigation was refused
        before any document existed (a javascript: source under the policy),
        where `evaluate` would wait forever for a document: it is given a
        moment and then recorded as never loaded."""
        if frame.is_detached() or frame.url.startswith("chrome-error://"):
            return []
        try:
            findings = frame.wait_for_function(f"({FRAME_CHECK})()", timeout=2000).json_value()
        except PlaywrightTimeoutError:
            self.never_loaded.append(frame.name or frame.url or "(no address)")
            return []
        return [(kind, detail) for kind, detail in findings]

    def ran(self, page: Page) -> list[tuple[str, str]]:
        return [(kind, detail) for kind, detail in self.findings(page) if kind in RAN]

    def reset(self) -> None:
        for seen in (
            self.dialogs,
            self.hits,
            self.foreign,
            self.popups,
            self.console,
            self.never_loaded,
        ):
            seen.clear()

    def refusals(self) -> list[str]:
        """What the console says the policies refused."""
        return [
            line
            for line in self.console
            if "Content Security Policy" in line or "sandboxed" in line or "Blocked" in line
        ]


@pytest.fixture
def watch(context: BrowserContext, page: Page, live_server) -> XssWatch:  # type: ignore[no-untyped-def]
    watch = XssWatch(context, live_server.url)
    watch.watch(page)
    return watch


# --- Through the pipeline ------------------------------------------------------------------


def ingest(world: World) -> dict[str, Message]:
    """Every hostile mail received and processed as a source would; each
    must come out as a message (none quarantined: a mail that broke the
    parser would be tested nowhere)."""
    messages = {}
    for mail in hostile_mails():
        result = mail_receive_and_process(agency=world.agency, data=mail.data)
        message = Message.objects.filter(raw=result.raw).first()
        assert message is not None, f"{mail.name}: {result.raw.state} {result.raw.error}"
        messages[mail.name] = message
    return messages


def publish(world: World, messages: dict[str, Message]) -> None:
    """File every mail into the dossier, publish it to every co-owner and
    unmask it, as staff would through the interface."""
    staff = world.users["staff"]
    viewer = policy.Viewer.for_user(staff)
    for message in messages.values():
        message.refresh_from_db()
        if message.dossier_id != world.dossier.pk:
            message_file(
                viewer=viewer,
                actor=staff,
                message=message,
                dossier=world.dossier,
                method=FilingMethod.MANUAL,
                reason="Courriel hostile du test XSS",
            )
        message_publish(viewer=viewer, actor=staff, message=message, audience=Audience.OWNERS)
        message_unmask(
            viewer=viewer, actor=staff, message=message, reason="Version mise en forme (test)"
        )


def settle(page: Page) -> None:
    """Time for what a payload would do a moment after loading (a meta
    refresh after 1 s, an SVG animation's start, a fetch)."""
    page.wait_for_timeout(1200)


def assert_nothing_ran(watch: XssWatch, page: Page, where: str) -> None:
    """Nothing ran, and every frame of Lanterne's page was inspected."""
    found = watch.findings(page)
    assert found == [], f"{where}: {found}\nconsole refusals: {watch.refusals()}"
    assert watch.never_loaded == [], where


def open_whole_timeline(page: Page, world: World, messages: dict[str, Message]) -> None:
    """The dossier page with every entry loaded, every fold of every mail
    opened and every HTML frame loaded."""
    page.goto(reverse("dossiers:detail", args=[world.dossier.pk]))
    entries = page.locator(".entry")
    older = page.locator("#more-entries a")
    while older.count():
        shown = entries.count()
        older.click()
        page.wait_for_function("n => document.querySelectorAll('.entry').length > n", arg=shown)
    for message in messages.values():
        expect(page.locator(f"#courriel-{message.pk}")).to_be_visible()
    summaries = page.locator(".mail details:not([open]) > summary")
    while summaries.count():
        summaries.first.click()
    frames = page.locator(".mail iframe")
    with_html = sum(1 for message in messages.values() if message.html.strip())
    assert with_html >= 15
    expect(frames).to_have_count(with_html)
    for index in range(with_html):
        frames.nth(index).scroll_into_view_if_needed()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.mail iframe')].every(frame => {
            const document = frame.contentDocument;
            return document && document.readyState === 'complete'
                && /\\/courriels\\/\\d+\\/html\\/$/.test(document.location.pathname);
        })"""
    )


# --- Hostile mail in Lanterne -------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "owner_not_party"])
def test_hostile_mail_runs_nothing_in_the_timeline(  # type: ignore[no-untyped-def]
    world, page: Page, watch: XssWatch, role: str
) -> None:
    """The manager and a co-owner read every hostile mail in the dossier
    timeline, folds and HTML versions open, then each HTML version on its
    own: nothing runs, nothing is requested, the page stays where it is."""
    messages = ingest(world)
    publish(world, messages)
    for message in messages.values():
        message.refresh_from_db()
    login(page, world.users[role].email)
    watch.reset()

    open_whole_timeline(page, world, messages)
    settle(page)
    assert_nothing_ran(watch, page, f"timeline as {role}")
    assert urlsplit(page.url).path == reverse("dossiers:detail", args=[world.dossier.pk])
    assert len(page.frames) == 1 + sum(1 for m in messages.values() if m.html.strip())

    for name, message in messages.items():
        if not message.html.strip():
            continue
        url = reverse("mail:message_html", args=[message.pk])
        response = page.goto(url)
        assert response is not None and response.status == 200, name
        settle(page)
        assert_nothing_ran(watch, page, f"{name}, HTML version alone, as {role}")
        assert urlsplit(page.url).path == url
    print(f"\nConsole of the browser as {role} ({len(watch.console)} lines):")
    print("\n".join(watch.console))


def test_a_sanitiser_bug_would_be_seen_and_still_run_nothing(  # type: ignore[no-untyped-def]
    world, page: Page, watch: XssWatch
) -> None:
    """A sanitiser bug, simulated: the HTML versions stored raw, as
    received. The watch does see inside Lanterne's frames (the event
    handlers are there), and the frames' sandbox and policy still run none
    of it and load nothing from elsewhere."""
    messages = ingest(world)
    publish(world, messages)
    raw = {mail.name: raw_content(mail) for mail in hostile_mails()}
    for name, message in messages.items():
        Message.objects.filter(pk=message.pk).update(html=raw[name])
        message.refresh_from_db()
    login(page, world.users["owner_not_party"].email)
    watch.reset()
    open_whole_timeline(page, world, messages)
    settle(page)
    markup = [(kind, detail) for kind, detail in watch.findings(page) if kind not in RAN]
    assert {"handler", "script", "script url"} <= {kind for kind, _detail in markup}
    assert all("/courriels/" in detail for _kind, detail in markup), markup
    # Images and style sheets from Lanterne's own origin are what the frame's
    # `img-src 'self'` allows (for the mail's inline images): without the
    # sanitiser a mail could make the reader's browser GET a Lanterne URL.
    # Nothing else: no script, no dialog, no other origin, no window.
    assert [(kind, detail) for kind, detail in watch.ran(page) if kind != "hit"] == []
    assert urlsplit(page.url).path == reverse("dossiers:detail", args=[world.dossier.pk])


def test_hostile_mail_runs_nothing_in_triage(world, page: Page, watch: XssWatch) -> None:  # type: ignore[no-untyped-def]
    """Before filing: the triage inbox lists every hostile mail, and each
    one read in place (loaded by htmx) runs nothing."""
    messages = ingest(world)
    waiting = [m for m in messages.values() if Message.objects.get(pk=m.pk).dossier_id is None]
    assert len(waiting) >= 15
    login(page, world.users["staff"].email)
    watch.reset()
    page.goto(reverse("mail:triage"))
    for message in waiting:
        item = page.locator(f"#courriel-{message.pk}")
        item.locator("details.triage-read > summary").click()
        expect(item.locator(".triage-read-body .triage-message")).to_be_attached()
    settle(page)
    assert_nothing_ran(watch, page, "triage")
    assert urlsplit(page.url).path == reverse("mail:triage")


# --- The watch can fail, and the policy holds on its own ----------------------------------


def test_the_watch_sees_a_payload_run_on_an_unprotected_page(page: Page, watch: XssWatch) -> None:
    """Served raw, each kind of mark is seen: a marker, a dialog, a request
    to /xss-hit, a request elsewhere."""
    path = watch.raw_page(
        "sanity",
        "<script>top.__xss = 'sanity'</script>"
        "<img src=x onerror=\"alert('sanity')\">"
        f"<img src='{HIT_PATH}/sanity.png'>"
        "<script>fetch('https://xss-hit.invalid/sanity').catch(() => {})</script>",
    )
    page.goto(path)
    settle(page)
    kinds = {kind for kind, _detail in watch.ran(page)}
    assert kinds == {"marker", "dialog", "hit", "foreign request"}


@pytest.mark.parametrize("mail", hostile_mails(), ids=lambda mail: mail.name)
def test_every_hostile_mail_runs_on_an_unprotected_page(
    page: Page, watch: XssWatch, mail: HostileMail
) -> None:
    """Each hostile mail, inserted raw in a page without sanitiser nor
    policy, does run: the samples are real attacks, and the watch sees them."""
    page.goto(watch.raw_page(mail.name, raw_content(mail)))
    settle(page)
    assert watch.ran(page), f"{mail.name} ran nothing even unprotected"


@pytest.mark.parametrize("mail", hostile_mails(), ids=lambda mail: mail.name)
def test_lanterne_policy_alone_runs_no_script(
    page: Page, watch: XssWatch, mail: HostileMail
) -> None:
    """The second line of defence: each hostile mail inserted raw, without
    the sanitiser, in a page carrying the policy Lanterne's pages carry. No
    script of it runs and nothing leaves Lanterne's origin (same-origin
    loads, /xss-hit, are what `img-src 'self'` and the sanitiser's job)."""
    page.goto(watch.raw_page(mail.name, raw_content(mail), csp=settings.CONTENT_SECURITY_POLICY))
    settle(page)
    ran = [(kind, detail) for kind, detail in watch.ran(page) if kind != "hit"]
    assert ran == [], f"{mail.name}: {ran}"


# --- Lanterne's own pages keep to their policy -------------------------------------------


STAFF_PAGES: tuple[Callable[[World], str], ...] = (
    lambda world: reverse("home"),
    lambda world: reverse("dossiers:detail", args=[world.dossier.pk]),
    lambda world: reverse("dossiers:create"),
    lambda world: reverse("condominiums:persons"),
    lambda world: reverse("mail:triage"),
    lambda world: reverse("mail:rules"),
    lambda world: reverse("mail:rule_create"),
    lambda world: reverse("mail:sources"),
    lambda world: reverse("mail:quarantine"),
)


def csp_lines(watch: XssWatch) -> Iterator[str]:
    return (line for line in watch.console if "Content Security Policy" in line)


def test_lanterne_pages_break_no_rule_of_their_policy(world, page: Page, watch: XssWatch) -> None:  # type: ignore[no-untyped-def]
    """Lanterne's own pages, under their policy, trigger no refusal: htmx
    loads (the triage count arrives), and the language menu, a static
    script now, still switches the interface to English on change."""
    # One mail waiting in triage, for the count htmx loads into the navigation.
    mail_receive_and_process(agency=world.agency, data=hostile_mails()[0].data)
    login(page, world.users["staff"].email)
    for url in STAFF_PAGES:
        response = page.goto(url(world))
        assert response is not None and response.status == 200, url(world)
        assert response.headers["content-security-policy"] == settings.CONTENT_SECURITY_POLICY
    expect(page.locator("nav .triage-count")).to_have_text("1")
    with page.expect_navigation():
        page.locator("#language-select").select_option("en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert list(csp_lines(watch)) == []
    assert_nothing_ran(watch, page, "Lanterne's own pages")
