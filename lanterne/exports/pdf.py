"""A dossier's timeline as a PDF, drawn by WeasyPrint from a Django template.

What goes in is what the requester may see (`selectors.DossierExport`): mail
as text only, masked as their page masks it — never a mail's HTML, which
cannot be masked and may point anywhere. WeasyPrint fetches nothing either:
its URL fetcher refuses every URL except the files of this app's own
`static/exports/` folder (the stylesheet), so that nothing in a dossier can
make the server request a remote resource (a tracking pixel, an internal
address) while drawing it."""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.template.loader import render_to_string

# WeasyPrint tells every step of every drawing at INFO — from its import on,
# where it parses its own stylesheets — and an agency's archive draws
# thousands of PDFs. Its warnings (a refused URL) still show.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import CSS, HTML, Document  # noqa: E402 — after quieting its logger
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

from .selectors import DossierExport  # noqa: E402

__all__ = ["STATIC_DIR", "LocalOnlyFetcher", "dossier_pdf_document", "html_pdf_document"]

# The only files WeasyPrint may read.
STATIC_DIR = (Path(__file__).resolve().parent / "static" / "exports").resolve()
STYLESHEET = STATIC_DIR / "dossier-pdf.css"


class RefusedURL(ValueError):
    """A URL outside `STATIC_DIR`: not fetched."""


class LocalOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no types
    """WeasyPrint's URL fetcher, refusing every URL but the files of
    `STATIC_DIR`: no network, no other file of the server, no data: URL."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedURL(f"not fetched in a PDF export: {url[:200]}")
        path = Path(url2pathname(parts.path)).resolve()
        if not path.is_relative_to(STATIC_DIR) or not path.is_file():
            raise RefusedURL(f"not fetched in a PDF export: {url[:200]}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )


def html_pdf_document(html: str) -> Document:
    """Lay out `html` (one of our templates, rendered) with our stylesheet."""
    fetcher = LocalOnlyFetcher()
    stylesheet = CSS(filename=str(STYLESHEET), url_fetcher=fetcher)
    page = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=fetcher)
    return page.render(stylesheets=[stylesheet])


def dossier_pdf_document(export: DossierExport) -> Document:
    """The dossier's timeline laid out in pages (`.write_pdf()` gives the
    bytes; tests read the text of its pages)."""
    html = render_to_string(
        "exports/dossier_pdf.html", {"export": export, "dossier": export.dossier}
    )
    return html_pdf_document(html)
