"""The file stage of the mail pipeline, and what staff do by hand: put a
message into a dossier with its provenance (method, score, reason, who,
when), move it to another dossier, or say it concerns no dossier — and the
rules staff write to file mail, with a preview of what they would match.

Filing is where a mistake becomes a leak: a mail in the wrong dossier is read
by the wrong people. Hence:

- Nothing crosses an agency: a message is filed only into a dossier of its
  own agency, whoever asks and whatever the caller passes.
- A message newly filed is internal unless its audience is given: staff will
  review what is published (and redact it) in a later issue. Machine mail
  (auto-replies, bounces, bulk) is internal whatever is asked.
- A message filed into another dossier leaves the first one entirely: its
  timeline entry there is deleted, not left behind (see `message_file`).
- Filing a message files the rest of its conversation that is still waiting,
  with the method "thread"; mail of the conversation that was filed only
  because of it follows it when it moves.

The pipeline (automatic filing by thread, reference, rule or learned
suggestion) and the triage inbox call these services; they never write the
filing fields themselves. Every filing and re-filing is in the audit log with
its method.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, F, Max, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.audit.services import audit_record
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, EntryEvent, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.dossiers.policy import Viewer
from lanterne.dossiers.services import timeline_entry_record

from . import publication
from .choices import Review
from .models import FilingMethod, MailRule, Message
from .publication import is_machine_mail

__all__ = [
    "PREVIEW_SCAN",
    "active_rules",
    "is_machine_mail",
    "mail_rule_delete",
    "mail_rule_next_position",
    "mail_rule_save",
    "mail_rule_set_active",
    "message_file",
    "message_mark_not_dossier_related",
    "rule_matches",
    "rule_preview",
    "rules_apply",
    "text_fold",
]

# The filing fields of a message: what `message_file` writes, and reloads
# under a row lock before deciding anything.
FILING_FIELDS = [
    "dossier",
    "audience",
    "filing_method",
    "filing_score",
    "filing_reason",
    "filed_by",
    "filed_at",
    "not_dossier_related",
    "review",
    "redactions",
    "unmasked",
]
# How many of the agency's most recent messages a rule preview reads: enough
# to judge a rule, bounded whatever the size of the mailbox.
PREVIEW_SCAN = 1000


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


def _user(actor: Any) -> Any:
    """The login behind `actor`, or None (the pipeline files with no login)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def _occurred_at(message: Message) -> Any:
    """Where a message sits in a timeline: when it was written (its Date
    header), or when Lanterne read it when it has no usable date."""
    return message.date or message.parsed_at


def _describe(message: Message) -> str:
    """« subject » (sender), for reasons and audit summaries (French, like
    every stored summary)."""
    subject = " ".join(message.subject.split())[:120] or "(sans objet)"
    sender = message.from_name or message.from_address or "expéditeur inconnu"
    return f"« {subject} » ({sender})"


def _lock(message: Message) -> None:
    """Lock the message's row and reload its filing fields: two workers (or a
    worker and a manager) filing the same message at once must not both act
    on a stale state. On SQLite the transaction itself serialises writers."""
    current = Message.objects.select_for_update().only("pk", *FILING_FIELDS).get(pk=message.pk)
    for name in FILING_FIELDS:
        attname = f"{name}_id" if name in ("dossier", "filed_by") else name
        setattr(message, attname, getattr(current, attname))


def _search_index(message_ids: list[int]) -> None:
    """Mail moved by a bulk UPDATE is searched where it now is."""
    from lanterne.search.services import search_index_schedule

    search_index_schedule(message_ids=message_ids)


def _audit_rows(
    *,
    actor: Any,
    agency_id: int,
    messages: list[Message],
    action: AuditAction,
    summary: str,
    changes: dict[str, Any],
) -> None:
    """One audit row per message in one INSERT: filing a conversation costs
    the same number of queries whatever its length. The rows are those
    `audit_record` writes."""
    user = _user(actor)
    now = timezone.now()
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                agency_id=agency_id,
                actor=user,
                action=action,
                object_type=Message._meta.label_lower,
                object_id=str(message.pk),
                summary=f"{summary} {_describe(message)}"[:300],
                changes=changes,
                created_at=now,
            )
            for message in messages
        ]
    )


# ---------------------------------------------------------------------------
# Filing


@transaction.atomic
def message_file(
    *,
    viewer: Viewer,
    actor: Any,
    message: Message,
    dossier: Dossier,
    method: FilingMethod | str,
    score: float | None = None,
    reason: str,
    audience: str | None = None,
) -> Message:
    """File `message` into `dossier`, saying how (`method`), how sure
    (`score`) and why (`reason`, French, shown to staff), and return it.

    - Only staff of the message's agency may file it, and only into a dossier
      of that agency: a dossier of another agency is refused, whoever asks.
    - The message gets one timeline entry in `dossier`, dated by the message
      (its Date header, else when it was read).
    - Audience: `audience` when given — published to it at once, personal
      data masked (`publication.filed_publish`); otherwise *internal*, not
      the dossier's audience, and waiting for staff review
      (`publication.filed_review_begin`: unless the dossier publishes
      automatically). Machine mail (auto-reply, bounce, bulk) is internal
      whatever is given, and needs no review.
    - The rest of its conversation (same `Thread`) that waits in triage is
      filed with it, method "thread", reason « Même conversation que … »,
      internal: the audience given was chosen for this message, and nobody
      has read the others. Mail of the conversation filed elsewhere by a
      reference, a rule, a suggestion or a person stays where it is.
    - Filing into another dossier moves the message: its entry in the former
      dossier is deleted and a new one appended here, and the audience falls
      back to internal unless given (who may read it there is another
      question). The timeline is append-only for events, but a misfiled mail
      left in the wrong dossier would keep showing it to that dossier's
      audience: the leak is closed, and the audit log keeps the move. Mail of
      the conversation that was in the former dossier only by "thread"
      follows the message.
    - Filing again into the same dossier appends nothing: the provenance is
      updated when the method or the audience asked differ (a suggestion
      confirmed by a manager), otherwise nothing is written — the file stage
      can be re-run.

    Every filing and re-filing is written to the audit log with its method."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if dossier.agency_id != message.agency_id:
        raise ValidationError(_("Ce dossier appartient à un autre cabinet que ce courriel."))
    if method not in FilingMethod.values or method == FilingMethod.NONE:
        raise ValidationError(_("Mode de classement inconnu."))
    method = FilingMethod(method)
    if audience is not None and audience not in Audience.values:
        raise ValidationError(_("Visibilité inconnue."))
    _lock(message)
    entry_audience = (
        Audience.INTERNAL if is_machine_mail(message) else (audience or Audience.INTERNAL)
    )
    user = _user(actor)
    now = timezone.now()
    previous_dossier_id = message.dossier_id
    previous_method = message.filing_method

    if previous_dossier_id == dossier.pk:
        audience_changes = audience is not None and entry_audience != message.audience
        if method != previous_method or audience_changes:
            changes: dict[str, Any] = {"filing_method": [previous_method, method.value]}
            if audience_changes:
                changes["audience"] = [message.audience, str(entry_audience)]
                publication.filed_publish(message, dossier, entry_audience, actor=actor)
            message.filing_method = method
            message.filing_score = score
            message.filing_reason = reason
            message.filed_by = user
            message.filed_at = now
            message.save(update_fields=FILING_FIELDS)
            audit_record(
                actor=actor,
                agency_id=message.agency_id,
                action=AuditAction.FILED,
                target=message,
                summary=(
                    f"Courriel {_describe(message)} confirmé au dossier {dossier.reference} "
                    f"({method.value})"
                ),
                changes=changes,
            )
        _thread_follow(
            actor=actor,
            message=message,
            dossier=dossier,
            left_dossier_id=None,
            left_reference=None,
        )
        return message

    previous_reference = (
        Dossier.objects.filter(pk=previous_dossier_id).values_list("reference", flat=True).first()
        if previous_dossier_id is not None
        else None
    )
    if previous_dossier_id is not None:
        TimelineEntry.objects.filter(message=message).delete()
    previous_audience = message.audience
    message.dossier = dossier
    # Internal until published below: what others read of it is decided there.
    message.audience = Audience.INTERNAL
    message.review = Review.PENDING if audience is None and not is_machine_mail(message) else ""
    message.redactions = {}
    message.unmasked = False
    message.filing_method = method
    message.filing_score = score
    message.filing_reason = reason
    message.filed_by = user
    message.filed_at = now
    message.not_dossier_related = False
    message.save(update_fields=FILING_FIELDS)
    timeline_entry_record(
        dossier=dossier,
        kind=EntryKind.MESSAGE,
        audience=Audience.INTERNAL,
        actor=actor,
        occurred_at=_occurred_at(message),
        message=message,
    )
    if audience is not None:
        publication.filed_publish(message, dossier, entry_audience, actor=actor)
    else:
        publication.filed_review_begin([message], dossier, actor=actor)
    moved = previous_dossier_id is not None
    audit_record(
        actor=actor,
        agency_id=message.agency_id,
        action=AuditAction.REFILED if moved else AuditAction.FILED,
        target=message,
        summary=(
            f"Courriel {_describe(message)} "
            + (f"déplacé de {previous_reference} vers " if moved else "classé au dossier ")
            + f"{dossier.reference} ({method.value})"
        ),
        changes={
            "dossier": [previous_reference, dossier.reference],
            "filing_method": [previous_method, method.value],
            "filing_score": score,
            "audience": [previous_audience, str(entry_audience)],
        },
    )
    _thread_follow(
        actor=actor,
        message=message,
        dossier=dossier,
        left_dossier_id=previous_dossier_id,
        left_reference=previous_reference,
    )
    return message


def _thread_mates(message: Message, *, left_dossier_id: int | None) -> list[Message]:
    """The other messages of `message`'s conversation that go where it goes:
    those waiting in triage (in no dossier, not judged unrelated), and those
    that were in the dossier it leaves only because of the conversation
    (method "thread"). Locked, like the message."""
    if message.thread_id is None:
        return []
    going = Q(dossier__isnull=True, not_dossier_related=False)
    if left_dossier_id is not None:
        going |= Q(dossier_id=left_dossier_id, filing_method=FilingMethod.THREAD)
    mates = (
        Message.objects.select_for_update()
        .filter(agency_id=message.agency_id, thread_id=message.thread_id)
        .filter(going)
        .exclude(pk=message.pk)
        .only(
            "pk",
            "subject",
            "from_name",
            "from_address",
            "date",
            "parsed_at",
            "dossier_id",
            "filing_method",
            # What `publication.filed_review_begin` reads.
            "agency_id",
            "direction",
            "in_reply_to",
            "is_auto_reply",
            "is_bounce",
            "is_bulk",
        )
    )
    return list(mates.order_by("pk"))


def _thread_follow(
    *,
    actor: Any,
    message: Message,
    dossier: Dossier,
    left_dossier_id: int | None,
    left_reference: str | None,
) -> list[Message]:
    """File the rest of `message`'s conversation into `dossier` (see
    `message_file`), in a constant number of queries: one UPDATE for the
    messages, one DELETE for the entries they leave, one INSERT for their
    entries and one for their audit rows."""
    mates = _thread_mates(message, left_dossier_id=left_dossier_id)
    if not mates:
        return []
    user = _user(actor)
    now = timezone.now()
    reason = f"Même conversation que {_describe(message)}"
    moving = [mate for mate in mates if mate.dossier_id is not None]
    waiting = [mate for mate in mates if mate.dossier_id is None]
    if moving:
        TimelineEntry.objects.filter(message__in=[mate.pk for mate in moving]).delete()
    Message.objects.filter(pk__in=[mate.pk for mate in mates]).update(
        dossier=dossier,
        audience=Audience.INTERNAL,
        filing_method=FilingMethod.THREAD,
        filing_score=None,
        filing_reason=reason,
        filed_by=user,
        filed_at=now,
        not_dossier_related=False,
        # Waiting for review, as a message filed by hand without an audience.
        review=Case(
            When(is_auto_reply=False, is_bounce=False, is_bulk=False, then=Value(Review.PENDING)),
            default=Value(""),
        ),
        redactions={},
        unmasked=False,
    )
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                dossier=dossier,
                kind=EntryKind.MESSAGE,
                event=EntryEvent.CREATED,
                audience=Audience.INTERNAL,
                actor=user,
                occurred_at=_occurred_at(mate),
                message_id=mate.pk,
            )
            for mate in mates
        ]
    )
    for mate in mates:
        mate.dossier = dossier
        mate.audience = Audience.INTERNAL
        mate.review = "" if is_machine_mail(mate) else Review.PENDING
    publication.filed_review_begin(mates, dossier, actor=actor)
    _search_index([mate.pk for mate in mates])
    if waiting:
        _audit_rows(
            actor=actor,
            agency_id=message.agency_id,
            messages=waiting,
            action=AuditAction.FILED,
            summary=f"Classé au dossier {dossier.reference} (thread) :",
            changes={
                "dossier": [None, dossier.reference],
                "filing_method": [FilingMethod.NONE.value, FilingMethod.THREAD.value],
                "audience": ["", Audience.INTERNAL.value],
            },
        )
    if moving:
        _audit_rows(
            actor=actor,
            agency_id=message.agency_id,
            messages=moving,
            action=AuditAction.REFILED,
            summary=f"Déplacé de {left_reference} vers {dossier.reference} (thread) :",
            changes={
                "dossier": [left_reference, dossier.reference],
                "filing_method": [FilingMethod.THREAD.value, FilingMethod.THREAD.value],
                "audience": [None, Audience.INTERNAL.value],
            },
        )
    return mates


@transaction.atomic
def message_mark_not_dossier_related(
    *,
    viewer: Viewer,
    actor: Any,
    message: Message,
    method: FilingMethod | str = FilingMethod.MANUAL,
    reason: str = "",
) -> Message:
    """Say that `message` concerns no dossier (an advertisement, a personal
    mail): it leaves the triage inbox without entering any dossier.

    A message that was in a dossier leaves it (its entry is deleted, as in a
    move), and the mail of its conversation that was there only by "thread"
    goes back to triage: nobody has said those are unrelated too. `method`
    is "manual" when staff decide, "rule" when a rule does (with the rule in
    `reason`). Audit-logged; doing it twice writes nothing."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if method not in FilingMethod.values or method == FilingMethod.NONE:
        raise ValidationError(_("Mode de classement inconnu."))
    method = FilingMethod(method)
    _lock(message)
    if message.not_dossier_related:
        return message
    user = _user(actor)
    previous_dossier_id = message.dossier_id
    previous_method = message.filing_method
    previous_reference = None
    followers: list[Message] = []
    if previous_dossier_id is not None:
        previous_reference = (
            Dossier.objects.filter(pk=previous_dossier_id)
            .values_list("reference", flat=True)
            .first()
        )
        followers = [
            mate
            for mate in _thread_mates(message, left_dossier_id=previous_dossier_id)
            if mate.dossier_id == previous_dossier_id
        ]
        TimelineEntry.objects.filter(
            message__in=[message.pk, *(mate.pk for mate in followers)]
        ).delete()
        if followers:
            Message.objects.filter(pk__in=[mate.pk for mate in followers]).update(
                dossier=None,
                audience="",
                review="",
                redactions={},
                unmasked=False,
                filing_method=FilingMethod.NONE,
                filing_score=None,
                filing_reason="",
                filed_by=None,
                filed_at=None,
            )
            _audit_rows(
                actor=actor,
                agency_id=message.agency_id,
                messages=followers,
                action=AuditAction.REFILED,
                summary=f"Retiré du dossier {previous_reference}, à classer :",
                changes={
                    "dossier": [previous_reference, None],
                    "filing_method": [FilingMethod.THREAD.value, FilingMethod.NONE.value],
                },
            )
    message.dossier = None
    message.audience = ""
    message.review = ""
    message.redactions = {}
    message.unmasked = False
    message.filing_method = method
    message.filing_score = None
    message.filing_reason = reason or "Sans rapport avec un dossier."
    message.filed_by = user
    message.filed_at = timezone.now()
    message.not_dossier_related = True
    message.save(update_fields=FILING_FIELDS)
    _search_index([message.pk, *(mate.pk for mate in followers)])
    audit_record(
        actor=actor,
        agency_id=message.agency_id,
        action=AuditAction.REFILED if previous_dossier_id is not None else AuditAction.FILED,
        target=message,
        summary=(
            f"Courriel {_describe(message)} "
            + (f"retiré du dossier {previous_reference} : " if previous_reference else "")
            + f"sans rapport avec un dossier ({method.value})"
        ),
        changes={
            "dossier": [previous_reference, None],
            "not_dossier_related": [False, True],
            "filing_method": [previous_method, method.value],
        },
    )
    return message


# ---------------------------------------------------------------------------
# Rules


def text_fold(text: str) -> str:
    """`text` as rules compare it: compatibility-normalised (a non-breaking
    space is a space), casefolded, without accents, with single spaces.
    « Résidence LES TILLEULS » and "residence les  tilleuls" are the same."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split())


class _FoldedMessage:
    """The parts of a message rules look at, folded once and only when a
    rule asks (a body is folded only for a rule on the body)."""

    def __init__(self, message: Message) -> None:
        self.message = message

    @cached_property
    def sender(self) -> str:
        return text_fold(self.message.from_address)

    @cached_property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]

    @cached_property
    def recipients(self) -> list[str]:
        """ "Name address" of every To and Cc, and the mailbox the message was
        delivered to (Delivered-To, X-Original-To: the only trace of a Bcc)."""
        found: list[str] = []
        for item in [*(self.message.to or []), *(self.message.cc or [])]:
            if isinstance(item, dict):
                found.append(text_fold(f"{item.get('name', '')} {item.get('address', '')}"))
        headers = self.message.headers if isinstance(self.message.headers, dict) else {}
        for name in ("delivered-to", "x-original-to"):
            value = headers.get(name)
            if isinstance(value, str) and value:
                found.append(text_fold(value))
        return found

    @cached_property
    def subject(self) -> str:
        return text_fold(self.message.subject)

    @cached_property
    def body(self) -> str:
        return text_fold(self.message.text)


def _conditions(rule: MailRule) -> Iterator[tuple[str, str]]:
    """The conditions a rule gives, folded, as (field, value)."""
    for name in MailRule.CONDITION_FIELDS:
        value = text_fold(getattr(rule, name))
        if name == "sender_domain":
            value = value.lstrip("@").rstrip(".")
        if value:
            yield name, value


def _matches(rule: MailRule, folded: _FoldedMessage) -> bool:
    """Whether every condition `rule` gives matches; False when it gives none
    (a rule without conditions must not swallow the mailbox)."""
    checked = False
    for name, value in _conditions(rule):
        checked = True
        if name == "sender_address":
            ok = folded.sender == value
        elif name == "sender_domain":
            # The domain or one of its subdomains: "plomberie.fr" matches
            # "devis@mail.plomberie.fr", not "jean@faux-plomberie.fr".
            domain = folded.sender_domain
            ok = domain == value or domain.endswith("." + value)
        elif name == "recipient_contains":
            ok = any(value in recipient for recipient in folded.recipients)
        elif name == "subject_contains":
            ok = value in folded.subject
        else:
            ok = value in folded.body
        if not ok:
            return False
    return checked


def rule_matches(rule: MailRule, message: Message) -> bool:
    """Whether `rule`'s conditions all match `message`, case- and
    accent-insensitively. Rules of another agency never match."""
    if rule.agency_id != message.agency_id:
        return False
    return _matches(rule, _FoldedMessage(message))


def active_rules(agency_id: int) -> list[MailRule]:
    """The agency's active rules, in the order they are tried."""
    return list(
        MailRule.objects.filter(agency_id=agency_id, is_active=True)
        .select_related("dossier", "condominium")
        .order_by("position", "id")
    )


def rules_apply(message: Message, *, rules: list[MailRule] | None = None) -> MailRule | None:
    """The first active rule of the message's agency (by position, then age)
    whose conditions all match `message`, or None. It decides nothing by
    itself: the file stage applies the rule's actions. `rules`: the agency's
    `active_rules`, when the caller read them already (a batch)."""
    if rules is None:
        rules = active_rules(message.agency_id)
    if not rules:
        return None
    folded = _FoldedMessage(message)
    for rule in rules:
        if _matches(rule, folded):
            return rule
    return None


def rule_preview(rule: MailRule, *, limit: int = 50) -> list[Message]:
    """The recent messages of the rule's agency that `rule` would match,
    newest first, at most `limit`: what staff check before saving a rule.
    `rule` may be unsaved (the form being typed).

    The `PREVIEW_SCAN` most recent messages are read and matched here, by
    the very function the pipeline uses (`rule_matches`), so the preview
    shows what the rule will do — a database filter would not fold accents
    the same way on SQLite and PostgreSQL."""
    names = {name for name, _value in _conditions(rule)}
    if not names:
        return []
    deferred = ["html", "quoted_text", "signature", "new_text", "defects", "references"]
    if "body_contains" not in names:
        deferred.append("text")
    if "recipient_contains" not in names:
        deferred.append("headers")
    candidates = (
        Message.objects.filter(agency_id=rule.agency_id)
        .select_related("dossier")
        .defer(*deferred)
        .order_by(F("date").desc(nulls_last=True), "-id")[:PREVIEW_SCAN]
    )
    found: list[Message] = []
    for message in candidates:
        if _matches(rule, _FoldedMessage(message)):
            found.append(message)
            if len(found) >= limit:
                break
    return found


def mail_rule_next_position(*, agency_id: int) -> int:
    """The position after the agency's last rule: a new rule is tried last."""
    last = MailRule.objects.filter(agency_id=agency_id).aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


_RULE_AUDITED = [
    "name",
    *MailRule.CONDITION_FIELDS,
    "condominium_id",
    "dossier_id",
    "audience",
    "not_dossier_related",
    "position",
    "is_active",
]


@transaction.atomic
def mail_rule_save(*, viewer: Viewer, actor: Any, rule: MailRule) -> MailRule:
    """Create or change a rule of the agency, after `MailRule.clean` (which
    refuses a rule without condition or action, and targets of another
    agency). Audit-logged with what changed."""
    _require(policy.may_manage_dossiers(viewer, rule.agency_id))
    created = rule.pk is None
    before: dict[str, Any] = {}
    if not created:
        # A rule never changes agency: the stored row must be of the same one.
        stored = (
            MailRule.objects.filter(pk=rule.pk, agency_id=rule.agency_id)
            .values(*_RULE_AUDITED)
            .first()
        )
        _require(stored is not None)
        assert stored is not None
        before = stored
    else:
        rule.created_by = _user(actor)
    rule.full_clean()
    rule.save()
    after = {name: getattr(rule, name) for name in _RULE_AUDITED}
    changes = (
        {name: [before[name], after[name]] for name in after if before[name] != after[name]}
        if not created
        else {}
    )
    if created or changes:
        audit_record(
            actor=actor,
            agency_id=rule.agency_id,
            action=AuditAction.CREATED if created else AuditAction.CHANGED,
            target=rule,
            summary=f"Règle de classement « {rule.name} » " + ("créée" if created else "modifiée"),
            changes=changes,
        )
    return rule


@transaction.atomic
def mail_rule_set_active(
    *, viewer: Viewer, actor: Any, rule: MailRule, is_active: bool
) -> MailRule:
    """Turn a rule on or off (kept, for later or for the record). Audit-logged."""
    _require(policy.may_manage_dossiers(viewer, rule.agency_id))
    if rule.is_active == is_active:
        return rule
    rule.is_active = is_active
    rule.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        agency_id=rule.agency_id,
        action=AuditAction.CHANGED,
        target=rule,
        summary=f"Règle de classement « {rule.name} » "
        + ("activée" if is_active else "désactivée"),
        changes={"is_active": [not is_active, is_active]},
    )
    return rule


@transaction.atomic
def mail_rule_delete(*, viewer: Viewer, actor: Any, rule: MailRule) -> None:
    """Delete a rule. What it filed stays filed (with "rule" as its method);
    the audit log keeps the rule's last settings."""
    _require(policy.may_manage_dossiers(viewer, rule.agency_id))
    audit_record(
        actor=actor,
        agency_id=rule.agency_id,
        action=AuditAction.DELETED,
        target=rule,
        summary=f"Règle de classement « {rule.name} » supprimée",
        changes={name: getattr(rule, name) for name in _RULE_AUDITED},
    )
    rule.delete()
