"""Dates written the way readers of each language expect."""

from __future__ import annotations

import datetime as dt

from django.utils import formats
from django.utils.translation import get_language


def long_date(day: dt.date) -> str:
    """« 12 mars 2026 », « 1er avril 2026 » in French (the first of the month
    is an ordinal); "12 March 2026" in English."""
    text = formats.date_format(day, "j F Y")
    if day.day == 1 and (get_language() or "fr").startswith("fr"):
        return "1er" + text[1:]
    return text
