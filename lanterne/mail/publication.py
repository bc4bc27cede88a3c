"""Publishing filed mail beyond the agency: review, audience, masked personal data.

A mail filed into a dossier starts internal. What the council and the
co-owners read of it is decided here (DESIGN.md, "Audience"):

- Review. A mail filed without an audience chosen for it waits for staff
  review (`Message.review` "pending"), with an audience proposed from the
  dossier's type and the sender's role (`proposed_audiences`): a co-owner's
  mail about their flat goes to the parties, an arrears dossier stays
  internal, a contractor's answer on common works goes to the owners, a reply
  to a mail kept internal stays internal. Staff publish it to an audience or
  keep it internal. A dossier (`Dossier.auto_publish_audience`) or a rule
  (its audience) can publish on filing instead; machine mail never leaves
  the agency.
- Redaction. Publishing records where the personal data of the texts are
  (`Message.redactions`, spans found by `redaction.personal_data_spans`),
  once. Non-staff readers are served the texts with every span masked but
  their own data (`message_texts_for`); the agency's own addresses and
  phones and the building's address are not personal data. They never get
  the HTML version, which cannot be masked, unless staff unmask the mail
  (`message_unmask`, with a reason in the audit log).
- Every publication, change of audience and unmasking is audit-logged, and
  followers are told of what they may now see
  (`notifications.services.entries_published`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import (
    Company,
    CouncilMembership,
    Ownership,
    Person,
    PersonEmail,
)
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DossierType
from lanterne.dossiers.models import Dossier, TimelineEntry

from . import redaction
from .choices import Direction, Review
from .models import Message

if TYPE_CHECKING:
    from lanterne.dossiers.policy import Viewer

__all__ = [
    "REDACTED_FIELDS",
    "MessageTexts",
    "filed_publish",
    "filed_review_begin",
    "is_machine_mail",
    "message_keep_internal",
    "message_publish",
    "message_texts_for",
    "message_unmask",
    "proposed_audiences",
    "redactions_compute",
    "texts_attach",
    "timeline_prepare",
    "viewer_reveal_keys",
]

# The texts of a mail that non-staff readers are served, masked.
REDACTED_FIELDS = ("subject", "new_text", "quoted_text", "signature", "text")
# Marks `Message.redactions` as computed (an empty dict is "never computed").
_VERSION_KEY = "v"

# The audience proposed for a contractor's, an insurer's or any other
# outsider's mail, by dossier type: common matters to the owners, a damage to
# its parties, a council request to the council, arrears to nobody.
_AUDIENCE_BY_TYPE: dict[str, str] = {
    DossierType.WORKS: Audience.OWNERS,
    DossierType.INCIDENT: Audience.OWNERS,
    DossierType.GENERAL_MEETING: Audience.OWNERS,
    DossierType.WATER_DAMAGE: Audience.PARTIES,
    DossierType.CLAIM: Audience.PARTIES,
    DossierType.COUNCIL_REQUEST: Audience.COUNCIL,
    DossierType.ARREARS: Audience.INTERNAL,
}


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def is_machine_mail(message: Message) -> bool:
    """Auto-replies, bounces and bulk mail: written by no person, never
    published (their audience is always internal)."""
    return message.is_auto_reply or message.is_bounce or message.is_bulk


# --- Proposed audiences ----------------------------------------------------------


class _AudienceOf(Protocol):
    """What `audience_within` reads of a dossier (a `Dossier`, or the scale
    generator's record of one)."""

    audience: str
    council_sees_parties: bool


def audience_within(dossier: _AudienceOf, audience: str) -> str:
    """`audience`, narrowed to what the dossier's own audience lets through:
    an entry is only seen where its dossier is."""
    if dossier.audience == Audience.INTERNAL:
        return Audience.INTERNAL
    if dossier.audience == Audience.COUNCIL and audience == Audience.OWNERS:
        return Audience.COUNCIL
    if dossier.audience == Audience.PARTIES and audience == Audience.OWNERS:
        return Audience.PARTIES
    if (
        dossier.audience == Audience.PARTIES
        and audience == Audience.COUNCIL
        and not dossier.council_sees_parties
    ):
        return Audience.PARTIES
    return audience


def proposed_audiences(messages: Sequence[Message]) -> dict[int, str]:
    """The audience to propose for each filed message, by id, in at most four
    queries whatever their number.

    In order: machine mail, an internal dossier and arrears stay internal; a
    reply to a mail of the dossier that staff kept internal stays internal;
    a co-owner of the building writes about their own flat (the parties); a
    council member, to the council; the agency's own mail, to the dossier's
    audience; anyone else by the dossier's type. Never wider than the
    dossier."""
    filed = [m for m in messages if m.dossier_id is not None]
    if not filed:
        return {}
    # Each query only when it has something to look for: building one that
    # has nothing costs as much as running it.
    agency_ids = {m.agency_id for m in filed}
    parent_ids = {pid for m in filed for pid in (m.in_reply_to or [])[:1]}
    internal_parents: set[str] = set()
    if parent_ids:
        internal_parents = set(
            Message.objects.filter(
                agency_id__in=agency_ids, message_id__in=parent_ids, audience=Audience.INTERNAL
            )
            .exclude(review=Review.PENDING)
            .values_list("message_id", flat=True)
        )
    addresses = {m.from_address.lower() for m in filed if m.from_address}
    persons: dict[str, int] = {}
    if addresses:
        persons = dict(
            PersonEmail.objects.filter(agency_id__in=agency_ids, address__in=addresses).values_list(
                "address", "person_id"
            )
        )
    condominium_ids = {m.dossier.condominium_id for m in filed if m.dossier is not None}
    owners: set[tuple[int, int]] = set()
    council: set[tuple[int, int]] = set()
    if persons:
        owners = set(
            Ownership.objects.filter(
                person_id__in=persons.values(), lot__condominium_id__in=condominium_ids
            ).values_list("person_id", "lot__condominium_id")
        )
        council = set(
            CouncilMembership.objects.filter(
                person_id__in=persons.values(), condominium_id__in=condominium_ids
            ).values_list("person_id", "condominium_id")
        )
    proposals: dict[int, str] = {}
    for message in filed:
        dossier = message.dossier
        assert dossier is not None
        person_id = persons.get(message.from_address.lower())
        condominium_id = dossier.condominium_id
        if (
            is_machine_mail(message)
            or dossier.type == DossierType.ARREARS
            or (message.in_reply_to and message.in_reply_to[0] in internal_parents)
        ):
            proposal = Audience.INTERNAL
        elif (person_id, condominium_id) in council:
            proposal = Audience.COUNCIL
        elif (person_id, condominium_id) in owners:
            proposal = Audience.PARTIES
        elif message.direction == Direction.OUTBOUND:
            proposal = dossier.audience
        else:
            proposal = _AUDIENCE_BY_TYPE.get(dossier.type, dossier.audience)
        proposals[message.pk] = audience_within(dossier, proposal)
    return proposals


# --- Redaction ---------------------------------------------------------------------


def _kept(message: Message, dossier: Dossier) -> tuple[frozenset[str], frozenset[str]]:
    """What is not personal data in the agency's mail: its own domains, its
    staff's addresses and phones, the building's addresses, and the business
    contact details of the companies in its contact book (a contractor's
    switchboard, an insurer's claims address) — not their employees'.
    Three queries."""
    agency = message.agency
    domains = {agency.mail_domain.lower()}
    if "@" in agency.shared_mailbox:
        domains.add(agency.shared_mailbox.rsplit("@", 1)[1].lower())
    staff = list(
        Person.objects.filter(agency_id=agency.pk)
        .exclude(staff_role="")
        .values_list("pk", "phones")
    )
    staff_emails = PersonEmail.objects.filter(person_id__in=[pk for pk, _ in staff]).values_list(
        "address", flat=True
    )
    condominium = dossier.condominium
    addresses = [condominium.address]
    addresses += [line for line in condominium.other_addresses.splitlines() if line.strip()]
    companies = list(
        Company.objects.filter(agency_id=agency.pk).values_list("email", "phone", "address")
    )
    keys = redaction.contact_keys(
        emails=[*staff_emails, *(email for email, _, _ in companies if email)],
        phones=[
            *(phone for _, phones in staff for phone in (phones or [])),
            *(phone for _, phone, _ in companies if phone),
        ],
        postal_addresses=[*addresses, *(address for _, _, address in companies if address)],
    )
    return keys, frozenset(d for d in domains if d)


def redactions_compute(message: Message, dossier: Dossier) -> dict[str, Any]:
    """Where the personal data of `message`'s texts are, as stored in
    `Message.redactions`."""
    keep_keys, keep_domains = _kept(message, dossier)
    found: dict[str, Any] = {_VERSION_KEY: 1}
    for field in REDACTED_FIELDS:
        text = getattr(message, field) or ""
        spans = redaction.personal_data_spans(
            text, keep_keys=keep_keys, keep_email_domains=keep_domains
        )
        if spans:
            found[field] = [span.as_json() for span in spans]
    return found


def viewer_reveal_keys(viewer: Viewer) -> frozenset[str]:
    """The viewer's own contact data, which is never masked for them. Two
    queries; none for a viewer who is no one's contact."""
    if not viewer.person_ids:
        return frozenset()
    persons = list(
        Person.objects.filter(pk__in=viewer.person_ids).values_list("phones", "postal_address")
    )
    emails = PersonEmail.objects.filter(person_id__in=viewer.person_ids).values_list(
        "address", flat=True
    )
    return redaction.contact_keys(
        emails=emails,
        phones=[phone for phones, _ in persons for phone in (phones or [])],
        postal_addresses=[address for _, address in persons if address],
    )


@dataclass(frozen=True)
class MessageTexts:
    """The texts of a mail as one viewer is served them. `masked`: some
    personal data was masked; `original`: the viewer reads the mail as
    received (staff, or a mail staff unmasked) — the HTML version included."""

    subject: str
    new_text: str
    quoted_text: str
    signature: str
    text: str
    masked: bool
    original: bool


def _original(message: Message) -> MessageTexts:
    return MessageTexts(
        subject=message.subject,
        new_text=message.new_text,
        quoted_text=message.quoted_text,
        signature=message.signature,
        text=message.text,
        masked=False,
        original=True,
    )


def message_texts_for(
    viewer: Viewer, message: Message, *, reveal: frozenset[str] | None = None
) -> MessageTexts:
    """What `viewer` is served of `message`'s texts; the caller has checked
    that they may read it (`policy.may_read_message`).

    Staff read the original, and so does everyone once staff unmasked the
    mail. Others get each text with the personal data masked, except their
    own (`reveal`, from `viewer_reveal_keys`: pass it when rendering many
    mails). Spans are those found at publication; a published mail without
    them (published before redaction existed) is scanned now rather than
    served unmasked."""
    if policy.may_read_message_original(viewer, message):
        return _original(message)
    found = message.redactions or {}
    if _VERSION_KEY not in found:
        dossier = message.dossier
        found = redactions_compute(message, dossier) if dossier is not None else {_VERSION_KEY: 1}
    if reveal is None:
        reveal = viewer_reveal_keys(viewer)
    texts: dict[str, str] = {}
    masked = False
    for field in REDACTED_FIELDS:
        text = getattr(message, field) or ""
        spans = [redaction.Span.from_json(row) for row in found.get(field, [])]
        shown = redaction.masked(text, spans, reveal=reveal) if spans else text
        masked = masked or shown != text
        texts[field] = shown
    return MessageTexts(**texts, masked=masked, original=False)


def texts_attach(viewer: Viewer, messages: Iterable[Message]) -> None:
    """Set `display_texts` on each message (what the templates show), with
    the viewer's own data read once for all of them."""
    messages = list(messages)
    reveal: frozenset[str] | None = None
    for message in messages:
        if reveal is None and not policy.may_read_message_original(viewer, message):
            reveal = viewer_reveal_keys(viewer)
        message.display_texts = message_texts_for(viewer, message, reveal=reveal)  # type: ignore[attr-defined]


def timeline_prepare(
    viewer: Viewer, dossier: Dossier, entries: Iterable[TimelineEntry], *, is_staff: bool
) -> None:
    """Ready the mail of a page of `dossier`'s timeline entries for display:
    the texts the viewer is served (`display_texts`) and, for staff, the
    audience to propose for mail waiting for review (`proposed_audience`).
    A constant number of queries for the page (the dossier, loaded once by
    the page, stands in for each mail's and each entry's)."""
    messages = []
    for entry in entries:
        entry.dossier = dossier
        if entry.message_id is None or entry.message is None:
            continue
        entry.message.dossier = dossier
        messages.append(entry.message)
    texts_attach(viewer, messages)
    if is_staff:
        pending = [m for m in messages if m.review == Review.PENDING]
        proposals = proposed_audiences(pending)
        for message in messages:
            message.proposed_audience = proposals.get(message.pk, message.audience)  # type: ignore[attr-defined]


# --- Staff actions ---------------------------------------------------------------


def _entries_published(entries: Iterable[TimelineEntry], *, actor: Any) -> None:
    from lanterne.notifications.services import entries_published

    entries_published(entries, actor=actor)


def _publish(message: Message, dossier: Dossier, audience: str, *, actor: Any) -> None:
    """Write the publication of a locked, filed message (no permission check,
    no audit): audience, review state, redaction spans; followers told."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    before = message.audience
    message.audience = audience
    message.review = Review.PUBLISHED if audience != Audience.INTERNAL else Review.KEPT_INTERNAL
    message.published_at = timezone.now()
    message.published_by = user
    message.redactions = (
        redactions_compute(message, dossier) if audience != Audience.INTERNAL else {}
    )
    message.save(update_fields=["audience", "review", "published_at", "published_by", "redactions"])
    entries = list(TimelineEntry.objects.filter(message=message))
    TimelineEntry.objects.filter(message=message).update(audience=audience)
    for entry in entries:
        entry.audience = audience
    _search_index([message.pk])
    if audience != Audience.INTERNAL and before != audience:
        _entries_published(entries, actor=user)


def _search_index(message_ids: list[int]) -> None:
    """Searched as its readers are now served it (masked or not)."""
    from lanterne.search.services import search_index_schedule

    search_index_schedule(message_ids=message_ids)


def _locked(message: Message) -> Message:
    # Lock the message's row only (PostgreSQL refuses FOR UPDATE on the
    # nullable side of the dossier join).
    locked = (
        Message.objects.select_for_update(of=("self",))
        .select_related("dossier", "dossier__condominium", "agency")
        .get(pk=message.pk)
    )
    if locked.dossier is None:
        raise ValidationError(_("Ce courriel n'est classé dans aucun dossier."))
    return locked


@transaction.atomic
def message_publish(*, viewer: Viewer, actor: Any, message: Message, audience: str) -> Message:
    """Publish a filed mail to `audience` (or narrow it back), masking the
    personal data it carries for non-staff readers. Machine mail stays
    internal. Logged; followers who may now see it are notified."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if audience not in Audience.values:
        raise ValidationError(_("Visibilité inconnue."))
    locked = _locked(message)
    dossier = locked.dossier
    assert dossier is not None
    if is_machine_mail(locked) and audience != Audience.INTERNAL:
        raise ValidationError(
            _("Une réponse automatique, un retour en erreur ou un envoi en nombre reste interne.")
        )
    before = locked.audience
    _publish(locked, dossier, audience, actor=actor)
    audit_record(
        actor=actor,
        agency_id=locked.agency_id,
        action=AuditAction.PUBLISHED,
        target=locked,
        summary=(
            f"Courriel publié au dossier {dossier.reference} : {before} → {audience}"
            if audience != Audience.INTERNAL
            else f"Courriel gardé interne au dossier {dossier.reference}"
        ),
        changes={"audience": [before, audience], "review": locked.review},
    )
    _copy_state(locked, message)
    return message


def message_keep_internal(*, viewer: Viewer, actor: Any, message: Message) -> Message:
    """Close the review of a mail without publishing it."""
    return message_publish(viewer=viewer, actor=actor, message=message, audience=Audience.INTERNAL)


@transaction.atomic
def message_unmask(*, viewer: Viewer, actor: Any, message: Message, reason: str) -> Message:
    """Serve a published mail as received — personal data and HTML version
    included — to its audience, for a reason staff give (logged)."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Indiquez pourquoi ces données peuvent être montrées."))
    locked = _locked(message)
    if locked.unmasked:
        return message
    locked.unmasked = True
    locked.save(update_fields=["unmasked"])
    _search_index([locked.pk])
    audit_record(
        actor=actor,
        agency_id=locked.agency_id,
        action=AuditAction.UNMASKED,
        target=locked,
        summary=f"Données personnelles démasquées ({locked.dossier.reference}) : {reason}"[:300],
        changes={"reason": reason},
    )
    _copy_state(locked, message)
    return message


def _copy_state(source: Message, target: Message) -> None:
    for field in ("audience", "review", "published_at", "published_by_id", "redactions"):
        setattr(target, field, getattr(source, field))
    target.unmasked = source.unmasked


# --- On filing ---------------------------------------------------------------------


def filed_review_begin(messages: Sequence[Message], dossier: Dossier, *, actor: Any) -> None:
    """Called by filing for messages just filed into `dossier` without an
    audience chosen for them (internal, and already written as waiting for
    review unless machine mail): where the dossier publishes automatically,
    publish at once those whose proposed audience is not internal. No query
    for a dossier under review."""
    auto = dossier.auto_publish_audience
    if not auto:
        return
    reviewed = [m for m in messages if not is_machine_mail(m)]
    proposals = proposed_audiences(reviewed)
    for message in reviewed:
        if proposals.get(message.pk, Audience.INTERNAL) != Audience.INTERNAL:
            _publish(message, dossier, audience_within(dossier, auto), actor=actor)


def filed_publish(message: Message, dossier: Dossier, audience: str, *, actor: Any) -> None:
    """Called by filing for a message filed with an audience chosen for it
    (by a person, or a rule): published to it, masked, followers told."""
    if audience == Audience.INTERNAL or is_machine_mail(message):
        if message.review == Review.PENDING:
            Message.objects.filter(pk=message.pk).update(review=Review.KEPT_INTERNAL)
            message.review = Review.KEPT_INTERNAL
        return
    _publish(message, dossier, audience, actor=actor)


def pending_review_q() -> Q:
    return Q(review=Review.PENDING, dossier__isnull=False)
