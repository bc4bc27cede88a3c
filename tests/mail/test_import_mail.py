"""`lanterne import-mail`: history from .eml, .msg, maildir and mbox files,
read from real files on disk, through the pipeline's own entry points."""

from __future__ import annotations

import errno
import io
import json
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from lanterne.condominiums.models import Agency
from lanterne.mail.choices import Direction, RawFormat, RawState, SourceKind
from lanterne.mail.importing import IMPORT_SOURCE_NAME, is_sent_folder, mbox_messages
from lanterne.mail.models import Delivery, MailSource, Message, RawMessage
from lanterne.mail.services import mail_receive
from lanterne.mail.storage import blob_read

from ..factories import AgencyFactory

REPOSITORY = Path(__file__).resolve().parents[2]
# Real-world samples from other projects (DESIGN.md, "Test data").
CORPORA = REPOSITORY / "tests" / "corpora"


def corpus(name: str) -> Path:
    path = CORPORA / name
    assert path.exists(), f"{path} is missing: the test corpora (tests/corpora) are needed"
    return path


def rfc822(
    message_id: str,
    subject: str,
    *,
    sender: str = "Plomberie Martin <contact@plomberie-martin.fr>",
    to: str = "Cabinet Lumière <gestion@cabinet-lumiere.fr>",
    body: str = "Bonjour,\n\nVeuillez trouver notre devis.\n\nCordialement,\nM. Martin\n",
    extra_headers: str = "",
    newline: str = "\n",
) -> bytes:
    """A small French message, as a mail client would write it."""
    text = (
        f"{extra_headers}"
        f"From: {sender}\n"
        f"To: {to}\n"
        f"Subject: {subject}\n"
        "Date: Mon, 02 Sep 2019 09:15:00 +0200\n"
        f"Message-ID: <{message_id}>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        f"{body}"
    )
    return text.replace("\n", newline).encode()


def mboxrd(messages: list[bytes], *, newline: bytes = b"\n") -> bytes:
    """An mbox file as an mboxrd writer makes it: a From_ line before each
    message, ">" before every ">*From " line, an empty line after each."""
    parts = []
    for message in messages:
        quoted = re.sub(rb"(?m)^(>*From )", rb">\1", message)
        parts.append(b"From MAILER-DAEMON Mon Sep  2 09:15:00 2019" + newline + quoted + newline)
    return b"".join(parts)


def cut(data: bytes, max_message_bytes: int = 1024 * 1024) -> list[bytes | None]:
    return [
        message.data
        for message in mbox_messages(io.BytesIO(data), max_message_bytes=max_message_bytes)
    ]


QUOTING_BODY = (
    "Bonjour,\n\n"
    "From the minutes of the general meeting, the roof works are voted.\n"
    ">From the council: agreed.\n"
    ">>From the chair: agreed too.\n"
    "\n"
    "From 10:30 to 12:00 on 14 March 2019 the water will be cut.\n"
    "Cordialement,\n"
)


# --- The mbox splitter ---------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_mbox_gives_back_each_message_with_from_quoting_undone(newline: str) -> None:
    messages = [
        rfc822("devis-1@plomberie-martin.fr", "Devis fuite lot 12", newline=newline),
        rfc822("ag-2019@cabinet-lumiere.fr", "Procès-verbal", body=QUOTING_BODY, newline=newline),
        rfc822("rappel@plomberie-martin.fr", "Relance", newline=newline),
    ]
    data = mboxrd(messages, newline=newline.encode())
    assert b"\n>From the minutes" in data.replace(b"\r", b"")  # the writer did quote
    assert cut(data) == messages


def test_unquoted_from_line_in_a_body_stays_in_its_message() -> None:
    # mboxo writers leave body lines such as "From time to time" unquoted:
    # CPython's sample has one, after an empty line, at the end of the file.
    data = corpus("cpython-email/mailbox_01.mbox").read_bytes()
    [message] = cut(data)
    assert message is not None
    assert message.startswith(b"From: foo\n")
    assert message.endswith(b"Hello\n\nFrom time to time\n")


def test_mbox_sample_of_mime4j_gives_its_five_messages() -> None:
    # mime4j's reader keeps the empty line that ends each message in the
    # file; RFC 4155 (and Python's mailbox module) give it to the mbox format.
    folder = corpus("mime4j/mbox-test-1")
    expected = [(folder / f"mbox.rlug-{n}").read_bytes()[:-1] for n in range(5)]
    assert cut((folder / "mbox.rlug").read_bytes()) == expected


def test_message_over_the_limit_is_measured_not_kept() -> None:
    small = rfc822("a@plomberie-martin.fr", "Petit")
    large = rfc822("b@plomberie-martin.fr", "Gros", body="x" * 5000 + "\n")
    data = mboxrd([small, large, small])
    found = list(mbox_messages(io.BytesIO(data), max_message_bytes=len(large) - 1))
    assert [message.data for message in found] == [small, None, small]
    assert found[1].size == len(large)
    assert found[1].position == 2
    # At exactly the limit, a message is kept.
    assert cut(data, max_message_bytes=len(large)) == [small, large, small]


def test_mbox_splitter_memory_stays_bounded_on_a_200_mb_file(tmp_path: Path) -> None:
    """The file is written and cut in a fresh Python process, whose peak
    resident memory before and after cutting is compared: held whole, the
    file would add 200 MB."""
    message = rfc822(
        "copie@plomberie-martin.fr",
        "Copie",
        body=QUOTING_BODY + "Une ligne de texte ordinaire dans un courriel de syndic.\n" * 40,
    )
    block = mboxrd([message] * 1000)
    path = tmp_path / "big.mbox"
    with path.open("wb") as out:
        for _ in range(200 * 1024 * 1024 // len(block) + 1):
            out.write(block)
    copies = (200 * 1024 * 1024 // len(block) + 1) * 1000
    script = textwrap.dedent(
        """
        import json, resource, sys
        import django
        django.setup()
        from lanterne.mail.importing import mbox_messages
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        count = size = 0
        with open(sys.argv[1], "rb") as stream:
            for message in mbox_messages(stream, max_message_bytes=50 * 1024 * 1024):
                count += 1
                size += len(message.data)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"count": count, "size": size, "growth_kb": after - before}))
        """
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "LANTERNE_DATA_DIR": str(tmp_path / "data"),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            cwd=REPOSITORY,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert path.stat().st_size > 200 * 1024 * 1024
    finally:
        path.unlink()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["count"] == copies
    assert report["size"] == copies * len(message)
    assert report["growth_kb"] < 50 * 1024


# --- Sent folders --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folders", "sent"),
    [
        (["Sent"], True),
        (["Sent Items.mbox"], True),
        (["Maildir", ".Sent", "cur"], True),
        (["Maildir", ".INBOX.Sent Messages", "new"], True),
        (["Éléments envoyés"], True),
        (["ELEMENTS ENVOYES.mbox"], True),
        (["Maildir", ".&AMk-l&AOk-ments envoy&AOk-s", "cur"], True),  # Dovecot's encoding
        (["Thunderbird", "Envoyés.sbd", "2019"], True),
        (["Maildir", "cur"], False),
        (["Inbox.mbox"], False),
        (["Sentinelle"], False),
        (["Brouillons"], False),
    ],
)
def test_sent_folders_are_recognised(folders: list[str], sent: bool) -> None:
    assert is_sent_folder(folders) is sent


# --- The import ----------------------------------------------------------------------

MAILDIR_A = rfc822("fuite-lot-12@plomberie-martin.fr", "Fuite au plafond du lot 12")
MAILDIR_B = rfc822(
    "sinistre-4711@assurances-rhone.fr",
    "Déclaration de sinistre",
    sender="Assurances du Rhône <sinistres@assurances-rhone.fr>",
)
SENT_D = rfc822(
    "reponse-1@gmail.com",
    "Re: Fuite au plafond du lot 12",
    sender="Sophie Dupont <sophie.dupont.syndic@gmail.com>",
    to="contact@plomberie-martin.fr",
)
SENT_E = rfc822(
    "reponse-2@gmail.com",
    "Convocation du conseil syndical",
    sender="Sophie Dupont <sophie.dupont.syndic@gmail.com>",
    to="conseil@les-tilleuls.fr",
)
EML_F = rfc822(
    "devis-ravalement@facades-lyon.fr", "Devis ravalement", sender="devis@facades-lyon.fr"
)
EML_K = rfc822("relance-k@facades-lyon.fr", "Relance devis", sender="devis@facades-lyon.fr")
MBOX_G = rfc822("ag-2019@cabinet-lumiere.fr", "Procès-verbal de l'AG", body=QUOTING_BODY)
MBOX_H = rfc822("ascenseur@otis.example", "Panne ascenseur", sender="depannage@otis.example")
# The maildir's first message, received through another mailbox: other bytes,
# same Message-ID.
MBOX_A_AGAIN = rfc822(
    "fuite-lot-12@plomberie-martin.fr",
    "Fuite au plafond du lot 12",
    extra_headers="Received: from mx.ancien-hebergeur.fr by mail; Mon, 2 Sep 2019 09:15:03\n",
)
SENT_MBOX_J = rfc822(
    "reponse-3@cabinet-lumiere.fr",
    "Re: Panne ascenseur",
    sender="Sophie Dupont <sophie.dupont.syndic@gmail.com>",
    to="depannage@otis.example",
)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def build_export(root: Path) -> Path:
    """An old mailbox export as an agency brings it: a Dovecot maildir with
    Maildir++ subfolders, folders of .eml, mbox files — and some debris."""
    export = root / "export"
    maildir = export / "Maildir"
    write(maildir / "cur" / "1567408500.M1P1.ancien:2,S", MAILDIR_A)
    write(maildir / "new" / "1567408600.M2P2.ancien", MAILDIR_B)
    # A delivery in progress and the server's index: not messages.
    write(maildir / "tmp" / "1567408700.M3P3.ancien", rfc822("tmp@x.fr", "En cours"))
    write(maildir / "dovecot-uidlist", b"3 V1567408000 N3\n")
    write(maildir / ".Sent" / "cur" / "1567409000.M4P4.ancien:2,S", SENT_D)
    (maildir / ".Sent" / "new").mkdir()
    (maildir / ".Sent" / "tmp").mkdir()
    envoyes = maildir / ".&AMk-l&AOk-ments envoy&AOk-s"
    write(envoyes / "cur" / "1567409100.M5P5.ancien:2,S", SENT_E)
    (envoyes / "new").mkdir()
    (envoyes / "tmp").mkdir()

    archives = export / "archives"
    write(archives / "2019" / "devis.eml", EML_F)
    # Some clients save a message with its mbox From_ line.
    write(
        archives / "2019" / "relance.eml",
        b"From devis@facades-lyon.fr Tue Sep  3 10:00:00 2019\n" + EML_K,
    )
    write(archives / "2020" / "devis-copie.eml", EML_F)
    write(archives / "2019" / "illisible.eml", random.Random(1965).randbytes(4096))
    write(archives / "2019" / "notes.txt", "À relancer en octobre.\n".encode())
    (archives / "2019" / "lien-mort.eml").symlink_to(archives / "nulle-part.eml")
    # Opens, then fails on read (EIO): an I/O error, even for root.
    (archives / "2019" / "disque.eml").symlink_to("/proc/self/mem")

    write(export / "ancien.mbox", mboxrd([MBOX_G, MBOX_H, MBOX_A_AGAIN]))
    write(export / "Envoyés.mbox", mboxrd([SENT_MBOX_J]))
    return export


@pytest.fixture
def agency(db: None) -> Agency:
    return AgencyFactory.create(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")


def import_mail(*paths: Path | str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import-mail", *[str(path) for path in paths], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary(
    *,
    imported: int = 0,
    duplicates: int = 0,
    quarantined: int = 0,
    refused: int = 0,
    unreadable: int = 0,
    skipped: int = 0,
) -> str:
    read = imported + duplicates + quarantined + refused
    return (
        f"Messages read: {read}\n"
        f"  imported (new messages)   {imported:>8}\n"
        f"  duplicates                {duplicates:>8}\n"
        f"  quarantined               {quarantined:>8}\n"
        f"  refused (too large)       {refused:>8}\n"
        f"  unreadable files          {unreadable:>8}\n"
        f"  skipped files (not mail)  {skipped:>8}\n"
    )


def message(message_id: str) -> Message:
    return Message.objects.get(message_id=message_id)


def test_import_of_an_export_stores_every_message_and_says_where_it_came_from(
    agency: Agency, tmp_path: Path
) -> None:
    export = build_export(tmp_path)
    out, err = import_mail(export, tmp_path / "absent")

    assert out == summary(imported=9, duplicates=2, quarantined=1, unreadable=3, skipped=1)
    assert set(err.splitlines()) == {
        "absent: cannot read: No such file or directory",
        "export/archives/2019/disque.eml: cannot read: Input/output error",
        "export/archives/2019/lien-mort.eml: cannot read: No such file or directory",
    }
    assert Message.objects.filter(agency=agency).count() == 9
    source = MailSource.objects.get(agency=agency, kind=SourceKind.IMPORT)
    assert source.name == IMPORT_SOURCE_NAME
    assert not Delivery.objects.exclude(source=source).exists()

    # Each delivery names the file it came from.
    inbox = message("fuite-lot-12@plomberie-martin.fr")
    assert [(d.folder, d.is_sent_folder) for d in inbox.raw.deliveries.all()] == [
        ("export/Maildir/cur/1567408500.M1P1.ancien:2,S", False)
    ]
    assert inbox.direction == Direction.INBOUND
    assert message("sinistre-4711@assurances-rhone.fr").raw.deliveries.get().folder == (
        "export/Maildir/new/1567408600.M2P2.ancien"
    )
    assert not Message.objects.filter(message_id="tmp@x.fr").exists()

    # Sent folders: a Maildir++ folder, one in modified UTF-7, an mbox.
    for message_id, folder in [
        ("reponse-1@gmail.com", "export/Maildir/.Sent/cur/1567409000.M4P4.ancien:2,S"),
        (
            "reponse-2@gmail.com",
            "export/Maildir/.&AMk-l&AOk-ments envoy&AOk-s/cur/1567409100.M5P5.ancien:2,S",
        ),
        ("reponse-3@cabinet-lumiere.fr", "export/Envoyés.mbox"),
    ]:
        sent = message(message_id)
        delivery = sent.raw.deliveries.get()
        assert (delivery.folder, delivery.is_sent_folder) == (folder, True)
        assert sent.direction == Direction.OUTBOUND

    # mbox messages are stored as they were written, From_ line and quoting gone.
    minutes = message("ag-2019@cabinet-lumiere.fr")
    assert blob_read(minutes.raw.storage_name) == MBOX_G
    assert minutes.raw.deliveries.get().folder == "export/ancien.mbox"
    assert blob_read(message("relance-k@facades-lyon.fr").raw.storage_name) == EML_K

    # Same bytes twice: one raw message, two deliveries.
    quote = message("devis-ravalement@facades-lyon.fr")
    assert sorted(d.folder for d in quote.raw.deliveries.all()) == [
        "export/archives/2019/devis.eml",
        "export/archives/2020/devis-copie.eml",
    ]
    # Same Message-ID, other bytes: kept, marked as a duplicate of the first.
    again = RawMessage.objects.get(agency=agency, state=RawState.DUPLICATE)
    assert again.duplicate_of == inbox
    assert again.deliveries.get().folder == "export/ancien.mbox"

    # Random bytes named .eml: quarantined by the pipeline, not lost.
    broken = RawMessage.objects.get(agency=agency, state=RawState.QUARANTINED)
    assert broken.deliveries.get().folder == "export/archives/2019/illisible.eml"
    assert broken.error


def test_importing_again_finds_only_duplicates(agency: Agency, tmp_path: Path) -> None:
    export = build_export(tmp_path)
    import_mail(export)
    counts = (Message.objects.count(), RawMessage.objects.count(), Delivery.objects.count())

    out, _err = import_mail(export)

    assert out == summary(duplicates=12, unreadable=2, skipped=1)
    assert (Message.objects.count(), RawMessage.objects.count(), Delivery.objects.count()) == (
        counts
    )


def test_a_message_stored_but_not_parsed_is_finished_by_the_next_import(
    agency: Agency, tmp_path: Path
) -> None:
    # An earlier import stopped between storing the bytes and parsing them.
    mail_receive(agency=agency, data=EML_F)
    path = write(tmp_path / "devis.eml", EML_F)

    out, _err = import_mail(path)

    assert out == summary(imported=1)
    assert message("devis-ravalement@facades-lyon.fr").raw.state == RawState.PARSED


def test_a_failure_of_lanterne_storage_stops_the_import(
    agency: Agency, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not to be mistaken for an unreadable file: going on would fail every
    # following message the same way.
    def disk_full(data: bytes, *, kind: str) -> tuple[str, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    # Every place the pipeline stores bytes from (one message, or a batch).
    monkeypatch.setattr("lanterne.mail.services.blob_put", disk_full)
    monkeypatch.setattr("lanterne.mail.batch.blob_put", disk_full)
    write(tmp_path / "mail" / "devis.eml", EML_F)
    write(tmp_path / "mail" / "relance.eml", EML_K)
    with pytest.raises(OSError, match="No space left on device"):
        import_mail(tmp_path / "mail")
    assert not RawMessage.objects.exists()


def test_outlook_msg_files_and_real_samples(agency: Agency, tmp_path: Path) -> None:
    msg_folder = corpus("msg-extractor")
    out, _err = import_mail(
        msg_folder / "unicode.msg",
        msg_folder / "strangeDate.msg",
        corpus("cpython-email/mailbox_01.mbox"),
        corpus("thunderbird-mailnews"),
    )
    # The Thunderbird folder holds four .eml files and its NOTICE.
    assert out == summary(imported=7, skipped=1)
    outlook = RawMessage.objects.filter(format=RawFormat.OUTLOOK_MSG)
    assert sorted(raw.deliveries.get().folder for raw in outlook) == [
        "strangeDate.msg",
        "unicode.msg",
    ]
    # Stored as they are.
    for raw in outlook:
        folder = raw.deliveries.get().folder
        assert blob_read(raw.storage_name) == (msg_folder / folder).read_bytes()
    assert all(raw.state == RawState.PARSED for raw in outlook)


@override_settings(MAIL_MAX_BYTES=3000)
def test_messages_over_the_size_limit_are_refused_and_reported(
    agency: Agency, tmp_path: Path
) -> None:
    large = rfc822("gros@plomberie-martin.fr", "Plans", body="x" * 4000 + "\n")
    write(tmp_path / "mail" / "gros.eml", large)
    write(tmp_path / "mail" / "archive.mbox", mboxrd([MAILDIR_B, large, MBOX_H]))

    out, err = import_mail(tmp_path / "mail")

    assert out == summary(imported=2, refused=2)
    assert err.splitlines() == [
        f"mail/archive.mbox (message 2, at byte {len(mboxrd([MAILDIR_B]))}): "
        f"{len(large)} bytes, over the limit of 3000 bytes: not imported",
        f"mail/gros.eml: {len(large)} bytes, over the limit of 3000 bytes: not imported",
    ]
    assert not Message.objects.filter(message_id="gros@plomberie-martin.fr").exists()


def test_nothing_read_is_an_error(agency: Agency, tmp_path: Path) -> None:
    (tmp_path / "vide").mkdir()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="Nothing could be read"):
        call_command(
            "import-mail", str(tmp_path / "vide"), str(tmp_path / "absent"), stdout=out, stderr=err
        )
    assert out.getvalue() == summary(unreadable=1)
    assert not MailSource.objects.exclude(kind=SourceKind.IMPORT).exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_only(agency: Agency, tmp_path: Path) -> None:
    path = write(tmp_path / "ancien.mbox", mboxrd([MBOX_G, MBOX_H]))
    terminal = Terminal()
    call_command("import-mail", str(path), stdout=terminal, stderr=io.StringIO())
    progress, rest = terminal.getvalue().split("\n", 1)
    size = path.stat().st_size / 1e6
    assert progress.startswith("\rmessages: ")
    assert progress.endswith(
        f"\rmessages: 2 · {size:.1f}/{size:.1f} MB (100%) · new 2, duplicates 0, quarantined 0"
    )
    assert rest == summary(imported=2)

    out, _err = import_mail(path)
    assert "\r" not in out


def test_import_into_a_dossier_files_every_message_there_as_a_manual_filing(
    world: object, tmp_path: Path
) -> None:
    from lanterne.audit.models import AuditLog
    from lanterne.dossiers.models import TimelineEntry
    from lanterne.mail.models import FilingMethod

    agency, dossier = world.agency, world.dossier  # type: ignore[attr-defined]
    # One message imported before from another folder, and the dossier's own
    # folder imported once without --dossier (to triage): all filed now.
    write(tmp_path / "before" / "devis.eml", EML_F)
    call_command(
        "import-mail", str(tmp_path / "before"), "--agency", agency.name, stdout=io.StringIO()
    )
    write(tmp_path / "dossier" / "devis.eml", EML_F)
    write(tmp_path / "dossier" / "relance.eml", EML_K)
    call_command(
        "import-mail", str(tmp_path / "dossier"), "--agency", agency.name, stdout=io.StringIO()
    )
    assert not Message.objects.filter(agency=agency, dossier__isnull=False).exists()
    out = io.StringIO()
    call_command(
        "import-mail", str(tmp_path / "dossier"), "--agency", agency.name,
        "--dossier", dossier.reference, stdout=out,
    )  # fmt: skip
    assert "Filed into the dossier: 2" in out.getvalue()
    messages = Message.objects.filter(agency=agency)
    assert messages.count() == 2
    for message in messages:
        assert message.dossier_id == dossier.pk
        assert message.filing_method == FilingMethod.MANUAL
        assert TimelineEntry.objects.filter(message=message).count() == 1
    assert AuditLog.objects.filter(summary__contains=dossier.reference).count() == 2

    # Again: nothing new to file, nothing written twice.
    out = io.StringIO()
    call_command(
        "import-mail", str(tmp_path / "dossier"), "--agency", agency.name,
        "--dossier", dossier.reference, stdout=out,
    )  # fmt: skip
    assert "Filed into the dossier" not in out.getvalue()
    assert AuditLog.objects.filter(summary__contains=dossier.reference).count() == 2

    with pytest.raises(CommandError, match="No dossier 'DOS-1999-0001'"):
        call_command(
            "import-mail", str(tmp_path / "dossier"), "--agency", agency.name,
            "--dossier", "DOS-1999-0001", stdout=io.StringIO(),
        )  # fmt: skip
