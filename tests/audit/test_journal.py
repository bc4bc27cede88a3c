"""The journal page (/journal/): staff read their own agency's audit log,
newest first, filtered, paginated at a constant cost; nobody else reads it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.audit.selectors import JOURNAL_PAGE_SIZE
from lanterne.dossiers import policy

from ..conftest import ROLES, World
from ..factories import DossierFactory

pytestmark = pytest.mark.django_db

URL = reverse("audit:journal")
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def row(world: World, n: int, **fields: object) -> AuditLog:
    values: dict[str, object] = {
        "agency": world.agency,
        "actor": world.users["staff"],
        "action": AuditAction.CREATED,
        "object_type": "dossiers.dossier",
        "object_id": str(world.dossier.pk),
        "summary": f"Dossier ouvert MARK-{n:03d}",
        "created_at": START + dt.timedelta(hours=n),
    }
    values.update(fields)
    return AuditLog.objects.create(**values)


def marks(body: str) -> list[str]:
    return re.findall(r"MARK-[\w-]+", body)


def test_staff_read_their_agency_only_and_nobody_else_reads(world, client_for):  # type: ignore[no-untyped-def]
    row(world, 1, summary="Dossier ouvert MARK-A")
    row(world, 2, agency=world.other_agency, summary="Dossier ouvert MARK-B", actor=None)
    row(world, 3, agency=None, summary="Sans cabinet MARK-NONE", actor=None)
    body = client_for("staff").get(URL).content.decode()
    assert marks(body) == ["MARK-A"]
    other = client_for("staff_other_agency").get(URL).content.decode()
    assert marks(other) == ["MARK-B"]
    for role in ROLES:
        if role in {"staff", "staff_other_agency"}:
            continue
        response = client_for(role).get(URL)
        expected = 302 if role == "anonymous" else 404
        assert response.status_code == expected, role
        v = policy.Viewer.for_user(world.users[role])
        assert not policy.may_see_audit_log(v)
        assert not policy.audit_log_visible_to(v).exists(), role


def test_rows_read_in_french_with_a_link_to_what_still_exists(world, client_for):  # type: ignore[no-untyped-def]
    gone = DossierFactory(condominium=world.condominium)
    gone_id = gone.pk
    gone.delete()
    foreign = DossierFactory(condominium__agency=world.other_agency)
    row(world, 1, summary="Dossier ouvert MARK-LIVE")
    row(world, 2, object_id=str(gone_id), summary="Dossier ouvert MARK-GONE")
    # An id of the other agency's dossier, logged (wrongly) in this agency: no link.
    row(world, 3, object_id=str(foreign.pk), summary="Dossier ouvert MARK-FOREIGN")
    row(world, 4, actor=None, action=AuditAction.ERASED, summary="Personne n°9 anonymisée")
    body = client_for("staff").get(URL).content.decode()
    assert f'href="{reverse("dossiers:detail", args=[world.dossier.pk])}"' in body
    assert f'href="{reverse("dossiers:detail", args=[gone_id])}"' not in body
    assert f'href="{reverse("dossiers:detail", args=[foreign.pk])}"' not in body
    assert "Création" in body and "Anonymisation" in body
    assert "Aucun compte (commande, traitement automatique ou compte supprimé)" in body
    assert world.users["staff"].full_name in body
    assert f"Dossier n°{world.dossier.pk}" in body
    # Newest first.
    assert marks(body) == ["MARK-FOREIGN", "MARK-GONE", "MARK-LIVE"]


def test_filters(world, client_for):  # type: ignore[no-untyped-def]
    assistant = world.users["council_member"]  # any other login will do as an author
    row(world, 1, summary="Dossier ouvert MARK-CREATED")
    row(world, 26, action=AuditAction.PUBLISHED, object_type="mail.message", object_id="1",
        summary="Courriel publié MARK-PUBLISHED")  # fmt: skip
    row(world, 50, actor=assistant, action=AuditAction.CHANGED, summary="Suivi MARK-OTHER-ACTOR")
    row(world, 75, actor=None, action=AuditAction.RETENTION_APPLIED,
        object_type="condominiums.agency", object_id=str(world.agency.pk),
        summary="Durées de conservation appliquées MARK-SYSTEM")  # fmt: skip
    client = client_for("staff")

    def shown(**query: str) -> list[str]:
        response = client.get(URL, query)
        assert response.status_code == 200
        return marks(response.content.decode())

    everything = ["MARK-SYSTEM", "MARK-OTHER-ACTOR", "MARK-PUBLISHED", "MARK-CREATED"]
    assert shown() == everything
    assert shown(action="published") == ["MARK-PUBLISHED"]
    assert shown(objet="mail.message") == ["MARK-PUBLISHED"]
    assert shown(objet="condominiums.agency") == ["MARK-SYSTEM"]
    assert shown(auteur=str(world.users["staff"].pk)) == ["MARK-PUBLISHED", "MARK-CREATED"]
    assert shown(auteur="0") == ["MARK-SYSTEM"]
    # Dates are whole local days: 1 March 09:00 UTC + 26 h is 2 March.
    assert shown(du="2026-03-02", au="2026-03-03") == ["MARK-OTHER-ACTOR", "MARK-PUBLISHED"]
    assert shown(au="2026-03-01") == ["MARK-CREATED"]
    assert shown(texte="publié") == ["MARK-PUBLISHED"]
    assert shown(texte=assistant.email) == ["MARK-OTHER-ACTOR"]
    assert shown(action="published", texte="ouvert") == []
    # A value that is not among the choices is ignored, not an error.
    assert shown(action="nimportequoi", du="hier") == everything
    page = client.get(URL).content.decode()
    assert '<option value="published">Publication</option>' in page
    assert '<option value="mail.message">Courriel</option>' in page


def test_pages_follow_one_another_at_a_constant_cost(world, client_for):  # type: ignore[no-untyped-def]
    total = JOURNAL_PAGE_SIZE * 3 + 7
    for n in range(total):
        # Two rows share each second: the cursor must separate them by id.
        row(world, 0, created_at=START + dt.timedelta(seconds=n // 2), summary=f"X MARK-{n:03d}")
    client = client_for("staff")
    seen: list[str] = []
    counts: list[int] = []
    after = None
    while True:
        query = {"apres": after} if after else {}
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, query, headers={"HX-Request": "true"} if after else {})
        body = response.content.decode()
        seen += marks(body)
        match = re.search(r'hx-get="\?apres=([\w-]+)"', body)
        if not match:
            break
        counts.append(len(queries))
        after = match.group(1)
    assert seen == [f"MARK-{n:03d}" for n in reversed(range(total))]
    assert len(counts) == 3
    # Page 1 is a full page, later ones the htmx partial: compare like with like.
    assert counts[1] == counts[2], counts
    # Session, login, the viewer's roles (3), the authors to filter by, the
    # rows, the links of one kind of object: no query per row.
    assert max(counts) <= 10, counts


def test_a_filtered_page_keeps_its_filters_in_the_next_link(world, client_for):  # type: ignore[no-untyped-def]
    for n in range(JOURNAL_PAGE_SIZE + 5):
        row(world, n, action=AuditAction.PUBLISHED, summary=f"Publié MARK-{n:03d}")
        row(world, n, summary=f"Créé MARK-C{n:03d}")
    client = client_for("staff")
    body = client.get(URL, {"action": "published"}).content.decode()
    link = re.search(r'href="\?([^"]+)"', body)
    assert link is not None
    query = link.group(1).replace("&amp;", "&")
    assert query.startswith("action=published&apres=")
    rest = marks(client.get(f"{URL}?{query}").content.decode())
    assert rest == [f"MARK-{n:03d}" for n in reversed(range(5))]


def test_the_journal_is_in_the_staff_navigation(world, client_for):  # type: ignore[no-untyped-def]
    assert f'href="{URL}"' in client_for("staff").get(reverse("home")).content.decode()
    assert f'href="{URL}"' not in client_for("owner_party").get(reverse("home")).content.decode()
