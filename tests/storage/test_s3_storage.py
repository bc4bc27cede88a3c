"""Documents, raw mail and attachments on S3-compatible object storage
(`LANTERNE_STORAGE=s3`), against a real moto server (tests/storage/conftest.py):
what lands in the bucket, what is read back from it, what is never uploaded
twice, and what happens when the store fails during an import."""

from __future__ import annotations

import hashlib
import io
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from lanterne.condominiums.models import Agency
from lanterne.core.storage import ObjectStoreError, PrivateS3Storage
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail.choices import RawState
from lanterne.mail.models import Attachment, Message, RawMessage
from lanterne.mail.services import mail_receive
from lanterne.mail.storage import (
    DurableFileSystemStorage,
    S3BlobStorage,
    blob_name,
    blob_open,
    blob_put,
    blob_read,
)

from ..conftest import World
from ..exports.conftest import OLD_MAIL, QUOTE_PDF, build_export_world, zip_bytes, zip_members
from ..factories import AgencyFactory
from .conftest import S3Store, local_files, s3_settings

pytestmark = pytest.mark.django_db

DEVIS = b"%PDF-1.4\n% devis pour la reprise de la canalisation\n" + bytes(range(256)) * 4
PLAN = b"\x89PNG\r\n\x1a\n plan du 3e etage" + bytes(64)


def french_mail(number: int, *, attachments: tuple[tuple[str, str, bytes], ...] = ()) -> bytes:
    message = EmailMessage()
    message["From"] = "Plomberie Martin <contact@plomberie-martin.fr>"
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Subject"] = f"Fuite au lot 12 — devis n° {number}"
    message["Date"] = "Tue, 03 Mar 2026 09:14:00 +0100"
    message["Message-ID"] = f"<devis-{number}@plomberie-martin.fr>"
    message.set_content(f"Bonjour,\n\nVoici notre devis n° {number}.\n\nCordialement,\nM. Martin\n")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@pytest.fixture
def agency() -> Agency:
    return AgencyFactory.create(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")


def local_stores() -> set[Path]:
    data = Path(django_settings.DATA_DIR)
    return local_files(data / "mail") | local_files(data / "files")


def import_mail(*paths: Path) -> str:
    out = io.StringIO()
    call_command("import-mail", *[str(path) for path in paths], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def count_puts(storage: Any) -> list[str]:
    """The keys of the PUTs the storage's client sends from now on (the
    client's own event hooks: the requests still go to the server)."""
    keys: list[str] = []

    def record(params: dict[str, Any], **_kwargs: Any) -> None:
        keys.append(params["Key"])

    storage.connection.meta.client.meta.events.register(
        "before-parameter-build.s3.PutObject", record
    )
    return keys


# --- Settings -------------------------------------------------------------------------


def test_settings_choose_the_store() -> None:
    local = s3_settings(bucket="b", endpoint="", environ={"LANTERNE_STORAGE": "local"})
    assert local["STORAGES"]["mail"]["BACKEND"] == "lanterne.mail.storage.DurableFileSystemStorage"

    made = s3_settings(bucket="archives", endpoint="https://s3.fr-par.example.com")["STORAGES"]
    assert made["default"]["BACKEND"] == "lanterne.core.storage.PrivateS3Storage"
    assert made["mail"]["BACKEND"] == "lanterne.mail.storage.S3BlobStorage"
    assert made["default"]["OPTIONS"]["location"] == "files"
    assert made["mail"]["OPTIONS"]["location"] == "mail"
    assert {made[alias]["OPTIONS"]["bucket_name"] for alias in ("default", "mail")} == {"archives"}

    # Without keys, boto3's default chain finds the credentials.
    chain = s3_settings(
        bucket="archives",
        endpoint="",
        environ={"LANTERNE_S3_ACCESS_KEY_ID": "", "LANTERNE_S3_SECRET_ACCESS_KEY": ""},
    )["STORAGES"]["mail"]["OPTIONS"]
    assert (chain["access_key"], chain["secret_key"], chain["endpoint_url"]) == (None, None, None)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LANTERNE_S3_BUCKET": ""}, "LANTERNE_STORAGE=s3 needs LANTERNE_S3_BUCKET"),
        ({"LANTERNE_STORAGE": "ftp"}, "LANTERNE_STORAGE must be local or s3, not 'ftp'"),
        (
            {"LANTERNE_S3_SECRET_ACCESS_KEY": ""},
            "Set both LANTERNE_S3_ACCESS_KEY_ID and LANTERNE_S3_SECRET_ACCESS_KEY, or neither",
        ),
        (
            {"LANTERNE_S3_ENDPOINT_URL": "s3.example.com"},
            "LANTERNE_S3_ENDPOINT_URL must start with https://",
        ),
    ],
)
def test_incomplete_s3_settings_are_refused_with_what_to_set(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        s3_settings(bucket="archives", endpoint="http://127.0.0.1:9", environ=environ)


# --- Mail -----------------------------------------------------------------------------


def test_imported_mail_and_attachments_land_in_the_bucket_under_their_digest(
    s3: S3Store, agency: Agency, tmp_path: Path
) -> None:
    assert isinstance(storages["mail"], S3BlobStorage)
    before = local_stores()
    folder = tmp_path / "export"
    folder.mkdir()
    first = french_mail(
        1, attachments=(("devis.pdf", "application/pdf", DEVIS), ("plan.png", "image/png", PLAN))
    )
    second = french_mail(2)
    (folder / "1.eml").write_bytes(first)
    (folder / "2.eml").write_bytes(second)

    out = import_mail(folder)

    assert "imported (new messages)          2" in out
    expected = {
        f"mail/{blob_name('raw', hashlib.sha256(first).hexdigest())}": first,
        f"mail/{blob_name('raw', hashlib.sha256(second).hexdigest())}": second,
        f"mail/{blob_name('attachments', hashlib.sha256(DEVIS).hexdigest())}": DEVIS,
        f"mail/{blob_name('attachments', hashlib.sha256(PLAN).hexdigest())}": PLAN,
    }
    assert s3.keys() == set(expected)
    for key, data in expected.items():
        assert s3.get(f"{s3.prefix}/{key}") == data
    attachments = Attachment.objects.order_by("position")
    assert [blob_read(item.storage_name) for item in attachments] == [DEVIS, PLAN]
    # Nothing was written to the local data folder.
    assert local_stores() == before


def test_a_received_message_is_in_the_bucket_when_mail_receive_returns(
    s3: S3Store, agency: Agency
) -> None:
    data = french_mail(3, attachments=(("devis.pdf", "application/pdf", DEVIS),))
    result = mail_receive(agency=agency, data=data)
    # Received, not processed yet: the raw bytes are in the bucket already.
    assert s3.keys("mail") == {f"mail/{result.raw.storage_name}"}
    assert s3.get(s3.key("mail", result.raw.storage_name)) == data


def test_reprocess_mail_reads_the_raw_bytes_from_the_bucket(s3: S3Store, agency: Agency) -> None:
    data = french_mail(4, attachments=(("devis.pdf", "application/pdf", DEVIS),))
    raw = mail_receive(agency=agency, data=data).raw
    assert raw.state == RawState.STORED and not Message.objects.exists()

    out = io.StringIO()
    call_command("reprocess-mail", stdout=out)

    assert "Reprocessed 1 messages" in out.getvalue()
    raw.refresh_from_db()
    assert raw.state == RawState.PARSED
    message = Message.objects.get(raw=raw)
    assert message.subject == "Fuite au lot 12 — devis n° 4"
    attachment = message.attachments.get()
    assert s3.get(s3.key("mail", attachment.storage_name)) == DEVIS


def test_a_blob_already_in_the_bucket_is_not_uploaded_again(
    s3: S3Store, agency: Agency, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    # Two messages with the same attachment: one object for it.
    (folder / "1.eml").write_bytes(
        french_mail(5, attachments=(("devis.pdf", "application/pdf", DEVIS),))
    )
    (folder / "2.eml").write_bytes(
        french_mail(6, attachments=(("devis.pdf", "application/pdf", DEVIS),))
    )
    puts = count_puts(storages["mail"])

    import_mail(folder)

    devis_key = s3.key("mail", blob_name("attachments", hashlib.sha256(DEVIS).hexdigest()))
    assert sorted(puts).count(devis_key) == 1
    assert len(puts) == 3  # two raw messages, one attachment

    # The same files again: all duplicates, nothing uploaded.
    puts.clear()
    out = import_mail(folder)
    assert "duplicates                       2" in out
    assert puts == []

    # Outside a batch too (the SMTP receiver, IMAP): a HEAD, no PUT.
    sha, name = blob_put(DEVIS, kind="attachments")
    assert puts == [] and s3.key("mail", name) == devis_key
    blob_put(b"une nouvelle piece", kind="attachments")
    assert len(puts) == 1


def test_a_stored_file_is_read_where_it_is_sought_and_in_the_version_it_measured(
    s3: S3Store,
) -> None:
    data = bytes(range(256)) * 4096
    _sha, name = blob_put(data, kind="attachments")
    with blob_open(name) as handle:
        assert handle.seek(0, io.SEEK_END) == len(data)
        handle.seek(700_000)
        assert handle.read(16) == data[700_000:700_016]
        handle.seek(3)
        assert handle.read(4) == data[3:7]

    handle = blob_open(name)
    # Replaced between the look-up and the read (which nothing in Lanterne
    # does to a blob): the read fails rather than mixing two versions.
    s3.client.put_object(Bucket=s3.bucket, Key=s3.key("mail", name), Body=b"autre chose")
    with handle, pytest.raises(ObjectStoreError, match="PreconditionFailed"):
        handle.read()


def test_a_store_failure_during_an_import_commits_nothing_and_says_where(
    failing_s3: S3Store, agency: Agency, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    for number in (7, 8, 9):
        (folder / f"{number}.eml").write_bytes(
            french_mail(number, attachments=(("devis.pdf", "application/pdf", DEVIS),))
        )
    failing_s3.server.stop()

    with pytest.raises(ObjectStoreError) as failure:
        import_mail(folder)

    message = str(failure.value)
    assert f"S3 bucket {failing_s3.bucket!r} at {failing_s3.server.endpoint}" in message
    assert "Could not connect to the endpoint URL" in message
    # Nothing names a blob the store did not take.
    assert not RawMessage.objects.exists()
    assert not Message.objects.exists()

    # The store is back (empty: moto keeps nothing): the same import succeeds.
    failing_s3.server.start()
    failing_s3.server.create_bucket(failing_s3.bucket)
    out = import_mail(folder)
    assert "imported (new messages)          3" in out
    assert len(failing_s3.keys("mail/raw")) == 3


def test_refused_credentials_stop_the_import_with_the_store_s_answer(
    refusing_s3: S3Store, agency: Agency, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "1.eml").write_bytes(french_mail(11))

    with pytest.raises(ObjectStoreError) as failure:
        import_mail(folder)

    message = str(failure.value)
    assert f"S3 bucket {refusing_s3.bucket!r} at {refusing_s3.server.endpoint} refused" in message
    assert "403" in message
    assert not RawMessage.objects.exists()


def test_a_store_failure_in_mail_receive_records_nothing(
    failing_s3: S3Store, agency: Agency
) -> None:
    failing_s3.server.stop()
    with pytest.raises(ObjectStoreError, match="could not look up"):
        mail_receive(agency=agency, data=french_mail(10))
    assert not RawMessage.objects.exists()


# --- Documents ------------------------------------------------------------------------


def test_a_document_is_uploaded_to_the_bucket_and_downloaded_through_the_access_check(
    s3: S3Store, world: World, client_for: Any
) -> None:
    assert isinstance(storages["default"], PrivateS3Storage)
    content = b"%PDF-1.4 rapport de recherche de fuite" + bytes(range(256)) * 2000
    response = client_for("staff").post(
        reverse("dossiers:document_create", args=[world.dossier.pk]),
        {
            "document-file": SimpleUploadedFile("rapport.pdf", content),
            "document-kind": "report",
            "document-title": "Rapport de recherche de fuite",
            "document-audience": Audience.PARTIES,
        },
    )
    assert response.status_code == 302
    document = Document.objects.get()
    name = document.file.name or ""
    key = s3.key("files", name)
    assert s3.keys("files") == {f"files/{name}"}
    assert s3.get(key) == content
    # Private: the owner alone has rights on the object.
    grants = s3.client.get_object_acl(Bucket=s3.bucket, Key=key)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert "URI" not in grants[0]["Grantee"]
    # And no URL is ever made for it.
    with pytest.raises(NotImplementedError):
        document.file.url  # noqa: B018

    url = reverse("documents:download", args=[document.pk])
    download = client_for("owner_party").get(url)
    assert download.status_code == 200
    assert download["Content-Length"] == str(len(content))
    assert download["Content-Disposition"].startswith('attachment; filename="rapport.pdf"')
    assert b"".join(download.streaming_content) == content
    assert client_for("owner_not_party").get(url).status_code == 404
    assert client_for("owner_other_condominium").get(url).status_code == 404
    assert client_for("staff_other_agency").get(url).status_code == 404


def test_two_documents_of_the_same_name_keep_both_files(s3: S3Store, world: World) -> None:
    storage = storages["default"]
    assert isinstance(storage, PrivateS3Storage)
    first = storage.save("documents/devis.pdf", ContentFile(b"premier"))
    second = storage.save("documents/devis.pdf", ContentFile(b"second"))
    assert first != second
    assert s3.get(s3.key("files", first)) == b"premier"
    assert s3.get(s3.key("files", second)) == b"second"


def test_a_document_missing_from_the_bucket_is_a_404(
    s3: S3Store, world: World, client_for: Any
) -> None:
    document = document_upload(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        condominium=world.condominium,
        dossier=world.dossier,
        file=ContentFile(b"constat"),
        filename="constat.pdf",
        kind="report",
        audience=Audience.OWNERS,
    )
    s3.client.delete_object(Bucket=s3.bucket, Key=s3.key("files", document.file.name or ""))
    url = reverse("documents:download", args=[document.pk])
    assert client_for("owner_party").get(url).status_code == 404


# --- Exports --------------------------------------------------------------------------


def test_the_dossier_zip_and_attachment_downloads_read_from_the_bucket(
    s3: S3Store, world: World, client_for: Any
) -> None:
    before = local_stores()
    export_world = build_export_world(world)
    published = export_world.published
    assert s3.get(s3.key("mail", published.raw.storage_name)) == blob_read(
        published.raw.storage_name
    )

    response = client_for("staff").get(reverse("exports:dossier_zip", args=[world.dossier.pk]))

    assert response.status_code == 200
    members = zip_members(zip_bytes(response))
    by_content = {data: path for path, data in members.items()}
    assert QUOTE_PDF in by_content and OLD_MAIL in by_content
    assert members["documents/constat-amiable.pdf"] == b"%PDF-1.4 constat amiable"
    for message in (published, export_world.unmasked, export_world.internal):
        original = s3.get(s3.key("mail", message.raw.storage_name))
        assert hashlib.sha256(original).hexdigest() == message.raw.sha256
        assert original in by_content
    assert local_stores() == before

    # An attachment, streamed from the bucket after the access check.
    quote = published.attachments.get(filename="devis-recherche-fuite.pdf")
    url = reverse("mail:attachment_download", args=[quote.pk])
    download = client_for("owner_party").get(url)
    assert download.status_code == 200
    assert download["Content-Length"] == str(len(QUOTE_PDF))
    assert b"".join(download.streaming_content) == QUOTE_PDF
    assert client_for("owner_other_condominium").get(url).status_code == 404
    assert client_for("staff_other_agency").get(url).status_code == 404


def test_the_local_store_stays_the_default() -> None:
    assert isinstance(storages["mail"], DurableFileSystemStorage)
