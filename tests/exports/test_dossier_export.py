"""Dossier exports (`/exports/dossiers/<id>/pdf/` and `…/zip/`): what each
role gets of the same dossier — staff everything, a co-owner their page
(masked mail as text, no original of it), others a 404 — and that drawing
the PDF fetches nothing."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier
from lanterne.exports import selectors
from lanterne.exports.pdf import (
    STYLESHEET,
    LocalOnlyFetcher,
    dossier_pdf_document,
    html_pdf_document,
)
from lanterne.mail.storage import blob_read

from .conftest import (
    CONTRACTOR_TEXT,
    INTERNAL_NOTE,
    NEIGHBOUR_EMAIL,
    NEIGHBOUR_MOBILE,
    NEIGHBOUR_MOBILE_FORMS,
    OLD_MAIL,
    OWNERS_NOTE,
    QUOTE_PDF,
    ExportWorld,
    build_export_world,
    pdf_text,
    zip_bytes,
    zip_members,
)

pytestmark = pytest.mark.django_db

MAIL_FOLDER = "courriels/"
PUBLISHED_STEM = "courriels/001-2026-03-03-recherche-de-fuite-au-lot-12"
UNMASKED_EML = "courriels/002-2026-03-04-prise-en-charge-du-sinistre.eml"
INTERNAL_EML = "courriels/003-2026-03-05-nos-conditions-tarifaires-confidentielles.eml"


def pdf_url(dossier: Dossier) -> str:
    return reverse("exports:dossier_pdf", args=[dossier.pk])


def zip_url(dossier: Dossier) -> str:
    return reverse("exports:dossier_zip", args=[dossier.pk])


def text_for(export_world: ExportWorld, role: str) -> str:
    world = export_world.world
    viewer = policy.Viewer.for_user(world.users[role])
    return pdf_text(
        dossier_pdf_document(selectors.dossier_export_for_viewer(viewer, world.dossier.pk))
    )


def manifest_of(members: dict[str, bytes]) -> dict:  # type: ignore[type-arg]
    manifest = json.loads(members["manifest.json"])
    # Every file is listed, with its true size and digest.
    listed = {row["path"]: row for row in manifest["files"]}
    assert set(listed) == set(members) - {"manifest.json"}
    for path, row in listed.items():
        assert row["sha256"] == hashlib.sha256(members[path]).hexdigest(), path
        assert row["size"] == len(members[path]), path
    return manifest


# --- PDF -----------------------------------------------------------------------------


def test_staff_download_the_pdf_of_the_whole_timeline(
    export_world: ExportWorld, client_for
) -> None:  # type: ignore[no-untyped-def]
    world = export_world.world
    response = client_for("staff").get(pdf_url(world.dossier))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reference = world.dossier.reference
    assert response["Content-Disposition"] == f'attachment; filename="{reference}.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert response.content.startswith(b"%PDF-") and response.content.rstrip().endswith(b"%%EOF")
    log = AuditLog.objects.get(object_type="dossier_export")
    assert (log.action, log.object_id, log.actor) == (
        AuditAction.DOWNLOADED,
        str(world.dossier.pk),
        world.users["staff"],
    )
    assert log.changes["format"] == "pdf"

    text = text_for(export_world, "staff")
    # The header: condominium, reference, title, type, status line, parties.
    for expected in (
        "Les Tilleuls",
        reference,
        "Fuite au plafond du lot 12",
        "Dégât des eaux / fuite",
        "Sinistre déclaré le",
        "Lots 12",
    ):
        assert expected in text
    # Every entry, internal ones included, mail as received with its addresses.
    for expected in (
        OWNERS_NOTE,
        INTERNAL_NOTE,
        "Obtenir le rapport de recherche de fuite — échéance 20 mars 2026",
        "Mandater l'entreprise Martin pour la recherche de fuite.",
        "Nos conditions tarifaires confidentielles",
        NEIGHBOUR_MOBILE,
        "<f.martin@plomberie-martin.fr>",
        "Pièces jointes : devis-recherche-fuite.pdf",
        "Note interne du cabinet",
        "Interne au cabinet",
    ):
        assert expected in text
    # Oldest first: a history reads from its beginning.
    assert (
        text.index(OWNERS_NOTE)
        < text.index("Recherche de fuite au lot 12")
        < text.index("Nos conditions tarifaires confidentielles")
    )


def test_a_co_owner_gets_the_pdf_of_their_page_masked(
    export_world: ExportWorld, client_for
) -> None:  # type: ignore[no-untyped-def]
    response = client_for("owner_party").get(pdf_url(export_world.world.dossier))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")

    text = text_for(export_world, "owner_party")
    assert OWNERS_NOTE in text
    assert "Nous interviendrons jeudi au lot 12" in text
    assert "joignable au [téléphone masqué] ou à [adresse e-mail masquée]" in text
    # The mail staff unmasked reads as received.
    assert "Contact : 01 45 67 89 10." in text
    assert "Constat amiable" in text
    for hidden in (
        *NEIGHBOUR_MOBILE_FORMS,
        NEIGHBOUR_EMAIL,
        INTERNAL_NOTE,
        "Nos conditions tarifaires confidentielles",
        "Note interne du cabinet",
        # Staff details of the page: senders' addresses, audiences.
        "f.martin@plomberie-martin.fr",
        "Interne au cabinet",
    ):
        assert hidden not in text


# --- ZIP -----------------------------------------------------------------------------


def test_staff_zip_holds_every_original_byte_for_byte(
    export_world: ExportWorld, client_for
) -> None:  # type: ignore[no-untyped-def]
    world = export_world.world
    response = client_for("staff").get(zip_url(world.dossier))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    reference = world.dossier.reference
    assert response["Content-Disposition"] == f'attachment; filename="{reference}.zip"'
    members = zip_members(zip_bytes(response))
    manifest = manifest_of(members)
    assert (manifest["format"], manifest["scope"]) == ("lanterne-export", "complete")
    assert members[f"{reference}.pdf"].startswith(b"%PDF-")

    originals = {row["path"]: row for row in manifest["files"] if row["kind"] == "message"}
    assert set(originals) == {f"{PUBLISHED_STEM}.eml", UNMASKED_EML, INTERNAL_EML}
    for message in (export_world.published, export_world.unmasked, export_world.internal):
        path = next(p for p, row in originals.items() if row["message_id"] == message.message_id)
        assert members[path] == blob_read(message.raw.storage_name)
        assert hashlib.sha256(members[path]).hexdigest() == message.raw.sha256
    assert members[f"{PUBLISHED_STEM}/devis-recherche-fuite.pdf"] == QUOTE_PDF
    assert members[f"{PUBLISHED_STEM}/ancien-courrier.eml"] == OLD_MAIL
    assert members["documents/constat-amiable.pdf"] == b"%PDF-1.4 constat amiable"
    assert members["documents/note-interne.txt"] == b"note interne du cabinet"
    assert not any(path.endswith(".txt") and path.startswith(MAIL_FOLDER) for path in members)

    log = AuditLog.objects.get(object_type="dossier_export")
    assert log.changes["format"] == "zip"
    assert (log.changes["originals"], log.changes["masked"], log.changes["documents"]) == (3, 0, 2)


def test_a_co_owner_zip_holds_no_original_of_a_masked_mail(
    export_world: ExportWorld, client_for
) -> None:  # type: ignore[no-untyped-def]
    response = client_for("owner_party").get(zip_url(export_world.world.dossier))
    assert response.status_code == 200
    raw_zip = zip_bytes(response)
    members = zip_members(raw_zip)
    manifest = manifest_of(members)
    assert manifest["scope"] == "requester"

    # The masked mail: its texts as served on the page, not its .eml.
    assert f"{PUBLISHED_STEM}.eml" not in members
    text = members[f"{PUBLISHED_STEM}.txt"].decode()
    assert "Objet : Recherche de fuite au lot 12" in text
    assert "joignable au [téléphone masqué] ou à [adresse e-mail masquée]" in text
    assert "De : Frédéric Martin\n" in text
    # Its attachments, which the co-owner may download from the page.
    assert members[f"{PUBLISHED_STEM}/devis-recherche-fuite.pdf"] == QUOTE_PDF
    # The mail staff unmasked: as received.
    assert members[UNMASKED_EML] == blob_read(export_world.unmasked.raw.storage_name)
    assert [row["path"] for row in manifest["files"] if row["kind"] == "message"] == [UNMASKED_EML]
    # Nothing internal, and the masked personal data nowhere: neither in any
    # file (decompressed) nor in the archive's bytes.
    assert INTERNAL_EML not in members
    assert "documents/note-interne.txt" not in members
    for content in [raw_zip, *members.values()]:
        for hidden in (*NEIGHBOUR_MOBILE_FORMS, NEIGHBOUR_EMAIL, "f.martin@plomberie-martin.fr"):
            assert hidden.encode() not in content
        assert b"Nos conditions tarifaires" not in content
        assert INTERNAL_NOTE.encode() not in content
    # The masked text is what the page shows, not a copy of the original.
    assert CONTRACTOR_TEXT.encode() not in b"".join(members.values())


def test_those_who_may_not_see_the_dossier_get_404(export_world: ExportWorld, client_for) -> None:  # type: ignore[no-untyped-def]
    dossier = export_world.world.dossier
    Dossier.objects.filter(pk=dossier.pk).update(audience=Audience.PARTIES)
    for role in ("owner_not_party", "owner_other_condominium", "staff_other_agency"):
        for url in (pdf_url(dossier), zip_url(dossier)):
            assert client_for(role).get(url).status_code == 404, (role, url)
    for url in (pdf_url(dossier), zip_url(dossier)):
        response = client_for("anonymous").get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert client_for("owner_not_party").get(pdf_url(Dossier(pk=999_999))).status_code == 404
    assert not AuditLog.objects.filter(object_type="dossier_export").exists()
    # The party still has it.
    assert client_for("owner_party").get(pdf_url(dossier)).status_code == 200
    assert client_for("owner_party").get(zip_url(dossier)).status_code == 200


def test_the_dossier_page_links_its_exports(export_world: ExportWorld, client_for) -> None:  # type: ignore[no-untyped-def]
    dossier = export_world.world.dossier
    page = (
        client_for("owner_party")
        .get(reverse("dossiers:detail", args=[dossier.pk]))
        .content.decode()
    )
    assert f'href="{pdf_url(dossier)}"' in page
    assert f'href="{zip_url(dossier)}"' in page


# --- Nothing fetched -------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 — http.server's name
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that records every request."""
    requests: list[str] = []
    handler = type("Recorder", (_Recorder,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_drawing_a_pdf_fetches_nothing_remote(remote, world) -> None:  # type: ignore[no-untyped-def]
    base, requests = remote
    # The server answers: its silence below means nothing asked it.
    with urllib.request.urlopen(f"{base}/probe") as answer:  # noqa: S310 — our own server
        assert answer.status == 200
    assert requests == ["/probe"]
    requests.clear()

    html = (
        f'<html><head><link rel="stylesheet" href="{base}/style.css"></head><body>'
        f'<img src="{base}/pixel.png"><img src="file:///etc/hostname">'
        f'<p class="x">texte</p><object data="{base}/object.svg"></object>'
        f"<svg><image href=\"{base}/svg.png\" width='10' height='10'/></svg>"
        f'<img src="data:image/png;base64,iVBORw0KGgo=">'
        "</body></html>"
    )
    document = html_pdf_document(html)
    assert "texte" in pdf_text(document)
    # A dossier whose mail carries a remote image in its HTML version.
    export_world = build_export_world(world, remote_url=f"{base}/tracking.png")
    viewer = policy.Viewer.for_user(world.users["staff"])
    export = selectors.dossier_export_for_viewer(viewer, export_world.world.dossier.pk)
    dossier_pdf_document(export).write_pdf()
    assert requests == []

    fetcher = LocalOnlyFetcher()
    assert fetcher.fetch(STYLESHEET.as_uri()).read().startswith(b"/* The PDF export")
    for refused in (
        f"{base}/pixel.png",
        "file:///etc/hostname",
        f"{STYLESHEET.parent.as_uri()}/../../pdf.py",
        "data:text/css,p{}",
    ):
        with pytest.raises(ValueError, match="not fetched"):
            fetcher.fetch(refused)
    assert requests == []
