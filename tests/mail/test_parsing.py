"""The parse stage: the bytes of one e-mail in, a ParsedMessage out.

Realistic French samples live in samples/; the shared corpora of other mail
projects check that nothing but MailParseError ever comes out of the parser."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from lanterne.mail.parsing import (
    Address,
    MailParseError,
    MailTooLargeError,
    ParsedMessage,
    ParseLimits,
    detect_content_type,
    html_to_text,
    looks_like_outlook_msg,
    parse_message,
    parse_outlook_msg,
)

SAMPLES = Path(__file__).resolve().parent / "samples"
REPOSITORY = Path(__file__).resolve().parents[2]
CORPORA = REPOSITORY / "tests" / "corpora"

MAIL_CORPORA = (
    "cpython-email",
    "mikel-mail",
    "mime4j",
    "mimetools-testmsgs",
    "thunderbird-mailnews",
    "spamscope-mail-parser",
    "talon",
    "msg-extractor",
    "tnefparse",
)
NOT_MAIL = {"LICENSE", "NOTICE", "MIT-LICENSE", "LICENSE.txt", "ARTISTIC-LICENSE.txt", "README.txt"}


def sample(name: str) -> ParsedMessage:
    return parse_message((SAMPLES / name).read_bytes())


def corpus(*parts: str) -> Path:
    path = CORPORA.joinpath(*parts)
    assert path.exists(), f"{path} is missing: the test corpora (tests/corpora) are needed"
    return path


def corpus_files() -> list[Path]:
    files = []
    for name in MAIL_CORPORA:
        for path in sorted(corpus(name).rglob("*")):
            if path.is_file() and path.name not in NOT_MAIL and path.suffix != ".md":
                # talon's folder also holds bare text and HTML bodies.
                if name == "talon" and path.suffix != ".eml":
                    continue
                files.append(path)
    assert len(files) > 150
    return files


def assert_storable(parsed: ParsedMessage) -> None:
    """What the store stage relies on: clean strings, aware UTC dates,
    consistent attachments."""
    strings = [
        parsed.subject, parsed.text, parsed.html, parsed.new_text, parsed.quoted_text,
        parsed.signature, parsed.date_header, *parsed.defects, *parsed.headers.values(),
        *(a.name + a.address for a in (*parsed.to, *parsed.cc, *parsed.reply_to)),
    ]  # fmt: skip
    for value in strings:
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogate
    if parsed.date is not None:
        assert parsed.date.utcoffset() is not None and parsed.date.utcoffset().total_seconds() == 0
    for attachment in parsed.attachments:
        assert (
            attachment.filename
            and "/" not in attachment.filename
            and "\\" not in attachment.filename
        )
        assert attachment.size == len(attachment.data)
        assert attachment.sha256 == hashlib.sha256(attachment.data).hexdigest()
        attachment.filename.encode("utf-8")
    for forwarded in parsed.forwarded:
        assert_storable(forwarded)


# ---------------------------------------------------------------------------
# Every file of the corpora


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_parses_or_is_refused_cleanly(path: Path) -> None:
    try:
        parsed = parse_message(path.read_bytes())
    except MailParseError as error:
        # Refusals are for bytes that are not e-mails, never a bug of ours.
        assert not str(error).startswith("Erreur inattendue"), error
        return
    assert_storable(parsed)


def test_corpus_refusals_are_only_non_mail_files() -> None:
    refused = []
    for path in corpus_files():
        try:
            parse_message(path.read_bytes())
        except MailParseError:
            refused.append(f"{path.parent.name}/{path.name}")
    # The raw TNEF containers and two mime4j files that hold no header at all.
    assert sorted(refused) == sorted(
        [f"tnefparse/{p.name}" for p in corpus("tnefparse").glob("*.tnef")]
        + [
            "testmsgs/malformedHeader-noheader.msg",
            "testmsgs/malformedHeaderStartsBody-noheader.msg",
        ]
    )


FUZZ_SAMPLES = [
    "outlook_fr_reply.eml",
    "apple_mail_inline_pdf.eml",
    "postfix_dsn_bounce.eml",
    "forwarded_rfc822.eml",
    "outlook_winmail_dat.eml",
    "encoded_words_and_filenames.eml",
]


@pytest.mark.parametrize("name", FUZZ_SAMPLES)
def test_truncated_and_corrupted_messages_never_crash(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    generator = random.Random(f"lanterne-{name}")  # deterministic
    variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 60))]
    for _ in range(120):
        corrupted = bytearray(data)
        for _ in range(generator.randint(1, 12)):
            position = generator.randrange(len(corrupted))
            corrupted[position] = generator.choice(
                [0, 0x0A, 0x3D, 0x2D, 0x3F, 0xFF, generator.randrange(256)]
            )
        variants.append(bytes(corrupted))
    for variant in variants:
        try:
            parsed = parse_message(variant)
        except MailParseError as error:
            assert not str(error).startswith("Erreur inattendue"), error
            continue
        assert_storable(parsed)


# ---------------------------------------------------------------------------
# French samples


def test_outlook_french_reply() -> None:
    parsed = sample("outlook_fr_reply.eml")
    assert parsed.subject == "RE : Fuite d'eau bâtiment B"
    assert parsed.from_ == Address(name="Frédéric Martin", address="f.martin@cabinet-martin.fr")
    assert parsed.cc == (Address(name="Hélène Roux", address="helene.roux@exemple.fr"),)
    assert parsed.message_id == "PR1P264MB2345A1B2C3D4E5F6@PR1P264MB2345.FRAP264.PROD.OUTLOOK.COM"
    assert parsed.in_reply_to == ("dossier-1234.5678@lanterne.example",)
    assert parsed.date == datetime(2026, 3, 3, 10, 2, 11, tzinfo=UTC)
    assert parsed.new_text.startswith("Bonjour,\n\nNotre plombier passera jeudi 5 mars")
    assert parsed.new_text.endswith("01 23 45 67 89")
    assert parsed.quoted_text.startswith("De : Syndic Lanterne <gestion@lanterne.example>")
    assert "<style" not in parsed.html and "Notre plombier" in parsed.html
    assert parsed.headers == {"content-language": "fr-FR"}
    assert not (parsed.is_auto_reply or parsed.is_bounce or parsed.is_bulk)
    assert parsed.defects == ()


def test_gmail_french_reply() -> None:
    parsed = sample("gmail_fr_reply.eml")
    assert parsed.new_text == (
        "Bonjour,\n\nJ'ai bien reçu l'appel de fonds. Le virement sera fait vendredi.\n"
        "Pouvez-vous me confirmer le RIB du syndicat ?\n\nMerci,"
    )
    assert parsed.signature == "-- \nMarie Dupont\nCopropriétaire, lot 12"
    assert parsed.quoted_text.startswith("Le lun. 3 mars 2026 à 10:12, Syndic Lanterne")
    assert 'class="gmail_quote"' not in parsed.html  # classes are not kept
    assert "<blockquote" in parsed.html


def test_apple_mail_pdf_sent_inline_is_a_real_attachment() -> None:
    parsed = sample("apple_mail_inline_pdf.eml")
    (pdf,) = parsed.attachments
    assert pdf.filename == "Devis ravalement Façades.pdf"
    assert pdf.content_type == pdf.detected_type == "application/pdf"
    assert not pdf.is_inline
    # format=flowed (RFC 3676) joined back into one paragraph.
    assert "consultée pour le ravalement, à comparer avec les deux autres." in parsed.text
    assert parsed.new_text.endswith("Bien à vous,\nPaul Girard")
    assert parsed.quoted_text.startswith("> Le 3 mars 2026 à 09:15")
    # The two HTML pieces around the PDF are both kept.
    assert "Voici le devis" in parsed.html and "Bien à vous" in parsed.html


def test_iphone_reply() -> None:
    parsed = sample("iphone_reply.eml")
    assert parsed.new_text == (
        "Merci pour l’information, je serai absente mais le gardien a mes clés."
    )
    assert parsed.signature == "Envoyé de mon iPhone"
    assert parsed.quoted_text.startswith("> Le 4 mars 2026 à 16:30")
    assert "\ufeff" not in parsed.text


def test_exchange_out_of_office() -> None:
    parsed = sample("out_of_office_fr.eml")
    assert parsed.subject == "Réponse automatique : Convocation AG 2026"
    assert parsed.is_auto_reply
    assert not parsed.is_bounce and not parsed.is_bulk
    assert parsed.headers["auto-submitted"] == "auto-generated"


def test_out_of_office_known_by_its_subject_only() -> None:
    parsed = sample("absence_subject_only.eml")
    assert parsed.is_auto_reply and not parsed.is_bulk


def test_postfix_delivery_status_notification() -> None:
    parsed = sample("postfix_dsn_bounce.eml")
    assert parsed.is_bounce
    assert not parsed.is_auto_reply  # despite Auto-Submitted: auto-replied
    assert parsed.bounced_message_id == "convocation-ag-2026.6@lanterne.example"
    assert parsed.from_ == Address(
        name="Mail Delivery System", address="mailer-daemon@mx.lanterne.example"
    )
    report, returned = parsed.attachments
    assert report.content_type == "message/delivery-status"
    assert b"Status: 5.1.1" in report.data
    assert (
        returned.is_forwarded_message
        and returned.filename == "Convocation à l'assemblée générale.eml"
    )
    (original,) = parsed.forwarded
    assert original.subject == "Convocation à l'assemblée générale"
    assert original.message_id == "convocation-ag-2026.6@lanterne.example"


def test_non_standard_mailer_daemon_bounce() -> None:
    parsed = sample("mailer_daemon_nonstandard.eml")
    assert parsed.is_bounce and not parsed.is_auto_reply
    assert parsed.subject == "Non remis : Appel de fonds travaux ascenseur"
    assert parsed.bounced_message_id == "appel-fonds-ascenseur.314@lanterne.example"


def test_newsletter_is_bulk_and_its_html_is_defused() -> None:
    parsed = sample("newsletter_bulk.eml")
    assert parsed.is_bulk and not parsed.is_auto_reply
    assert parsed.subject == "Les nouveautés de la loi Climat pour les copropriétés"
    assert parsed.headers["list-id"] == "<actualites.actu-copro.example>"
    html = parsed.html.lower()
    for dangerous in (
        "<script",
        "onclick",
        "onmouseover",
        "javascript:",
        "<form",
        "<style",
        "url(",
    ):
        assert dangerous not in html
    assert 'data-remote-src="https://t.actu-copro.example/open.gif?u=abc123"' in parsed.html
    # Only HTML: the text is derived from it, links spelled out.
    assert "Lire l'article <https://actu-copro.example/article?id=7>" in parsed.text
    assert "track()" not in parsed.text


def test_cp1252_bytes_declared_utf8_are_repaired() -> None:
    parsed = sample("charset_cp1252_declared_utf8.eml")
    assert "La réunion du conseil syndical est reportée à jeudi" in parsed.text
    assert "Hélène Roux, présidente" in parsed.text
    assert parsed.defects == (
        "Jeu de caractères déclaré incorrect (utf-8) : texte décodé en windows-1252.",
    )


def test_utf8_bytes_declared_latin1_are_repaired() -> None:
    parsed = sample("charset_utf8_declared_latin1.eml")
    assert "votre relevé de charges de l'exercice 2025 est disponible : 1 234,56 €." in parsed.text
    assert parsed.subject == "Relevé de charges"  # raw UTF-8 header (RFC 6532): no defect
    assert parsed.defects == (
        "Jeu de caractères déclaré incorrect (iso-8859-1) : texte décodé en utf-8.",
    )


def test_encoded_words_and_rfc2231_filenames() -> None:
    parsed = sample("encoded_words_and_filenames.eml")
    # Three encoded words, one of them splitting "–" across two words.
    assert parsed.subject == "Procès verbal de l'AG – résidence « Les Tilleuls »"
    assert parsed.from_ == Address(name="Éric Lefèvre", address="eric.lefevre@exemple.fr")
    assert parsed.to == (
        Address(name="Syndic « Lanterne »", address="gestion@lanterne.example"),
        Address(name="Dupont, Marie", address="marie.dupont@gmail.com"),
        # An encoded comma does not split the address (RFC 2047 §5).
        Address(name="Faux, Nom", address="faux@exemple.fr"),
    )
    names = [a.filename for a in parsed.attachments]
    assert names == [
        "procès-verbal AG « Les Tilleuls ».pdf",  # RFC 2231 continuations
        "plan-bâtiment.png",  # RFC 2047 inside a parameter (Gmail, Outlook)
        "passwd",  # "../../etc/passwd": no path
        "piece-jointe-4.pdf",  # no name at all: from the detected type
    ]
    assert parsed.attachments[3].content_type == "application/octet-stream"
    assert parsed.attachments[3].detected_type == "application/pdf"


def test_forwarded_message_is_kept_and_parsed() -> None:
    parsed = sample("forwarded_rfc822.eml")
    (eml,) = parsed.attachments
    assert eml.is_forwarded_message and eml.filename == "Rapport de visite ascenseur.eml"
    assert eml.detected_type == "message/rfc822"
    (forwarded,) = parsed.forwarded
    assert forwarded.from_ == Address(
        name="Ascenseurs Durand", address="contact@ascenseurs-durand.example"
    )
    assert forwarded.message_id == "rapport-visite-883@ascenseurs-durand.example"
    assert [a.filename for a in forwarded.attachments] == ["rapport-visite.pdf"]
    assert forwarded.forwarded == ()
    # The .eml attachment is itself a parseable message.
    assert parse_message(eml.data).subject == "Rapport de visite ascenseur"


def test_cid_images_are_inline_only_when_referenced() -> None:
    parsed = sample("cid_inline_images.eml")
    by_cid = {a.content_id: a for a in parsed.attachments}
    assert by_cid["photo1.abc@lanterne.example"].is_inline
    assert by_cid["photo1.abc@lanterne.example"].filename == "facade.png"
    assert by_cid["logo@lanterne"].is_inline  # "CID:logo%40lanterne": case and %-escapes
    assert not by_cid["unused@lanterne"].is_inline
    assert all(a.detected_type == "image/png" for a in parsed.attachments)
    assert '<img src="cid:photo1.abc@lanterne.example"' in parsed.html
    assert 'data-remote-src="https://cdn.example/pixel.png"' in parsed.html


def test_winmail_dat_is_unpacked() -> None:
    parsed = sample("outlook_winmail_dat.eml")
    assert [(a.filename, a.from_tnef) for a in parsed.attachments] == [
        ("AUTHORS", True),
        ("README", True),
    ]
    assert parsed.text == "Voir les pieces jointes."


def test_lanterne_notification_is_flagged() -> None:
    parsed = sample("lanterne_notification.eml")
    assert parsed.is_lanterne_notification
    assert parsed.headers["x-lanterne-notification"] == "dossier-1234"


def test_broken_headers_are_tolerated_with_defects() -> None:
    parsed = sample("broken_headers.eml")
    assert parsed.from_ == Address(name="Jean Dupont", address="jean.dupont@exemple.fr")
    assert parsed.to == ()  # "undisclosed-recipients:;" is an empty group
    assert Address(name="", address="bureau@exemple.fr") in parsed.cc
    assert parsed.reply_to == (
        Address(name="Jean Dupont", address="jean.dupont+syndic@exemple.fr"),
    )
    assert parsed.message_id == "broken@exemple.fr"
    assert parsed.date is None
    assert parsed.date_header == "Lun, 32 Mars 2026 27:61:00 +0100"
    assert parsed.subject == "=?NONE?B?invalid***?= Question sur les charges"
    assert parsed.text == "Bonjour, pourquoi les charges ont-elles augmenté ?"
    assert parsed.defects == (
        "En-tête dans un jeu de caractères inconnu (none) : laissé tel quel.",
        "Date illisible (« Lun, 32 Mars 2026 27:61:00 +0100 ») : date ignorée.",
        "Jeu de caractères non déclaré : texte décodé en windows-1252.",
    )


def test_html_only_outlook_reply_is_split_from_its_derived_text() -> None:
    parsed = sample("html_only_outlook_reply.eml")
    assert parsed.new_text == (
        "Bonjour,\n\nLe locataire accepte l'état des lieux du 20 mars.\n\n"
        "Bien cordialement,\nL'agence"
    )
    assert parsed.quoted_text.startswith("De : Syndic Lanterne <gestion@lanterne.example>")


# ---------------------------------------------------------------------------
# Corpus expectations


def test_cpython_delivery_report_of_a_list_message() -> None:
    parsed = parse_message(corpus("cpython-email", "msg_16.txt").read_bytes())
    assert parsed.is_bounce and not parsed.is_bulk  # a bounce is not bulk
    assert parsed.bounced_message_id == "002001c144a6$8752e060$56104586@oxy.edu"


def test_delayed_delivery_report_with_rfc822_headers() -> None:
    parsed = parse_message(corpus("mikel-mail", "report_422.eml").read_bytes())
    assert parsed.is_bounce
    assert (
        parsed.bounced_message_id
        == "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au"
    )


def test_impossible_date_is_a_defect() -> None:
    parsed = parse_message(corpus("cpython-email", "msg_47.txt").read_bytes())
    assert parsed.date is None
    assert parsed.defects == (
        "Date illisible (« Tue, 06 Jun 2017 27:39:33 +0600 ») : date ignorée.",
    )


def test_fractional_seconds_and_unsigned_zone_are_accepted() -> None:
    parsed = parse_message(corpus("mime4j", "mime4j-219-new-date-time-format.msg").read_bytes())
    assert parsed.date == datetime(2012, 7, 17, 22, 23, 35, tzinfo=UTC)


def test_forwarded_message_with_its_own_pdf() -> None:
    parsed = parse_message(corpus("mikel-mail", "attachment_message_rfc822.eml").read_bytes())
    (forwarded,) = parsed.forwarded
    assert [a.filename for a in forwarded.attachments] == ["broken.pdf"]
    assert parsed.attachments[0].is_forwarded_message


def test_several_references_headers_are_merged() -> None:
    parsed = parse_message(
        corpus("mikel-mail", "multiple_references_with_one_invalid.eml").read_bytes()
    )
    assert parsed.references == ("foo@bar.net", "baz@bar.net")


def test_png_attachment_and_unknown_charset() -> None:
    parsed = parse_message(corpus("thunderbird-mailnews", "24-HTML+attachment.eml").read_bytes())
    (png,) = parsed.attachments
    assert png.filename == "attach.png" and png.detected_type == "image/png"
    bad = parse_message(corpus("thunderbird-mailnews", "bad-charset.eml").read_bytes())
    assert bad.text


def test_smime_encrypted_message_is_kept_opaque() -> None:
    parsed = parse_message(corpus("thunderbird-mailnews", "alice.env.eml").read_bytes())
    assert parsed.is_encrypted
    assert [a.filename for a in parsed.attachments] == ["smime.p7m"]
    assert "Message chiffré : son contenu n'est pas lisible." in parsed.defects


def test_pgp_signature_is_an_attachment() -> None:
    parsed = parse_message(corpus("cpython-email", "msg_48.txt").read_bytes())
    assert parsed.text == "This is the signed contents."
    assert [(a.filename, a.detected_type) for a in parsed.attachments] == [
        ("signature.asc", "application/pgp-signature")
    ]


def test_base64_encoded_message_rfc822_is_opened() -> None:
    parsed = parse_message(
        corpus("mime4j", "testmsgs", "base64encoded-rfc822message.msg").read_bytes()
    )
    (forwarded,) = parsed.forwarded
    assert forwarded.text == "Text body"


def test_gzip64_part_is_decompressed() -> None:
    parsed = parse_message(corpus("mimetools-testmsgs", "x-gzip64.msg").read_bytes())
    (attachment,) = parsed.attachments
    assert not attachment.data.startswith(b"\x1f\x8b")


def test_outlook_msg_sent_to_parse_message_is_read_as_msg() -> None:
    data = corpus("spamscope-mail-parser", "mail_outlook_1").read_bytes()
    assert looks_like_outlook_msg(data)
    parsed = parse_message(data)
    assert parsed.subject.startswith("Newsletter Prüfung")


# ---------------------------------------------------------------------------
# TNEF and Outlook .msg


@pytest.mark.parametrize("path", sorted(corpus("tnefparse").glob("*.tnef")), ids=lambda p: p.name)
def test_every_winmail_dat_of_the_corpus(path: Path) -> None:
    message = EmailMessage()
    message["From"] = "bureau@cabinet.example"
    message["To"] = "gestion@lanterne.example"
    message["Subject"] = "winmail"
    message.add_attachment(
        path.read_bytes(), maintype="application", subtype="ms-tnef", filename="winmail.dat"
    )
    parsed = parse_message(message.as_bytes())
    assert_storable(parsed)
    from tnefparse import TNEF

    try:
        expected = [a for a in TNEF(path.read_bytes(), do_checksum=False).attachments]
    except Exception:  # noqa: BLE001 — unreadable container: kept as it came
        expected = None
    if expected is None:
        assert [a.filename for a in parsed.attachments] == ["winmail.dat"]
        return
    assert len(parsed.attachments) == len(expected)
    assert all(a.from_tnef for a in parsed.attachments)


def test_tnef_bodies_are_used_when_the_message_has_none() -> None:
    for name, expected in (("body.tnef", "html"), ("rtf.tnef", "aafg")):
        message = EmailMessage()
        message["From"] = "bureau@cabinet.example"
        message["Subject"] = "winmail"
        message.set_content((CORPORA / "tnefparse" / name).read_bytes(), maintype="application",
                            subtype="ms-tnef", filename="winmail.dat")  # fmt: skip
        parsed = parse_message(message.as_bytes())
        assert parsed.text, name
        if expected == "html":
            assert parsed.html
        else:
            assert expected in parsed.text


def test_outlook_msg_with_tiff_attachments() -> None:
    data = corpus("msg-extractor", "unicode.msg").read_bytes()
    assert looks_like_outlook_msg(data)
    parsed = parse_outlook_msg(data)
    assert parsed.subject == "Test for TIF files"
    assert parsed.from_ == Address(name="Brian Zhou", address="brizhou@gmail.com")
    assert parsed.to == (Address(name="", address="brianzhou@me.com"),)
    assert parsed.date == datetime(2013, 11, 18, 8, 26, 24, tzinfo=UTC)
    assert parsed.message_id == "CADtJ4eNjQSkGcBtVteCiTF+YFG89+AcHxK3QZ=-Mt48xygkvdQ@mail.gmail.com"
    assert parsed.new_text == "This is a test email to experiment with the MS Outlook MSG Extractor"
    assert parsed.signature.startswith("--")
    assert [(a.filename, a.detected_type) for a in parsed.attachments] == [
        ("import OleFileIO.tif", "image/tiff"),
        ("raised value error.tif", "image/tiff"),
    ]
    assert "Kind regards" in parsed.html
    assert_storable(parsed)


def test_outlook_msg_with_strange_date() -> None:
    parsed = parse_outlook_msg(corpus("msg-extractor", "strangeDate.msg").read_bytes())
    assert parsed.subject == "MSG Test File"
    assert_storable(parsed)


def test_not_a_msg_file() -> None:
    with pytest.raises(MailParseError):
        parse_outlook_msg(b"From: a@b.fr\r\n\r\nx")
    with pytest.raises(MailParseError):
        parse_outlook_msg(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)


# ---------------------------------------------------------------------------
# Limits: never exhaust memory, never crash


def test_message_too_large() -> None:
    with pytest.raises(MailTooLargeError):
        parse_message(
            b"From: a@b.fr\r\n\r\n" + b"x" * 2000, limits=ParseLimits(max_message_bytes=1000)
        )


def test_too_many_parts() -> None:
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {n}\r\n" for n in range(60))
    data = f"From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n"
    assert parse_message(data.encode()).text  # fine with the default limits
    with pytest.raises(MailTooLargeError):
        parse_message(data.encode(), limits=ParseLimits(max_parts=50))


def nested(levels: int) -> bytes:
    head = "From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    body = "".join(
        f"--b{n}\r\nContent-Type: multipart/mixed; boundary=b{n + 1}\r\n\r\n" for n in range(levels)
    )
    body += f"--b{levels}\r\nContent-Type: text/plain\r\n\r\nfond\r\n"
    body += "".join(f"--b{n}--\r\n" for n in range(levels, -1, -1))
    return (head + body).encode()


def test_deep_nesting() -> None:
    assert parse_message(nested(5)).text == "fond"
    with pytest.raises(MailTooLargeError):
        parse_message(nested(20))
    with pytest.raises(MailTooLargeError):
        parse_message(nested(3000))  # deeper than Python's recursion limit


def test_attachment_and_decoded_size_limits() -> None:
    message = EmailMessage()
    message["From"] = "a@b.fr"
    message.set_content("texte")
    for number in range(3):
        message.add_attachment(b"%PDF-" + bytes(2000), maintype="application", subtype="pdf",
                               filename=f"{number}.pdf")  # fmt: skip
    data = message.as_bytes()
    assert len(parse_message(data).attachments) == 3
    with pytest.raises(MailTooLargeError):
        parse_message(data, limits=ParseLimits(max_attachment_bytes=1000))
    with pytest.raises(MailTooLargeError):
        parse_message(data, limits=ParseLimits(max_total_decoded_bytes=5000))


def test_gzip_bomb_is_refused() -> None:
    import base64
    import gzip

    bomb = base64.encodebytes(gzip.compress(bytes(50 * 1024 * 1024))).decode()
    data = (
        "From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-gzip64\r\n\r\n"
        f"{bomb}\r\n--b--\r\n"
    ).encode()
    with pytest.raises(MailTooLargeError):
        parse_message(data, limits=ParseLimits(max_attachment_bytes=1024 * 1024))


def test_boundary_flood_is_refused_before_parsing() -> None:
    data = (
        b"From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\n" * 10_000
    )
    with pytest.raises(MailTooLargeError):
        parse_message(data)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\x00\x01\x02 binary", b"Just some text\n"])
def test_not_an_email(data: bytes) -> None:
    with pytest.raises(MailParseError):
        parse_message(data)


# ---------------------------------------------------------------------------
# Units


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Tue, 3 Mar 2026 10:02:11 +0100", datetime(2026, 3, 3, 9, 2, 11, tzinfo=UTC)),
        ("Tue, 3 Mar 2026 10:02:11 -0500", datetime(2026, 3, 3, 15, 2, 11, tzinfo=UTC)),
        ("3 Mar 26 10:02 GMT", datetime(2026, 3, 3, 10, 2, tzinfo=UTC)),
        ("Tue, 3 Mar 2026 10:02:11 -0000", datetime(2026, 3, 3, 10, 2, 11, tzinfo=UTC)),
        ("Tue, 3 Mar 2026 10:02:11 +0100 (CET)", datetime(2026, 3, 3, 9, 2, 11, tzinfo=UTC)),
        ("2026-03-03T10:02:11+01:00", datetime(2026, 3, 3, 9, 2, 11, tzinfo=UTC)),
    ],
)
def test_dates_in_any_zone(header: str, expected: datetime) -> None:
    parsed = parse_message(f"From: a@b.fr\r\nDate: {header}\r\n\r\nx".encode())
    assert parsed.date == expected
    assert parsed.date_header == header


def test_missing_date() -> None:
    parsed = parse_message(b"From: a@b.fr\r\n\r\nx")
    assert parsed.date is None and parsed.date_header == "" and parsed.defects == ()


def test_encoded_word_splitting_a_character() -> None:
    # "é" is C3 A9 in UTF-8: one byte in each encoded word.
    parsed = parse_message(
        b"From: a@b.fr\r\nSubject: =?utf-8?q?r=C3?= =?utf-8?q?=A9union?=\r\n\r\nx"
    )
    assert parsed.subject == "réunion"


def test_magic_table() -> None:
    assert detect_content_type(b"%PDF-1.7 ...") == "application/pdf"
    assert detect_content_type(b"\xff\xd8\xff\xe0JFIF") == "image/jpeg"
    assert detect_content_type(b"GIF89a...") == "image/gif"
    assert detect_content_type(b"PK\x03\x04" + b"\x00" * 26 + b"word/document.xml") == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert detect_content_type(b"PK\x03\x04" + b"\x00" * 26 + b"xl/workbook.xml").endswith("sheet")
    assert detect_content_type(
        b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.text"
    ) == ("application/vnd.oasis.opendocument.text")
    assert detect_content_type(b"PK\x03\x04" + b"\x00" * 26 + b"a.txt") == "application/zip"
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    assert detect_content_type(ole, "application/msword") == "application/msword"
    assert detect_content_type(ole, "application/octet-stream") == "application/x-ole-storage"
    assert detect_content_type(b"plain text", "text/plain") == "text/plain"


def test_html_to_text_keeps_structure_and_quotes() -> None:
    text = html_to_text(
        "<html><head><title>t</title><style>p{}</style></head><body><p>Bonjour&nbsp;!</p>"
        "<ul><li>un</li><li>deux</li></ul><div>Le 3 mars, X a écrit :</div>"
        "<blockquote><p>question ?</p><blockquote>plus ancien</blockquote></blockquote>"
        "<script>alert(1)</script></body></html>"
    )
    assert text == (
        "Bonjour !\n\n- un\n- deux\n\nLe 3 mars, X a écrit :\n\n> question ?\n>\n> > plus ancien"
    )
