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
from django.urls import reverse
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
