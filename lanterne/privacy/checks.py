"""System checks of the retention settings: a typo in a kind would silently
keep (or, worse, never apply) a period."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register()
def retention_settings_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from lanterne.documents.choices import DocumentKind

    problems: list[checks.CheckMessage] = []
    for kind, years in settings.RETENTION_YEARS.items():
        if kind not in DocumentKind.values:
            problems.append(
                checks.Error(
                    f"RETENTION_YEARS names an unknown document kind {kind!r}.",
                    hint=f"Known kinds: {', '.join(DocumentKind.values)}.",
                    id="lanterne.privacy.E001",
                )
            )
        elif years is not None and (not isinstance(years, int) or years < 0):
            problems.append(
                checks.Error(
                    f"RETENTION_YEARS[{kind!r}] must be a number of years or None.",
                    id="lanterne.privacy.E002",
                )
            )
    if settings.ERASED_PERSON_RETENTION_YEARS < 0:
        problems.append(
            checks.Error(
                "ERASED_PERSON_RETENTION_YEARS must not be negative.", id="lanterne.privacy.E003"
            )
        )
    return problems
