"""The HTML of received mail, made safe to show inside Lanterne's pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lanterne.mail.sanitize import sanitize_html

REPOSITORY = Path(__file__).resolve().parents[2]
CORPORA = REPOSITORY / "tests" / "corpora"


def xss_vectors() -> list[str]:
    """Every attack of the bleach and PayloadsAllTheThings corpora."""
    assert CORPORA.exists(), f"{CORPORA} is missing: the test corpora (tests/corpora) are needed"
    vectors = []
    for path in sorted((CORPORA / "bleach-xss").glob("*.test")):
        # Each file holds the input, a "--" line, then bleach's own output.
        vectors.append(path.read_text(encoding="utf-8").split("\n--\n")[0])
    for path in sorted((CORPORA / "xss-payloads").glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        vectors.extend(line for line in text.splitlines() if line.strip())
    assert len(vectors) > 100
    return vectors


EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("allow_remote_images", [False, True])
@pytest.mark.parametrize("vector", xss_vectors())
def test_no_attack_survives(vector: str, allow_remote_images: bool) -> None:
    cleaned = sanitize_html(vector, allow_remote_images=allow_remote_images).lower()
    assert "<script" not in cleaned
    assert not EVENT_HANDLER.search(cleaned)
    assert "javascript:" not in cleaned
    assert "vbscript:" not in cleaned
    for tag in ("<iframe", "<object", "<embed", "<form", "<base", "<meta", "<style", "<link",
                "<svg", "<frameset", "<input", "<textarea"):  # fmt: skip
        assert tag not in cleaned
    # No URL attribute other than http(s), mailto, tel and (images) cid.
    for tag in re.findall(r"<[a-z][^>]*>", cleaned):
        for url in re.findall(r'\s(?:href|src)="([^"]*)"', tag):
            assert re.match(r"(https?:|mailto:|tel:|cid:)", url), url


def test_formatting_and_tables_are_kept() -> None:
    html = (
        '<p style="color: #333; font-weight: bold">Bonjour</p><table border="1" cellpadding="2">'
        '<tr><td colspan="2" bgcolor="#eeeeee">Lot 12</td></tr></table><ul><li>un</li></ul>'
        "<blockquote>cité</blockquote><b>gras</b> <i>italique</i><br>"
    )
    cleaned = sanitize_html(html)
    for kept in (
        "<p style=",
        "font-weight:bold",
        '<td colspan="2" bgcolor="#eeeeee">',
        "<ul><li>un</li></ul>",
        "<blockquote>cité</blockquote>",
        "<b>gras</b>",
        "<br>",
    ):
        assert kept in cleaned


def test_links_open_in_a_new_tab_without_referrer() -> None:
    cleaned = sanitize_html('<a href="https://exemple.fr/doc" target="_self">doc</a>')
    assert 'href="https://exemple.fr/doc"' in cleaned
    assert 'target="_blank"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned


def test_remote_images_are_blocked_but_remembered() -> None:
    html = '<img src="https://tracker.example/open.gif?u=1&amp;c=2" alt="a&gt;b" width="1">'
    cleaned = sanitize_html(html)
    assert " src=" not in cleaned
    assert 'data-remote-src="https://tracker.example/open.gif?u=1&amp;c=2"' in cleaned
    assert 'alt="a&gt;b"' in cleaned


def test_remote_images_load_when_allowed() -> None:
    cleaned = sanitize_html('<img src="https://exemple.fr/photo.jpg">', allow_remote_images=True)
    assert cleaned == '<img src="https://exemple.fr/photo.jpg">'


def test_cid_images_are_kept_for_the_caller_to_rewrite() -> None:
    assert sanitize_html('<img src="cid:image001.png@01DC8F">') == (
        '<img src="cid:image001.png@01DC8F">'
    )


def test_data_and_relative_images_are_dropped() -> None:
    cleaned = sanitize_html('<img src="data:image/png;base64,iVBORw0KGgo="><img src="/x.png">')
    assert cleaned == "<img><img>"


def test_smuggled_remote_source_attribute_is_dropped() -> None:
    assert sanitize_html('<img data-remote-src="javascript:alert(1)">') == "<img>"


def test_css_that_fetches_or_runs_is_dropped() -> None:
    cleaned = sanitize_html(
        '<div style="background-image: url(https://t.example/p.gif); color: red; '
        'width: expression(alert(1)); position: fixed">x</div>'
    )
    assert cleaned == '<div style="color:red">x</div>'


def test_script_and_style_content_is_removed_not_shown() -> None:
    cleaned = sanitize_html("<style>p{color:red}</style><script>alert(1)</script><p>ok</p>")
    assert cleaned == "<p>ok</p>"


def test_meta_refresh_base_and_forms_are_removed() -> None:
    cleaned = sanitize_html(
        '<meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/">'
        '<form action="https://evil.example"><input name="password"><button>OK</button></form>'
    )
    assert "<meta" not in cleaned and "<base" not in cleaned and "<form" not in cleaned
    assert "<input" not in cleaned and "<button" not in cleaned


def test_empty_html() -> None:
    assert sanitize_html("") == ""
    assert sanitize_html("   \n") == ""
