"""What a person types in the search box, understood once, then written for
each database.

The syntax is the one people already know from web search engines:

- words: every word must be found (in any form: « fuites » finds « fuite »,
  « degat » finds « dégâts », case ignored);
- "a phrase between quotes": these words, in this order;
- a prefix ending with `*`: « infiltr* » finds « infiltration »,
  « infiltré »…

Nothing typed is ever pasted into SQL or into a full-text query language
as is: words are reduced to letters, digits and inner hyphens, then
written as quoted terms of PostgreSQL's `to_tsquery` or SQLite's FTS5 syntax."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Beyond this, a query is cut: a search box is not a place for a letter.
MAX_LENGTH = 200
MAX_CLAUSES = 12

_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+(?:-\w+)*")
# Sentinels around highlighted words in snippets: characters of Unicode's
# private use area, removed from every indexed text (`strip_sentinels`), so
# that after HTML-escaping a snippet, these and only these become <mark>.
MARK_START = "\ue000"
MARK_STOP = "\ue001"
# Stands in for « < » in the texts given to PostgreSQL's ts_headline, whose
# parser would otherwise take « <jean@exemple.fr> » or « <b> » for an HTML
# tag and drop it from the snippet.
LESS_THAN = "\ue002"


@dataclass(frozen=True)
class Clause:
    """One thing that must be found: a word, or a phrase (several words in
    order). `prefix`: the last word is a prefix (« infiltr* »)."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


@dataclass(frozen=True)
class ParsedQuery:
    """A query as typed, understood: clauses that must all be found."""

    clauses: tuple[Clause, ...]

    def __bool__(self) -> bool:
        return bool(self.clauses)

    @property
    def loose_words(self) -> tuple[str, ...]:
        """The words typed outside quotes and without `*`, in order: when
        there are several, finding them side by side ranks higher (a phrase
        match above the same words scattered)."""
        return tuple(
            word
            for clause in self.clauses
            if not clause.is_phrase and not clause.prefix
            for word in clause.words
        )


def parse(text: str) -> ParsedQuery:
    """Understand a query: quoted phrases, prefixes (`mot*`), words. A word
    written with an apostrophe (« l'eau ») is a phrase of its parts; one
    with hyphens (« sous-sol », « DOS-2026-0042 ») stays one word, which
    each engine splits as it split the indexed text (PostgreSQL keeps the
    compound beside its parts, and reads « -2026 » as a number)."""
    clauses: list[Clause] = []
    for match in _TOKEN.finditer((text or "")[:MAX_LENGTH]):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            words = tuple(_WORD.findall(quoted.replace("_", "")))
            prefix = False
        else:
            prefix = bare.endswith("*")
            words = tuple(_WORD.findall(bare.replace("_", "")))
        if words:
            clauses.append(Clause(words=words, prefix=prefix))
    return ParsedQuery(clauses=tuple(clauses[:MAX_CLAUSES]))


def strip_sentinels(text: str) -> str:
    """`text` without the highlight sentinels (and NUL, which PostgreSQL
    text cannot hold), as every indexed text is stored."""
    if not text:
        return ""
    for character in (MARK_START, MARK_STOP, LESS_THAN, "\x00"):
        text = text.replace(character, "")
    return text


# --- PostgreSQL ----------------------------------------------------------------------


def tsquery_text(clause: Clause) -> str:
    """A clause in `to_tsquery` syntax: quoted lexemes joined by `<->`, the
    last one with `:*` for a prefix. Words are letters, digits and inner
    hyphens only (see `parse`), so quoting them is enough to keep the syntax
    closed."""
    return " <-> ".join(_terms(clause))


def tsquery_words_text(clause: Clause) -> str:
    """The clause's words anywhere in the text, in `to_tsquery` syntax: a
    phrase loosened to its words. The word index answers it alone, where
    a phrase needs each matching row's positions (`selectors`)."""
    return " & ".join(_terms(clause))


def _terms(clause: Clause) -> list[str]:
    terms = [f"'{word}'" for word in clause.words]
    if clause.prefix:
        terms[-1] += ":*"
    return terms


# The letters a folded word's letter may be written with in a text: its
# accented forms, in both cases (the regular expression's own case-blindness
# is left to ASCII: beyond it, it depends on the database's locale).
_SPELLINGS = {
    "a": "aàâäáãåAÀÂÄÁÃÅ",
    "c": "cçCÇ",
    "e": "eéèêëEÉÈÊË",
    "i": "iîïíìIÎÏÍÌ",
    "n": "nñNÑ",
    "o": "oôöóòõOÔÖÓÒÕ",
    "u": "uùûüúUÙÛÜÚ",
    "y": "yÿýYŸÝ",
}


def locator_pattern(query: ParsedQuery) -> str | None:
    """A regular expression (PostgreSQL's, case-blind with the `(?i)` it
    starts with) for the likely first place of the query's words in a text:
    the beginning of a word spelt like the stem of one of them, in any case,
    with or without accents (« thermique » → « Thermiques », « générale »
    → « GÉNÉRAL »). It narrows the text `ts_headline` reads to where the
    words are; it proves nothing — the stemmed match is `ts_headline`'s.
    None when the query has no word worth looking for (stop words, single
    letters)."""
    stems: list[str] = []
    for clause in query.clauses:
        last = len(clause.words) - 1
        for i, word in enumerate(clause.words):
            folded = fold(word)
            if folded in STOP_WORDS or len(folded) < 2:
                continue
            stem = folded if clause.prefix and i == last else light_stem(folded)
            if stem not in stems:
                stems.append(stem)
    if not stems:
        return None
    # Words are letters, digits and inner hyphens (`parse`): nothing to escape.
    alternatives = (
        "".join(f"[{_SPELLINGS[c]}]" if c in _SPELLINGS else c for c in stem) for stem in stems
    )
    return "(?i)\\m(?:" + "|".join(alternatives) + ")"


# --- SQLite FTS5 ---------------------------------------------------------------------

# French endings stripped before a prefix match on SQLite (FTS5 has no French
# stemmer): « fuites » → fuit*, « infiltration » → infiltr*, « dégâts » →
# degat*. Longest first; a stem keeps at least four letters (three for a
# plain plural), so short words are matched as typed.
_ENDINGS = sorted(
    (
        "issements",
        "issement",
        "atrices",
        "atrice",
        "ateurs",
        "ateur",
        "ations",
        "ation",
        "ements",
        "ement",
        "ances",
        "ance",
        "ences",
        "ence",
        "ables",
        "able",
        "istes",
        "iste",
        "euses",
        "euse",
        "eurs",
        "eur",
        "ites",
        "ite",
        "ees",
        "ee",
        "es",
        "er",
        "ez",
        "e",
    ),
    key=len,
    reverse=True,
)


def fold(word: str) -> str:
    """Lower case, without accents: what FTS5's `unicode61 remove_diacritics 2`
    makes of a token."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def light_stem(word: str) -> str:
    """A French word (folded) without its plural and common endings: a light
    stemmer in the manner of Savoy's, enough for a prefix match."""
    if len(word) >= 4 and word[-1] in "sx":
        word = word[:-1]
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def _fts_term(word: str, *, prefix: bool, stem: bool) -> str:
    folded = fold(word)
    if stem:
        stemmed = light_stem(folded)
        if len(stemmed) >= 3:
            folded, prefix = stemmed, True
    return f'"{folded}"' + (" *" if prefix else "")


def fts_clause(clause: Clause) -> str:
    """A clause in FTS5 syntax: each word a quoted string (letters, digits
    and inner hyphens only), words of a phrase joined by `+`. A word is
    stemmed and matched as a prefix; an explicit prefix is taken as typed."""
    last = len(clause.words) - 1
    return " + ".join(
        _fts_term(word, prefix=clause.prefix and i == last, stem=not (clause.prefix and i == last))
        for i, word in enumerate(clause.words)
    )


# French stop words, left out of a query on SQLite as PostgreSQL's `french`
# configuration leaves them out (« le la fuite » finds « Fuite au lot 12 »):
# PostgreSQL's list (tsearch_data/french.stop), accents removed.
_STOP_WORDS = """au aux avec ce ces dans de des du elle en et eux il je la le leur lui ma mais me
    meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta
    te tes toi ton tu un une vos votre vous c d j l a m n s t y ete etee etees etes
    etant etante etants etantes suis es est sommes sont serai seras sera serons serez
    seront serais serait serions seriez seraient etais etait etions etiez etaient fus fut
    fumes futes furent sois soit soyons soyez soient fusse fusses fussions fussiez
    fussent ayant ayante ayantes ayants eu eue eues eus ai as avons avez ont aurai auras
    aura aurons aurez auront aurais aurait aurions auriez auraient avais avait avions
    aviez avaient eut eumes eutes eurent aie aies ait ayons ayez aient eusse eusses
    eussions eussiez eussent"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def _is_stop_word(clause: Clause) -> bool:
    return not clause.is_phrase and not clause.prefix and fold(clause.words[0]) in STOP_WORDS


def fts_expression(query: ParsedQuery, columns: tuple[str, ...]) -> str | None:
    """The FTS5 MATCH expression of the whole query, restricted to `columns`;
    None when only stop words were typed (nothing to look for)."""
    clauses = [clause for clause in query.clauses if not _is_stop_word(clause)]
    if not clauses:
        return None
    body = " AND ".join(f"({fts_clause(clause)})" for clause in clauses)
    return "{" + " ".join(columns) + "} : (" + body + ")"


def fts_phrase_expression(query: ParsedQuery, columns: tuple[str, ...]) -> str | None:
    """The loose words as one phrase (for the ranking bonus), or None when
    there are fewer than two."""
    words = query.loose_words
    if len(words) < 2:
        return None
    return fts_expression(ParsedQuery(clauses=(Clause(words=words),)), columns)
