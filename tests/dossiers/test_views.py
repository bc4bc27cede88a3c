"""The dossier pages, as each role sees them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lanterne.dossiers import policy, services
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier, TimelineEntry

pytestmark = pytest.mark.django_db


def staff_viewer(world):  # type: ignore[no-untyped-def]
    return policy.Viewer.for_user(world.users["staff"])


def test_home_lists_visible_dossiers_only(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("owner_party").get(reverse("home"))
    assert response.status_code == 200
    assert world.dossier.title in response.content.decode()
    response = client_for("owner_other_condominium").get(reverse("home"))
    assert world.dossier.title not in response.content.decode()


def test_anonymous_is_sent_to_login(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("anonymous").get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_dossier_page_shows_only_visible_entries(world, client_for):  # type: ignore[no-untyped-def]
    viewer = staff_viewer(world)
    staff = world.users["staff"]
    services.note_add(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        text="Note pour tous",
        audience=Audience.OWNERS,
    )
    services.note_add(
        viewer=viewer,
        actor=staff,
        dossier=world.dossier,
        text="Note interne",
        audience=Audience.INTERNAL,
    )
    page = client_for("owner_not_party").get(reverse("dossiers:detail", args=[world.dossier.pk]))
    body = page.content.decode()
    assert "Note pour tous" in body
    assert "Note interne" not in body
    staff_page = client_for("staff").get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert "Note interne" in staff_page.content.decode()


def test_other_condominium_gets_404(world, client_for):  # type: ignore[no-untyped-def]
    url = reverse("dossiers:detail", args=[world.dossier.pk])
    assert client_for("owner_other_condominium").get(url).status_code == 404
    assert client_for("staff_other_agency").get(url).status_code == 404


def test_staff_creates_dossier_with_next_reference(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("staff").post(
        reverse("dossiers:create"),
        {
            "condominium": world.condominium.pk,
            "title": "Ravalement de façade",
            "type": "works",
            "audience": "",
            "party_lots": [world.party_lot.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dossier = Dossier.objects.get(title="Ravalement de façade")
    assert dossier.reference.startswith("DOS-")
    assert dossier.audience == Audience.OWNERS
    assert dossier.status == "quotes"


def test_invalid_dossier_form_changes_nothing(world, client_for):  # type: ignore[no-untyped-def]
    before = Dossier.objects.count()
    response = client_for("staff").post(
        reverse("dossiers:create"),
        {"condominium": world.condominium.pk, "title": "", "type": "nope"},
    )
    assert response.status_code == 400
    assert "Ce champ est obligatoire." in response.content.decode()
    assert Dossier.objects.count() == before


def test_co_owner_cannot_post_a_note(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("owner_party").post(
        reverse("dossiers:note_create", args=[world.dossier.pk]),
        {"note-text": "hello", "note-audience": "owners"},
    )
    assert response.status_code == 403
    assert not TimelineEntry.objects.exists()


def test_timeline_pages_with_constant_queries(world, client_for, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    viewer = staff_viewer(world)
    for i in range(45):
        services.note_add(
            viewer=viewer,
            actor=world.users["staff"],
            dossier=world.dossier,
            text=f"Note {i}",
            audience=Audience.OWNERS,
        )
    client = client_for("owner_party")
    url = reverse("dossiers:detail", args=[world.dossier.pk])
    # The same on both pages: the page's own, the entries, their notes.
    with django_assert_max_num_queries(13):
        first = client.get(url)
    body = first.content.decode()
    assert "Note 44" in body and "Note 24" not in body
    cursor = first.context["page"].next_cursor
    with django_assert_max_num_queries(13):
        second = client.get(url, {"apres": cursor}, HTTP_HX_REQUEST="true")
    assert "Note 24" in second.content.decode()
    assert "Note 44" not in second.content.decode()


def test_not_found_page_is_in_french(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("owner_other_condominium").get(
        reverse("dossiers:detail", args=[world.dossier.pk])
    )
    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()


def test_forbidden_page_is_in_french(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("owner_party").get(reverse("dossiers:create"))
    assert response.status_code == 403
    assert "Accès refusé" in response.content.decode()


def test_party_lots_are_listed_in_natural_order(world, client_for):  # type: ignore[no-untyped-def]
    import re

    from ..factories import LotFactory

    for number in ("10", "8", "9"):
        world.dossier.party_lots.add(LotFactory(condominium=world.condominium, number=number))
    body = client_for("staff").get(reverse("dossiers:detail", args=[world.dossier.pk])).content
    lots = re.search(r"Lots</dt><dd>(.*?)</dd>", body.decode(), re.S)
    assert lots is not None
    assert re.findall(r"(\d+) \(", lots.group(1)) == ["8", "9", "10", "12"]


def test_a_dossiers_parties_are_read_with_it_whole_and_in_order(  # type: ignore[no-untyped-def]
    world, django_assert_num_queries
):
    """`dossier_for_viewer` reads the parties once (a statement each), in the
    page's order, as whole rows: the policy, the page and the API read them
    again for nothing, and a further query on them still asks the database."""
    from lanterne.dossiers import selectors

    from ..factories import CompanyFactory, LotFactory, PersonFactory

    for number in ("10", "8"):
        world.dossier.party_lots.add(LotFactory(condominium=world.condominium, number=number))
    world.dossier.party_persons.add(
        PersonFactory(agency=world.agency, last_name="Zola", first_name="Émile"),
        PersonFactory(agency=world.agency, last_name="Adam", first_name="Paul"),
    )
    world.dossier.party_companies.add(
        CompanyFactory(agency=world.agency, name="Toits"),
        CompanyFactory(agency=world.agency, name="Ascenseurs"),
    )
    for role in ("staff", "owner_party"):
        viewer = policy.Viewer.for_user(world.users[role])
        dossier = selectors.dossier_for_viewer(viewer, world.dossier.pk)
        with django_assert_num_queries(0):
            lots = [lot.number for lot in dossier.party_lots.all()]
            names = [p.last_name for p in dossier.party_persons.all()]
            companies = [(c.name, c.agency_id) for c in dossier.party_companies.all()]
            assert policy.may_see_dossier(viewer, dossier)
        assert lots == ["8", "10", "12"], role
        assert names[0] == "Adam" and names[-1] == "Zola", role
        assert [name for name, _ in companies] == ["Ascenseurs", "Toits"], role
        assert {agency for _, agency in companies} == {world.agency.pk}, role
        with django_assert_num_queries(1):
            assert set(dossier.party_lots.values_list("number", flat=True)) == {"8", "10", "12"}


def test_staff_forms_load_when_their_panel_opens(world, client_for):  # type: ignore[no-untyped-def]
    """The dossier page holds the staff's panels, not their forms: each form
    comes when its panel opens (htmx asks its URL), or, without JavaScript,
    on a page of its own that the panel links to."""
    client = client_for("staff")
    page = client.get(reverse("dossiers:detail", args=[world.dossier.pk])).content.decode()
    assert 'name="note-text"' not in page and 'name="task-title"' not in page
    for name in ("note_create", "task_create", "decision_create", "document_create"):
        url = reverse(f"dossiers:{name}", args=[world.dossier.pk])
        assert f'hx-get="{url}"' in page and f'<a href="{url}">' in page, name
    status_url = reverse("dossiers:status_change", args=[world.dossier.pk])
    assert f'hx-get="{status_url}"' in page

    note_url = reverse("dossiers:note_create", args=[world.dossier.pk])
    alone = client.get(note_url, headers={"HX-Request": "true"}).content.decode()
    assert alone.startswith("<form") and 'name="note-text"' in alone and "<html" not in alone
    whole = client.get(note_url).content.decode()
    assert "<html" in whole and 'name="note-text"' in whole and world.dossier.reference in whole
    document = client.get(reverse("dossiers:document_create", args=[world.dossier.pk]))
    assert 'enctype="multipart/form-data"' in document.content.decode()

    # As for sending them: staff of the dossier only.
    assert client_for("owner_party").get(note_url).status_code == 403
    assert client_for("owner_other_condominium").get(note_url).status_code == 404
    assert client_for("staff_other_agency").get(note_url).status_code == 404


def test_a_form_sent_with_errors_comes_back_open_in_its_panel(world, client_for):  # type: ignore[no-untyped-def]
    response = client_for("staff").post(
        reverse("dossiers:note_create", args=[world.dossier.pk]),
        {"note-text": "", "note-audience": "owners"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count('name="note-text"') == 1 and "Ce champ est obligatoire." in page
    assert 'name="task-title"' not in page
