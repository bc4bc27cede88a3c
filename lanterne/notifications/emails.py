"""Writing notification mails: what one recipient is told about one entry, the
immediate mail and the daily digest, with their headers.

Everything a mail shows is what its recipient may see in the dossier page: the
caller has checked the entry against the access policy, and the text of a
filed mail is the one the recipient is served there
(`mail.publication.message_texts_for`: other people's personal data masked).
Attachments and documents are never attached: the mail links to the dossier,
where the policy is asked again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lanterne.dossiers import policy
from lanterne.dossiers.choices import EntryEvent, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry

# The header Lanterne's parser reads to recognise its own notifications when
# they come back (a reply quoting them, a bounce, an auto-reply): loop
# protection (`mail.parsing`, `Message.is_lanterne_notification`).
NOTIFICATION_HEADER = "X-Lanterne-Notification"
# Characters of text shown for one entry: in full up to a reasonable mail,
# then cut with a link to the dossier.
IMMEDIATE_EXCERPT = 3000
DIGEST_EXCERPT = 600
SUBJECT_MAX = 180


@dataclass(frozen=True)
class EntryNews:
    """What one recipient is told about one timeline entry."""

    entry: TimelineEntry
    headline: str
    details: list[str]
    text: str
    masked: bool
    link: str


def site_url(path: str) -> str:
    """An absolute link to Lanterne, as invitation mails build them."""
    return settings.SITE_URL + path


def unsubscribe_url(*, user_id: int, dossier_id: int | None) -> str:
    from .services import unsubscribe_token_make

    token = unsubscribe_token_make(user_id=user_id, dossier_id=dossier_id)
    return site_url(reverse("notifications:unsubscribe", args=[token]))


def _when(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "j F Y, H:i")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def entry_news(
    entry: TimelineEntry,
    viewer: policy.Viewer,
    *,
    excerpt: int,
    reveal: frozenset[str] | None = None,
) -> EntryNews:
    """What `viewer` is told of `entry`, which they may see (the caller
    checked `policy.may_see_entry`). `reveal`: the viewer's own contact data,
    never masked for them (`mail.publication.viewer_reveal_keys`), read once
    when many mails are shown to the same viewer."""
    details: list[str] = [_when(entry.occurred_at)]
    text = ""
    masked = False
    kind = entry.kind
    if kind == EntryKind.MESSAGE:
        # Imported here: the mail app imports this one's services.
        from lanterne.mail.publication import message_texts_for

        message = entry.message
        assert message is not None
        if not policy.may_read_message(viewer, message):
            raise PermissionError("the recipient may not read this mail")
        texts = message_texts_for(viewer, message, reveal=reveal)
        headline = _("Nouveau courriel : %(subject)s") % {
            "subject": _one_line(texts.subject) or _("(sans objet)")
        }
        if message.from_name:
            details.append(_("De : %(name)s") % {"name": message.from_name})
        text = texts.new_text or texts.text
        masked = texts.masked
    elif kind == EntryKind.NOTE:
        headline = _("Nouvelle note")
        text = entry.note.text if entry.note else ""
    elif kind == EntryKind.TASK:
        task = entry.task
        title = _one_line(task.title) if task else ""
        if entry.event == EntryEvent.COMPLETED:
            headline = _("Tâche terminée : %(title)s") % {"title": title}
        elif entry.event == EntryEvent.REOPENED:
            headline = _("Tâche rouverte : %(title)s") % {"title": title}
        else:
            headline = _("Nouvelle tâche : %(title)s") % {"title": title}
            if task and task.due_on:
                details.append(
                    _("Échéance : %(date)s") % {"date": formats.date_format(task.due_on, "j F Y")}
                )
    elif kind == EntryKind.DECISION:
        decision = entry.decision
        headline = _("Nouvelle décision")
        if decision:
            details.append(
                _("%(body)s, le %(date)s")
                % {
                    "body": decision.get_decided_by_display(),
                    "date": formats.date_format(decision.decided_on, "j F Y"),
                }
            )
            text = decision.text
    elif kind == EntryKind.STATUS_CHANGE:
        change = entry.status_change
        headline = _("Nouveau statut : %(status)s") % {
            "status": change.get_to_status_display() if change else ""
        }
        text = change.comment if change else ""
    elif kind == EntryKind.DOCUMENT:
        document = entry.document
        headline = _("Nouveau document : %(title)s") % {
            "title": _one_line(document.title) if document else ""
        }
        if document:
            details.append(str(document.get_kind_display()))
    else:
        headline = str(entry.get_kind_display())
    link = site_url(reverse("dossiers:detail", args=[entry.dossier_id])) + f"#entry-{entry.pk}"
    return EntryNews(
        entry=entry,
        headline=headline,
        details=details,
        text=Truncator(text.strip()).chars(excerpt),
        masked=masked,
        link=link,
    )


def _sender(agency_name: str | None) -> str:
    """The From address: Lanterne's, named after the agency when there is one."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if agency_name:
        return formataddr((_("%(agency)s via Lanterne") % {"agency": agency_name}, address))
    return formataddr((name or "Lanterne", address))


def _subject(text: str) -> str:
    return Truncator(_one_line(text)).chars(SUBJECT_MAX)


def _headers(*, unsubscribe: str, kind: str) -> dict[str, str]:
    return {
        # RFC 2369 and RFC 8058: a one-click unsubscribe that mail clients
        # offer, POSTed without any cookie (`views.unsubscribe`).
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # RFC 3834 §5: no auto-reply should answer it.
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        NOTIFICATION_HEADER: kind,
    }


def _reply_to(dossier: Dossier) -> list[str]:
    """Replies go to the agency, addressed to the dossier, so that they are
    filed there (`mail.references`)."""
    from lanterne.mail.references import ReplyAddressError, dossier_reply_address

    try:
        return [dossier_reply_address(dossier)]
    except ReplyAddressError:
        return [dossier.agency.shared_mailbox] if dossier.agency.shared_mailbox else []


def _greeting_name(user: Any) -> str:
    return str(user.full_name or "")


def immediate_mail(
    *, user: Any, viewer: policy.Viewer, entry: TimelineEntry
) -> EmailMultiAlternatives:
    """The mail telling `user` of one entry of a dossier they follow."""
    from lanterne.mail.references import dossier_message_id

    with translation.override(settings.LANGUAGE_CODE):
        dossier = entry.dossier
        news = entry_news(entry, viewer, excerpt=IMMEDIATE_EXCERPT)
        unsubscribe = unsubscribe_url(user_id=user.pk, dossier_id=dossier.pk)
        context = {
            "name": _greeting_name(user),
            "dossier": dossier,
            "news": news,
            "dossier_link": site_url(reverse("dossiers:detail", args=[dossier.pk])),
            "unsubscribe_link": unsubscribe,
            "preferences_link": site_url(reverse("notifications:preferences")),
        }
        subject = _subject(f"[Lanterne] {dossier.reference} — {news.headline}")
        text = render_to_string("notifications/email/immediate.txt", context)
        html = render_to_string("notifications/email/immediate.html", context)
        headers = _headers(unsubscribe=unsubscribe, kind="immediate")
        # A Message-ID naming the dossier: a reply is filed there even when
        # its subject and recipients changed (`mail.references`).
        headers["Message-ID"] = dossier_message_id(dossier)
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=_sender(dossier.agency.name),
            to=[user.email],
            reply_to=_reply_to(dossier),
            headers=headers,
        )
        message.attach_alternative(html, "text/html")
    return message


@dataclass(frozen=True)
class DossierNews:
    """One dossier's part of a digest."""

    dossier: Dossier
    link: str
    items: list[EntryNews]


def digest_mail(
    *,
    user: Any,
    viewer: policy.Viewer,
    entries: Sequence[TimelineEntry],
    day: dt.date,
) -> EmailMultiAlternatives:
    """The daily mail gathering `entries` (which `user` may all see), grouped
    by dossier, the dossiers in the order of their first news."""
    from lanterne.mail.publication import viewer_reveal_keys

    with translation.override(settings.LANGUAGE_CODE):
        reveal = (
            viewer_reveal_keys(viewer)
            if any(entry.kind == EntryKind.MESSAGE for entry in entries)
            else None
        )
        groups: dict[int, DossierNews] = {}
        for entry in sorted(entries, key=lambda e: (e.occurred_at, e.pk)):
            dossier = entry.dossier
            if dossier.pk not in groups:
                groups[dossier.pk] = DossierNews(
                    dossier=dossier,
                    link=site_url(reverse("dossiers:detail", args=[dossier.pk])),
                    items=[],
                )
            groups[dossier.pk].items.append(
                entry_news(entry, viewer, excerpt=DIGEST_EXCERPT, reveal=reveal)
            )
        count = len(entries)
        day_text = formats.date_format(day, "j F Y")
        unsubscribe = unsubscribe_url(user_id=user.pk, dossier_id=None)
        context = {
            "name": _greeting_name(user),
            "day": day_text,
            "groups": list(groups.values()),
            "count": count,
            "unsubscribe_link": unsubscribe,
            "preferences_link": site_url(reverse("notifications:preferences")),
        }
        subject = _subject(
            ngettext(
                "[Lanterne] Votre résumé du %(day)s — %(count)d nouveauté",
                "[Lanterne] Votre résumé du %(day)s — %(count)d nouveautés",
                count,
            )
            % {"day": day_text, "count": count}
        )
        text = render_to_string("notifications/email/digest.txt", context)
        html = render_to_string("notifications/email/digest.html", context)
        agencies = {group.dossier.agency.name for group in groups.values()}
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=_sender(agencies.pop() if len(agencies) == 1 else None),
            to=[user.email],
            headers=_headers(unsubscribe=unsubscribe, kind="digest"),
        )
        message.attach_alternative(html, "text/html")
    return message
