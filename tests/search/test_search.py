"""Full-text search (`lanterne.search.selectors.search_page`): French word
forms, accents, phrases and prefixes, ranking, highlighting, filters — and
the access policy inside the query, role by role.

Everything is written through the real services (notes, decisions, mail
received through the pipeline and filed), which keep the index up to date;
the same tests run on SQLite and on PostgreSQL (`DATABASE_URL`)."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanterne.dossiers import services
from lanterne.dossiers.choices import Audience, DecisionBody, DossierType
from lanterne.mail import publication
from lanterne.search.choices import SearchKind, SearchOrder
from lanterne.search.models import SearchDocument
from lanterne.search.services import search_index_flush

from ..factories import DossierFactory
from .conftest import dated_note, file, mail_bytes, note, receive, search, viewer

pytestmark = pytest.mark.django_db

NEIGHBOUR_MOBILE = "06 12 34 56 78"


def texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The snippets of a page, marks removed."""
    return [
        html.unescape(str(result.snippet_html).replace("<mark>", "").replace("</mark>", ""))
        for result in page.results
    ]


# --- Language ----------------------------------------------------------------------


def test_french_word_forms_accents_and_case(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Une fuite sous l'évier du lot 12.")
    note(world, "Dégâts constatés par l'expert au plafond.")
    note(world, "Infiltration par la toiture, côté cour.")
    for text, expected in [
        ("fuites", "Une fuite sous l'évier du lot 12."),  # plural finds singular
        ("FUITE", "Une fuite sous l'évier du lot 12."),
        ("degat", "Dégâts constatés par l'expert au plafond."),  # no accent, singular
        ("dégâts", "Dégâts constatés par l'expert au plafond."),
        ("Evier", "Une fuite sous l'évier du lot 12."),
        ("infiltr*", "Infiltration par la toiture, côté cour."),
        ("toit*", "Infiltration par la toiture, côté cour."),
    ]:
        for role in ("staff", "owner_not_party"):
            page = search(world, role, text, kinds=(SearchKind.NOTE,))
            assert texts(page) == [expected], (role, text)
    assert search(world, "staff", "toitures inexistantes").total == 0


def test_hyphenated_words_and_dossier_references_are_found(indexed_world):  # type: ignore[no-untyped-def]
    """A compound (« sous-sol ») and a reference (« DOS-2026-0042 ») are
    split by each engine as it split the indexed text: found alone, in a
    phrase, by staff and co-owners alike."""
    world = indexed_world
    note(world, "Infiltration au deuxième sous-sol, voir le dossier DOS-2026-0042.")
    note(world, "Le sol du deuxième étage est sous garantie.")
    for role in ("staff", "owner_not_party"):
        for text in (
            '"deuxième sous-sol"',
            "sous-sols",
            "DOS-2026-0042",
            "dos-2026-0042 infiltration",
        ):
            page = search(world, role, text, kinds=(SearchKind.NOTE,))
            assert texts(page) == [
                "Infiltration au deuxième sous-sol, voir le dossier DOS-2026-0042."
            ], (role, text)
        assert search(world, role, "DOS-2026-0043", kinds=(SearchKind.NOTE,)).total == 0


def test_a_quoted_phrase_needs_its_words_in_order(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Une fuite dans la cave du bâtiment B.")
    note(world, "La cave est sèche ; une fuite dans le garage.")
    assert texts(search(world, "staff", '"fuite dans la cave"')) == [
        "Une fuite dans la cave du bâtiment B."
    ]
    assert search(world, "staff", "fuite dans la cave").total == 2


def test_a_phrase_match_ranks_above_scattered_words(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    # The scattered words come first in time and more often: only the
    # phrase can put the other note first.
    note(
        world,
        "Dans la cave rien, mais la fuite revient : fuite le matin, fuite le soir, "
        "la cave et encore la cave.",
    )
    note(world, "Le plombier a trouvé la fuite dans la cave.")
    for role in ("staff", "owner_party"):
        page = search(world, role, "fuite dans la cave")
        assert page.total == 2
        assert texts(page)[0].startswith("Le plombier a trouvé"), role


def test_a_title_match_ranks_above_a_quoted_one(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    quoted = mail_bytes(
        subject="Re: votre appel",
        text="Bien noté.\n\n> Le 2 mars, vous avez écrit :\n> L'ascenseur est en panne.",
        message_id="<quoted@plomberie-martin.fr>",
    )
    titled = mail_bytes(
        subject="Ascenseur en panne",
        text="L'appareil est arrêté depuis ce matin.",
        message_id="<titled@plomberie-martin.fr>",
    )
    file(world, receive(world, quoted))
    file(world, receive(world, titled))
    page = search(world, "staff", "ascenseur")
    assert [str(r.title_html) for r in page.results] == [
        "<mark>Ascenseur</mark> en panne",
        "Re: votre appel",
    ]


def test_snippets_are_escaped_and_highlighted(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, '<script>alert("fuite")</script> <b>fuite</b> & compagnie')
    (result,) = search(world, "owner_party", "fuite", kinds=(SearchKind.NOTE,)).results
    shown = str(result.snippet_html)
    assert "<script>" not in shown and "<b>" not in shown
    assert "&lt;script&gt;" in shown
    assert "<mark>fuite</mark>" in shown.lower()
    assert "&amp; compagnie" in shown


def test_the_passage_of_a_long_text_is_where_its_words_are(indexed_world):  # type: ignore[no-untyped-def]
    """A long text's passage is found around its words, in one reading of
    the page's texts when their words are seen (`highlights`), in a second
    one of the whole texts when they are spelt otherwise (« cœur »)."""
    from django.db import connection

    world = indexed_world
    filler = "Le gardien relève les compteurs du bâtiment. " * 150  # 6,750 characters
    words = set(filler.split())
    note(world, filler + "Une fissure est apparue sur la façade nord. " + filler)
    # The second word far from the first: no passage holds both.
    note(world, filler + "Une fissure au plafond. " + filler + "La toiture est neuve.")
    for role in ("staff", "owner_not_party"):
        with CaptureQueriesContext(connection) as captured:
            page = search(world, role, "fissure façades", kinds=(SearchKind.NOTE,))
            apart = search(world, role, "fissure toiture", kinds=(SearchKind.NOTE,))
        (shown,) = texts(page)
        assert "fissure est apparue sur la façade nord." in shown, role
        assert "<mark>fissure</mark>" in str(page.results[0].snippet_html), role
        assert "<mark>" in str(apart.results[0].snippet_html), role
        if connection.vendor == "postgresql":
            (far,) = texts(apart)
            assert "<mark>fissure</mark> au plafond" in str(apart.results[0].snippet_html), role
            # The passage begins with a whole word, not the end of one.
            assert far.split()[0] in words, (role, far)
            assert sum("ts_headline" in q["sql"] for q in captured) == 2, role
    if connection.vendor == "postgresql":  # FTS5 does not take « œ » for « oe »
        note(world, filler + "Le cœur du réseau est à remplacer. " + filler)
        with CaptureQueriesContext(connection) as captured:
            page = search(world, "staff", "coeur", kinds=(SearchKind.NOTE,))
        assert "<mark>cœur</mark>" in str(page.results[0].snippet_html)
        assert sum("ts_headline" in q["sql"] for q in captured) == 2


# --- What is searched ----------------------------------------------------------------


def test_mail_new_and_quoted_text_attachments_decisions_and_dossier_titles(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    data = mail_bytes(
        subject="Devis de reprise",
        text="Veuillez trouver notre proposition.\n\n> Pouvez-vous chiffrer le ravalement ?",
        message_id="<devis-1@plomberie-martin.fr>",
        attachment="Devis_Peinture-2026.pdf",
    )
    file(world, receive(world, data), audience=Audience.OWNERS)
    services.decision_record(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        dossier=world.dossier,
        decided_by=DecisionBody.GENERAL_MEETING,
        text="L'assemblée vote les travaux d'étanchéité.",
        audience=Audience.OWNERS,
    )
    for role in ("staff", "owner_not_party"):
        for text, kind in [
            ("proposition", SearchKind.MESSAGE),  # new text
            ("ravalement", SearchKind.MESSAGE),  # quoted text
            ("peinture", SearchKind.MESSAGE),  # attachment name
            ("étanchéité", SearchKind.DECISION),
            ("plafond", SearchKind.DOSSIER),  # « Fuite au plafond du lot 12 »
        ]:
            page = search(world, role, text)
            assert [r.document.kind for r in page.results] == [kind], (role, text)


def test_results_link_to_their_entry_in_the_timeline(indexed_world, client_for):  # type: ignore[no-untyped-def]
    world = indexed_world
    target = note(world, "Passage du couvreur prévu jeudi.")
    for i in range(25):
        note(world, f"Autre note {i}")
    (result,) = search(world, "owner_not_party", "couvreur").results
    entry = target.entries.get()
    assert result.url.endswith(f"#entry-{entry.pk}")
    # The link opens the page of the timeline that holds the entry, though
    # 25 newer entries push it off the first page.
    page = client_for("owner_not_party").get(result.url.split("#")[0])
    assert page.status_code == 200
    assert f'id="entry-{entry.pk}"' in page.content.decode()
    (dossier_result,) = search(world, "owner_not_party", "plafond").results
    assert dossier_result.url == f"/dossiers/{world.dossier.pk}/"


# --- Filters -------------------------------------------------------------------------


def test_filters_condominium_dossier_kind_dates(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    other = DossierFactory(
        condominium=world.other_condominium, title="Toiture", audience=Audience.OWNERS
    )
    second = DossierFactory(
        condominium=world.condominium, title="Portail", audience=Audience.OWNERS
    )
    staff = viewer(world, "staff")
    long_ago = dt.datetime(2025, 1, 15, 9, 0, tzinfo=dt.UTC)
    note(world, "Ramonage annuel effectué.")
    note(world, "Ramonage du conduit B.", dossier=other)
    services.note_add(
        viewer=staff,
        actor=world.users["staff"],
        dossier=second,
        text="Ramonage prévu en janvier.",
        audience=Audience.OWNERS,
        occurred_at=long_ago,
    )
    services.task_create(
        viewer=staff,
        actor=world.users["staff"],
        dossier=world.dossier,
        title="Relancer le ramonage",
        audience=Audience.OWNERS,
    )
    assert search(world, "staff", "ramonage").total == 4
    assert search(world, "staff", "ramonage", condominium_id=world.other_condominium.pk).total == 1
    assert search(world, "staff", "ramonage", dossier_id=world.dossier.pk).total == 2
    assert search(world, "staff", "ramonage", kinds=(SearchKind.TASK,)).total == 1
    in_2025 = search(
        world, "staff", "ramonage", date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 1, 15)
    )
    assert texts(in_2025) == ["Ramonage prévu en janvier."]
    assert search(world, "staff", "ramonage", date_from=dt.date(2025, 1, 16)).total == 3
    by_date = search(world, "staff", "ramonage", order=SearchOrder.DATE)
    assert texts(by_date)[-1] == "Ramonage prévu en janvier."


# --- Access --------------------------------------------------------------------------


def test_another_buildings_dossier_gives_nothing_not_even_a_count(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Le carreleur passera au lot 12.")
    assert search(world, "owner_not_party", "carreleur").total == 1
    for role in ("owner_other_condominium", "staff_other_agency", "anonymous"):
        page = search(world, role, "carreleur")
        assert page.total == 0 and page.results == [], role


def test_parties_and_not_parties(world):  # type: ignore[no-untyped-def]
    dossier = DossierFactory(
        condominium=world.condominium,
        title="Dégât des eaux lot 12",
        type=DossierType.WATER_DAMAGE,
        audience=Audience.PARTIES,
    )
    dossier.party_lots.add(world.party_lot)
    note(world, "L'assureur mandate un expert.", dossier=dossier, audience=Audience.PARTIES)
    expected = {
        "staff": 1,
        "owner_party": 1,
        "owner_not_party": 0,
        "council_member": 0,
        "council_chair": 0,
        "owner_other_condominium": 0,
    }
    for role, total in expected.items():
        assert search(world, role, "expert").total == total, role
    # With « le conseil syndical suit ce dossier », the council finds it too.
    dossier.council_sees_parties = True
    dossier.save(update_fields=["council_sees_parties"])
    assert search(world, "council_member", "expert").total == 1
    assert search(world, "owner_not_party", "expert").total == 0


def test_internal_entries_are_for_staff(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Litige avec le syndic précédent.", audience=Audience.INTERNAL)
    note(world, "Le conseil valide le devis du syndic.", audience=Audience.COUNCIL)
    assert search(world, "staff", "syndic").total == 2
    assert search(world, "council_member", "syndic").total == 1
    assert texts(search(world, "council_member", "syndic")) == [
        "Le conseil valide le devis du syndic."
    ]
    for role in ("owner_party", "owner_not_party"):
        assert search(world, role, "syndic").total == 0, role
        assert search(world, role, "litige").total == 0, role


def test_unfiled_mail_is_found_by_staff_only(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    receive(
        world,
        mail_bytes(
            subject="Demande de badge", text="Il me faut un badge.", message_id="<badge@x.fr>"
        ),
    )
    (result,) = search(world, "staff", "badge").results
    assert result.document.dossier_id is None
    assert result.url.startswith("/courriels/tri/")
    for role in ("owner_party", "council_chair", "staff_other_agency"):
        assert search(world, role, "badge").total == 0, role


def test_a_masked_phone_is_neither_found_nor_shown_to_co_owners(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    data = mail_bytes(
        subject="Intervention au lot 12",
        text=f"Merci de prévenir Mme Leroy, voisine, joignable au {NEIGHBOUR_MOBILE}.",
        message_id="<intervention@plomberie-martin.fr>",
    )
    file(world, receive(world, data), audience=Audience.OWNERS)
    assert search(world, "staff", NEIGHBOUR_MOBILE).total == 1
    assert search(world, "staff", f'"{NEIGHBOUR_MOBILE}"').total == 1
    for role in ("owner_not_party", "owner_party", "council_member"):
        assert search(world, role, NEIGHBOUR_MOBILE).total == 0, role
        assert search(world, role, f'"{NEIGHBOUR_MOBILE}"').total == 0, role
        assert search(world, role, "0612345678").total == 0, role
        (found,) = texts(search(world, role, "voisine"))
        assert "56 78" not in found and "[téléphone masqué" in found, role
    (staff_view,) = texts(search(world, "staff", "voisine"))
    assert NEIGHBOUR_MOBILE in staff_view


def test_an_unmasked_mail_is_found_as_its_readers_read_it(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    data = mail_bytes(
        subject="Coordonnées du gardien",
        text=f"Le gardien est joignable au {NEIGHBOUR_MOBILE}.",
        message_id="<gardien@plomberie-martin.fr>",
    )
    message = file(world, receive(world, data), audience=Audience.OWNERS)
    assert search(world, "owner_not_party", f'"{NEIGHBOUR_MOBILE}"').total == 0
    publication.message_unmask(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        message=message,
        reason="Le gardien accepte que son numéro soit connu.",
    )
    assert search(world, "owner_not_party", f'"{NEIGHBOUR_MOBILE}"').total == 1


def test_staff_of_another_agency_see_nothing_of_it(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Contrat de ramonage renouvelé.", audience=Audience.INTERNAL)
    receive(
        world,
        mail_bytes(subject="Ramonage", text="Devis ramonage.", message_id="<ram@x.fr>"),
    )
    assert search(world, "staff", "ramonage").total == 2  # the note and the mail
    assert search(world, "staff_other_agency", "ramonage").total == 0
    assert search(world, "staff_other_agency", "plafond").total == 0


def test_odd_input_never_breaks_a_search(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Fuite au lot 12.")
    for text in ["'", "fuite'", "fuite & | ! ( ) :*", "\\", "le la les", "*", '"', "fu:*"]:
        for role in ("staff", "owner_party"):
            search(world, role, text)  # no error
    # Stop words are left out, as PostgreSQL's French configuration does.
    assert search(world, "staff", "le la fuite", kinds=(SearchKind.NOTE,)).total == 1
    assert search(world, "staff", "le la au").total == 0


def test_index_holds_only_what_it_should(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    internal = note(world, "Note interne", audience=Audience.INTERNAL)
    search_index_flush()  # the test's transaction never commits
    row = SearchDocument.objects.get(note=internal)
    assert (row.public_title, row.public_body, row.public_more) == ("", "", "")
    assert row.body == "Note interne"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80))
def test_any_input_searches_without_error(indexed_world, text):  # type: ignore[no-untyped-def]
    """Whatever is typed reaches the database as quoted terms only: no
    syntax error in PostgreSQL's to_tsquery nor in FTS5 (an error would also
    abort the test's transaction, failing every later example)."""
    for role in ("staff", "owner_party"):
        page = search(indexed_world, role, text)
        assert page.total >= 0


# --- A common word over a large agency -------------------------------------------------


def test_a_common_word_is_counted_and_ranked_up_to_the_limits(  # type: ignore[no-untyped-def]
    indexed_world, monkeypatch
):
    """Beyond COUNT_LIMIT matches the page says « plus de … » rather than
    counting them all, and relevance ranks the RANKED_LIMIT most recent
    matches only — for staff and co-owners alike (what they may not see is
    still out of the count)."""
    from lanterne.search import selectors

    world = indexed_world
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 4)
    monkeypatch.setattr(selectors, "RANKED_LIMIT", 4)
    for day in range(1, 7):
        # The oldest note says the word the most often: the best ranked of all.
        text = ("Fuite fuite fuite au plafond" if day == 1 else f"Fuite numéro {day}") + "."
        dated_note(world, text, dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
    note(world, "Fuite interne, au conseil seulement.", audience=Audience.INTERNAL)

    for role in ("staff", "owner_not_party"):
        page = search(world, role, "fuite", kinds=(SearchKind.NOTE,))
        assert (page.total, page.more_than_total, page.num_pages) == (4, True, 1), role
        shown = texts(page)
        # Ranked among the four most recent: the oldest note is not there.
        assert "Fuite fuite fuite au plafond." not in shown, role
        assert len(shown) == 4, role

    monkeypatch.setattr(selectors, "COUNT_LIMIT", 100)
    monkeypatch.setattr(selectors, "RANKED_LIMIT", 100)
    page = search(world, "owner_not_party", "fuite", kinds=(SearchKind.NOTE,))
    assert (page.total, page.more_than_total) == (6, False)  # not the internal note
    assert texts(page)[0] == "Fuite fuite fuite au plafond."  # all ranked: the best first


def test_a_phrase_is_found_beyond_the_recent_rows_holding_its_words(  # type: ignore[no-untyped-def]
    indexed_world, monkeypatch
):
    """On PostgreSQL a phrase is first looked for among the most recent rows
    holding its words (`PHRASE_CANDIDATES` of them); when fewer than are
    counted hold it in order there, every row is checked. Either way the
    same matches and the same count, as on SQLite."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from lanterne.search import selectors

    world = indexed_world
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)
    monkeypatch.setattr(selectors, "RANKED_LIMIT", 2)
    monkeypatch.setattr(selectors, "PHRASE_CANDIDATES", 4)
    # Whatever the plan of so small a table: the candidates are looked at.
    monkeypatch.setattr(selectors, "_reads_every_match", lambda recent: True)
    dated = {
        1: "Une fuite dans la cave, côté rue.",
        2: "Encore une fuite dans la cave du fond.",
        # The three most recent hold the words, not the phrase: of the four
        # candidates, one match.
        3: "La cave est sèche ; une fuite au garage.",
        4: "Dans le garage, une fuite ; la cave est visitée.",
        5: "Fuite réparée, cave nettoyée.",
    }
    for day, text in dated.items():
        dated_note(world, text, dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))

    with CaptureQueriesContext(connection) as captured:
        search(world, "staff", '"fuite dans la cave"', kinds=(SearchKind.NOTE,))
    # On PostgreSQL, the four candidates were read first.
    assert any("LIMIT 4" in query["sql"] for query in captured) == (
        connection.vendor == "postgresql"
    )
    for role in ("staff", "owner_not_party"):
        page = search(world, role, '"fuite dans la cave"', kinds=(SearchKind.NOTE,))
        assert (page.total, page.more_than_total) == (2, False), role
        assert sorted(texts(page)) == [dated[2], dated[1]], role
        by_date = search(
            world, role, '"fuite dans la cave"', kinds=(SearchKind.NOTE,), order=SearchOrder.DATE
        )
        assert texts(by_date) == [dated[2], dated[1]], role

    # A third match, older still: more than are counted.
    dated_note(
        world, "Fuite dans la cave signalée au syndic.", dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC)
    )
    page = search(world, "staff", '"fuite dans la cave"', kinds=(SearchKind.NOTE,))
    assert (page.total, page.more_than_total) == (2, True)
    # Enough candidates: the phrase is found among them, the same answer.
    monkeypatch.setattr(selectors, "PHRASE_CANDIDATES", 100)
    again = search(world, "staff", '"fuite dans la cave"', kinds=(SearchKind.NOTE,))
    assert (again.total, again.more_than_total, texts(again)) == (2, True, texts(page))


def test_a_phrase_is_first_looked_for_among_the_last_weeks_rows(  # type: ignore[no-untyped-def]
    indexed_world, monkeypatch
):
    """On PostgreSQL the candidates of a phrase are first the rows of the
    last `PHRASE_RECENT` days: when more than are counted hold the phrase
    there, the older rows are not read; when fewer do, all rows are. The
    same matches either way, on both engines."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from lanterne.search import selectors

    world = indexed_world
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)
    monkeypatch.setattr(selectors, "RANKED_LIMIT", 2)
    monkeypatch.setattr(selectors, "PHRASE_CANDIDATES", 4)
    monkeypatch.setattr(selectors, "_reads_every_match", lambda recent: True)
    now = timezone.now()

    dated_note(world, "Fuite dans la cave, l'an passé.", now - dt.timedelta(days=400))
    dated_note(world, "Fuite dans la cave, ce printemps.", now - dt.timedelta(days=200))
    dated_note(world, "Fuite dans la cave, la semaine passée.", now - dt.timedelta(days=7))

    def phrase(role: str) -> tuple[list[str], int, bool, list[bool]]:
        with CaptureQueriesContext(connection) as captured:
            page = search(
                world,
                role,
                '"fuite dans la cave"',
                kinds=(SearchKind.NOTE,),
                order=SearchOrder.DATE,
            )
        # The reads of candidates, and whether each had a date's bound.
        candidate_reads = [
            '"date" >=' in query["sql"] for query in captured if "LIMIT 4" in query["sql"]
        ]
        # The two counted first (the page holds one more, to know of it).
        return texts(page)[:2], page.total, page.more_than_total, candidate_reads

    # One recent match only: the older rows are read too.
    shown, total, more, reads = phrase("staff")
    assert shown == ["Fuite dans la cave, la semaine passée.", "Fuite dans la cave, ce printemps."]
    assert (total, more) == (2, True)
    if connection.vendor == "postgresql":
        assert reads == [True, False]
    # Three recent matches: more than are counted, among the last weeks' rows.
    dated_note(world, "Fuite dans la cave, hier.", now - dt.timedelta(days=1))
    dated_note(world, "Fuite dans la cave, avant-hier.", now - dt.timedelta(days=2))
    for role in ("staff", "owner_not_party"):
        shown, total, more, reads = phrase(role)
        assert shown == ["Fuite dans la cave, hier.", "Fuite dans la cave, avant-hier."], role
        assert (total, more) == (2, True), role
        if connection.vendor == "postgresql" and role == "staff":
            assert reads == [True]


def test_postgresql_connections_have_room_for_a_common_words_bitmap() -> None:
    """A word found in a quarter of a million mails makes a bitmap larger
    than PostgreSQL's default 4 MB, which then turns lossy (settings.py)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone() == ("16MB",)


def test_a_plan_reading_every_match_is_recognised(indexed_world) -> None:  # type: ignore[no-untyped-def]
    """`_reads_every_match` reads PostgreSQL's plan: a bitmap scan reads
    every row the word index gives; a walk by date does not."""
    from django.db import connection

    from lanterne.search import selectors

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    world = indexed_world
    note(world, "Une fuite dans la cave.")
    documents = SearchDocument.objects.filter(
        vector=selectors.SearchQuery("fuite", config="lanterne_fr")
    )
    recent = documents.order_by("-date", "-pk").values_list("pk")[:10]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        assert selectors._reads_every_match(recent)
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_indexscan = on")
        assert not selectors._reads_every_match(recent)
