"""Learned filing suggestions (`lanterne.mail.suggest`): which open dossiers
a message belongs to, with a score and a reason a manager reads — only
dossiers of the message's agency, only open ones; learning from what staff
file (and not from the model's own unconfirmed guesses); never above the
automatic-filing threshold before it has learned enough; a cost that does
not grow with the number of dossiers."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from benchmarks.filing_eval.corpus import generate
from lanterne.condominiums.models import Agency, Company, Condominium, Person
from lanterne.dossiers.choices import DossierStatus, DossierType
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer
from lanterne.mail import suggest, suggest_text
from lanterne.mail.filing import message_file, message_mark_not_dossier_related, text_fold
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.mail.suggest import (
    AUTO_FILE_THRESHOLD,
    message_suggestions,
    suggester_invalidate,
)

from ..factories import (
    AgencyFactory,
    CompanyDomainFactory,
    CompanyFactory,
    CondominiumFactory,
    DossierFactory,
    LotFactory,
    OwnershipFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_models():
    """Each test starts without cached models (as a new process would)."""
    suggest._cache.clear()
    yield
    suggest._cache.clear()


@dataclass
class Office:
    """An agency with two condominiums, a co-owner, a plumber working in
    both, and dossiers open and closed — plus a neighbouring agency whose
    plumber has the same domain."""

    agency: Agency
    tilleuls: Condominium
    belvedere: Condominium
    owner: Person
    plumber: Company
    leak: Dossier  # Tilleuls, lot 12 and the plumber
    boiler: Dossier  # Belvédère, the plumber
    closed: Dossier  # Tilleuls, the plumber, closed
    foreign: Dossier  # the other agency's


@pytest.fixture
def office() -> Office:
    agency = AgencyFactory(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")
    tilleuls = CondominiumFactory(
        agency=agency,
        name="Résidence Les Tilleuls",
        address="12 rue des Tilleuls",
        nicknames="Les Tilleuls",
    )
    belvedere = CondominiumFactory(
        agency=agency, name="Le Belvédère", address="4 montée de la Grande-Côte"
    )
    lot12 = LotFactory(condominium=tilleuls, number="12")
    LotFactory(condominium=belvedere, number="12")
    LotFactory(condominium=belvedere, number="3")
    owner = PersonFactory(agency=agency, email="marie.girard@gmail.com")
    OwnershipFactory(person=owner, lot=lot12)
    plumber = CompanyFactory(agency=agency, name="Plomberie Martin")
    CompanyDomainFactory(company=plumber, domain="plomberie-martin.fr")
    leak = DossierFactory(
        condominium=tilleuls,
        title="Fuite colonne d'eau chaude",
        type=DossierType.WATER_DAMAGE,
        status=DossierStatus.DECLARED,
    )
    leak.party_lots.add(lot12)
    leak.party_companies.add(plumber)
    boiler = DossierFactory(
        condominium=belvedere,
        title="Remplacement du ballon d'eau chaude",
        type=DossierType.WORKS,
        status=DossierStatus.QUOTES,
    )
    boiler.party_companies.add(plumber)
    closed = DossierFactory(
        condominium=tilleuls,
        title="Fuite en toiture",
        type=DossierType.WATER_DAMAGE,
        status=DossierStatus.CLOSED,
    )
    closed.party_companies.add(plumber)

    other = AgencyFactory(name="Cabinet Voisin", mail_domain="voisin.fr")
    other_condominium = CondominiumFactory(agency=other, name="Le Belvédère")
    other_plumber = CompanyFactory(agency=other, name="Plomberie Martin")
    CompanyDomainFactory(company=other_plumber, domain="plomberie-martin.fr")
    foreign = DossierFactory(
        condominium=other_condominium,
        title="Remplacement du ballon d'eau chaude",
        status=DossierStatus.QUOTES,
    )
    foreign.party_companies.add(other_plumber)
    return Office(agency, tilleuls, belvedere, owner, plumber, leak, boiler, closed, foreign)


_counter = iter(range(1, 1_000_000))


def receive(
    agency: Agency,
    *,
    sender: str,
    subject: str,
    body: str,
    date: datetime = MONDAY,
    to: str = "gestion@cabinet-lumiere.fr",
) -> Message:
    """A plain-text mail through the real pipeline (stored, parsed, threaded)."""
    number = next(_counter)
    data = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(date)}\r\nMessage-ID: <suggest-{number}@exemple.fr>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()
    result = mail_receive_and_process(agency=agency, data=data)
    return Message.objects.get(raw=result.raw)


def file_by_hand(message: Message, dossier: Dossier, method: str = FilingMethod.MANUAL) -> None:
    message_file(
        viewer=Viewer.system(message.agency_id),
        actor=None,
        message=message,
        dossier=dossier,
        method=method,
        reason="Classé à la main",
    )


# --- What is suggested ------------------------------------------------------------


def test_a_co_owner_of_a_party_lot_gets_their_dossier_first(office: Office) -> None:
    message = receive(
        office.agency,
        sender="Marie Girard <marie.girard@gmail.com>",
        subject="Toujours la fuite",
        body="Bonjour,\n\nL'eau coule encore dans ma salle de bains.\n\nMarie",
    )
    suggestions = message_suggestions(message)
    assert suggestions[0].dossier == office.leak
    assert "lot 12" in suggestions[0].reason
    assert "copropriétaire" in suggestions[0].reason


def test_a_contractor_in_two_buildings_is_told_apart_by_the_building_it_names(
    office: Office,
) -> None:
    for building, expected in (("Belvédère", office.boiler), ("Les Tilleuls", office.leak)):
        message = receive(
            office.agency,
            sender="Jean Martin <jean.martin@plomberie-martin.fr>",
            subject="Devis",
            body=f"Bonjour,\n\nVoici notre devis pour {building}.\n\nJean Martin",
        )
        suggestions = message_suggestions(message)
        assert suggestions[0].dossier == expected, building
        assert "Plomberie Martin" in suggestions[0].reason
        # The reason says which building was named, with French contractions.
        assert "au Belvédère" in suggestions[0].reason or "Tilleuls" in suggestions[0].reason


def test_only_open_dossiers_of_the_messages_agency_are_suggested(office: Office) -> None:
    message = receive(
        office.agency,
        sender="Jean Martin <jean.martin@plomberie-martin.fr>",
        subject="Fuite en toiture, remplacement du ballon",
        body="Le Belvédère et Les Tilleuls : fuite en toiture, ballon d'eau chaude.",
    )
    suggestions = message_suggestions(message, limit=10)
    assert {s.dossier for s in suggestions} <= {office.leak, office.boiler}
    assert all(s.dossier.agency_id == office.agency.pk for s in suggestions)
    assert office.closed not in {s.dossier for s in suggestions}
    assert office.foreign not in {s.dossier for s in suggestions}


def test_the_other_agency_only_sees_its_own_dossiers(office: Office) -> None:
    other = Agency.objects.get(name="Cabinet Voisin")
    message = receive(
        other,
        sender="Jean Martin <jean.martin@plomberie-martin.fr>",
        subject="Devis ballon",
        body="Voici notre devis pour le Belvédère.",
        to="gestion@voisin.fr",
    )
    assert [s.dossier for s in message_suggestions(message)] == [office.foreign]


def test_nothing_is_suggested_when_no_dossier_is_open(office: Office) -> None:
    Dossier.objects.filter(agency=office.agency).update(status=DossierStatus.CLOSED)
    message = receive(
        office.agency,
        sender="Marie Girard <marie.girard@gmail.com>",
        subject="Toujours la fuite",
        body="L'eau coule encore.",
    )
    assert message_suggestions(message) == []


def test_an_agency_with_nothing_yet_gets_no_suggestion() -> None:
    agency = AgencyFactory(mail_domain="nouveau-cabinet.fr")
    message = receive(
        agency, sender="Quelqu'un <a@b.fr>", subject="", body="", to="gestion@nouveau-cabinet.fr"
    )
    assert message_suggestions(message) == []


def test_scores_are_probabilities_best_first(office: Office) -> None:
    message = receive(
        office.agency,
        sender="Jean Martin <jean.martin@plomberie-martin.fr>",
        subject="Intervention",
        body="Nous passerons jeudi.",
    )
    suggestions = message_suggestions(message, limit=1)
    assert len(suggestions) == 1
    suggestions = message_suggestions(message, limit=5)
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert sum(scores) <= 1.0 + 1e-6
    # Two dossiers the signals cannot tell apart share the probability.
    assert scores[0] < 0.9


def test_a_fresh_agency_suggests_but_never_reaches_the_threshold(office: Office) -> None:
    """With hand-set weights only (nothing learned yet), even a very clear
    case stays below the automatic-filing threshold."""
    message = receive(
        office.agency,
        sender="Marie Girard <marie.girard@gmail.com>",
        subject="Fuite colonne d'eau chaude lot 12",
        body="Résidence Les Tilleuls, lot 12 : la fuite de la colonne d'eau chaude continue.",
    )
    suggestions = message_suggestions(message)
    assert suggestions[0].dossier == office.leak
    assert suggestions[0].score < AUTO_FILE_THRESHOLD


# --- What the model learns from --------------------------------------------------


def _gardener_mail(office: Office, day: int) -> Message:
    return receive(
        office.agency,
        sender="Paul Vert <paul@jardins-ev.fr>",
        subject=f"Tonte des pelouses, passage n° {day}",
        body="Bonjour,\n\nNous sommes passés tondre les pelouses et tailler les haies.\n\nPaul",
        date=MONDAY + timedelta(days=day),
    )


@pytest.fixture
def gardens(office: Office) -> Dossier:
    """A dossier nothing structural points to: no party, no lot."""
    return DossierFactory(
        condominium=office.tilleuls,
        title="Contrat d'entretien",
        type=DossierType.OTHER,
        status=DossierStatus.OPEN,
    )


def test_a_filing_by_hand_teaches_the_next_suggestion(office: Office, gardens: Dossier) -> None:
    first = _gardener_mail(office, 1)
    before = {s.dossier: s.score for s in message_suggestions(first, limit=5)}
    file_by_hand(first, gardens)
    suggester_invalidate(office.agency.pk)
    second = _gardener_mail(office, 8)
    suggestions = message_suggestions(second, limit=5)
    assert suggestions[0].dossier == gardens
    assert suggestions[0].score > before.get(gardens, 0.0)
    assert "1 courriel de l'expéditeur déjà dans ce dossier" in suggestions[0].reason


def test_a_filing_in_another_process_is_seen_through_the_database(
    office: Office, gardens: Dossier
) -> None:
    """No `suggester_invalidate` here (another process filed): the audit
    log the filing wrote is enough for the model to learn."""
    first = _gardener_mail(office, 1)
    message_suggestions(first)  # the model is built and cached
    file_by_hand(first, gardens)
    second = _gardener_mail(office, 8)
    assert message_suggestions(second)[0].dossier == gardens


def test_the_models_own_unconfirmed_suggestions_are_not_learned_from(
    office: Office, gardens: Dossier
) -> None:
    first = _gardener_mail(office, 1)
    file_by_hand(first, gardens, method=FilingMethod.SUGGESTION)
    second = _gardener_mail(office, 8)
    suggestions = message_suggestions(second, limit=5)
    assert all("déjà dans ce dossier" not in s.reason for s in suggestions)
    # A manager confirming it (filing it by hand where it is) makes it count.
    file_by_hand(first, gardens)
    suggestions = message_suggestions(second, limit=5)
    assert suggestions[0].dossier == gardens
    assert "déjà dans ce dossier" in suggestions[0].reason


def test_a_message_moved_by_hand_counts_where_it_is_now(office: Office, gardens: Dossier) -> None:
    first = _gardener_mail(office, 1)
    file_by_hand(first, office.boiler)
    second = _gardener_mail(office, 8)
    assert message_suggestions(second)[0].dossier == office.boiler
    file_by_hand(first, gardens)  # moved: it was not about the boiler
    top = message_suggestions(second, limit=5)
    assert top[0].dossier == gardens
    assert all("déjà" not in s.reason for s in top if s.dossier == office.boiler)


def test_updates_one_filing_at_a_time_match_a_rebuild(office: Office, gardens: Dossier) -> None:
    """The statistics updated filing by filing (profiles, norms, the closest
    messages, the mail of no dossier) are those a rebuild from scratch gives."""
    mails = [_gardener_mail(office, day) for day in range(1, 6)]
    file_by_hand(mails[0], gardens)
    message_suggestions(mails[4])  # fitted on one filing
    file_by_hand(mails[1], gardens)
    file_by_hand(mails[2], office.boiler)
    file_by_hand(mails[2], gardens)  # moved
    message_mark_not_dossier_related(
        viewer=Viewer.system(office.agency.pk), actor=None, message=mails[3]
    )
    model = suggest._cache.model(office.agency.pk)
    assert model is not None and set(model.known) == {m.pk for m in mails[:4]}
    rebuilt = suggest._rebuild(copy.deepcopy(model), model.signature)
    probe = model.vectorize(
        ["Tonte des pelouses et taille des haies, ballon d'eau chaude", "Fuite au lot 12"]
    )
    size = model.directory.size
    assert np.allclose(model.stats.text_scores(probe), rebuilt.stats.text_scores(probe))
    assert np.allclose(model.stats.type_scores(probe), rebuilt.stats.type_scores(probe))
    assert np.allclose(model.stats.none_scores(probe), rebuilt.stats.none_scores(probe))
    assert model.stats.nearest is not None and rebuilt.stats.nearest is not None
    for ours, theirs in zip(
        model.stats.nearest.nearest(probe, size),
        rebuilt.stats.nearest.nearest(probe, size),
        strict=True,
    ):
        assert np.allclose(ours, theirs)
    assert model.stats.by_sender == rebuilt.stats.by_sender


def test_mail_said_to_concern_no_dossier_teaches_none(office: Office) -> None:
    """Advertising staff set aside pulls the scores of the next one down."""
    first = receive(
        office.agency,
        sender="Diag Express <commercial@diag-express.fr>",
        subject="Diagnostics à prix réduits",
        body="Nos diagnostics techniques pour vos copropriétés des Tilleuls.",
    )
    before = message_suggestions(first, limit=1)[0].score
    message_mark_not_dossier_related(
        viewer=Viewer.system(office.agency.pk), actor=None, message=first
    )
    second = receive(
        office.agency,
        sender="Diag Express <commercial@diag-express.fr>",
        subject="Diagnostics à prix réduits",
        body="Nos diagnostics techniques pour vos copropriétés des Tilleuls.",
        date=MONDAY + timedelta(days=7),
    )
    model = suggest._cache.model(office.agency.pk)
    assert model is not None
    assert first.pk in model.known and model.known[first.pk].mail.label == -1
    assert message_suggestions(second, limit=1)[0].score <= before


def test_a_learned_model_files_clear_cases_and_stays_unsure_of_ambiguous_ones(
    office: Office,
) -> None:
    """After a few hundred filings, a co-owner writing about the dossier of
    their lot scores above the threshold; a plumber with two open dossiers
    writing without naming the building does not."""
    owners = []
    dossiers = []
    for number in range(4):
        lot = LotFactory(condominium=office.tilleuls, number=str(20 + number))
        owner = PersonFactory(agency=office.agency, email=f"proprietaire{number}@orange.fr")
        OwnershipFactory(person=owner, lot=lot)
        dossier = DossierFactory(
            condominium=office.tilleuls,
            title=f"Dégât des eaux lot {lot.number}",
            type=DossierType.WATER_DAMAGE,
            status=DossierStatus.DECLARED,
        )
        dossier.party_lots.add(lot)
        owners.append(owner)
        dossiers.append(dossier)
    subjects = ["Fuite", "Humidité", "Plombier", "Dégât des eaux", "Assurance", "Constat"]
    day = 0
    for round_ in range(27):
        for number, dossier in enumerate(dossiers):
            day += 1
            message = receive(
                office.agency,
                sender=f"Propriétaire {number} <proprietaire{number}@orange.fr>",
                subject=f"{subjects[(round_ + number) % len(subjects)]} ({round_})",
                body=f"Bonjour, où en est le dossier de mon lot {20 + number} ? Merci.",
                date=MONDAY - timedelta(days=400 - day // 2),
            )
            file_by_hand(message, dossier)
        if round_ % 3 == 0:
            unrelated = receive(
                office.agency,
                sender=f"Voisin {round_} <voisin{round_}@free.fr>",
                subject="Changement d'adresse",
                body="Je vous informe de mon changement d'adresse.",
                date=MONDAY - timedelta(days=400 - day // 2),
            )
            message_mark_not_dossier_related(
                viewer=Viewer.system(office.agency.pk), actor=None, message=unrelated
            )
    clear = receive(
        office.agency,
        sender="Propriétaire 2 <proprietaire2@orange.fr>",
        subject="Toujours pas de nouvelles",
        body="Bonjour, la fuite de mon lot 22 continue. Merci.",
    )
    suggestions = message_suggestions(clear)
    assert suggestions[0].dossier == dossiers[2]
    assert suggestions[0].score >= AUTO_FILE_THRESHOLD
    ambiguous = receive(
        office.agency,
        sender="Jean Martin <jean.martin@plomberie-martin.fr>",
        subject="Intervention",
        body="Nous passerons jeudi matin.",
    )
    assert message_suggestions(ambiguous)[0].score < AUTO_FILE_THRESHOLD
    unknown = receive(
        office.agency,
        sender="Inconnu <quelquun@exemple.org>",
        subject="Bonjour",
        body="Pouvez-vous me rappeler ?",
    )
    assert all(s.score < AUTO_FILE_THRESHOLD for s in message_suggestions(unknown))


# --- Cost -------------------------------------------------------------------------


def test_queries_per_suggestion_do_not_grow_with_dossiers(office: Office) -> None:
    message = receive(
        office.agency,
        sender="Jean Martin <jean.martin@plomberie-martin.fr>",
        subject="Devis",
        body="Voici notre devis pour le Belvédère.",
    )
    message_suggestions(message)  # built and cached
    with CaptureQueriesContext(connection) as few:
        message_suggestions(message)
    for number in range(40):
        dossier = DossierFactory(
            condominium=office.belvedere, title=f"Dossier {number}", status=DossierStatus.QUOTES
        )
        dossier.party_companies.add(office.plumber)
    message_suggestions(message)  # rebuilt with the new dossiers
    with CaptureQueriesContext(connection) as many:
        suggestions = message_suggestions(message)
    assert len(many) == len(few) <= 2
    assert len(suggestions) == 3


# Text a mail may hold: accents decomposed or not, ligatures, compatibility
# forms, scripts whose case rules differ, marks that are not accents.
_TRICKY_TEXTS = [
    "Résidence Les Tilleuls — Lot n° 12, escalier B",
    "Re\u0301sidence LES TILLEULS\u00a0: la fuite s'aggrave !",
    "ﬁn de chantier ; Œuvre, cœur, naïve, Noël, garçon, Ærø",
    "Straße ẞ İstanbul ǅemal ΣΊΣΥΦΟΣ ﬀ ①②③ ＡＢＣ ™ ½",
    "हिन्दी ไทย 한국어 العربية עִברִית",
    "a\u0308\u0301 e\u20dd \u1ab0x \U0001d400\U0001d401",
]


def _scikit_learn_vectorizer(documents: int) -> TfidfVectorizer:
    """The vectorizer `suggest._Vocabulary` reproduces, with the settings the
    module states."""
    min_df, max_df = suggest._document_bounds(documents)
    return TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        token_pattern=suggest_text.TOKEN_PATTERN,
        ngram_range=(1, 2),
        min_df=min_df,
        max_df=max_df,
        max_features=suggest.MAX_TERMS,
        sublinear_tf=True,
        dtype=np.float64,
    )


def _corpus_texts(seed: int, messages: int) -> list[str]:
    corpus = generate(seed, messages=messages, months=2)
    return [f"{m.subject}\n{m.subject}\n" + "\n\n".join(m.paragraphs) for m in corpus.messages]


def _assert_vocabulary_is_scikit_learns(documents: list[str], probes: list[str]) -> None:
    ours = suggest._Vocabulary.fit(documents)
    theirs = _scikit_learn_vectorizer(len(documents))
    try:
        theirs.fit(documents)
    except ValueError:
        assert ours is None
        return
    assert ours is not None
    assert ours.index == {term: int(column) for term, column in theirs.vocabulary_.items()}
    assert np.array_equal(ours.idf, theirs.idf_)
    texts = documents + probes
    difference = ours.vectorize(texts).toarray() - theirs.transform(texts).toarray()
    assert np.abs(difference).max(initial=0.0) < 1e-12


@pytest.mark.parametrize(("seed", "messages"), [(3, 400), (4, 40)])
def test_the_vocabulary_is_scikit_learns(seed: int, messages: int) -> None:
    """The text model learns the terms and weights scikit-learn's
    TfidfVectorizer learns, and gives mail the same vectors, without loading
    scikit-learn."""
    texts = _corpus_texts(seed, messages)
    probes = ["Fuite fuite colonne d'eau chaude", "rien de connu", "", "Remplacement ballon"]
    for documents in (texts, texts[:12], texts[:1], [], ["a b c", "d"], ["é"] * 30):
        _assert_vocabulary_is_scikit_learns(documents, probes)


def test_the_vocabulary_keeps_the_terms_scikit_learn_keeps_beyond_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past `MAX_TERMS`, the most frequent terms are kept, ties broken as
    scikit-learn breaks them."""
    monkeypatch.setattr(suggest, "MAX_TERMS", 60)
    texts = _corpus_texts(5, 200)
    assert len(_scikit_learn_vectorizer(len(texts)).fit(texts).vocabulary_) == 60
    _assert_vocabulary_is_scikit_learns(texts, ["Fuite au lot 12"])


@given(st.lists(st.text() | st.sampled_from(_TRICKY_TEXTS), max_size=25))
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_vocabulary_of_any_texts_is_scikit_learns(documents: list[str]) -> None:
    _assert_vocabulary_is_scikit_learns(documents, _TRICKY_TEXTS)


def test_suggestions_of_many_messages_are_each_ones_alone(office: Office, gardens: Dossier) -> None:
    """A session scores messages together (what an import does): each gets
    the suggestions, scores and reasons it gets alone."""
    for day in range(1, 4):
        file_by_hand(_gardener_mail(office, day), gardens)
    file_by_hand(
        receive(
            office.agency,
            sender="Marie Girard <marie.girard@gmail.com>",
            subject="Fuite au plafond",
            body="La fuite de mon lot 12 aux Tilleuls continue.",
        ),
        office.leak,
    )
    messages = [
        _gardener_mail(office, 9),
        receive(
            office.agency,
            sender="Marie Girard <marie.girard@gmail.com>",
            subject="Toujours la fuite",
            body="Bonjour, l'eau coule encore chez moi, lot 12.",
        ),
        receive(
            office.agency,
            sender="Jean Martin <jean.martin@plomberie-martin.fr>",
            subject="Devis ballon",
            body="Voici notre devis pour le ballon d'eau chaude du Belvédère.",
        ),
        receive(
            office.agency,
            sender="Inconnu <quelquun@exemple.org>",
            subject="",
            body="",
        ),
        receive(
            office.agency,
            sender="Syndic Voisin <contact@voisin.fr>",
            subject="Le Belvédère, lots 3 et 12",
            body="Résidence Les Tilleuls ou Belvédère ? Lot n° 3.",
        ),
    ]
    alone = [message_suggestions(message, limit=5) for message in messages]
    with suggest.suggestion_session(office.agency.pk) as session:
        together = session.many(messages, limit=5)
        assert session(messages[1], limit=5) == alone[1]
        # Texts prepared ahead (by an import's parse workers) are used when
        # they are the messages' own, and ignored when they are not.
        own = {
            m.pk: suggest_text.PreparedText.of(
                suggest_text.mail_text(m.subject, m.new_text or m.text)
            )
            for m in messages
        }
        assert session.many(messages, limit=5, texts=own) == alone
        other = suggest_text.PreparedText.of("Fuite au lot 12 des Tilleuls, ballon du Belvédère")
        assert session.many(messages, limit=5, texts=dict.fromkeys(own, other)) == alone
        with pytest.raises(ValueError, match="another agency"):
            session.many([messages[0], _foreign_mail(office)])
    assert together == alone
    assert all(alone[:3]) and alone[1][0].dossier == office.leak


def _foreign_mail(office: Office) -> Message:
    return receive(
        office.foreign.agency,
        sender="Jean Martin <jean.martin@plomberie-martin.fr>",
        subject="Devis",
        body="Voici notre devis.",
        to="gestion@voisin.fr",
    )


@given(st.text() | st.sampled_from(_TRICKY_TEXTS))
@example("")
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_fast_text_folding_is_the_rules_folding(text: str) -> None:
    assert suggest_text.fold(text) == text_fold(text)


@given(st.text() | st.sampled_from(_TRICKY_TEXTS))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_fast_terms_are_scikit_learns(text: str) -> None:
    analyse = _scikit_learn_vectorizer(100).build_analyzer()
    assert suggest_text.terms(text) == analyse(text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Les Tilleuls", "aux Tilleuls"),
        ("Le Belvédère", "au Belvédère"),
        ("La Roseraie", "à la Roseraie"),
        ("L'Orangerie", "à l'Orangerie"),
        ("Résidence du Parc", "à la Résidence du Parc"),
        ("Saint-Clair", "à Saint-Clair"),
    ],
)
def test_reasons_say_where_in_french(name: str, expected: str) -> None:
    assert suggest._at(name) == expected
