"""The select widgets written in Python (`lanterne.core.widgets`) give the
HTML Django's own templates give, escaped the same way."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django import forms
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from lanterne.core.widgets import Select, SelectMultiple

CHOICES = [
    ("", gettext_lazy("Toutes")),
    (1, "Les Tilleuls"),
    (2, 'Résidence « L\'Orée » <b>&</b> "Parc"'),
    ("a&b", mark_safe("<em>déjà sûr</em>")),  # noqa: S308 - a constant of the test
]


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, *sorted(f"{k}={v}" for k, v in attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.events.append(("text", data))


def _tags(html: str) -> list[tuple[str, ...]]:
    """What a browser reads of the markup: its tags, their attributes in any
    order, their texts unescaped (Django's renderer writes « ' » as &#39;,
    `format_html` as &#x27;; its templates put line breaks between tags)."""
    parser = _Markup()
    parser.feed(str(html))
    parser.close()
    return parser.events


@pytest.mark.parametrize(
    ("ours", "django", "value"),
    [
        (Select, forms.Select, 2),
        (Select, forms.Select, None),
        (Select, forms.Select, "a&b"),
        (SelectMultiple, forms.SelectMultiple, [1, "a&b"]),
    ],
)
def test_the_same_html_as_djangos(ours, django, value) -> None:  # type: ignore[no-untyped-def]
    attrs = {"id": "id_field", "class": "wide"}
    mine = ours(choices=CHOICES).render("field", value, attrs)
    theirs = django(choices=CHOICES).render("field", value, attrs)
    assert _tags(mine) == _tags(theirs)
    assert "<b>" not in mine and "<em>déjà sûr</em>" in mine
    assert ("start", "b") not in _tags(mine) and ("start", "em") in _tags(mine)


def test_grouped_choices_are_left_to_django() -> None:
    grouped = [("Lyon", [(1, "Les Tilleuls")]), ("Paris", [(2, "Le Parc")])]
    mine = Select(choices=grouped).render("field", 2)
    assert _tags(mine) == _tags(forms.Select(choices=grouped).render("field", 2))
    assert "<optgroup" in mine
