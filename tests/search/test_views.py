"""The search page /recherche/: results with their dossier, date, kind,
snippet and link; filters; pages; htmx; a constant number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.dossiers.choices import Audience
from lanterne.search.services import search_documents_index, search_index_flush

from ..factories import DossierFactory
from .conftest import note

pytestmark = pytest.mark.django_db

URL = reverse("search:search")


def test_the_page_shows_results_with_their_context(indexed_world, client_for):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Le vitrier remplace la vitre du hall.")
    note(world, "Vitrier : facture à contrôler.", audience=Audience.INTERNAL)
    page = client_for("owner_not_party").get(URL, {"q": "vitriers"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 résultat" in html
    assert "<mark>vitrier</mark> remplace la vitre du hall" in html
    assert world.dossier.reference in html and "Les Tilleuls" in html
    assert "facture" not in html
    staff_page = client_for("staff").get(URL, {"q": "vitrier"}).content.decode()
    assert "2 résultats" in staff_page and "Interne au cabinet" in staff_page


def test_login_is_required(indexed_world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("anonymous").get(URL, {"q": "plafond"})
    assert response.status_code == 302
    assert "plafond" not in response.content.decode()


def test_every_page_has_the_search_box(indexed_world, client_for):  # type: ignore[no-untyped-def]
    home = client_for("owner_party").get(reverse("home")).content.decode()
    assert f'action="{URL}"' in home and 'name="q"' in home


def test_htmx_gets_the_results_alone(indexed_world, client_for):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Le jardinier taille la haie.")
    response = client_for("owner_party").get(URL, {"q": "jardinier"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<mark>jardinier</mark>" in html
    assert "<html" not in html and "<form" not in html


def test_filters_and_a_dossier_of_ones_own(indexed_world, client_for):  # type: ignore[no-untyped-def]
    world = indexed_world
    other = DossierFactory(
        condominium=world.condominium, title="Portail automatique", audience=Audience.OWNERS
    )
    note(world, "Le serrurier passe mardi.")
    note(world, "Le serrurier a changé le cylindre.", dossier=other)
    client = client_for("owner_not_party")
    html = client.get(URL, {"q": "serrurier", "dossier": other.pk}).content.decode()
    assert "1 résultat" in html and "cylindre" in html
    assert f"Dans le dossier {other.reference}" in html
    html = client.get(URL, {"q": "serrurier", "type": "note", "du": "2001-01-01"}).content.decode()
    assert "2 résultats" in html
    html = client.get(URL, {"q": "serrurier", "au": "2001-01-01"}).content.decode()
    assert "Aucun résultat" in html
    # Values that do not fit are ignored, not an error page.
    response = client.get(URL, {"q": "serrurier", "du": "hier", "copropriete": "x", "page": "z"})
    assert response.status_code == 200 and "2 résultats" in response.content.decode()


def test_a_hidden_dossier_is_not_named(indexed_world, client_for):  # type: ignore[no-untyped-def]
    world = indexed_world
    hidden = DossierFactory(
        condominium=world.condominium, title="Impayés lot 14", audience=Audience.INTERNAL
    )
    search_documents_index(dossier_ids=[hidden.pk])
    html = client_for("owner_not_party").get(URL, {"q": "impayés", "dossier": hidden.pk})
    assert hidden.reference not in html.content.decode()
    assert "Impayés lot 14" not in html.content.decode()


def _queries(client, params) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("role", ["staff", "owner_not_party"])
def test_the_number_of_queries_does_not_grow_with_the_results(indexed_world, client_for, role):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Le ramoneur viendra une fois.")
    client = client_for(role)
    client.get(URL, {"q": "ramoneur"})  # sessions and caches warmed up
    one = _queries(client, {"q": "ramoneur"})
    for i in range(45):
        note(world, f"Le ramoneur, passage numéro {i}.")
    search_index_flush()  # as the commit of those writes would have
    many = _queries(client, {"q": "ramoneur"})
    page_two = _queries(client, {"q": "ramoneur", "page": 2})
    page_three = _queries(client, {"q": "ramoneur", "page": "3", "type": "note"})
    assert one == many == page_two == page_three, (one, many, page_two, page_three)
    html = client.get(URL, {"q": "ramoneur", "page": 3}).content.decode()
    assert "46 résultats" in html and "Page 3 sur 3" in html


def test_query_count_bound(indexed_world, client_for, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    """Session, user, the viewer's roles (3), condominiums, the dossiers they
    may see and those they are a party to (the policy's scope), count, page,
    snippets, links."""
    world = indexed_world
    for i in range(30):
        note(world, f"Contrôle de l'extincteur {i}.")
    client = client_for("owner_party")
    client.get(URL, {"q": "extincteur"})
    with django_assert_max_num_queries(12):
        client.get(URL, {"q": "extincteur", "page": 2})
