"""Fault injection on the ingestion: `lanterne import-mail` killed with SIGKILL
at random moments, again and again, then run to completion, ends with every
message exactly once — no loss, no duplicate, nothing left half-done.

Everything is real: 1,000 distinct French messages written as a maildir,
a data folder of its own, the `lanterne` command run as a separate process,
and a database of its own — a SQLite file in the data folder, or, when the
test session runs on PostgreSQL (`DATABASE_URL`), a database created for this
test and dropped after it. The state is then read straight from the database
and the raw store, not through Lanterne's code.

The kills land at random moments, spread over the import (the seed is
printed; set LANTERNE_FAULT_SEED to replay a run's choices)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import quopri
import random
import re
import signal
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path

import pytest

from benchmarks.installations import DatabaseReader, with_database
from lanterne.mail.choices import RawState
from lanterne.mail.importing import import_source, mail_import
from lanterne.mail.models import Delivery, Message, RawMessage
from lanterne.mail.services import mail_receive

from ..factories import AgencyFactory

MESSAGES = 1_000
KILLS = 5
DONE = "SELECT COUNT(*) FROM mail_message"
AGENCY = "Cabinet Lumière"
AGENCY_DOMAIN = "cabinet-lumiere.fr"

# --- A corpus of distinct, realistic messages -------------------------------------------

_SENTENCES = [
    "Suite à notre échange de ce matin, je vous confirme notre passage jeudi.",
    "Le locataire du lot signale des traces d'humidité au plafond de la salle de bains.",
    "Vous trouverez ci-joint notre devis pour le remplacement de la porte de garage.",
    "Le conseil syndical souhaite deux devis comparatifs avant toute décision.",
    "La coupure d'eau est prévue de 9 h à 12 h, merci de prévenir les occupants.",
    "L'expert de l'assurance passera constater les dommages mardi à 14 h.",
    "Pourriez-vous me transmettre le procès-verbal de la dernière assemblée générale ?",
    "La résolution sur le ravalement a été adoptée à la majorité de l'article 25.",
    "Je me permets de vous relancer au sujet de la facture en attente de règlement.",
    "Une recherche de fuite non destructive sera réalisée par caméra thermique.",
    "Le chauffage collectif sera remis en route à partir du 15 octobre.",
    "Les badges supplémentaires sont facturés 25 euros pièce au copropriétaire.",
]
_SUBJECTS = [
    "Fuite d'eau au plafond du lot {n}",
    "Devis porte de garage – Résidence Les Tilleuls",
    "Appel de fonds, lot {n}",
    "Panne de l'ascenseur, bâtiment B",
    "Déclaration de sinistre dégât des eaux – lot {n}",
    "Nuisances sonores au {n}e étage",
]
_CONTRACTORS = [
    ("Jean Martin – Plomberie Martin", "jean@plomberie-martin.fr"),
    ("Sophie Lambert – Ascenseurs du Rhône", "sophie@ascenseurs-rhone.fr"),
    ("Claire Dubois – Façades Lyonnaises", "claire@facades-lyon.fr"),
]
_OWNERS = [
    ("Marie Girard", "marie.girard@orange.fr"),
    ("Éric Fontaine", "eric.fontaine@free.fr"),
    ("Hélène Mercier", "helene.mercier@gmail.com"),
    ("Aurélie Noël", "aurelie.noel@laposte.net"),
]


def _png(rng: random.Random) -> bytes:
    """A small valid PNG (a contractor's logo)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    width, height = 48, 16
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(rng: random.Random, title: str) -> bytes:
    """A minimal valid one-page PDF, padded with an embedded stream."""
    content = f"BT /F1 12 Tf 72 760 Td ({title}) Tj ET".encode("latin-1", "replace")
    padding = rng.randbytes(rng.randrange(4_000, 40_000))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /EmbeddedFile /Length %d >>\nstream\n%s\nendstream" % (len(padding), padding),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass(frozen=True)
class Sample:
    """One generated message: where it goes in the maildir, and what it holds."""

    filename: str
    data: bytes
    message_id: str
    attachments: int


def _part(content_type: str, body: bytes, *, encoding: str, extra: str = "") -> bytes:
    head = f"Content-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n{extra}\n"
    return head.encode() + body


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n'.encode()
    body = b"".join(b"--%s\n%s\n" % (boundary.encode(), part) for part in parts)
    return head + body + b"--%s--\n" % boundary.encode()


def _text(body: str, subtype: str = "plain") -> bytes:
    encoded = quopri.encodestring(body.encode())
    return _part(f"text/{subtype}; charset=utf-8", encoded, encoding="quoted-printable")


def _file(data: bytes, content_type: str, filename: str, *, content_id: str = "") -> bytes:
    extra = f"Content-ID: <{content_id}>\n" if content_id else ""
    disposition = "inline" if content_id else "attachment"
    extra += f'Content-Disposition: {disposition}; filename="{filename}"\n'
    return _part(content_type, base64.encodebytes(data), encoding="base64", extra=extra)


def corpus(rng: random.Random, count: int) -> list[Sample]:
    """`count` distinct messages as mail clients write them: replies with
    quoted history, HTML alternatives, one in five with a PDF, some with an
    inline logo. Built by hand rather than with `email.message`, which would
    take several seconds for a thousand."""
    logos = {address: _png(rng) for _name, address in _CONTRACTORS}
    moment = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
    previous: list[tuple[str, str, str]] = []  # (message_id, subject, body)
    samples = []
    for index in range(count):
        moment += timedelta(minutes=rng.randrange(3, 300))
        name, address = rng.choice(_CONTRACTORS + _OWNERS)
        domain = address.partition("@")[2]
        message_id = f"{uuid.UUID(int=rng.getrandbits(128)).hex}.{index}@{domain}"
        body = "Bonjour,\n\n" + "\n\n".join(
            " ".join(rng.sample(_SENTENCES, rng.randrange(2, 5)))
            for _ in range(rng.randrange(1, 4))
        )
        body += f"\n\nCordialement,\n{name}\n"
        headers = [
            f"From: {formataddr((name, address), charset='utf-8')}",
            f"To: {formataddr((AGENCY, f'gestion@{AGENCY_DOMAIN}'), charset='utf-8')}",
            f"Date: {format_datetime(moment)}",
            f"Message-ID: <{message_id}>",
        ]
        if previous and rng.random() < 0.4:
            parent_id, subject, parent_body = rng.choice(previous[-30:])
            headers.append(f"Subject: {Header('RE: ' + subject, 'utf-8').encode()}")
            headers += [f"In-Reply-To: <{parent_id}>", f"References: <{parent_id}>"]
            quoted = "\n".join(f"> {line}" if line else ">" for line in parent_body.split("\n"))
            body += f"\nLe {moment:%d/%m/%Y}, Cabinet Lumière a écrit :\n{quoted}\n"
        else:
            subject = rng.choice(_SUBJECTS).format(n=rng.randrange(1, 60))
            headers.append(f"Subject: {Header(subject, 'utf-8').encode()}")
        headers.append("MIME-Version: 1.0")
        attachments = 0
        content = _text(body)
        if rng.random() < 0.7:
            html = "".join(f"<p>{line}</p>" for line in body.split("\n") if line)
            if address in logos and rng.random() < 0.4:
                html += '<p><img src="cid:logo@signature" alt="logo"></p>'
                html_part = _multipart(
                    "related",
                    f"=_related_{index}",
                    [
                        _text(f"<html><body>{html}</body></html>", "html"),
                        _file(logos[address], "image/png", "logo.png", content_id="logo@signature"),
                    ],
                )
                attachments += 1
            else:
                html_part = _text(f"<html><body>{html}</body></html>", "html")
            content = _multipart("alternative", f"=_alternative_{index}", [content, html_part])
        if rng.random() < 0.2:
            title = f"Devis {moment:%Y}-{index:04d}"
            pdf = _file(_pdf(rng, title), "application/pdf", f"{title}.pdf")
            content = _multipart("mixed", f"=_mixed_{index}", [content, pdf])
            attachments += 1
        data = "\n".join(headers).encode() + b"\n" + content
        previous.append((message_id, subject.removeprefix("RE: "), body))
        samples.append(
            Sample(
                filename=f"{int(moment.timestamp())}.M{index}P4242.archive:2,S",
                data=data,
                message_id=message_id,
                attachments=attachments,
            )
        )
    return samples


def write_maildir(root: Path, samples: list[Sample]) -> Path:
    """The samples as a maildir (cur/, new/, tmp/), as a mail server keeps it."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for sample in samples:
        (root / "cur" / sample.filename).write_bytes(sample.data)
    return root


# --- A Lanterne installation run as separate processes ------------------------------


@dataclass
class Installation(DatabaseReader):
    """A data folder and a database, and the `lanterne` command pointed at them."""

    data_dir: Path
    database_url: str | None  # None: SQLite in the data folder

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LANTERNE_")
            and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            LANTERNE_MODE="test",
            LANTERNE_DATA_DIR=str(self.data_dir),
            DJANGO_SETTINGS_MODULE="lanterne.settings",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "lanterne.cli", *arguments]

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*arguments),
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"lanterne {' '.join(arguments)}:\n{done.stdout}{done.stderr}"
        return done

    def start(self, *arguments: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            return subprocess.Popen(
                self.command(*arguments),
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None on SQLite; on PostgreSQL, a database of this test's own."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        yield None
        return
    import psycopg
    from psycopg import sql

    name = f"lanterne_faults_{uuid.uuid4().hex[:12]}"
    maintenance = with_database(url, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the import (only it: helpers it started must notice alone)."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _group_is_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether every process the import started has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_import_killed_again_and_again_ends_with_every_message_exactly_once(
    tmp_path: Path, database_url: str | None
) -> None:
    seed = int(os.environ.get("LANTERNE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"fault injection seed: {seed} (LANTERNE_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    samples = corpus(rng, MESSAGES)
    assert len({sample.data for sample in samples}) == MESSAGES
    maildir = write_maildir(tmp_path / "archive", samples)

    lanterne = Installation(data_dir=tmp_path / "data", database_url=database_url)
    lanterne.run("migrate", "--verbosity", "0")
    lanterne.run(
        "create-agency",
        "--name", AGENCY,
        "--mail-domain", AGENCY_DOMAIN,
        "--shared-mailbox", f"gestion@{AGENCY_DOMAIN}",
        "--email", f"camille.roche@{AGENCY_DOMAIN}",
        "--password", "Tilleuls-ete-2026",
    )  # fmt: skip

    log = tmp_path / "import.log"
    # Where to kill: after a random number of messages (spread over the
    # import, the first one possibly before anything is done), then a random
    # fraction of a batch later — at any point of the receive → parse →
    # save → flush → commit cycle.
    targets = sorted(rng.sample(range(MESSAGES - 50), KILLS))
    kills = []
    for target in targets:
        process = lanterne.start("import-mail", str(maildir), "--agency", AGENCY, log=log)
        started = time.monotonic()
        try:
            while process.poll() is None and lanterne.count(DONE) < target:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            if process.poll() is None:
                _kill(process)
        if process.returncode == 0:
            break  # finished before the kill: nothing left to interrupt
        assert process.returncode == -signal.SIGKILL, log.read_text(errors="replace")
        # Its parse workers, if any, notice their parent is gone and exit.
        gone = _group_is_gone(process, timeout=10)
        if not gone:
            os.killpg(process.pid, signal.SIGKILL)
        assert gone, "the killed import left processes behind"
        kills.append(
            (
                round(time.monotonic() - started, 2),
                lanterne.count(DONE),
                # Stored, not parsed yet: what the next run must finish.
                lanterne.count("SELECT COUNT(*) FROM mail_rawmessage WHERE state = 'stored'"),
            )
        )
    leftovers = list((lanterne.data_dir / "mail").rglob(".incoming-*"))
    print(f"kills (after s, messages, stored not parsed): {kills}")
    print(f"temporary files left by the kills: {len(leftovers)}")
    assert len(kills) == KILLS, f"the import finished before its kills: {kills}"

    # Run to completion: it imports what the killed runs did not, and
    # counts what they did as duplicates.
    started = time.monotonic()
    final = lanterne.run("import-mail", str(maildir), "--agency", AGENCY)
    print(f"final run: {time.monotonic() - started:.1f} s\n{final.stdout}")
    counts = {
        label: int(count)
        for label, count in re.findall(r"^ +(\w[\w ()]*?) +(\d+)$", final.stdout, re.MULTILINE)
    }
    assert counts["imported (new messages)"] + counts["duplicates"] == MESSAGES, final.stdout
    assert counts["quarantined"] == counts["refused (too large)"] == 0, final.stdout

    # Exactly the messages written, each once.
    assert lanterne.count("SELECT COUNT(*) FROM mail_message") == MESSAGES
    assert lanterne.count("SELECT COUNT(DISTINCT message_id) FROM mail_message") == MESSAGES
    message_ids = {row[0] for row in lanterne.query("SELECT message_id FROM mail_message")}
    assert message_ids == {sample.message_id for sample in samples}
    # Every file stored once, delivered once, parsed — none left "stored".
    states = dict(lanterne.query("SELECT state, COUNT(*) FROM mail_rawmessage GROUP BY state"))
    assert states == {RawState.PARSED.value: MESSAGES}, states
    assert lanterne.count("SELECT COUNT(*) FROM mail_delivery") == MESSAGES
    assert lanterne.count("SELECT COUNT(*) FROM mail_attachment") == sum(
        sample.attachments for sample in samples
    )
    # Every stored blob is on disk, whole: its bytes hash to its name.
    store = lanterne.data_dir / "mail"
    blobs = lanterne.query(
        "SELECT sha256, storage_name FROM mail_rawmessage "
        "UNION ALL SELECT sha256, storage_name FROM mail_attachment"
    )
    for sha256, name in blobs:
        path = store / name
        assert path.is_file(), f"{name} is missing"
        assert path.name == sha256
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, f"{name} is damaged"
    raw_digests = {row[0] for row in lanterne.query("SELECT sha256 FROM mail_rawmessage")}
    assert raw_digests == {hashlib.sha256(sample.data).hexdigest() for sample in samples}
    # The temporary files of the killed runs were cleaned up by the next one.
    assert not list(store.rglob(".incoming-*"))


# --- The case a kill between storing and parsing leaves --------------------------------


def test_import_run_again_parses_what_a_stopped_run_only_stored(db: None, tmp_path: Path) -> None:
    # A run stopped after storing the message (its bytes and its delivery
    # committed) and before parsing it: running the import again must parse
    # it, not count it as already imported.
    agency = AgencyFactory(name=AGENCY, mail_domain=AGENCY_DOMAIN)
    [sample] = corpus(random.Random(7), 1)
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "devis.eml").write_bytes(sample.data)
    mail_receive(
        agency=agency, data=sample.data, source=import_source(agency), folder="archive/devis.eml"
    )
    assert RawMessage.objects.get().state == RawState.STORED

    summary = mail_import(agency=agency, paths=[archive])

    assert summary.imported == 1 and summary.duplicates == 0
    raw = RawMessage.objects.get()
    assert raw.state == RawState.PARSED
    assert Message.objects.get(raw=raw).message_id == sample.message_id
    assert Delivery.objects.count() == 1
