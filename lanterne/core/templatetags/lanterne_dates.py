"""`{% load lanterne_dates %}`: `{{ day|long_date }}`."""

from __future__ import annotations

import datetime as dt

from django import template

from lanterne.core.dates import long_date as _long_date

register = template.Library()


@register.filter
def long_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        from django.utils import timezone

        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return _long_date(value)
