"""Splitting a reply into what its author wrote, the quoted history and the
signature — on the quote-stripping fixtures of other projects and on the
French forms our correspondents use."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanterne.mail.quoting import split_reply

REPOSITORY = Path(__file__).resolve().parents[2]
CORPORA = REPOSITORY / "tests" / "corpora"
CRISP = CORPORA / "crisp-email-reply-parser"
MAIL_PARSER_REPLY = CORPORA / "mail-parser-reply"
TALON = CORPORA / "talon"

# Most crisp fixtures are "Fusce bibendum …" (the reply) followed by a quote
# header and "Etiam non sagittis …" (the quoted message).
REPLY_START = "Fusce bibendum"
QUOTED_BODY = "Etiam non sagittis"


def read(path: Path) -> str:
    assert path.exists(), f"{path} is missing: the test corpora (tests/corpora) are needed"
    return path.read_text(encoding="utf-8", errors="replace")


def crisp_fixtures_with_quoted_body() -> list[str]:
    return sorted(
        path.name
        for path in CRISP.glob("*.txt")
        if REPLY_START in read(path) and QUOTED_BODY in read(path)
    )


@pytest.mark.parametrize("name", crisp_fixtures_with_quoted_body())
def test_crisp_reply_is_separated_from_its_quoted_message(name: str) -> None:
    new, quoted, _signature = split_reply(read(CRISP / name))
    assert new.startswith(REPLY_START)
    assert QUOTED_BODY not in new
    assert QUOTED_BODY in quoted


@pytest.mark.parametrize(
    ("name", "header_start"),
    [
        ("email_fr_multiline.txt", "Le lun. 15 nov. 2021 à 19:42"),
        ("email_french_2.txt", "> Le 29 avr. 2025 à 11:11"),
        ("email_10.txt", "De : Company Questions"),
        ("email_11.txt", "De : Company Questions"),
        ("email_french_dash_separator.txt", "-------- Message d'origine --------"),
        ("email_ios_outlook_fr.txt", "________________________________"),
        ("email_tricky_5_mixed_languages.txt", "Le 15 janv. 2024 à 14:30"),
        ("email_german_outlook.txt", "-----Ursprüngliche Nachricht-----"),
        ("email_tricky_15_original_message_variations.txt", "-----Original Message-----"),
        ("email_tricky_12_no_space_after_header.txt", "On Dec 15, 2024, at 3:00 PM"),
        ("email_zoho.txt", "---- On Wed, 24 Feb 2021"),
        ("email_thread.txt", "On Nov 21, 2014,"),
        ("email_gmail_split_line_from.txt", "On Mon, Aug 26, 2019 at 4:37 PM"),
        ("email_outlook_split_line_from.txt", "From: Human Resources"),
        ("email_23.txt", "2017-11-24 16:32 GMT+01:00"),
        ("email_russian.txt", "ср, 30 апр. 2025"),
    ],
)
def test_crisp_quote_headers_start_the_history(name: str, header_start: str) -> None:
    new, quoted, _signature = split_reply(read(CRISP / name))
    assert quoted.lstrip().startswith(header_start.strip())
    assert header_start.strip() not in new


def test_crisp_french_outlook_block_not_at_line_start() -> None:
    new, quoted, _ = split_reply(read(CRISP / "email_customer_quote_header_3.txt"))
    assert new == "bonjour,\nje n'ai pas eu de retour sur ma précision..\nmerci d'avance"
    assert quoted.strip().startswith("De : Someone Somewhere")


@pytest.mark.parametrize(
    ("name", "signature_start"),
    [
        ("email_iphone.txt", "Sent from my iPhone"),
        ("email_blackberry.txt", "Sent from my BlackBerry"),
        ("email_multi_word_sent_from_my_mobile_device.txt", "Sent from my Verizon Wireless"),
        ("email_ios_outlook_fr.txt", "Envoyé à partir de Outlook pour iOS"),
        ("email_ios_outlook.txt", "Get Outlook for iOS"),
        ("correct_sig.txt", "--"),
        ("sig_no_empty_line.txt", "--"),
        ("email_tricky_11_double_signature.txt", "--"),
        ("email_tricky_16_unicode_signatures.txt", "—————"),
        ("email_emoji.txt", "—"),
    ],
)
def test_crisp_signatures(name: str, signature_start: str) -> None:
    _new, _quoted, signature = split_reply(read(CRISP / name))
    assert signature.startswith(signature_start)


@pytest.mark.parametrize(
    "name",
    [
        "email_not_a_signature.txt",
        "email_not_a_signature_2.txt",
        "email_sent_from_my_not_signature.txt",
        "email_tricky_1_on_false_positive.txt",
        "email_tricky_2_url_with_wrote.txt",
        "email_tricky_3_code_block.txt",
        "email_tricky_4_from_in_body.txt",
        "email_tricky_6_regards_in_sentence.txt",
        "email_tricky_7_multiple_dashes.txt",
        "email_tricky_8_sent_from_in_content.txt",
        "email_tricky_13_timestamp_variations.txt",
        "email_5.txt",
    ],
)
def test_crisp_false_positives_keep_everything_as_new_text(name: str) -> None:
    text = read(CRISP / name)
    new, quoted, signature = split_reply(text)
    assert (quoted, signature) == ("", "")
    assert new == text.replace("\r\n", "\n").strip("\n").rstrip()


def test_inline_reply_keeps_the_quotes_it_answers() -> None:
    new, quoted, _ = split_reply(read(CRISP / "email_tricky_18_inline_reply.txt"))
    assert "I think option A is great." in new
    assert "> What about option B?" in new  # the context of the answer under it
    assert "Option C is not suitable" in new
    assert quoted == ""


def test_signature_under_the_quote_belongs_to_the_author() -> None:
    new, quoted, signature = split_reply(read(CRISP / "email_bullets.txt"))
    assert new.endswith("- and another")
    assert quoted.startswith("On Fri, Feb 24, 2012")
    assert "Joe Smith" in signature and "Joe Smith" not in quoted


def test_rewrapped_quote_lines_stay_in_the_quote() -> None:
    # A client re-wrapped quoted lines, leaving bits without ">".
    new, quoted, signature = split_reply(read(CRISP / "email_7.txt"))
    assert "ignissim odio?" in quoted and "ignissim odio?" not in new
    assert signature.startswith("--")


@pytest.mark.parametrize(
    ("name", "new_text"),
    [
        ("email_danish_1.txt", "Hej Peter,"),
        ("email_danish_2.txt", "Hej Hanne,"),
        ("email_danish_4.txt", "Hej,\n\nSvar."),
        ("email_swedish_1.txt", "Hej Person A,"),
        ("email_sv_anon_1.txt", "Hej"),
        ("email_ja_1_2.txt", "田中様"),
        ("email_headers_no_delimiter.txt", "And another reply!"),
        ("email_2_2.txt", "Outlook with a reply directly above line"),
        ("email_2_3.txt", "Outlook with a reply above headers using unusual format"),
        ("greedy_on.txt", "On your remote host you can run:"),
        ("pathological.txt", "I think you're onto something."),
        ("multi_header.txt", "No problem. I’ll just start a new order."),
        ("email_1_4.txt", "Awesome! I haven't had another problem with it."),
    ],
)
def test_mail_parser_reply_fixtures(name: str, new_text: str) -> None:
    new, quoted, _ = split_reply(read(MAIL_PARSER_REPLY / name))
    assert new.startswith(new_text)
    assert quoted


@pytest.mark.parametrize("name", ["iphone", "sparrow"])
def test_talon_expected_reply_text(name: str) -> None:
    """talon ships the expected reply (new text and signature) for these two."""
    from lanterne.mail.parsing import parse_message

    parsed = parse_message((TALON / "standard_replies" / f"{name}.eml").read_bytes())
    expected = read(TALON / "standard_replies" / f"{name}_reply_text")
    got = "\n\n".join(part for part in (parsed.new_text, parsed.signature) if part)
    assert got.split() == expected.split()


@pytest.mark.parametrize(
    "name",
    ["aol", "apple_mail", "apple_mail_2", "comcast", "gmail", "hotmail", "iphone", "outlook",
     "sparrow", "thunderbird", "yahoo"],
)  # fmt: skip
def test_talon_standard_replies_say_hello(name: str) -> None:
    """Every one of talon's standard replies (Thunderbird's bottom-posted)
    answers "Hello" to a quoted "Hi"."""
    from lanterne.mail.parsing import parse_message

    parsed = parse_message((TALON / "standard_replies" / f"{name}.eml").read_bytes())
    assert parsed.new_text.strip() == "Hello"
    assert "Hi" in parsed.quoted_text


# French forms, written the way the clients write them.

GMAIL_FR = """Bonjour,

Je serai présente à l'assemblée générale.

Le lun. 3 mars 2026 à 10:12, Syndic Lanterne <gestion@lanterne.example> a écrit :

> Madame,
> Vous êtes convoquée à l'assemblée générale du 2 avril.
"""

OUTLOOK_FR = """Bonjour,

C'est noté, merci.

Cordialement,
Jean Dupont

De : Syndic Lanterne <gestion@lanterne.example>
Envoyé : lundi 2 mars 2026 17:45
À : Jean Dupont <jean.dupont@exemple.fr>
Objet : Travaux de toiture

Monsieur,
Les travaux de toiture commenceront le 10 mars.
"""

ORIGINAL_MESSAGE_FR = """Voir ci-dessous.

-----Message d'origine-----
De : Syndic Lanterne
Envoyé : mardi 3 mars 2026 09:00
À : Conseil syndical
Objet : Budget

Le budget prévisionnel est joint.
"""

FORWARDED_FR = """Pour information.

-------- Message transféré --------
Sujet : Devis
Date : Tue, 3 Mar 2026 09:00:00 +0100
De : Entreprise Durand <contact@durand.example>
Pour : gestion@lanterne.example

Veuillez trouver notre devis.
"""

MOBILE_FR = """D'accord pour jeudi.

Envoyé depuis mon mobile Huawei
"""

SENTENCE_WITH_A_ECRIT = """Le 3 mars, le gardien a écrit au syndic pour signaler la fuite.
Nous attendons sa réponse.
"""


def test_gmail_french_attribution() -> None:
    new, quoted, signature = split_reply(GMAIL_FR)
    assert new == "Bonjour,\n\nJe serai présente à l'assemblée générale."
    assert quoted.startswith("Le lun. 3 mars 2026 à 10:12")
    assert signature == ""


def test_outlook_french_header_block() -> None:
    new, quoted, _ = split_reply(OUTLOOK_FR)
    assert new.endswith("Cordialement,\nJean Dupont")  # closing formulas stay
    assert quoted.startswith("De : Syndic Lanterne")
    assert "travaux de toiture commenceront" in quoted


def test_message_d_origine_and_message_transfere() -> None:
    assert split_reply(ORIGINAL_MESSAGE_FR)[:2] == (
        "Voir ci-dessous.",
        ORIGINAL_MESSAGE_FR.split("\n\n", 1)[1].strip(),
    )
    new, quoted, _ = split_reply(FORWARDED_FR)
    assert new == "Pour information."
    assert quoted.startswith("-------- Message transféré --------")


def test_french_mobile_signature() -> None:
    assert split_reply(MOBILE_FR) == (
        "D'accord pour jeudi.",
        "",
        "Envoyé depuis mon mobile Huawei",
    )


def test_a_sentence_with_a_ecrit_is_not_a_header() -> None:
    assert split_reply(SENTENCE_WITH_A_ECRIT) == (SENTENCE_WITH_A_ECRIT.strip(), "", "")


def test_only_quoted_text_adds_nothing() -> None:
    assert split_reply("> rien de neuf\n> ici\n") == ("", "> rien de neuf\n> ici", "")


def test_empty_text() -> None:
    assert split_reply("") == ("", "", "")


def test_every_line_is_kept_somewhere() -> None:
    for text in (GMAIL_FR, OUTLOOK_FR, FORWARDED_FR, MOBILE_FR, read(CRISP / "email_thread.txt")):
        parts = split_reply(text)
        kept = " ".join(" ".join(part.split()) for part in parts)
        for line in text.splitlines():
            assert " ".join(line.split()) in kept
