"""Addresses of Lanterne's pages, as Django's `reverse` gives them, faster.

Django's `reverse` takes about 80 µs a call on the benchmark machine
(namespaces, language, then every pattern of the name matched against its
arguments); a staff dossier page asks for about eighty addresses, each of
its twenty timeline entries several. `address(name, *args)` reverses a name
once with markers in place of its whole-number arguments, keeps the result
as a pattern, and fills it in afterwards. Anything else — other arguments,
a converter that rewrites its value — goes to `reverse`.

Both template engines use it: `url()` in the Jinja2 templates
(lanterne/core/jinja.py) and `{% url %}` in Django's (`CachedURLNode`,
installed as a builtin in settings.TEMPLATES).
"""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

# Stand-ins for the arguments of `_pattern`: numbers no key reaches.
_MARKER = 9_876_543_210_123


def address(name: str, *args: Any) -> str:
    """`reverse(name, args=args)`."""
    if all(type(arg) is int and arg >= 0 for arg in args):
        pattern = _pattern(name, len(args), get_script_prefix(), get_urlconf(), get_language())
        if pattern is not None:
            return pattern.format(*args)
    return reverse(name, args=args)


@functools.lru_cache(maxsize=512)
def _pattern(
    name: str, arity: int, prefix: str, urlconf: str | None, language: str | None
) -> str | None:
    """The address of `name` as a `str.format` pattern of its `arity`
    arguments (`prefix`, `urlconf`, `language`: what `reverse` depends on),
    or None when the address does not show each argument as given (a
    converter that rewrites it): then only `reverse` will do."""
    markers = [str(_MARKER + position) for position in range(arity)]
    pattern = reverse(name, args=[int(marker) for marker in markers])
    pattern = pattern.replace("{", "{{").replace("}", "}}")
    for position, marker in enumerate(markers):
        if pattern.count(marker) != 1:
            return None
        pattern = pattern.replace(marker, f"{{{position}}}")
    return pattern


register = template.Library()


class CachedURLNode(defaulttags.URLNode):
    """Django's `{% url %}`, through `address` when it has no keyword
    arguments. (Django's also passes the current page's namespace as
    `current_app`: it only matters to an application included twice under
    two instance namespaces, which Lanterne does not do.)"""

    def render(self, context: template.Context) -> str:
        if self.kwargs:
            return super().render(context)
        name = self.view_name.resolve(context)
        args = [arg.resolve(context) for arg in self.args]
        try:
            url = address(name, *args)
        except NoReverseMatch:
            # As Django's: `{% url … as name %}` gives nothing instead.
            if self.asvar is None:
                raise
            url = ""
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser: template.base.Parser, token: template.base.Token) -> CachedURLNode:
    """Django's `{% url %}` (its syntax and errors), rendered by `CachedURLNode`."""
    node = defaulttags.url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
