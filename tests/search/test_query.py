"""The query syntax (`lanterne.search.query`): what a person types, understood
once, and written safely for PostgreSQL's `to_tsquery` and SQLite's FTS5."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lanterne.search.query import (
    Clause,
    fold,
    fts_expression,
    light_stem,
    locator_pattern,
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
        Clause(words=("DOS-2026-0042",)),
    )
    # An apostrophe splits a word; hyphens do not.
    assert parse("l'eau sous-sol").clauses == (
        Clause(words=("l", "eau")),
        Clause(words=("sous-sol",)),
    )
    assert parse("_-_ a--b -c-").clauses == (Clause(words=("a", "b")), Clause(words=("c",)))
    # Only the loose words make the phrase that ranks higher.
    assert query.loose_words == ("fuite", "DOS-2026-0042")
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


def test_the_locator_sees_the_words_beginnings_in_any_case_and_accent():
    def sees(typed: str, text: str) -> bool:
        pattern = locator_pattern(parse(typed))
        assert pattern is not None
        # PostgreSQL's `\m` (a word's start) is Python's `\b` here.
        return re.search(pattern.replace(r"\m", r"\b"), text) is not None

    assert sees("thermique", "des caméras THERMIQUES")
    assert sees("generale", "l'assemblée Générale")
    assert sees("façade", "LA FACADE NORD")
    assert sees('"recherche de fuite"', "une fuite")  # any of the words
    assert sees("infiltr*", "Infiltrations")  # a prefix as typed
    assert not sees("thermique", "géothermique")  # a word's beginning only
    assert not sees("de fuite", "de la cave")  # « de », a stop word, is not looked for
    # Nothing worth looking for: stop words, single letters.
    assert locator_pattern(parse("de la")) is None
    assert locator_pattern(parse("l a")) is None


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
