"""The API against its own OpenAPI schema (schemathesis), and its documentation.

Schemathesis generates requests for every operation of /api/openapi.json and
sends each one twice through the WSGI application — with a staff member's
write token and with a co-owner's token — on a database with data: a dossier
whose timeline holds an entry of every kind in every audience, mail with
attachments, documents in the condominium's spaces. Path ids are drawn from
the objects that exist as well as from anywhere, so that both the answers and
the 404s are exercised. Every answer must be no server error, carry a
documented status code, and match the schema of that status.

Derandomised and bounded (`max_examples`), so that it runs the same in every
run and stays fast."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.files.base import ContentFile
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.models import Document
from lanterne.documents.services import condominium_document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.models import Decision, Task, TimelineEntry
from lanterne.mail.filing import message_file
from lanterne.mail.models import Attachment, FilingMethod, Message
from lanterne.mail.publication import message_publish, message_unmask

from ..conftest import World
from ..core.test_csp import directives, inline_code, script_problems
from ..dossiers.test_policy_matrix import fill_timeline, make_dossier, received_mail_with_files

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Per operation and per token. The whole file stays well under a minute.
MAX_EXAMPLES = 10


def _world_with_data(world: World) -> dict[str, list[int]]:
    """Fill the world, and return the ids of what exists, by path parameter."""
    staff = world.users["staff"]
    viewer = policy.Viewer.for_user(staff)
    dossier = make_dossier(world, "owners")
    fill_timeline(world, dossier)
    mail = message_file(
        viewer=viewer,
        actor=staff,
        message=received_mail_with_files(world, "MARK-unmasked"),
        dossier=dossier,
        method=FilingMethod.MANUAL,
        reason="Classé par le test",
    )
    message_publish(viewer=viewer, actor=staff, message=mail, audience="parties")
    message_unmask(viewer=viewer, actor=staff, message=mail, reason="Pour le test")
    received_mail_with_files(world, "MARK-unfiled")
    condominium_document_upload(
        viewer=viewer,
        actor=staff,
        condominium=world.condominium,
        space=DocumentSpace.LOT,
        lot=world.party_lot,
        file=ContentFile(b"compte"),
        filename="compte.pdf",
        kind=DocumentKind.OWNER_ACCOUNT,
        title="Compte du lot 12",
    )
    return {
        "condominium_id": [world.condominium.pk, world.other_condominium.pk],
        "lot_id": list(world.condominium.lots.values_list("pk", flat=True)),
        "person_id": [p.pk for p in world.persons.values()],
        "dossier_id": [dossier.pk, world.dossier.pk],
        "entry_id": list(TimelineEntry.objects.values_list("pk", flat=True)[:12]),
        "task_id": list(Task.objects.values_list("pk", flat=True)),
        "decision_id": list(Decision.objects.values_list("pk", flat=True)),
        "document_id": list(Document.objects.values_list("pk", flat=True)),
        "message_id": list(Message.objects.values_list("pk", flat=True)),
        "attachment_id": list(Attachment.objects.values_list("pk", flat=True)[:6]),
    }


@pytest.fixture
def wsgi_application() -> Iterator[Any]:
    """Lanterne's WSGI application, inside the test's transaction. Django
    closes a connection whose autocommit is not the configured one at the
    start and end of each request (`close_old_connections`) — which, inside
    the test's transaction, would close PostgreSQL's under the test's feet.
    Its own test client disconnects these handlers around each request; the
    requests schemathesis sends go straight to the application, so they are
    disconnected for the test."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_tokens(token_for: Any) -> dict[str, str]:
    return {"staff": token_for("staff", "write"), "co-owner": token_for("owner_party", "write")}


def _load_schema(application: Any, known: dict[str, list[int]]) -> Any:
    """The served schema, with hooks that draw path ids from existing objects
    as often as from anywhere."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
        if not isinstance(path_parameters, dict):
            return st.just(path_parameters)
        return st.fixed_dictionaries(
            {
                name: st.sampled_from([value, *known.get(name, [])])
                for name, value in path_parameters.items()
            }
        )

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        # A dossier opened in the world's condominium, not only in none.
        if isinstance(body, dict) and "condominium_id" in body:
            return st.sampled_from([body, {**body, "condominium_id": known["condominium_id"][0]}])
        return st.just(body)

    return schema


def test_every_answer_matches_the_schema(
    world: World, api_tokens: dict[str, str], wsgi_application: Any
) -> None:
    """Every operation, with valid requests and with invalid ones (schemathesis'
    positive and negative modes). One database for all of them: the writes
    of one operation are data for the next."""
    schema = _load_schema(wsgi_application, _world_with_data(world))
    statuses: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28
    for operation in operations:
        for mode in (GenerationMode.POSITIVE,):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            def run(case: Any) -> None:
                for secret in api_tokens.values():
                    response = case.call_and_validate(
                        headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS
                    )
                    statuses[(case.method, response.status_code)] += 1

            run()
    # The run reached real objects and real writes, not only 404s and 422s.
    assert statuses[("GET", 200)] > 100, statuses
    assert statuses[("POST", 201)] > 5, statuses
    assert statuses[("PATCH", 200)] > 0, statuses
    assert statuses[("POST", 403)] > 0, statuses


def test_the_schema_describes_every_operation(world: World, client: Any) -> None:
    """The schema is served without a token, in French, with the token scheme
    and the errors of every operation declared."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["components"]["securitySchemes"] == {
        "TokenAuth": {"type": "http", "scheme": "bearer"}
    }
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 28
    for path, method, operation in operations:
        declared = set(operation["responses"])
        assert {"401", "422"} <= declared, (path, method)
        if "{" in path:
            assert "404" in declared, (path, method)
        if method in ("post", "patch"):
            assert "403" in declared, (path, method)
        assert operation["summary"] and operation["operationId"], (path, method)
    assert "Authorization: Bearer lnt_" in document["info"]["description"]


def test_the_documentation_page_keeps_the_policy(world: World, client: Any) -> None:
    """Swagger UI from Lanterne's own static files, started by a static
    script: the page carries the site's policy, loads nothing from elsewhere
    and holds no inline code."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert script_problems(csp) == []
    assert directives(csp)["script-src"] == ["'self'"]
    page = response.content.decode()
    assert inline_code(page) == []
    assert 'data-openapi-url="/api/openapi.json"' in page
    assert "cdn" not in page.lower() and "https://" not in page
    for asset in ("/static/ninja/swagger-ui-bundle.js", "/static/api/docs.js"):
        assert f'src="{asset}"' in page
        served = client.get(asset)
        assert served.status_code == 200, asset
        b"".join(served.streaming_content)
