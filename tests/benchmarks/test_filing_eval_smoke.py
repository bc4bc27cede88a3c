"""The filing evaluation (`benchmarks/filing_eval`) at a tiny size, so that
it cannot rot: the corpus renders to mail the real pipeline reads, the run
files it through the automatic file stage, and the figures come out."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from benchmarks.filing_eval.corpus import PlaceholderReferences, generate
from benchmarks.filing_eval.run import evaluate, report_print
from lanterne.mail import suggest
from lanterne.mail.parsing import parse_message

pytestmark = pytest.mark.django_db


def test_the_corpus_is_deterministic_and_labeled() -> None:
    first, second = generate(7, messages=200), generate(7, messages=200)
    references = PlaceholderReferences()
    assert [m.render(references) for m in first.messages[:50]] == [
        m.render(references) for m in second.messages[:50]
    ]
    assert generate(8, messages=200).messages[0].render(references) != first.messages[0].render(
        references
    )
    kinds = Counter(m.kind for m in first.messages)
    assert {"owner_new", "lanterne_reply", "newsletter", "owner_general"} <= set(kinds)
    known = {d.reference for d in first.dossiers}
    assert all(m.label is None or m.label in known for m in first.messages)
    # Every message is mail the parser reads, dated within the corpus's year.
    for message in first.messages[:60]:
        parsed = parse_message(message.render(references))
        assert parsed.subject
        assert first.month_of(message.at) in range(first.months)


def test_a_tiny_evaluation_runs_end_to_end() -> None:
    suggest._cache.clear()
    corpus = generate(11, messages=110, months=3)
    report = evaluate(corpus, train_months=2)
    assert report.training_messages + report.test_messages == len(corpus.messages)
    assert len(report.outcomes) == report.test_messages > 0
    # Replies to mail Lanterne sent are filed by their signed reference.
    by_reference = [o for o in report.outcomes if o.method == "reference"]
    assert by_reference and all(o.correct for o in by_reference)
    assert report.precision() is not None
    assert report.automatic_share() is not None
    out = io.StringIO()
    report_print(report, out=out)
    assert "precision of automatic filing" in out.getvalue()
    assert report.as_dict()["test_messages"] == report.test_messages
