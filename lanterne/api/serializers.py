"""Objects as one viewer reads them through the API: the fields the web shows
that viewer, no more.

The caller has checked that the viewer may see each object (the policy's
querysets and predicates, in the routers); what is decided here is only which
of its fields they read — the same split as the web's templates, which show
audiences, actors, assignees, addresses and filing details to the agency's
staff only (`dossiers/partials/entry.html`, `mail/partials/message_body.html`).
Mail texts are those `lanterne.mail.publication` serves the viewer: set on
each message by `texts_attach` or `timeline_prepare` before it gets here."""

from __future__ import annotations

from django.urls import reverse

from lanterne.condominiums.models import Condominium, Lot, Person
from lanterne.documents.choices import DocumentKind
from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.dossiers.choices import (
    Audience,
    DecisionBody,
    DossierStatus,
    DossierType,
    EntryEvent,
    EntryKind,
    TaskStatus,
)
from lanterne.dossiers.models import Decision, Dossier, Note, StatusChange, Task, TimelineEntry
from lanterne.mail.choices import Direction, Review
from lanterne.mail.models import Attachment, FilingMethod, Message
from lanterne.mail.publication import MessageTexts

from .schemas import (
    AttachmentOut,
    CompanyRef,
    CondominiumOut,
    ContactDetailsOut,
    DecisionOut,
    DocumentOut,
    DossierOut,
    EntryOut,
    FilingOut,
    LotOut,
    LotRef,
    MessageOut,
    NoteOut,
    PersonOut,
    PersonRef,
    RecipientOut,
    StatusChangeOut,
    TaskOut,
)


def sees_staff_fields(viewer: policy.Viewer, agency_id: int) -> bool:
    """Whether the viewer reads what the web shows the agency's staff only."""
    return policy.may_manage_dossiers(viewer, agency_id)


def _audience(value: str, staff: bool) -> Audience | None:
    """An object's audience, for staff; `None` for others (and for a mail in
    no dossier, which has none)."""
    return Audience(value) if staff and value else None


def condominium_out(viewer: policy.Viewer, condominium: Condominium) -> CondominiumOut:
    staff = sees_staff_fields(viewer, condominium.agency_id)
    return CondominiumOut(
        id=condominium.pk,
        name=condominium.name,
        address=condominium.address,
        postal_code=condominium.postal_code,
        city=condominium.city,
        registry_number=condominium.registry_number if staff else None,
    )


def lot_out(lot: Lot) -> LotOut:
    return LotOut(
        id=lot.pk,
        condominium_id=lot.condominium_id,
        number=lot.number,
        kind=lot.kind,
        floor=lot.floor,
        building=lot.building,
        staircase=lot.staircase,
        shares=lot.shares,
    )


def person_out(viewer: policy.Viewer, person: Person) -> PersonOut:
    """A person; their contact details for those `may_see_contact_details`
    admits. Expects `emails` prefetched."""
    contact = None
    if policy.may_see_contact_details(viewer, person):
        contact = ContactDetailsOut(
            emails=[email.address for email in person.emails.all()],
            phones=[str(phone) for phone in person.phones or []],
            postal_address=person.postal_address,
        )
    return PersonOut(
        id=person.pk,
        first_name=person.first_name,
        last_name=person.last_name,
        full_name=person.full_name,
        staff_role=person.staff_role or None,
        company_id=person.company_id,
        contact=contact,
    )


def _person_ref(person: Person | None) -> PersonRef | None:
    return None if person is None else PersonRef(id=person.pk, full_name=person.full_name)


def dossier_out(viewer: policy.Viewer, dossier: Dossier) -> DossierOut:
    """A dossier with its parties' names (never their contact details).
    Expects `condominium`, `manager` and the parties loaded."""
    staff = sees_staff_fields(viewer, dossier.agency_id)
    return DossierOut(
        id=dossier.pk,
        reference=dossier.reference,
        title=dossier.title,
        description=dossier.description,
        type=DossierType(dossier.type),
        status=DossierStatus(dossier.status),
        status_line=dossier.status_line,
        condominium_id=dossier.condominium_id,
        condominium_name=dossier.condominium.name,
        manager=_person_ref(dossier.manager),
        party_lots=[
            LotRef(id=lot.pk, number=lot.number, floor=lot.floor)
            for lot in dossier.party_lots.all()
        ],
        party_persons=[
            PersonRef(id=person.pk, full_name=person.full_name)
            for person in dossier.party_persons.all()
        ],
        party_companies=[
            CompanyRef(id=company.pk, name=company.name, kind=company.kind)
            for company in dossier.party_companies.all()
        ],
        opened_on=dossier.opened_on,
        closed_on=dossier.closed_on,
        updated_at=dossier.updated_at,
        audience=_audience(dossier.audience, staff),
        council_sees_parties=dossier.council_sees_parties if staff else None,
        auto_publish_audience=dossier.auto_publish_audience if staff else None,
    )


def task_out(task: Task, *, staff: bool) -> TaskOut:
    """Expects `assignee` loaded."""
    return TaskOut(
        id=task.pk,
        dossier_id=task.dossier_id,
        title=task.title,
        description=task.description,
        due_on=task.due_on,
        status=TaskStatus(task.status),
        created_at=task.created_at,
        completed_at=task.completed_at,
        assignee=_person_ref(task.assignee) if staff else None,
        audience=_audience(task.audience, staff),
    )


def decision_out(decision: Decision, *, staff: bool) -> DecisionOut:
    return DecisionOut(
        id=decision.pk,
        dossier_id=decision.dossier_id,
        decided_by=DecisionBody(decision.decided_by),
        decided_on=decision.decided_on,
        text=decision.text,
        created_at=decision.created_at,
        audience=_audience(decision.audience, staff),
    )


def note_out(note: Note, *, staff: bool) -> NoteOut:
    return NoteOut(
        id=note.pk,
        dossier_id=note.dossier_id,
        text=note.text,
        created_at=note.created_at,
        audience=_audience(note.audience, staff),
    )


def status_change_out(change: StatusChange) -> StatusChangeOut:
    return StatusChangeOut(
        id=change.pk,
        from_status=DossierStatus(change.from_status) if change.from_status else None,
        to_status=DossierStatus(change.to_status),
        comment=change.comment,
        changed_at=change.changed_at,
    )


def document_out(document: Document, *, staff: bool) -> DocumentOut:
    return DocumentOut(
        id=document.pk,
        title=document.title,
        kind=DocumentKind(document.kind),
        filename=document.filename,
        content_type=document.content_type,
        size=document.size,
        condominium_id=document.condominium_id,
        dossier_id=document.dossier_id,
        lot_id=document.lot_id,
        space=document.space,
        document_date=document.document_date,
        valid_until=document.valid_until,
        uploaded_at=document.uploaded_at,
        download_url=reverse("api:v1:document_download", args=[document.pk]),
        audience=_audience(document.audience, staff),
    )


def _attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.pk,
        filename=attachment.filename,
        content_type=attachment.detected_type or attachment.content_type,
        size=attachment.size,
        is_inline=attachment.is_inline,
        download_url=reverse("api:v1:attachment_download", args=[attachment.pk]),
    )


def _recipients(rows: list[dict[str, str]] | None) -> list[RecipientOut]:
    return [
        RecipientOut(name=row.get("name") or "", address=row.get("address") or "")
        for row in rows or []
    ]


def message_out(message: Message, *, staff: bool) -> MessageOut:
    """A mail as its viewer is served it. Expects `display_texts` set
    (`publication.texts_attach` or `timeline_prepare`), `dossier` and
    `attachments` loaded. Signature logos are left out, as on the web."""
    texts: MessageTexts = message.display_texts  # type: ignore[attr-defined]
    dossier = message.dossier
    return MessageOut(
        id=message.pk,
        dossier_id=message.dossier_id,
        dossier_reference=dossier.reference if dossier is not None else None,
        date=message.date,
        direction=Direction(message.direction),
        subject=texts.subject,
        from_name=message.from_name,
        new_text=texts.new_text,
        quoted_text=texts.quoted_text,
        signature=texts.signature,
        text=texts.text,
        masked=texts.masked,
        # `original`: staff, or a reader of a mail staff unmasked
        # (`policy.may_read_message_original`): the HTML cannot be masked.
        html=message.html if texts.original else None,
        attachments=[
            _attachment_out(attachment)
            for attachment in message.attachments.all()
            if not attachment.is_signature_logo
        ],
        from_address=message.from_address if staff else None,
        to=_recipients(message.to) if staff else None,
        cc=_recipients(message.cc) if staff else None,
        audience=_audience(message.audience, staff),
        review=Review(message.review) if staff and message.review else None,
        filing=(
            FilingOut(
                method=FilingMethod(message.filing_method),
                score=message.filing_score,
                reason=message.filing_reason,
                filed_at=message.filed_at,
            )
            if staff
            else None
        ),
        is_auto_reply=message.is_auto_reply if staff else None,
        is_bounce=message.is_bounce if staff else None,
        is_bulk=message.is_bulk if staff else None,
    )


def entry_out(entry: TimelineEntry, *, staff: bool) -> EntryOut:
    """Expects the object the entry points at loaded (and, for a mail, its
    texts set)."""
    actor = entry.actor
    return EntryOut(
        id=entry.pk,
        dossier_id=entry.dossier_id,
        occurred_at=entry.occurred_at,
        kind=EntryKind(entry.kind),
        event=EntryEvent(entry.event),
        note=note_out(entry.note, staff=staff) if entry.note is not None else None,
        task=task_out(entry.task, staff=staff) if entry.task is not None else None,
        decision=(
            decision_out(entry.decision, staff=staff) if entry.decision is not None else None
        ),
        status_change=(
            status_change_out(entry.status_change) if entry.status_change is not None else None
        ),
        document=(
            document_out(entry.document, staff=staff) if entry.document is not None else None
        ),
        message=message_out(entry.message, staff=staff) if entry.message is not None else None,
        audience=_audience(entry.audience, staff),
        actor=str(actor) if staff and actor is not None else None,
    )
