"""The Jinja2 engine of the timeline's templates (lanterne/core/jinja.py):
Django's filters behave as in Django templates, names it does not get are
errors, output is escaped, and the one CSRF token of a render is valid."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import jinja2
import pytest
from django.template import engines
from django.test import Client
from django.urls import (
    NoReverseMatch,
    URLPattern,
    URLResolver,
    get_resolver,
    reverse,
    set_script_prefix,
)
from django.utils import timezone, translation

from lanterne.core.jinja import TIMELINE_ENGINE
from lanterne.dossiers import services
from lanterne.dossiers.choices import Audience, EntryKind
from lanterne.dossiers.models import TimelineEntry

from ..conftest import World


def jinja(source: str, **context: object) -> str:
    return engines[TIMELINE_ENGINE].from_string(source).render(context)


def django(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


def test_label_is_the_choice_display_of_django() -> None:
    for value in [*EntryKind.values, "not-a-kind"]:
        entry = TimelineEntry(kind=value, audience=Audience.COUNCIL)
        for language in ("fr", "en"):
            with translation.override(language):
                # (Output is escaped: « Owners&#39; council ».)
                kind = unescape(jinja('{{ e|label("kind") }}', e=entry))
                audience = unescape(jinja('{{ e|label("audience") }}', e=entry))
                assert kind == entry.get_kind_display()
                assert audience == entry.get_audience_display()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_dates_sizes_and_numbers_as_django_writes_them(language: str) -> None:
    # 23:30 UTC is the next day in Paris: the date is the local one.
    moment = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)
    values = {"moment": moment, "day": dt.date(2026, 3, 1), "size": 123_456, "score": 0.876}
    with translation.override(language), timezone.override("Europe/Paris"):
        assert jinja(
            '{{ moment|date("j F Y, H:i") }} {{ moment|date("c") }} {{ day|date("j F Y") }}'
            " {{ size|filesizeformat }} {{ score|floatformat(2) }}",
            **values,
        ) == django(
            '{% load l10n %}{{ moment|date:"j F Y, H:i" }} {{ moment|date:"c" }}'
            ' {{ day|date:"j F Y" }} {{ size|filesizeformat }} {{ score|floatformat:2 }}',
            **values,
        )
    assert jinja('{{ nothing|date("j F Y") }}', nothing=None) == ""


def _named_addresses() -> list[tuple[str, int]]:
    """Every named address of Lanterne with its number of arguments."""
    found: list[tuple[str, int]] = []

    def walk(patterns: list[object], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                found.append((namespace + pattern.name, len(pattern.pattern.converters)))

    walk(get_resolver().url_patterns, "")
    return found


def test_addresses_are_those_of_django_reverse() -> None:
    addresses = _named_addresses()
    assert len(addresses) > 50
    for prefix in ("/", "/lanterne/"):
        set_script_prefix(prefix)
        try:
            for name, arity in addresses:
                for args in ((7,) * arity, tuple(range(12, 12 + arity)), (10**12,) * arity):
                    try:
                        expected = reverse(name, args=args)
                    except NoReverseMatch:
                        # (An address whose arguments are not numbers.)
                        with pytest.raises(NoReverseMatch):
                            jinja("{{ url(name, *args) }}", name=name, args=args)
                        continue
                    assert jinja("{{ url(name, *args) }}", name=name, args=args) == expected
        finally:
            set_script_prefix("/")
    # Not a whole number: Django's own reverse, and its error.
    assert jinja("{{ url('accounts:invitation', 'a-b') }}") == reverse(
        "accounts:invitation", args=("a-b",)
    )
    with pytest.raises(NoReverseMatch):
        jinja("{{ url('dossiers:detail', -3) }}")


def test_output_is_escaped_and_unknown_names_are_errors() -> None:
    assert jinja("{{ text }}", text='<b>"x"</b>') == "&lt;b&gt;&#34;x&#34;&lt;/b&gt;"
    with translation.override("en"):
        assert jinja('{{ _("Historique cité") }}') == "Quoted history"
    with pytest.raises(jinja2.UndefinedError):
        jinja("{{ entry.kindd }}", entry=TimelineEntry(kind=EntryKind.NOTE))
    with pytest.raises(jinja2.UndefinedError):
        jinja("{% if missing %}x{% endif %}")


@pytest.mark.django_db
def test_the_timelines_csrf_token_is_accepted(world: World) -> None:
    """The entries' forms share one token a page; a form posted with it
    passes Django's CSRF check."""
    note = services.note_add(
        viewer=_viewer(world),
        actor=world.users["staff"],
        dossier=world.dossier,
        text="Relevé des compteurs demandé.",
        audience=Audience.OWNERS,
    )
    entry = TimelineEntry.objects.get(note=note)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["staff"])
    page = client.get(reverse("dossiers:detail", args=[world.dossier.pk])).content.decode()
    timeline = page[page.index('<ol class="timeline"') : page.index("</ol>")]
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', timeline))
    assert len(tokens) == 1
    answer = client.post(
        reverse("dossiers:entry_audience", args=[entry.pk]),
        {"audience": Audience.COUNCIL, "csrfmiddlewaretoken": tokens.pop()},
    )
    assert answer.status_code == 302
    entry.refresh_from_db()
    assert entry.audience == Audience.COUNCIL


def _viewer(world: World):  # type: ignore[no-untyped-def]
    from lanterne.dossiers import policy

    return policy.Viewer.for_user(world.users["staff"])
