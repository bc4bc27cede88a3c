"""Mail in the dossier timeline (`lanterne.mail.display` and the
`mail/partials/message_body.html` partial): the new text first with the
signature and the quoted history folded, the attachments listed and served as
downloads, inline images served only to those who may read the mail, the HTML
version served sanitised in a sandboxed document, the filing reason for staff
only — and a timeline page whose cost does not grow with its mail.

Every mail here goes through the real pipeline (`mail_receive_and_process`:
stored, parsed, sanitised) and is filed with `message_file`. Who may read what,
role by role and audience by audience, is in tests/dossiers/test_policy_matrix.py."""

from __future__ import annotations

import re
import struct
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.mail import publication
from lanterne.mail.display import MESSAGE_HTML_CSP, html_with_inline_images
from lanterne.mail.filing import message_file
from lanterne.mail.models import Attachment, FilingMethod, Message
from lanterne.mail.sanitize import sanitize_html
from lanterne.mail.services import mail_receive_and_process

from ..conftest import World

pytestmark = pytest.mark.django_db

REPOSITORY = Path(__file__).resolve().parents[2]
CORPORA = REPOSITORY / "tests" / "corpora"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG image of one colour (a browser decodes it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def photo(number: int) -> bytes:
    """The photo of the leak in reply `number`: each reply has its own."""
    return png(40, 30, (200, 30, number % 256))


PHOTO = photo(1)
LOGO = png(8, 8, (20, 60, 160))
QUOTE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PLAN_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert("svg")</script></svg>'
INVOICE_HTML = b"<html><body><script>alert('facture')</script>Facture</body></html>"

NEW_TEXT = (
    "Bonjour,\n\nNous passerons jeudi 5 mars à 8 h pour la recherche de fuite au lot 12. "
    "Notre devis est en pièce jointe."
)
SIGNATURE = "Frédéric Martin\nPlomberie Martin, 01 23 45 67 89"
QUOTED = "Pouvez-vous intervenir au lot 12 des Tilleuls ?"
REPLY_TEXT = (
    f"{NEW_TEXT}\n\n-- \n{SIGNATURE}\n\n"
    "Le lun. 2 mars 2026 à 17:45, Cabinet Lumière <gestion@cabinet-lumiere.fr> a écrit :\n"
    f"> Bonjour Monsieur Martin,\n>\n> {QUOTED}\n"
)
# What a hostile or careless sender can put in an HTML body: the parser's
# sanitiser removes it, and the HTML view serves what is left.
REPLY_HTML = (
    "<div><p>Bonjour,</p><p>Nous passerons jeudi <b>5 mars</b> à 8 h.</p>"
    '<img src="cid:photo-fuite@plomberie-martin.fr" alt="Photo de la fuite">'
    '<img src="CID:logo%40plomberie-martin.fr" alt="Logo Plomberie Martin">'
    '<img src="cid:absente@plomberie-martin.fr" alt="Image absente">'
    '<img src="https://suivi.example/pixel.gif?u=42" width="1" height="1">'
    "<script>alert('corps')</script>"
    '<a href="javascript:alert(1)">cliquez</a>'
    '<img src="x" onerror="alert(2)">'
    '<p style="background:url(https://suivi.example/fond.png);color:#a00">Cordialement</p>'
    '<a href="https://plomberie-martin.fr/devis/117">Voir le devis en ligne</a></div>'
)


def contractor_reply(number: int = 1, *, subject: str | None = None) -> bytes:
    """A contractor's reply as a mail client writes it: text and HTML
    versions, a photo and a logo inline (multipart/related), a PDF quote, an
    SVG plan and an HTML invoice attached."""
    message = EmailMessage()
    message["From"] = "Frédéric Martin <f.martin@plomberie-martin.fr>"
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Cc"] = "Marie Dupont <marie.dupont@exemple.fr>"
    message["Subject"] = subject or f"RE: Recherche de fuite n°{number} au lot 12"
    message["Date"] = f"Tue, 03 Mar 2026 10:{number % 60:02d}:00 +0100"
    message["Message-ID"] = f"<reponse-{number}@plomberie-martin.fr>"
    message.set_content(REPLY_TEXT)
    message.add_alternative(REPLY_HTML, subtype="html")
    html_part = message.get_payload()[1]  # type: ignore[index]
    html_part.add_related(
        photo(number),
        "image",
        "png",
        cid="<photo-fuite@plomberie-martin.fr>",
        filename="fuite.png",
    )
    html_part.add_related(
        LOGO, "image", "png", cid="<logo@plomberie-martin.fr>", filename="logo.png"
    )
    message.add_attachment(QUOTE_PDF, "application", "pdf", filename="Devis n°2026-117.pdf")
    message.add_attachment(PLAN_SVG, "image", "svg+xml", filename="plan.svg")
    message.add_attachment(INVOICE_HTML, "text", "html", filename="facture.html")
    return message.as_bytes()


def receive(world: World, data: bytes) -> Message:
    result = mail_receive_and_process(agency=world.agency, data=data)
    return Message.objects.get(raw=result.raw)


def file_into(
    world: World,
    message: Message,
    *,
    audience: str = Audience.OWNERS,
    dossier: Dossier | None = None,
) -> Message:
    return message_file(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        message=message,
        dossier=dossier or world.dossier,
        method=FilingMethod.MANUAL,
        reason="Réponse du plombier sur la fuite du lot 12",
        audience=audience,
    )


def filed_reply(world: World, number: int = 1, *, audience: str = Audience.OWNERS) -> Message:
    return file_into(world, receive(world, contractor_reply(number)), audience=audience)


def attachment(message: Message, filename: str) -> Attachment:
    return message.attachments.get(filename=filename)


def dossier_page(client, dossier: Dossier) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("dossiers:detail", args=[dossier.pk]))
    assert response.status_code == 200
    return response.content.decode()


def mail_block(body: str, message: Message) -> str:
    """The rendering of one mail in a page: its <div>, up to the matching
    </div> (the mail's own text is escaped, so every tag here is markup)."""
    start = body.index(f'<div class="mail" id="courriel-{message.pk}">')
    depth = 0
    for tag in re.finditer(r"<(/?)div\b", body[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return body[start : start + tag.end()]
    raise AssertionError("unbalanced <div> in the page")


def folded(block: str, name: str) -> str | None:
    """The content of a closed <details class="mail-fold mail-NAME">, or None."""
    match = re.search(
        rf'<details class="mail-fold mail-{name}"><summary>[^<]+</summary>(.*?)</details>',
        block,
        re.S,
    )
    return match.group(1) if match else None


# --- The mail in the timeline ----------------------------------------------------------


def test_new_text_comes_first_with_signature_and_history_folded(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    for role in ("staff", "owner_party"):
        block = mail_block(dossier_page(client_for(role), world.dossier), message)
        shown = re.search(r'<div class="text mail-text">(.*?)</div>', block, re.S)
        assert shown and shown.group(1) == NEW_TEXT
        signature, history = folded(block, "signature"), folded(block, "quoted")
        # The contractor's phone: for staff as written, masked for co-owners.
        phone = "01 23 45 67 89" if role == "staff" else "[téléphone masqué]"
        assert signature is not None and f"Plomberie Martin, {phone}" in signature
        assert history is not None and QUOTED in history
        # Folded means inside a closed <details>, and nowhere else.
        assert "<details open" not in block
        assert block.count(QUOTED) == 1 and block.count("Plomberie Martin, ") == 1
        assert block.index(shown.group(0)) < block.index("<details")
        assert "Signature" in block and "Historique cité" in block


def test_a_mail_without_separate_new_text_shows_its_whole_text(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    # A mail the quote detector found nothing new in (all of it quoted).
    Message.objects.filter(pk=message.pk).update(new_text="")
    block = mail_block(dossier_page(client_for("owner_party"), world.dossier), message)
    shown = re.search(r'<div class="text mail-text">(.*?)</div>', block, re.S)
    assert shown and QUOTED in shown.group(1) and "Frédéric Martin" in shown.group(1)
    assert folded(block, "quoted") is None and folded(block, "signature") is None


def test_attachments_are_listed_without_signature_logos(world, client_for):  # type: ignore[no-untyped-def]
    # The same logo in three mails of one sender domain: the pipeline marks it
    # as a signature logo (`_mark_signature_logos`).
    messages = [filed_reply(world, number) for number in (1, 2, 3)]
    latest = messages[-1]
    assert attachment(latest, "logo.png").is_signature_logo
    assert not attachment(latest, "fuite.png").is_signature_logo
    block = mail_block(dossier_page(client_for("owner_party"), world.dossier), latest)
    listed = re.findall(
        r'<li><a href="([^"]+)">([^<]+)</a> <span[^>]*>\(([^)]*)\)</span></li>', block
    )
    by_name = {name: (href, details) for href, name, details in listed}
    assert set(by_name) == set(
        latest.attachments.filter(is_signature_logo=False).values_list("filename", flat=True)
    )
    assert "logo.png" not in by_name
    assert {"fuite.png", "Devis n°2026-117.pdf", "facture.html"} <= set(by_name)
    quote = attachment(latest, "Devis n°2026-117.pdf")
    href, details = by_name["Devis n°2026-117.pdf"]
    assert href == reverse("mail:attachment_download", args=[quote.pk])
    assert details.startswith("application/pdf, ") and "octets" in details
    assert by_name["facture.html"][1].startswith("text/html")


def test_html_version_is_framed_sandboxed_and_loaded_only_when_opened(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    # Outside the staff, the HTML version (which cannot be masked) is shown
    # once staff unmasked the mail.
    block = mail_block(dossier_page(client_for("owner_party"), world.dossier), message)
    assert folded(block, "html") is None
    publication.message_unmask(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        message=message,
        reason="Le plombier a accepté que ses coordonnées soient montrées",
    )
    block = mail_block(dossier_page(client_for("owner_party"), world.dossier), message)
    html_version = folded(block, "html")
    assert html_version is not None
    url = reverse("mail:message_html", args=[message.pk])
    frame = re.search(r"<iframe ([^>]*)></iframe>", html_version)
    assert frame is not None
    attributes = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', frame.group(1)))
    assert attributes["src"] == url
    assert attributes["loading"] == "lazy"
    assert set(attributes["sandbox"].split()) == {
        "allow-same-origin",
        "allow-popups",
        "allow-popups-to-escape-sandbox",
    }
    # The mail's HTML itself is never in the dossier page.
    assert "Voir le devis en ligne" not in block


def test_filing_reason_and_addresses_are_for_staff_only(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    staff_block = mail_block(dossier_page(client_for("staff"), world.dossier), message)
    assert "Classé ici (Classement manuel) : Réponse du plombier sur la fuite du lot 12" in (
        staff_block
    )
    assert "&lt;f.martin@plomberie-martin.fr&gt;" in staff_block
    assert "Copie à Marie Dupont &lt;marie.dupont@exemple.fr&gt;" in staff_block
    for role in ("owner_party", "council_member"):
        block = mail_block(dossier_page(client_for(role), world.dossier), message)
        assert "Frédéric Martin" in block
        assert "Classé ici" not in block and "Réponse du plombier" not in block
        assert "plomberie-martin.fr&gt;" not in block and "marie.dupont@" not in block


def test_a_bounce_links_to_the_mail_that_bounced(world, client_for):  # type: ignore[no-untyped-def]
    original = filed_reply(world)
    data = (Path(__file__).parent / "samples" / "postfix_dsn_bounce.eml").read_bytes()
    bounce = receive(world, data)
    assert bounce.is_bounce
    file_into(world, bounce, audience=Audience.INTERNAL)
    # The file stage links a bounce to the message that bounced (its
    # `bounced_message_id`); here the sample's bounced mail is not ours, so
    # the link the stage would write is written directly.
    Message.objects.filter(pk=bounce.pk).update(bounce_of=original)
    block = mail_block(dossier_page(client_for("staff"), world.dossier), bounce)
    assert "Retour en erreur" in block
    link = f"{reverse('dossiers:detail', args=[world.dossier.pk])}#courriel-{original.pk}"
    assert f'Courriel non distribué : <a href="{link}">' in block


def test_changing_a_mails_audience_rerenders_it_whole(world, client_for):  # type: ignore[no-untyped-def]
    """The htmx answer of the audience form renders the entry without the
    timeline's prefetch: the attachments are listed all the same."""
    message = filed_reply(world)
    entry = TimelineEntry.objects.get(message=message)
    response = client_for("staff").post(
        reverse("dossiers:entry_audience", args=[entry.pk]),
        {"audience": Audience.COUNCIL},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Devis n°2026-117.pdf" in body and "logo.png" in body  # one mail: not a logo yet
    assert folded(body, "quoted") is not None
    message.refresh_from_db()
    assert message.audience == Audience.COUNCIL


def test_timeline_queries_do_not_grow_with_mail_and_attachments(world, client_for):  # type: ignore[no-untyped-def]
    url = reverse("dossiers:detail", args=[world.dossier.pk])

    def page_queries(role: str) -> int:
        client = client_for(role)
        client.get(url)  # warm the session and the site's caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured)

    original = filed_reply(world, 1)
    # A bounce on the page: the mail it is about is read by one query.
    bounce = file_into(
        world,
        receive(world, (Path(__file__).parent / "samples" / "postfix_dsn_bounce.eml").read_bytes()),
    )
    Message.objects.filter(pk=bounce.pk).update(bounce_of=original)
    few = {role: page_queries(role) for role in ("staff", "owner_party")}
    for number in range(2, 13):
        filed_reply(world, number)
    many = {role: page_queries(role) for role in ("staff", "owner_party")}
    assert many == few
    assert (
        Attachment.objects.filter(message__from_address="f.martin@plomberie-martin.fr").count()
        == 60
    )


# --- Attachments and inline images -----------------------------------------------------


def test_attachment_download_is_an_inert_attachment(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    client = client_for("owner_party")
    for filename, data, content_type in (
        ("Devis n°2026-117.pdf", QUOTE_PDF, "application/pdf"),
        ("plan.svg", PLAN_SVG, "image/svg+xml"),
        ("facture.html", INVOICE_HTML, "text/html"),
        ("fuite.png", PHOTO, "image/png"),
    ):
        response = client.get(
            reverse("mail:attachment_download", args=[attachment(message, filename).pk])
        )
        assert response.status_code == 200, filename
        assert b"".join(response.streaming_content) == data
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert response["Cache-Control"] == "private, no-store"
    quote = client.get(
        reverse("mail:attachment_download", args=[attachment(message, "Devis n°2026-117.pdf").pk])
    )
    assert "filename*=utf-8''Devis%20n%C2%B02026-117.pdf" in quote["Content-Disposition"]


def test_inline_images_are_served_inline_and_only_raster_images(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    client = client_for("owner_party")
    photo = client.get(
        reverse("mail:attachment_inline", args=[attachment(message, "fuite.png").pk])
    )
    assert photo.status_code == 200
    assert b"".join(photo.streaming_content) == PHOTO
    assert photo["Content-Type"] == "image/png"
    assert photo["Content-Disposition"].startswith("inline;")
    assert photo["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in photo["Content-Security-Policy"]
    # An SVG is a document (with scripts), a PDF or an HTML file no image:
    # never served inline, only downloaded.
    for filename in ("plan.svg", "Devis n°2026-117.pdf", "facture.html"):
        response = client.get(
            reverse("mail:attachment_inline", args=[attachment(message, filename).pk])
        )
        assert response.status_code == 404, filename


def test_mail_reads_are_not_found_for_who_may_not_read_them(world, client_for):  # type: ignore[no-untyped-def]
    unfiled = receive(world, contractor_reply(7))
    internal = filed_reply(world, 8, audience=Audience.INTERNAL)
    for message in (unfiled, internal):
        urls = [
            reverse("mail:message_html", args=[message.pk]),
            reverse("mail:attachment_download", args=[attachment(message, "fuite.png").pk]),
            reverse("mail:attachment_inline", args=[attachment(message, "fuite.png").pk]),
        ]
        for url in urls:
            assert client_for("staff").get(url).status_code == 200
            for role in ("staff_other_agency", "council_chair", "owner_party"):
                assert client_for(role).get(url).status_code == 404, (role, url)
            assert client_for("anonymous").get(url).status_code == 302
    # Reads only: nothing is changed through these URLs.
    url = reverse("mail:attachment_download", args=[attachment(internal, "fuite.png").pk])
    assert client_for("staff").post(url).status_code == 405


# --- The HTML version ------------------------------------------------------------------


def test_html_version_is_a_sandboxed_document(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    response = client_for("staff").get(reverse("mail:message_html", args=[message.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    policy_header = response["Content-Security-Policy"]
    assert policy_header == MESSAGE_HTML_CSP.format(
        images="http://testserver/courriels/pieces-jointes/"
    )
    directives = {part.split()[0]: part.split()[1:] for part in policy_header.split("; ")}
    assert "allow-scripts" not in directives["sandbox"]
    assert directives["default-src"] == ["'none'"]
    # Images: only the mail's own parts, not any page of Lanterne.
    assert directives["img-src"] == ["http://testserver/courriels/pieces-jointes/"]
    assert directives["frame-ancestors"] == ["'self'"]
    assert "script-src" not in directives
    # Framed by Lanterne's own pages only (the rest of the site says DENY).
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "private, no-store"
    page_of_dossier = client_for("owner_party").get(
        reverse("dossiers:detail", args=[world.dossier.pk])
    )
    assert page_of_dossier["X-Frame-Options"] == "DENY"


def test_html_version_runs_nothing_and_loads_nothing_remote(world, client_for):  # type: ignore[no-untyped-def]
    message = filed_reply(world)
    body = client_for("staff").get(reverse("mail:message_html", args=[message.pk]))
    html = body.content.decode()
    lowered = html.lower()
    assert "Nous passerons jeudi <b>5 mars</b> à 8 h." in html
    assert '<a href="https://plomberie-martin.fr/devis/117"' in html
    assert "<script" not in lowered and "alert" not in lowered
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered)
    assert "javascript:" not in lowered and "url(" not in lowered
    # The tracking pixel keeps its address only where no browser loads it.
    assert 'data-remote-src="https://suivi.example/pixel.gif?u=42"' in html
    sources = re.findall(r'\ssrc="([^"]*)"', html)
    photo = attachment(message, "fuite.png")
    logo = attachment(message, "logo.png")
    assert sources == [
        reverse("mail:attachment_inline", args=[photo.pk]),
        reverse("mail:attachment_inline", args=[logo.pk]),
    ]
    # The missing part's image keeps only its alternative text.
    assert '<img alt="Image absente">' in html


def test_html_version_title_is_escaped(world, client_for):  # type: ignore[no-untyped-def]
    data = contractor_reply(1, subject="Devis </title><script>alert(1)</script>")
    message = file_into(world, receive(world, data))
    html = client_for("staff").get(reverse("mail:message_html", args=[message.pk])).content
    assert b"<script" not in html
    assert b"<title>Devis &lt;/title&gt;&lt;script&gt;" in html


def test_a_mail_without_html_has_no_html_version(world, client_for):  # type: ignore[no-untyped-def]
    data = (
        b"From: Marie Dupont <marie.dupont@exemple.fr>\r\nTo: gestion@cabinet-lumiere.fr\r\n"
        b"Subject: Fuite lot 12\r\nDate: Tue, 3 Mar 2026 10:12:00 +0100\r\n"
        b"Message-ID: <texte-seul@exemple.fr>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nLe plafond goutte encore.\r\n"
    )
    message = file_into(world, receive(world, data))
    assert not message.html
    assert client_for("staff").get(reverse("mail:message_html", args=[message.pk])).status_code == (
        404
    )
    block = mail_block(dossier_page(client_for("owner_party"), world.dossier), message)
    assert "Le plafond goutte encore." in block and "<iframe" not in block


# --- Rewriting cid: sources ------------------------------------------------------------


def test_cid_sources_are_matched_as_the_parser_matches_them() -> None:
    urls = {"photo1.abc@lanterne.example": "/p/1/", "logo@lanterne": "/p/2/"}
    html = sanitize_html(
        '<p>Voici</p><img src="cid:photo1.abc@lanterne.example" alt="Façade > rue" width="10">'
        '<img src="CID:logo%40lanterne"><img src="cid:inconnue@lanterne" alt="?">'
        '<img src="https://cdn.example/pixel.png">'
    )
    assert html_with_inline_images(html, urls) == (
        '<p>Voici</p><img src="/p/1/" alt="Façade &gt; rue" width="10">'
        '<img src="/p/2/"><img alt="?">'
        '<img data-remote-src="https://cdn.example/pixel.png">'
    )


def xss_vectors() -> list[str]:
    """Every attack of the bleach and PayloadsAllTheThings corpora."""
    vectors = [
        path.read_text(encoding="utf-8").split("\n--\n")[0]
        for path in sorted((CORPORA / "bleach-xss").glob("*.test"))
    ]
    for path in sorted((CORPORA / "xss-payloads").glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        vectors.extend(line for line in text.splitlines() if line.strip())
    assert len(vectors) > 100
    return vectors


def test_rewriting_never_brings_an_attack_back() -> None:
    """Around cid: images, the XSS corpora's attacks, sanitised as the parser
    does: after the rewrite the only image sources are Lanterne's URLs, and
    the rest of the HTML is left exactly as the sanitiser wrote it."""
    urls = {"photo@exemple.fr": "/courriels/pieces-jointes/1/image/"}
    for vector in xss_vectors():
        html = sanitize_html(f'<img src="cid:photo@exemple.fr">{vector}<img src="cid:x{vector}">')
        rewritten = html_with_inline_images(html, urls)
        lowered = rewritten.lower()
        assert "<script" not in lowered, vector
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered), vector
        assert "javascript:" not in lowered, vector
        assert set(re.findall(r'<img[^>]*?\ssrc="([^"]*)"', rewritten)) <= set(urls.values())
        assert rewritten.startswith('<img src="/courriels/pieces-jointes/1/image/">'), vector
        without_images = re.sub(r"<img\b[^>]*>", "", rewritten)
        assert without_images == re.sub(r"<img\b[^>]*>", "", html), vector
