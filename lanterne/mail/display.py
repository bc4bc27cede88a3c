"""Reading a mail where it is filed: its attachments, its inline images and
its HTML version, each served only to those who may read the message
(`policy.may_read_message`: exactly who sees its timeline entry), with 404 for
anyone else, so that not even the existence of a mail is revealed.

A mail is hostile input, and these views serve its content from Lanterne's
own origin, so none of it may act there:

- Attachments are served as downloads (`Content-Disposition: attachment`),
  with `nosniff` and a sandboxing CSP, like dossier documents: an attached
  HTML or SVG file never renders as a page of Lanterne.
- Inline images (the parts an HTML body shows through `cid:` URLs, RFC 2392)
  are served inline only when their bytes are a raster format a browser
  decodes as an image, never SVG (a document that can carry script).
- The HTML version was sanitised when the mail was parsed (`sanitize.py`: no
  script, no event handler, no remote image); it is served all the same by a
  view of its own, as a sandboxed document with a CSP that forbids any script
  and any request outside Lanterne, and shown in the dossier page through an
  `<iframe sandbox>`. Remote images stay blocked (`img-src 'self'`).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from urllib.parse import unquote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_safe

from lanterne.dossiers import policy

from .models import Attachment, Message
from .storage import blob_open

__all__ = [
    "INLINE_IMAGE_TYPES",
    "MESSAGE_HTML_CSP",
    "attachment_download",
    "attachment_inline",
    "html_with_inline_images",
    "message_html",
]

# Image formats served inline: raster formats only, which a browser decodes
# as pictures whatever the bytes hold. SVG is left out on purpose: opened on
# its own it is a document, with scripts.
INLINE_IMAGE_TYPES: frozenset[str] = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif"}
)

# The HTML version's policy. `sandbox` without `allow-scripts`, and
# `default-src 'none'` (so no script source either): nothing in the mail can
# run. `allow-same-origin` keeps the document in Lanterne's origin, which is
# what lets the browser send the session cookie (SameSite=Lax) with the
# requests for inline images: a sandboxed document without it has an opaque
# origin, its image requests are cross-site, and every inline image would be
# refused by the policy check. Without scripts, the origin gives the mail
# nothing to act with. `allow-popups` (and escaping the sandbox) because the
# sanitiser opens every link in a new tab: without them a click on a link
# does nothing. Images only from where Lanterne serves a mail's parts (a
# path: `{images}` is its absolute URL), so remote images and tracking pixels
# never load, and markup that slipped past the sanitiser cannot make the
# reader's browser request any other page of Lanterne; inline styles only,
# the way mail clients write them.
MESSAGE_HTML_SANDBOX = "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
MESSAGE_HTML_CSP = (
    f"sandbox {MESSAGE_HTML_SANDBOX}; default-src 'none'; img-src {{images}}; "
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# Files served from a mail (attachments, inline images): inert if opened.
FILE_CSP = "default-src 'none'; sandbox"

# The page the HTML version is served in; its only style is ours.
_HTML_DOCUMENT = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>{}</title>'
    "<style>body{{margin:12px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
    "sans-serif;color:#1d232b;line-height:1.4;overflow-wrap:anywhere}}"
    "img{{max-width:100%;height:auto}}table{{max-width:100%}}</style>"
    "</head><body>{}</body></html>"
)

# One <img> start tag as nh3 (html5ever) serialises it: attribute values
# always double-quoted, never holding a raw `"`. `Message.html` only ever
# holds nh3's output (sanitize.py relies on the same grammar), which is what
# makes rewriting its image sources with a regular expression reliable.
_IMG_TAG = re.compile(r'<img((?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*)\s*/?>', re.IGNORECASE)
_ATTRIBUTE = re.compile(r'\s+([^\s"\'>/=]+)(?:="([^"]*)")?')
_CID = re.compile(r"^\s*cid:", re.IGNORECASE)


def html_with_inline_images(html: str, urls: Mapping[str, str]) -> str:
    """`html` (a sanitised body, as stored) with each `cid:` image source
    replaced by the URL where Lanterne serves that part.

    `urls` maps Content-IDs, casefolded and without angle brackets, to URLs.
    A `cid:` URL is %-escaped (RFC 2392) and case does not matter, as the
    parser matched them. A source naming no part that is served inline (a
    missing part, a PDF) is removed: the image shows its alternative text."""

    def rewrite(tag: re.Match[str]) -> str:
        parts = []
        for attribute in _ATTRIBUTE.finditer(tag.group(1)):
            name, value = attribute.group(1), attribute.group(2)
            if name.lower() == "src" and value is not None and _CID.match(value):
                content_id = unquote(_CID.sub("", html_lib.unescape(value))).strip("<>")
                url = urls.get(content_id.casefold())
                if url is not None:
                    parts.append(f' src="{escape(url)}"')
            elif value is None:
                parts.append(f" {name}")
            else:
                parts.append(f' {name}="{value}"')
        return "<img" + "".join(parts) + ">"

    return _IMG_TAG.sub(rewrite, html)


def _readable_message(request: HttpRequest, message_id: int) -> Message:
    """The message if the viewer may read it; 404 otherwise."""
    message = get_object_or_404(Message.objects.select_related("dossier"), pk=message_id)
    if not policy.may_read_message(policy.viewer_of(request), message):
        raise Http404
    return message


def _readable_attachment(request: HttpRequest, attachment_id: int) -> Attachment:
    """The attachment if the viewer may read its message; 404 otherwise."""
    attachment = get_object_or_404(
        Attachment.objects.select_related("message", "message__dossier"), pk=attachment_id
    )
    if not policy.may_read_message(policy.viewer_of(request), attachment.message):
        raise Http404
    return attachment


# A MIME type as the parser keeps it; anything else is served as bytes.
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def _file_response(
    attachment: Attachment, *, as_attachment: bool, content_type: str
) -> FileResponse:
    try:
        handle = blob_open(attachment.storage_name)
    except FileNotFoundError as missing:
        raise Http404 from missing
    response = FileResponse(
        handle,
        as_attachment=as_attachment,
        filename=attachment.filename,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_safe
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """An attachment of a mail the viewer may read, always as a download."""
    attachment = _readable_attachment(request, attachment_id)
    declared = (attachment.detected_type or attachment.content_type).lower()
    content_type = declared if _MIME_TYPE.match(declared) else "application/octet-stream"
    return _file_response(attachment, as_attachment=True, content_type=content_type)


@login_required
@require_safe
def attachment_inline(request: HttpRequest, attachment_id: int) -> FileResponse:
    """An image of a mail the viewer may read, for its HTML version to show.

    Only raster images, served with the type their bytes were detected as
    (with `nosniff`, a browser never reads them as anything else)."""
    attachment = _readable_attachment(request, attachment_id)
    if attachment.detected_type not in INLINE_IMAGE_TYPES:
        raise Http404
    return _file_response(attachment, as_attachment=False, content_type=attachment.detected_type)


@login_required
@require_safe
@xframe_options_sameorigin
def message_html(request: HttpRequest, message_id: int) -> HttpResponse:
    """The HTML version of a mail the viewer may read, as a sandboxed document
    (see `MESSAGE_HTML_CSP`), its inline images pointing at `attachment_inline`.

    Framed by the dossier page only (`frame-ancestors 'self'`, X-Frame-Options
    SAMEORIGIN instead of the site's DENY)."""
    message = _readable_message(request, message_id)
    # Non-staff readers are served the masked texts; the HTML version, which
    # cannot be masked, only once staff unmasked the mail.
    if not message.html.strip() or not policy.may_read_message_original(
        policy.viewer_of(request), message
    ):
        raise Http404
    urls = {
        content_id.casefold(): reverse("mail:attachment_inline", args=[pk])
        for pk, content_id in message.attachments.filter(detected_type__in=INLINE_IMAGE_TYPES)
        .exclude(content_id="")
        .values_list("pk", "content_id")
    }
    body = html_with_inline_images(message.html, urls)
    # The body is nh3's output with our own URLs put in: safe to insert as is.
    document = format_html(_HTML_DOCUMENT, message.subject, mark_safe(body))  # noqa: S308
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    images = request.build_absolute_uri(
        reverse("mail:attachment_download", args=[0]).removesuffix("0/")
    )
    response["Content-Security-Policy"] = MESSAGE_HTML_CSP.format(images=images)
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
