"""`lanterne export-agency`: the whole of an agency in one ZIP for a
successor syndic — a folder per condominium and dossier, the mail filed
nowhere and the mail never processed, every message as JSON Lines, one
manifest with the sha256 of every file — which imports back
(`lanterne import-mail`) into a fresh agency with the same stored mail."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from lanterne.audit.models import AuditLog
from lanterne.condominiums.models import Agency
from lanterne.documents.choices import DocumentSpace
from lanterne.documents.services import condominium_document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail.choices import RawState
from lanterne.mail.models import Message, RawMessage
from lanterne.mail.services import mail_receive, mail_receive_and_process

from ..conftest import World
from ..factories import AgencyFactory, DossierFactory
from .conftest import QUOTE_PDF, ExportWorld, mail, receive_and_file, zip_members

pytestmark = pytest.mark.django_db

CORPORA = Path(__file__).resolve().parent.parent / "corpora"


def stored_digests(agency: Agency) -> set[str]:
    return set(
        RawMessage.objects.filter(agency=agency)
        .exclude(storage_name="")
        .values_list("sha256", flat=True)
    )


@pytest.fixture
def agency_world(export_world: ExportWorld) -> ExportWorld:
    """The export world, and the rest of an agency: a second condominium's
    dossier, a document of the condominium's space, mail in triage (an
    Outlook .msg among it), a second copy of a filed mail, a mail stored but
    never processed — and the neighbouring agency's mail, to leak."""
    world = export_world.world
    staff = policy.Viewer.for_user(world.users["staff"])
    other_dossier = DossierFactory(
        condominium=world.other_condominium, title="Ravalement de façade", audience=Audience.OWNERS
    )
    world_other = World(**{**world.__dict__, "dossier": other_dossier})
    receive_and_file(
        world_other,
        mail(
            sender="Façades Lyon <devis@facades-lyon.fr>",
            subject="Devis ravalement",
            text="Veuillez trouver notre devis.\n",
            message_id="<ravalement-1@facades-lyon.fr>",
        ),
        None,
    )
    condominium_document_upload(
        viewer=staff,
        actor=world.users["staff"],
        condominium=world.condominium,
        space=DocumentSpace.OWNERS,
        file=ContentFile(b"Reglement de copropriete"),
        filename="règlement.pdf",
        kind="bylaws",
        title="Règlement de copropriété",
    )
    mail_receive_and_process(
        agency=world.agency,
        data=mail(
            sender="Inconnu <inconnu@exemple.org>",
            subject="Question sans dossier",
            text="Bonjour, une question.\n",
            message_id="<question-1@exemple.org>",
            attachments=(("plan.pdf", "application/pdf", b"%PDF-1.4 plan du sous-sol"),),
        ),
    )
    mail_receive_and_process(
        agency=world.agency, data=(CORPORA / "msg-extractor" / "unicode.msg").read_bytes()
    )
    copy = mail_receive_and_process(
        agency=world.agency,
        data=mail(
            sender="Frédéric Martin <f.martin@plomberie-martin.fr>",
            subject="Recherche de fuite au lot 12",
            text="La même, reçue par une autre boîte.\n",
            message_id="<fuite-1@plomberie-martin.fr>",
        ),
    )
    assert copy.raw.state == RawState.DUPLICATE
    waiting = mail_receive(
        agency=world.agency,
        data=mail(
            sender="Lent <lent@exemple.org>",
            subject="Pas encore traité",
            text="En attente.\n",
            message_id="<lent-1@exemple.org>",
        ),
    )
    assert waiting.raw.state == RawState.STORED
    mail_receive_and_process(
        agency=world.other_agency,
        data=mail(
            sender="Voisin <voisin@exemple.org>",
            subject="Courriel du cabinet voisin",
            text="Rien à voir.\n",
            message_id="<voisin-1@voisin.fr>",
        ),
    )
    return export_world


def export_agency(output: Path, agency: str = "Cabinet Lumière") -> str:
    out = io.StringIO()
    call_command(
        "export-agency", output=str(output), agency=agency, stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


def test_the_agency_archive_holds_everything_and_reimports(
    agency_world: ExportWorld, tmp_path: Path
) -> None:
    world = agency_world.world
    output = tmp_path / "cabinet-lumiere.zip"
    out = export_agency(output)
    assert out.startswith(f"Wrote {output}: 2 condominiums, 2 dossiers, ")
    assert not output.with_name(output.name + ".partial").exists()

    members = zip_members(output.read_bytes())
    manifest = json.loads(members["manifest.json"])
    assert (manifest["format"], manifest["kind"], manifest["agency"]) == (
        "lanterne-export",
        "agency",
        "Cabinet Lumière",
    )
    for path in members:
        assert not path.startswith("/") and ".." not in path.split("/"), path
    listed = {row["path"]: row for row in manifest["files"]}
    assert set(listed) == set(members) - {"manifest.json"}
    for path, row in listed.items():
        assert row["sha256"] == hashlib.sha256(members[path]).hexdigest(), path

    # A folder per condominium and dossier, as a dossier's ZIP for staff.
    reference = world.dossier.reference
    dossier_folder = f"Les Tilleuls/{reference}/"
    assert members[f"{dossier_folder}{reference}.pdf"].startswith(b"%PDF-")
    dossier_manifest = json.loads(members[f"{dossier_folder}manifest.json"])
    assert dossier_manifest["scope"] == "complete"
    assert {row["path"] for row in dossier_manifest["files"]} == {
        path.removeprefix(dossier_folder)
        for path in members
        if path.startswith(dossier_folder) and path != f"{dossier_folder}manifest.json"
    }
    assert (
        members[
            f"{dossier_folder}courriels/001-2026-03-03-recherche-de-fuite-au-lot-12/devis-recherche-fuite.pdf"
        ]
        == QUOTE_PDF
    )
    assert members[f"{dossier_folder}documents/note-interne.txt"] == b"note interne du cabinet"
    assert members["Les Tilleuls/documents/règlement.pdf"] == b"Reglement de copropriete"
    assert any(
        path.startswith("Le Belvédère/DOS-") and path.endswith("-devis-ravalement.eml")
        for path in members
    )
    # The copy of a filed mail goes with it.
    assert (
        f"{dossier_folder}courriels/001-2026-03-03-recherche-de-fuite-au-lot-12-copie-1.eml"
        in members
    )
    # Mail in no dossier, as received; mail never processed.
    unfiled = [path for path in members if path.startswith("courriels-non-classes/")]
    assert "courriels-non-classes/000001-2026-03-03-question-sans-dossier.eml" in unfiled
    assert (
        members["courriels-non-classes/000001-2026-03-03-question-sans-dossier/plan.pdf"]
        == b"%PDF-1.4 plan du sous-sol"
    )
    assert any(path.endswith(".msg") for path in unfiled)
    assert [path for path in members if path.startswith("courriels-non-traites/")] == [
        "courriels-non-traites/000001-stored.eml"
    ]
    # Every message of the agency as JSON Lines, none of the neighbour's.
    rows = [json.loads(line) for line in members["courriels.jsonl"].decode().splitlines()]
    assert {row["message_id"] for row in rows} == set(
        Message.objects.filter(agency=world.agency).values_list("message_id", flat=True)
    )
    for content in members.values():
        assert b"Courriel du cabinet voisin" not in content
        assert b"voisin-1@voisin.fr" not in content

    # Every stored mail of the agency is in it, and nothing else.
    source = stored_digests(world.agency)
    assert len(source) == 8
    originals = {row["sha256"] for row in manifest["files"] if row["kind"] == "message"}
    assert originals == source

    # Imported into a fresh agency: the same stored mail, byte for byte.
    successor = AgencyFactory(name="Cabinet Successeur", mail_domain="successeur.fr")
    imported = io.StringIO()
    call_command(
        "import-mail", str(output), agency=successor.name, stdout=imported, stderr=io.StringIO()
    )
    assert stored_digests(successor) == source
    assert "Messages read: 8\n" in imported.getvalue()
    assert AuditLog.objects.filter(object_type="agency_export", agency=world.agency).count() == 1


def test_an_existing_file_is_never_overwritten(world: World, tmp_path: Path) -> None:
    output = tmp_path / "archive.zip"
    output.write_bytes(b"autre chose")
    with pytest.raises(CommandError, match="exists already"):
        export_agency(output)
    assert output.read_bytes() == b"autre chose"
