"""One small scale agency for the whole package: generated once (a few
seconds), read by every test, deleted at the end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from lanterne.core.scale import ScaleSize, ScaleSummary, delete_scale_agency, scale_generate

# Enough for the big dossier (1,500 mails of its 2,000 entries), three pages
# of dossiers on the lists, and more than one page of triage.
SMALL = ScaleSize(condominiums=4, lots=150, persons=300, dossiers=130, messages=4000)


@pytest.fixture(scope="package")
def scale(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[ScaleSummary]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        summary = scale_generate(size=SMALL, seed=7, today=dt.date(2026, 6, 30))
    yield summary
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        delete_scale_agency()
