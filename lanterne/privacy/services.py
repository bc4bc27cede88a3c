"""Anonymising a person who left (RGPD art. 17), within the legal retention
of the condominium's records.

A co-owner who sold their last lot, a contractor's employee who moved on: the
agency no longer needs their name, e-mails, phones, address or login. What it
must keep are the dossier records — the mail exchanged, the decisions, the
documents — which are the syndicate's archives (loi du 10 juillet 1965,
art. 18: the syndic keeps them); `lanterne apply-retention` deletes those by
their own periods (`settings.RETENTION_YEARS`).

So `person_erase` rewrites the person's row rather than deleting it
(dossiers keep naming a party: « Ancien copropriétaire n°42 »), deletes their
e-mails, invitations and login (or unlinks a login another agency knows),
their follows, notification preferences and notifications, cancels the
reminders waiting for their answer — and keeps their contact details masked
in the published mail that carries them (`_published_mail_remask`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from typing import Any

import phonenumbers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.accounts.models import Invitation
from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import CouncilMembership, Ownership, Person, PersonEmail
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail import redaction
from lanterne.mail.models import Message
from lanterne.mail.publication import REDACTED_FIELDS, redactions_compute
from lanterne.notifications.models import Follow, Notification
from lanterne.reminders.choices import ReminderState
from lanterne.reminders.models import Reminder

from .export import PersonExport, person_export_build
from .models import PersonErasure

__all__ = ["erased_name", "person_erase", "person_erase_refusal", "person_export"]


@transaction.atomic
def person_export(*, viewer: policy.Viewer, actor: Any, person: Person) -> PersonExport:
    """Gather a person's data for their export (`export.person_export_zip`
    streams it), and log who asked: the person themself or the staff."""
    if not policy.may_export_person_data(viewer, person):
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))
    export = person_export_build(person)
    by_self = person.pk in viewer.person_ids
    audit_record(
        actor=actor,
        agency_id=person.agency_id,
        action=AuditAction.EXPORTED,
        target=person,
        summary=(
            f"Données personnelles de la personne n°{person.pk} exportées"
            + (" par elle-même" if by_self else "")
        ),
        changes={
            "by": "self" if by_self else "staff",
            "messages": export.message_count,
            "documents": len(export.documents),
        },
    )
    return export


def erased_name(person: Person) -> str:
    """The name an anonymised person goes by in the agency's records.

    Stored data, in the agency's language (French), like the audit log's
    summaries; the number is the row's id, which reveals nothing."""
    if person.company_id is not None:
        return f"Ancien contact n°{person.pk}"
    return f"Ancien copropriétaire n°{person.pk}"


def person_erase_refusal(person: Person) -> str | None:
    """Why `person` cannot be anonymised now (in French), or None.

    A co-owner or a council member is still part of the syndicate: their
    data is needed as long as they are (general meetings, calls for funds).
    Staff are the agency's employees, whose records follow employment law,
    not this procedure."""
    if PersonErasure.objects.filter(person=person).exists():
        return _("Cette personne est déjà anonymisée.")
    if person.staff_role:
        return _(
            "Cette personne fait partie du cabinet : un membre du personnel ne s'anonymise "
            "pas d'ici."
        )
    lots = [
        _("lot %(number)s (%(condominium)s)")
        % {"number": o.lot.number, "condominium": o.lot.condominium.name}
        for o in Ownership.objects.filter(person=person).select_related("lot__condominium")
    ]
    if lots:
        return _(
            "Cette personne est encore copropriétaire : %(lots)s. Enregistrez d'abord la "
            "vente de ses lots, puis anonymisez-la."
        ) % {"lots": ", ".join(lots)}
    seats = [
        seat.condominium.name
        for seat in CouncilMembership.objects.filter(person=person).select_related("condominium")
    ]
    if seats:
        return _(
            "Cette personne siège encore au conseil syndical : %(condominiums)s. Retirez-la "
            "d'abord du conseil, puis anonymisez-la."
        ) % {"condominiums": ", ".join(seats)}
    return None


@transaction.atomic
def person_erase(
    *, viewer: policy.Viewer, actor: Any, person: Person, reason: str
) -> PersonErasure:
    """Anonymise `person`, who left: see the module's docstring. All or nothing;
    logged without the erased data (« Personne n°42 anonymisée »)."""
    if not policy.may_erase_person(viewer, person):
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Indiquez le motif de l'anonymisation."))
    person = Person.objects.select_for_update().get(pk=person.pk)
    refusal = person_erase_refusal(person)
    if refusal is not None:
        raise ValidationError(refusal)

    emails = list(PersonEmail.objects.filter(person=person).values_list("address", flat=True))
    keys = redaction.contact_keys(
        emails=emails,
        phones=person.phones or [],
        postal_addresses=[person.postal_address] if person.postal_address else [],
    )
    account = _account_remove(person)
    PersonEmail.objects.filter(person=person).delete()
    Invitation.objects.filter(person=person).delete()
    person.first_name = ""
    person.last_name = erased_name(person)
    person.phones = []
    person.postal_address = ""
    person.save(update_fields=["user", "first_name", "last_name", "phones", "postal_address"])

    waiting = Reminder.objects.filter(dossier__agency_id=person.agency_id).filter(
        _any_address_q("waiting_for_address", emails)
    )
    reminder_ids = sorted(waiting.values_list("pk", flat=True))
    cancelled = Reminder.objects.filter(pk__in=reminder_ids, state=ReminderState.OPEN).update(
        state=ReminderState.CANCELLED, closed_at=timezone.now()
    )
    masked = _published_mail_remask(agency_id=person.agency_id, keys=keys)

    erasure = PersonErasure.objects.create(
        person=person,
        agency_id=person.agency_id,
        erased_by=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason,
        reminder_ids=reminder_ids,
    )
    audit_record(
        actor=actor,
        agency_id=person.agency_id,
        action=AuditAction.ERASED,
        target=person,
        summary=f"Personne n°{person.pk} anonymisée",
        changes={
            "account": account,
            "masked_messages": masked,
            "cancelled_reminders": cancelled,
        },
    )
    return erasure


def _any_address_q(field: str, addresses: Iterable[str]) -> Q:
    query = Q(pk__in=[])
    for address in addresses:
        query |= Q(**{f"{field}__iexact": address})
    return query


def _account_remove(person: Person) -> str:
    """Remove the person's login from this agency: deleted with its follows,
    preferences and notifications when no other agency knows it; otherwise
    unlinked, and what it had of this agency's dossiers deleted. Returns
    "deleted", "unlinked" or "none" (for the log)."""
    user = person.user
    if user is None:
        return "none"
    person.user = None
    if Person.objects.filter(user=user).exclude(pk=person.pk).exists():
        Follow.objects.filter(user=user, dossier__agency_id=person.agency_id).delete()
        Notification.objects.filter(user=user, dossier__agency_id=person.agency_id).delete()
        return "unlinked"
    # The row must not point at the login while it is deleted (SET_NULL would
    # do it, but with the row's old values written back by our save).
    Person.objects.filter(pk=person.pk).update(user=None)
    user.delete()
    return "deleted"


# --- Keeping the erased person's data masked in published mail ----------------------


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _may_mention(digits: str, folded: str, keys: Collection[str]) -> bool:
    """A cheap test before the detector runs: could a text — its `digits`,
    its `folded` form — hold one of `keys`? A phone's national number, an
    e-mail address, the last word of a postal address: each must appear for
    its key to."""
    for key in keys:
        if key.startswith("+"):
            # E.164: the national number, without its trunk prefix, is in
            # any way of writing it ("06 12…", "+33 (0)6 12…", "0033612…").
            if str(phonenumbers.parse(key).national_number) in digits:
                return True
        elif "@" in key:
            if key in folded:
                return True
        elif key.rsplit(" ", 1)[-1] in folded:
            return True
    return False


def _published_mail_remask(*, agency_id: int, keys: frozenset[str]) -> list[int]:
    """Make sure no reader outside the staff is served the erased person's
    contact details in the agency's published mail. Returns the ids of the
    mail changed.

    Published mail stores where its personal data sits (`Message.redactions`,
    spans with the value's key), and serves every span masked except to the
    person it belongs to. Once that person is erased, nobody is "them" any
    more, so a span of theirs is masked for everyone by itself. Two cases
    remain, handled here by touching only the mail that carries their data:

    - their data has no span: detection ran while they were part of what is
      not masked (a company's contact in the contact book), or never ran
      (mail published before redaction, scanned when shown). Spans for their
      values are added, the others left as they were;
    - staff unmasked that mail (`Message.unmasked`): it is masked again. The
      unmasking was decided while the person could be reached; their erasure
      comes after it. Other persons' data in that mail is masked again too —
      the cost of a mail that cannot be half-unmasked — and the change is in
      the erasure's log entry.

    Rewriting the texts themselves was not chosen: the stored mail is the
    dossier's record, and it would come back from the raw bytes on the next
    re-parse. The cost is one pass over the agency's published mail, with a
    cheap test before the detector (`_may_mention`)."""
    if not keys:
        return []
    changed: list[int] = []
    published = (
        Message.objects.filter(agency_id=agency_id, dossier__isnull=False)
        .exclude(audience__in=["", Audience.INTERNAL])
        .select_related("dossier__condominium", "agency")
        .order_by("pk")
    )
    for message in published.iterator(chunk_size=200):
        texts = {field: getattr(message, field) or "" for field in REDACTED_FIELDS}
        joined = "\n".join(texts.values())
        digits = "".join(ch for ch in joined if ch.isdigit())
        if not _may_mention(digits, _fold(joined), keys):
            continue
        found = message.redactions or {}
        if "v" not in found:
            assert message.dossier is not None
            found = redactions_compute(message, message.dossier)
        updated = dict(found)
        added = False
        for field, text in texts.items():
            if not text:
                continue
            spans = [redaction.Span.from_json(row) for row in found.get(field, [])]
            extra = [
                span
                for span in redaction.personal_data_spans(text)
                if span.key in keys
                and not any(span.start < s.end and s.start < span.end for s in spans)
            ]
            if extra:
                merged = sorted([*spans, *extra], key=lambda span: span.start)
                updated[field] = [span.as_json() for span in merged]
                added = True
        mentions = added or any(
            row[3] in keys for field in REDACTED_FIELDS for row in found.get(field, [])
        )
        if not mentions:
            continue
        if added or message.unmasked or updated != message.redactions:
            Message.objects.filter(pk=message.pk).update(redactions=updated, unmasked=False)
            changed.append(message.pk)
    if changed:
        # What co-owners find by searching is what they are served: the
        # search index keeps the public texts of each mail.
        from lanterne.search.services import search_documents_index

        search_documents_index(message_ids=changed)
    return changed
