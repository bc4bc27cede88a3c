"""The ingestion benchmark's agency-with-dossiers mode (`benchmarks/ingest.py
--with-dossiers --filing-cost`) at a tiny size, so that it cannot rot: the
demo agency is loaded, the corpus imported into it through `mail_import` in a
process of its own, with the file stage — every message then gets learned
suggestions — and without it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from benchmarks.ingest import (
    DEMO_AGENCY,
    _filing_cost_report,
    corpus_ensure,
    installation,
    run_service,
)


def test_the_file_stage_is_measured_in_an_agency_with_dossiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = corpus_ensure(tmp_path / "cache", messages=12, seed=5)
    lanterne, remove = installation(tmp_path, "sqlite", "")
    try:
        lanterne.prepare(with_dossiers=True)
        assert lanterne.agency == DEMO_AGENCY
        assert lanterne.messages_before > 50  # the demo's own mail history
        # A second installation with the same data, for the run without filing.
        copy = tmp_path / "without-filing"
        shutil.copytree(lanterne.data_dir, copy)
        bare = dataclasses.replace(lanterne, data_dir=copy)

        without = run_service(corpus, bare, backend="sqlite", jobs=0, trace=False, filing=False)
        filed = run_service(corpus, lanterne, backend="sqlite", jobs=0, trace=False)
    finally:
        remove()

    assert without.messages == filed.messages == 12
    assert "WITHOUT the file stage" in without.name and "demo agency" in filed.name
    # The checks count what the file stage did with the imported mail: nothing
    # without it; suggestions ranked against the demo's dossiers with it.
    assert without.notes.endswith(", 0 with suggestions")
    suggested = int(filed.notes.rpartition(", ")[2].split()[0])
    assert suggested >= 6, filed.notes
    assert filed.main_cpu_seconds is not None and filed.main_cpu_seconds > 0
    _filing_cost_report(without, filed)
    assert "% of the rate" in capsys.readouterr().out
