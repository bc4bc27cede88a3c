"""`lanterne import-mail ARCHIVE.zip`: a dossier's exported ZIP imports back
into another Lanterne with the same messages (the same sha256 of their
bytes), only the mails its manifest lists (not an .eml attached to a mail);
any other ZIP of .eml/.msg files imports its mail members, one at a time,
with too large or damaged members reported and the others imported."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from lanterne.condominiums.models import Agency
from lanterne.mail.models import Message, RawMessage

from ..conftest import World
from ..factories import AgencyFactory
from .conftest import OLD_MAIL, ExportWorld, mail, zip_bytes

pytestmark = pytest.mark.django_db

SUCCESSOR = "Cabinet Successeur"


def import_mail(*paths: Path, agency: str = SUCCESSOR) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import-mail", *[str(p) for p in paths], agency=agency, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def digests(agency: Agency) -> set[str]:
    return set(RawMessage.objects.filter(agency=agency).values_list("sha256", flat=True))


@pytest.fixture
def successor(db: None) -> Agency:
    return AgencyFactory(name=SUCCESSOR, mail_domain="successeur.fr")


def test_a_staff_zip_reimports_with_the_same_messages(
    export_world: ExportWorld, client_for, successor: Agency, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    world = export_world.world
    archive = tmp_path / "dossier.zip"
    archive.write_bytes(
        zip_bytes(client_for("staff").get(reverse("exports:dossier_zip", args=[world.dossier.pk])))
    )
    exported = set(
        Message.objects.filter(dossier=world.dossier).values_list("raw__sha256", flat=True)
    )
    assert len(exported) == 3

    out, err = import_mail(archive)
    assert digests(successor) == exported
    assert "imported (new messages)          3" in out
    assert err == ""
    # The .eml attached to a mail stays an attachment.
    assert not Message.objects.filter(message_id="ancien-1@ancien-syndic.fr").exists()
    # The same bytes: every message parses to the same mail.
    for original in Message.objects.filter(dossier=world.dossier):
        copy = Message.objects.get(agency=successor, raw__sha256=original.raw.sha256)
        assert (copy.message_id, copy.subject, copy.text) == (
            original.message_id,
            original.subject,
            original.text,
        )
        assert copy.attachments.count() == original.attachments.count()

    out, _err = import_mail(archive)
    assert "duplicates                       3" in out
    assert digests(successor) == exported


def test_a_co_owner_zip_holds_only_the_mail_they_may_have_as_received(
    export_world: ExportWorld, client_for, successor: Agency, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "dossier.zip"
    url = reverse("exports:dossier_zip", args=[export_world.world.dossier.pk])
    archive.write_bytes(zip_bytes(client_for("owner_party").get(url)))
    import_mail(archive)
    assert digests(successor) == {export_world.unmasked.raw.sha256}


def _eml(number: int) -> bytes:
    return mail(
        sender="Plomberie Martin <contact@plomberie-martin.fr>",
        subject=f"Devis n° {number}",
        text=f"Voici le devis n° {number}.\n",
        message_id=f"<devis-{number}@plomberie-martin.fr>",
    )


@override_settings(MAIL_MAX_BYTES=3000)
def test_any_zip_of_mail_files_imports_its_mail_members(world: World, tmp_path: Path) -> None:
    large = _eml(9) + b"x" * 4000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("boite/devis-1.eml", _eml(1))
        archive.writestr("boite/Envoyés/devis-2.EML", _eml(2))
        archive.writestr("boite/lisez-moi.txt", "Archives de l'ancien syndic.")
        archive.writestr("boite/gros.eml", large)
        archive.writestr("boite/abime.eml", _eml(3), compress_type=zipfile.ZIP_STORED)
        archive.writestr("boite/ancien.eml", OLD_MAIL)
    data = bytearray(buffer.getvalue())
    # Damage the stored member's bytes: its CRC no longer matches.
    data[data.index(b"devis-3@")] ^= 0x01
    path = tmp_path / "ancien-syndic.zip"
    path.write_bytes(bytes(data))

    out, err = import_mail(path, agency=world.agency.name)
    assert out.startswith("Messages read: 4\n")
    assert "imported (new messages)          3" in out
    assert "refused (too large)              1" in out
    assert "unreadable files                 1" in out
    assert err.splitlines() == [
        f"ancien-syndic.zip/boite/gros.eml: {len(large)} bytes, "
        "over the limit of 3000 bytes: not imported",
        "ancien-syndic.zip/boite/abime.eml: cannot read: Bad CRC-32 for file 'boite/abime.eml'",
    ]
    assert set(
        Message.objects.filter(agency=world.agency).values_list("message_id", flat=True)
    ) == {
        "devis-1@plomberie-martin.fr",
        "devis-2@plomberie-martin.fr",
        "ancien-1@ancien-syndic.fr",
    }
    # Mail found in a Sent folder of the archive is the agency's own.
    sent = Message.objects.get(message_id="devis-2@plomberie-martin.fr")
    assert sent.raw.deliveries.get().folder == "ancien-syndic.zip/boite/Envoyés/devis-2.EML"
    assert sent.raw.deliveries.get().is_sent_folder


def test_a_zip_found_in_a_folder_is_imported_and_a_damaged_one_reported(
    world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "archives"
    folder.mkdir()
    with zipfile.ZipFile(folder / "2019.zip", "w") as archive:
        archive.writestr("devis-1.eml", _eml(1))
    (folder / "tronque.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not mail")
    with zipfile.ZipFile(folder / "photos.zip", "w") as archive:
        archive.writestr("facade.jpg", b"\xff\xd8\xff\xe0 not mail")

    out, err = import_mail(folder, agency=world.agency.name)
    assert "imported (new messages)          1" in out
    assert "unreadable files                 1" in out
    assert "skipped files (not mail)         2" in out
    assert err == "archives/tronque.zip: cannot read: File is not a zip file\n"
