"""Staff file documents in a condominium's space: the form, its French errors,
and the service's guards."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lanterne.audit.models import AuditLog
from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.models import Document
from lanterne.documents.services import condominium_document_upload, document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience

from ..conftest import ROLES

pytestmark = pytest.mark.django_db


def post(client, world, **fields):  # type: ignore[no-untyped-def]
    data = {
        "space": "owners",
        "lot": "",
        "kind": "bylaws",
        "title": "",
        "document_date": "2026-03-02",
        "valid_until": "",
        "file": SimpleUploadedFile("reglement.pdf", b"%PDF-1.4 reglement"),
    }
    data.update(fields)
    return client.post(reverse("documents:create", args=[world.condominium.pk]), data)


def test_staff_file_a_lot_statement(world, client_for):  # type: ignore[no-untyped-def]
    lot = world.condominium.lots.get(number="12")
    response = post(
        client_for("staff"),
        world,
        space="lot",
        lot=str(lot.pk),
        kind="owner_account",
        title="Compte 2025",
        file=SimpleUploadedFile("compte.pdf", b"%PDF-1.4 compte"),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("documents:checklist", args=[world.condominium.pk])
    document = Document.objects.get()
    assert (document.lot, document.audience, document.dossier) == (lot, Audience.PARTIES, None)
    assert document.document_date == dt.date(2026, 3, 2) and document.valid_until is None
    assert AuditLog.objects.filter(summary="Document ajouté : Compte 2025").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"space": "lot"}, "Choisissez le lot auquel ce document se rapporte."),
        (
            {"kind": "owner_account"},
            "Un document « Compte du copropriétaire » se range dans l&#x27;espace "
            "« Un lot : ses copropriétaires seulement ».",
        ),
        (
            {"kind": "bank_statement", "space": "owners"},
            "Un document « Relevé bancaire » se range dans l&#x27;espace « Conseil syndical ».",
        ),
        (
            {"valid_until": "2026-03-01"},
            "La fin de validité ne peut pas précéder la date du document.",
        ),
        ({"document_date": ""}, "Ce champ est obligatoire."),
        ({"document_date": "02/30/2026"}, "Saisissez une date valide."),
        ({"file": ""}, "Aucun fichier n’a été soumis."),
        ({"kind": "nope"}, "Sélectionnez un choix valide."),
    ],
)
def test_form_errors_are_in_french(world, client_for, fields, message):  # type: ignore[no-untyped-def]
    if fields.get("file") == "":
        fields = {**fields, "file": SimpleUploadedFile("vide.pdf", b"")}
        message = "Le fichier soumis est vide."
    response = post(client_for("staff"), world, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.exists()


def test_a_lot_of_another_condominium_is_refused(world, client_for):  # type: ignore[no-untyped-def]
    far_lot = world.other_condominium.lots.get()
    response = post(
        client_for("staff"), world, space="lot", lot=str(far_lot.pk), kind="owner_account"
    )
    assert response.status_code == 400
    assert "Sélectionnez un choix valide" in response.content.decode()
    assert not Document.objects.exists()


def test_service_errors_reach_the_form(world, client_for, settings):  # type: ignore[no-untyped-def]
    settings.DOCUMENT_MAX_BYTES = 5
    response = post(client_for("staff"), world)
    assert response.status_code == 400
    assert "Le fichier dépasse la taille maximale" in response.content.decode()
    assert not Document.objects.exists()


def test_the_form_is_for_staff_of_the_agency(world, client_for):  # type: ignore[no-untyped-def]
    url = reverse("documents:create", args=[world.condominium.pk])
    for role in ROLES:
        client = client_for(role)
        expected = 200 if role == "staff" else (302 if role == "anonymous" else 404)
        assert client.get(url).status_code == expected, role
        if role != "staff":
            post(client, world)
    assert not Document.objects.exists()
    # The checklist's links choose the space of the kind asked for.
    body = client_for("staff").get(url, {"type": "call_for_funds"}).content.decode()
    assert '<option value="lot" selected>' in body
    assert '<option value="call_for_funds" selected>' in body


def test_the_service_guards_the_lot_space(world):  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    v = policy.Viewer.for_user(staff)
    common = {
        "viewer": v,
        "actor": staff,
        "condominium": world.condominium,
        "filename": "compte.pdf",
        "kind": DocumentKind.OWNER_ACCOUNT,
    }
    lot = world.condominium.lots.get(number="12")
    with pytest.raises(ValidationError, match="n'appartient pas à cette copropriété"):
        condominium_document_upload(
            **common,
            space=DocumentSpace.LOT,
            lot=world.other_condominium.lots.get(),
            file=ContentFile(b"x"),
        )
    with pytest.raises(ValidationError, match="se range dans l'espace"):
        condominium_document_upload(**common, space=DocumentSpace.OWNERS, file=ContentFile(b"x"))
    with pytest.raises(ValidationError, match="Seul un document de l'espace d'un lot"):
        condominium_document_upload(
            **{**common, "kind": DocumentKind.BYLAWS},
            space=DocumentSpace.OWNERS,
            lot=lot,
            file=ContentFile(b"x"),
        )
    # A lot's document is never given to a dossier nor to a wider audience.
    with pytest.raises(ValidationError, match="réservé aux copropriétaires du lot"):
        document_upload(**common, audience=Audience.OWNERS, lot=lot, file=ContentFile(b"x"))
    with pytest.raises(ValidationError, match="réservé aux copropriétaires du lot"):
        document_upload(
            **common,
            audience=Audience.PARTIES,
            lot=lot,
            dossier=world.dossier,
            file=ContentFile(b"x"),
        )
    council = world.users["council_chair"]
    with pytest.raises(PermissionDenied):
        condominium_document_upload(
            **{**common, "viewer": policy.Viewer.for_user(council), "actor": council},
            space=DocumentSpace.LOT,
            lot=lot,
            file=ContentFile(b"x"),
        )
    assert not Document.objects.exists()
