"""Sanitising the HTML body of an e-mail before anyone's browser renders it.

The HTML of a received message is hostile input: it is shown inside Lanterne's
own pages, to staff and to co-owners, so it must neither run code nor leak who
reads it. `sanitize_html` passes it through nh3 (the Rust "ammonia" sanitiser,
an allow-list built on a real HTML5 parser) with a tight allow-list:

- no script, style sheet, form, iframe, object, embed, base, meta, link: the
  element is removed, and for script and style its content with it;
- no event handler (``on…``) attribute, no ``id`` or ``class`` that could
  collide with our page, no ``javascript:``/``vbscript:``/``data:`` URL — only
  http, https, mailto and tel links, plus ``cid:`` for images;
- inline ``style`` attributes survive, reduced to a list of harmless layout and
  typography properties, and never with ``url(``, ``expression(`` or similar
  (a CSS background image would load a remote resource);
- links get ``rel="noopener noreferrer nofollow"`` and ``target="_blank"``.

Remote images (``<img src="https://…">``) are tracking pixels as often as they
are pictures: unless ``allow_remote_images`` is true their ``src`` is removed and
the address is kept in ``data-remote-src``, so a "show images" button can
restore them on request. ``cid:`` sources are kept as they are: the caller
rewrites them to the URLs where it serves the message's inline parts. ``data:``
images are dropped, like every other ``data:`` URL: an allowed ``data:`` URL is
one more parser (SVG, odd MIME types) between an attacker and the page.
"""

from __future__ import annotations

import re

import nh3

__all__ = ["sanitize_html"]

# Formatting and tables, as mail clients produce them. Everything else is
# dropped (its text content is kept, except for the CLEAN_CONTENT_TAGS).
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "div", "dl", "dt", "em",
        "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
        "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u",
        "ul", "var", "wbr",
    }
)  # fmt: skip

# Elements whose content is dropped along with the element itself: code and
# style, plus the elements whose text would only be noise in a message body.
CLEAN_CONTENT_TAGS: frozenset[str] = frozenset(
    {"script", "style", "title", "head", "template", "noscript", "xmp", "textarea", "select",
     "option", "iframe", "object", "embed", "applet", "noembed", "noframes", "frameset",
     "svg", "math"}
)  # fmt: skip

_TABLE_ATTRIBUTES = {"align", "valign", "width", "height", "bgcolor", "colspan", "rowspan"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href", "target"},
    "img": {"src", "alt", "width", "height", "border", "data-remote-src"},
    "font": {"color", "face", "size"},
    "table": _TABLE_ATTRIBUTES | {"border", "cellpadding", "cellspacing", "summary"},
    "td": _TABLE_ATTRIBUTES | {"nowrap"},
    "th": _TABLE_ATTRIBUTES | {"nowrap", "scope"},
    "tr": _TABLE_ATTRIBUTES,
    "tbody": {"align", "valign"},
    "thead": {"align", "valign"},
    "tfoot": {"align", "valign"},
    "col": {"span", "width", "align", "valign"},
    "colgroup": {"span", "width", "align", "valign"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"type"},
    "hr": {"width", "size", "noshade"},
    "div": {"align"},
    "p": {"align"},
}

# `cid:` is the scheme of inline MIME parts (RFC 2392); it is only allowed in
# an image source, see `_filter_attribute`.
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "tel", "cid"})

# CSS properties kept in `style` attributes: layout and typography only.
# Anything that can fetch (background, background-image, list-style-image,
# content, cursor, behavior…) or escape the message box (position) is out.
STYLE_PROPERTIES: frozenset[str] = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style",
        "font-weight", "font-variant", "text-align", "text-decoration", "text-indent",
        "text-transform", "line-height", "letter-spacing", "word-spacing", "white-space",
        "vertical-align", "direction", "margin", "margin-top", "margin-right",
        "margin-bottom", "margin-left", "padding", "padding-top", "padding-right",
        "padding-bottom", "padding-left", "border", "border-top", "border-right",
        "border-bottom", "border-left", "border-color", "border-style", "border-width",
        "border-collapse", "border-spacing", "border-radius", "width", "height", "min-width",
        "max-width", "min-height", "max-height", "display", "list-style-type", "float", "clear",
        "table-layout",
    }
)  # fmt: skip

# Whatever the property, a value containing one of these is dropped whole.
_DANGEROUS_CSS = re.compile(r"url\s*\(|expression\s*\(|javascript:|vbscript:|@import|\\", re.I)

_REMOTE = re.compile(r"^\s*https?://", re.I)
# Lone surrogates (a UTF-7 or unicode-escape body can hold them) cannot cross
# into nh3; C0 controls, DEL and the BOM are removed from the output (the
# store refuses some of them), before looking for script schemes: removing
# them afterwards would turn an inert "java\x01script:" into "javascript:".
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
_SCRIPT_SCHEME = re.compile(r"((?:java|vb|live|moz-?)script):", re.I)

# One start tag as html5ever serialises it: attributes always double-quoted,
# with no raw `"` inside a value (it is written `&quot;`). That strict grammar
# is what makes rewriting <img> tags with a regular expression reliable here:
# it only ever runs on nh3's output, never on the input.
_IMG_TAG = re.compile(r'<img((?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*)\s*/?>')
_ATTRIBUTE = re.compile(r'\s+([^\s"\'>/=]+)(?:="([^"]*)")?')


def _filter_style(value: str) -> str | None:
    """Keep only the CSS declarations whose value cannot fetch or run anything."""
    kept = [
        declaration.strip()
        for declaration in value.split(";")
        if declaration.strip() and not _DANGEROUS_CSS.search(declaration)
    ]
    return "; ".join(kept) or None


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    """nh3 attribute hook: per-attribute rules the allow-list cannot express."""
    if attribute == "style":
        return _filter_style(value)
    if attribute == "src":
        # An image source is cid: or a remote http(s) image (rewritten after
        # cleaning); anything else (data:, relative paths) is dropped.
        if element == "img" and (value.lower().startswith("cid:") or _REMOTE.match(value)):
            return value
        return None
    if attribute == "data-remote-src":
        # Only we write this attribute (after cleaning); one in the input is
        # an attempt to smuggle a URL into the "show images" button.
        return None
    if attribute == "href" and value.lower().startswith("cid:"):
        return None
    if attribute == "target":
        return "_blank"
    return value


def _make_cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        # Relative URLs mean nothing outside the sender's site, and a relative
        # image source would be loaded from Lanterne's own origin.
        url_relative="deny",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


_CLEANER = _make_cleaner()


def _block_remote_image(match: re.Match[str]) -> str:
    """Move a remote `src` of one sanitised <img> tag to `data-remote-src`."""
    parts = []
    for attribute in _ATTRIBUTE.finditer(match.group(1)):
        name, value = attribute.group(1), attribute.group(2)
        if name == "src" and value is not None and _REMOTE.match(value):
            parts.append(f' data-remote-src="{value}"')
        elif value is None:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{value}"')
    return "<img" + "".join(parts) + ">"


def sanitize_html(html: str, *, allow_remote_images: bool = False) -> str:
    """Return `html` made safe to insert in a Lanterne page (see the module
    docstring for what is kept). Remote images are blocked unless
    `allow_remote_images`; their address stays in `data-remote-src`."""
    if not html.strip():
        return ""
    cleaned = _CLEANER.clean(_SURROGATES.sub("\ufffd", html).replace("\x00", ""))
    cleaned = _INVISIBLE.sub("", cleaned)
    # No URL attribute can hold a script scheme any more; where one survives
    # as inert text (or in a title), its colon becomes an entity so that no
    # later linkifier or careless template can turn it into a live link.
    cleaned = _SCRIPT_SCHEME.sub(r"\1&#58;", cleaned)
    if allow_remote_images:
        return cleaned
    blocked = _IMG_TAG.sub(_block_remote_image, cleaned)
    if re.search(r'<img\b[^>]*\ssrc="\s*https?:', blocked, re.I):
        # Never expected (nh3's output always fits _IMG_TAG), but a remote
        # image must not load: drop every remote source outright.
        blocked = re.sub(r'(<img\b[^>]*)\ssrc="\s*https?:[^"]*"', r"\1", blocked, flags=re.I)
    return blocked
