"""Recognising mail that no person wrote: auto-replies, bounces, bulk mail.

Filing and notifications treat these apart: an out-of-office must not reopen
a dossier, a bounce tells staff an address is wrong, a newsletter is not a
co-owner's request. The three are exclusive, in this order of precedence: a
bounce is not an auto-reply (even though delivery reports carry
``Auto-Submitted: auto-replied``), and an auto-reply is not bulk mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["MailKind", "classify", "find_message_ids_in_text"]

# Subjects of out-of-office and other automatic replies (Outlook/Exchange,
# Gmail, Thunderbird, OVH/Zimbra in French and English, a few more).
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:(?:re|tr|fwd?)\s*:\s*)*(?:"
    r"r[ée]ponse\s+automatique|r[ée]ponse\s+auto\b|absence\s+du\s+bureau|absent\s+du\s+bureau|"
    r"message\s+d['’]absence|absence\s*:|je\s+suis\s+absente?|en\s+cong[ée]s?\s*:|"
    r"out\s+of\s+(?:the\s+)?office|automatic\s+reply|auto[-\s]?reply|autoreply|"
    r"auto[-\s]?response|automatic\s+response|vacation\s+(?:reply|response|message)|"
    r"abwesenheitsnotiz|automatische\s+antwort|respuesta\s+autom[áa]tica|"
    r"risposta\s+automatica|fuori\s+sede|automatisch\s+antwoord)",
    re.IGNORECASE,
)

# Subjects of delivery failure reports (Postfix, Exim, Sendmail, qmail,
# Exchange/Office 365 in French and English, Gmail).
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:"
    r"undeliver(?:ed|able)|undelivered\s+mail\s+returned\s+to\s+sender|"
    r"returned\s+mail|mail\s+delivery\s+(?:failed|failure|system)|"
    r"delivery\s+status\s+notification\s*\((?:failure|delay)\)|delivery\s+(?:failure|failed)|"
    r"failure\s+notice|message\s+not\s+delivered|delivery\s+has\s+failed|"
    r"non\s+remis|non\s+distribu[ée]|[ée]chec\s+de\s+(?:la\s+)?(?:remise|distribution|livraison)|"
    r"message\s+non\s+(?:remis|distribu[ée])|remise\s+diff[ée]r[ée]e|"
    r"notification\s+d['’][ée]tat\s+de\s+(?:la\s+)?(?:remise|distribution)|"
    r"unzustellbar|nicht\s+zustellbar|warning:\s+could\s+not\s+send\s+message)",
    re.IGNORECASE,
)

# Senders of delivery reports (RFC 5321 §4.5.1 requires "postmaster").
_DAEMON_LOCAL_PART = re.compile(
    r"^(?:mailer-daemon|postmaster|mail-daemon|maildaemon|mdaemon|mail\.delivery)$", re.I
)
_DAEMON_NAME = re.compile(r"mail\s+delivery\s+(?:system|subsystem)|mailer-daemon", re.I)

# Headers of mass-mailing services (Mailchimp, Brevo/Sendinblue, Mailjet,
# Sarbacane, Campaign Monitor, Mailgun campaigns…), for newsletters that omit
# List-Unsubscribe.
_ESP_HEADERS = (
    "x-campaign",
    "x-campaignid",
    "x-campaign-id",
    "x-mailchimp-campaign",
    "x-mc-user",
    "x-mailin-campaign",
    "x-sib-campaign",
    "x-mailjet-campaign",
    "x-newsletter",
    "x-newsletter-id",
    "x-sarbacane-campaign",
    "x-cmae-campaign",
    "x-mailgun-tag",
)
_BULK_MAILER = re.compile(
    r"mailchimp|sendinblue|brevo|mailjet|sarbacane|mailpoet|sendy|phplist|campaign\s+monitor|"
    r"mailerlite|newsletter",
    re.IGNORECASE,
)

_MESSAGE_ID_LINE = re.compile(r"^\s*Message-ID\s*:\s*<?([^<>\s]+@[^<>\s]+?)>?\s*$", re.I | re.M)


@dataclass(frozen=True)
class MailKind:
    """What kind of mail this is, beyond "a person wrote it"."""

    is_auto_reply: bool
    is_bounce: bool
    is_bulk: bool
    bounced_message_id: str | None


def _first(headers: Mapping[str, Sequence[str]], name: str) -> str:
    values = headers.get(name)
    return values[0].strip() if values else ""


def _token(value: str) -> str:
    """The first token of a structured header value, lower-case
    ("auto-replied; owner-email=…" → "auto-replied")."""
    return value.split(";", 1)[0].strip().strip('"').lower()


def find_message_ids_in_text(text: str) -> list[str]:
    """Message-IDs from "Message-ID: <…>" lines, as in the copy of the
    original headers that a delivery report quotes in its text."""
    return [match.group(1) for match in _MESSAGE_ID_LINE.finditer(text)]


def _is_bounce(
    headers: Mapping[str, Sequence[str]],
    *,
    subject: str,
    from_address: str,
    from_name: str,
    is_delivery_report: bool,
) -> bool:
    if is_delivery_report:
        # RFC 3464 / RFC 6522: multipart/report; report-type=delivery-status.
        return True
    if headers.get("x-failed-recipients"):  # Exim
        return True
    local_part = from_address.partition("@")[0]
    from_daemon = bool(_DAEMON_LOCAL_PART.match(local_part)) or bool(_DAEMON_NAME.search(from_name))
    bounce_subject = bool(_BOUNCE_SUBJECT.match(subject))
    # RFC 5321 §4.5.5: delivery reports travel with a null reverse-path,
    # which the final MTA records as "Return-Path: <>".
    null_sender = _first(headers, "return-path").replace(" ", "") == "<>"
    return (from_daemon and (bounce_subject or null_sender or not subject)) or (
        bounce_subject and (null_sender or from_daemon)
    )


def _is_auto_reply(headers: Mapping[str, Sequence[str]], *, subject: str) -> bool:
    # RFC 3834 §5: any Auto-Submitted value other than "no" marks a message
    # generated by a machine (auto-replied, auto-generated, auto-notified).
    auto_submitted = _token(_first(headers, "auto-submitted"))
    if auto_submitted and auto_submitted != "no":
        return True
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autogenerated"):
        value = _token(_first(headers, name))
        if headers.get(name) and value not in ("no", "false", "0"):
            return True
    if _token(_first(headers, "precedence")) == "auto_reply":
        return True
    # Exchange out-of-office replies: generated by the Mailbox Rules Agent,
    # or suppressing further auto-replies while looping through inbox rules.
    if "mailbox rules agent" in _first(headers, "x-ms-exchange-generated-message-source").lower():
        return True
    suppress = _first(headers, "x-auto-response-suppress").lower()
    if suppress and headers.get("x-ms-exchange-inbox-rules-loop"):
        return True
    return bool(_AUTO_REPLY_SUBJECT.match(subject))


def _is_bulk(headers: Mapping[str, Sequence[str]]) -> bool:
    if _token(_first(headers, "precedence")) in ("bulk", "list", "junk"):
        return True
    # RFC 2919 (List-Id) and RFC 2369 / RFC 8058 (List-Unsubscribe).
    if headers.get("list-id") or headers.get("list-unsubscribe"):
        return True
    if any(headers.get(name) for name in _ESP_HEADERS):
        return True
    return bool(_BULK_MAILER.search(_first(headers, "x-mailer")))


def classify(
    headers: Mapping[str, Sequence[str]],
    *,
    subject: str,
    from_address: str,
    from_name: str,
    is_delivery_report: bool,
    returned_message_ids: Iterable[str],
    texts: Iterable[str],
    own_message_id: str | None,
) -> MailKind:
    """Classify one message.

    `headers` maps lower-case header names to their decoded values;
    `is_delivery_report` is true for a multipart/report of report-type
    delivery-status; `returned_message_ids` are the Message-IDs found in its
    returned message or headers part (message/rfc822, text/rfc822-headers);
    `texts` are the texts where a non-standard bounce quotes the original."""
    is_bounce = _is_bounce(
        headers,
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        is_delivery_report=is_delivery_report,
    )
    is_auto_reply = not is_bounce and _is_auto_reply(headers, subject=subject)
    is_bulk = not is_bounce and not is_auto_reply and _is_bulk(headers)
    bounced: str | None = None
    if is_bounce:
        candidates = [*returned_message_ids]
        for text in texts:
            candidates.extend(find_message_ids_in_text(text))
        bounced = next((item for item in candidates if item and item != own_message_id), None)
    return MailKind(
        is_auto_reply=is_auto_reply,
        is_bounce=is_bounce,
        is_bulk=is_bulk,
        bounced_message_id=bounced,
    )
