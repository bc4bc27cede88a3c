"""Addresses in templates (lanterne/core/addresses.py): `url()` in the
Jinja2 templates and `{% url %}` in Django's give what Django's `reverse`
gives, for every named address of Lanterne, under any script prefix."""

from __future__ import annotations

import pytest
from django.template import engines
from django.urls import (
    NoReverseMatch,
    URLPattern,
    URLResolver,
    get_resolver,
    reverse,
    set_script_prefix,
)
from django.utils import translation

from lanterne.core.addresses import CachedURLNode
from lanterne.core.jinja import TIMELINE_ENGINE


def jinja(source: str, **context: object) -> str:
    return engines[TIMELINE_ENGINE].from_string(source).render(context)


def django(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


def named_addresses() -> list[tuple[str, int]]:
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


@pytest.fixture(params=["/", "/lanterne/"])
def prefix(request: pytest.FixtureRequest) -> object:
    set_script_prefix(request.param)
    yield request.param
    set_script_prefix("/")


def test_every_address_is_the_one_reverse_gives(prefix: str) -> None:
    addresses = named_addresses()
    assert len(addresses) > 50
    for language in ("fr", "en"):
        with translation.override(language):
            for name, arity in addresses:
                for args in ((7,) * arity, tuple(range(12, 12 + arity)), (10**12,) * arity):
                    try:
                        expected = reverse(name, args=args)
                    except NoReverseMatch:
                        # An address whose arguments are not whole numbers.
                        with pytest.raises(NoReverseMatch):
                            jinja("{{ url(name, *args) }}", name=name, args=args)
                        with pytest.raises(NoReverseMatch):
                            django("{% url name args.0 args.1 %}", name=name, args=args)
                        continue
                    assert expected.startswith(prefix)
                    assert jinja("{{ url(name, *args) }}", name=name, args=args) == expected
                    tag = "{% url name " + " ".join(f"args.{i}" for i in range(arity)) + " %}"
                    assert django(tag, name=name, args=args) == expected


def test_the_url_tag_keeps_djangos_forms() -> None:
    # Every Django template has this tag (settings.TEMPLATES' builtins).
    (node,) = engines["django"].from_string("{% url 'home' %}").template.nodelist
    assert isinstance(node, CachedURLNode)
    # Text arguments, keyword arguments, `as`, a failed `as`, escaping.
    assert django("{% url 'accounts:invitation' 'a-b' %}") == reverse(
        "accounts:invitation", args=("a-b",)
    )
    assert django("{% url 'dossiers:detail' dossier_id=5 %}") == reverse(
        "dossiers:detail", args=(5,)
    )
    assert django("{% url 'dossiers:detail' 5 as there %}<{{ there }}>") == "</dossiers/5/>"
    assert django("{% url 'nowhere' 5 as there %}[{{ there }}]") == "[]"
    with pytest.raises(NoReverseMatch):
        django("{% url 'nowhere' 5 %}")
    with pytest.raises(NoReverseMatch):
        django("{% url 'dossiers:detail' -3 %}")
    assert django("{% url 'accounts:invitation' '<&>' %}") == reverse(
        "accounts:invitation", args=("<&>",)
    ).replace("&", "&amp;")
