"""The query syntax (`lanterne.search.query`): what a person types, understood
once, and written safely for PostgreSQL's `to_tsquery` and SQLite's FTS5."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lanterne.search.query import (
    Clause,
    fold,
    fts_expression,
    light_stem,
    parse,
    strip_sentinels,
    tsquery_text,
)


def test_words_phrases_and_prefixes():
    query = parse('fuite "dégât des eaux" infiltr* DOS-2026-0042')
    assert query.clauses == (
        Clause(words=("fuite",)),
        Clause(words=("dégât", "des", "eaux")),
        Clause(words=("infiltr",), prefix=True),
        Clause(words=("DOS", "2026", "0042")),
    )
    # Only the loose words make the phrase that ranks higher.
    assert query.loose_words == ("fuite",)
    assert parse("fuite dans la cave").loose_words == ("fuite", "dans", "la", "cave")


def test_an_unclosed_quote_and_punctuation_alone_are_harmless():
    assert parse('"fuite au').clauses == (Clause(words=("fuite", "au")),)
    assert not parse("*** ' \" -- ; ()")
    assert not parse("")


def test_a_long_query_is_cut():
    assert len(parse(" ".join(f"mot{i}" for i in range(50))).clauses) == 12


def test_light_french_stemming_for_sqlite():
    assert light_stem(fold("Fuites")) == light_stem(fold("fuite")) == "fuit"
    assert light_stem(fold("dégâts")) == "degat"
    assert light_stem(fold("infiltrations")) == "infiltr"
    assert light_stem(fold("infiltrée")) == "infiltr"
    # Short words are left as typed.
    assert light_stem("eau") == "eau"
    assert light_stem("cave") == "cave"


def test_terms_are_quoted_for_both_engines():
    clause = Clause(words=("infiltr",), prefix=True)
    assert tsquery_text(clause) == "'infiltr':*"
    assert tsquery_text(Clause(words=("fuite", "cave"))) == "'fuite' <-> 'cave'"
    assert fts_expression(parse("fuites infiltr*"), ("title", "body")) == (
        '{title body} : (("fuit" *) AND ("infiltr" *))'
    )


def test_sentinels_never_reach_the_index():
    assert strip_sentinels("a\ue000b\ue001c\x00") == "abc"


@given(st.text(max_size=300))
def test_any_input_gives_a_valid_fts5_expression(text):  # type: ignore[no-untyped-def]
    """Whatever is typed, the FTS5 expression parses: nothing typed can
    change its syntax."""
    expression = fts_expression(parse(text), ("a", "b"))
    if expression is None:  # nothing typed but stop words and punctuation
        return
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize='unicode61 remove_diacritics 2')"
    )
    try:
        connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    except sqlite3.OperationalError as error:  # pragma: no cover - the failure itself
        pytest.fail(f"{text!r}: {error}")
    finally:
        connection.close()
