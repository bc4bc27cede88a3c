"""The Jinja2 environment of the templates rendered once per row of a long
page: a dossier's timeline entries (`<app>/jinja2/`, Django's folder for its
Jinja2 backend). The rest of Lanterne's pages are Django templates.

Why two engines: a dossier's first page is twenty entries, each a mail with
its texts, attachments and staff controls. Django's template language
resolves every variable and tag at each render; Jinja2 compiles a template to
Python once, and renders the same entries several times faster (the figures:
docs/benchmarks.md, « Pages »). The page around them, its forms and its layout
stay Django templates; the view renders the entries with this engine and
places them in the page.

What the templates have, beside Jinja2's own: `_` (Django's `gettext`, the
messages of `lanterne/locale`, found by `make messages` as they are written
`_("…")`), `url(name, *args)` (Django's `reverse`, by
lanterne/core/addresses.py), and Django's filters they use, with Django's
behaviour: `date` (the format letters of Django's `date`
filter, in the current time zone and language), `filesizeformat`,
`floatformat`; and `label` (`entry|label("kind")`: the label of a field's
choice, what `get_kind_display()` gives). Output is escaped unless marked
safe, as in Django templates.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db import models
from django.template import defaultfilters
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from jinja2 import Environment, StrictUndefined

from .addresses import address

# The name Django gives the engine (settings.TEMPLATES), for `using=`.
TIMELINE_ENGINE = "jinja2"


def date(value: dt.date | dt.datetime | None, format: str) -> str:
    """Django's `date` filter, on the value as Django templates pass it: an
    aware datetime in the current time zone."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return defaultfilters.date(value, format)


@functools.cache
def _labels(model: type[models.Model], field_name: str) -> dict[Any, Any]:
    return dict(model._meta.get_field(field_name).flatchoices)


def label(instance: models.Model, field_name: str) -> str:
    """`instance.get_<field_name>_display()` at the cost of one translation:
    Django's builds a dictionary of all the field's choices at each call,
    translating every label to hash it."""
    value = getattr(instance, field_name)
    return str(_labels(type(instance), field_name).get(value, value))


def environment(**options: Any) -> Environment:
    # Escaped, whatever the settings say. A name the template does not get
    # is an error, not an empty string: a misspelt field would otherwise
    # hide data silently.
    options.pop("autoescape", None)
    options["undefined"] = StrictUndefined
    # An included template ends with its last newline, as in Django's.
    options["keep_trailing_newline"] = True
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True, **options)
    env.install_gettext_callables(gettext, ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.globals["url"] = address
    env.filters["date"] = date
    env.filters["label"] = label
    env.filters["filesizeformat"] = defaultfilters.filesizeformat
    env.filters["floatformat"] = defaultfilters.floatformat
    return env
