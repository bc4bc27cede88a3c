"""What the API reads and writes, as OpenAPI schemas.

Fields that only the agency's staff see on the web (audiences, who did what,
contact details, how a mail was filed) are `null` for everyone else: one
schema per object, whoever reads it, so that a program written against the
staff's answers also reads a co-owner's.

Inputs are bounded the way the database is: ids fit a 64-bit integer,
texts fit their column and hold no NUL character (PostgreSQL refuses it), so
that a bad request is a 422 and never a server error."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, Literal, TypeVar

from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict
from pydantic_core import PydanticCustomError

from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.dossiers.choices import (
    Audience,
    DecisionBody,
    DossierStatus,
    DossierType,
    EntryEvent,
    EntryKind,
    TaskStatus,
)
from lanterne.mail.choices import Direction, Review
from lanterne.mail.models import FilingMethod

# The largest primary key (BigAutoField).
MAX_ID = 2**63 - 1
# The largest offset a list accepts: far beyond any agency's data, and within
# what every database takes in OFFSET.
MAX_OFFSET = 10**9
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# The descriptions of the OpenAPI schema are in French, like the interface,
# and not translated: one schema for every client, whatever its language.
STAFF_ONLY = "Pour le personnel du cabinet ; null pour les autres."
# No NUL character: PostgreSQL cannot store one in a text column.


def _without_nul(text: str) -> str:
    if "\x00" in text:
        raise PydanticCustomError("no_nul", "NUL character")
    return text


# A check rather than a `pattern`: the regular expression would weigh on
# every client's validator for a character no client means to send.
NoNul = AfterValidator(_without_nul)

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Title = Annotated[str, Field(min_length=1, max_length=200), NoNul]
Text = Annotated[str, Field(max_length=50_000), NoNul]
RequiredText = Annotated[str, Field(min_length=1, max_length=50_000), NoNul]
IdList = Annotated[list[Id], Field(max_length=500)]

T = TypeVar("T")


def described(text: str) -> ConfigDict:
    """A schema's description in the OpenAPI document (French, like the
    interface; the classes' comments are for the code's readers)."""
    return ConfigDict(json_schema_extra={"description": text})


class Page(Schema, Generic[T]):
    # One page of a list: `count` items in all, `items` from `offset` on.
    # Every list has a stable order, ending with the id, so that pages never
    # overlap nor skip an item while the data stays the same.
    model_config = described(
        "Une page d'une liste : `count` éléments en tout, `items` à partir de `offset`. "
        "Chaque liste a un ordre stable, terminé par l'identifiant."
    )

    count: int
    limit: int
    offset: int
    items: list[T]


class PageParams(Schema):
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class FieldError(Schema):
    # Where a request is wrong (`loc`: body, query or path, then the field).
    model_config = described("Un champ en faute (`loc` : body, query ou path, puis le champ).")

    loc: list[str | int]
    message: str


class ErrorOut(Schema):
    # Every error: a sentence in French, and the fields at fault for a 422.
    model_config = described(
        "Toute erreur : une phrase en français, et les champs en faute pour une 422."
    )

    detail: str
    errors: list[FieldError] = []


# --- Condominiums, lots, persons ------------------------------------------------------


class CondominiumOut(Schema):
    id: int
    name: str
    address: str
    postal_code: str
    city: str
    registry_number: str | None = Field(description=STAFF_ONLY)


class LotOut(Schema):
    id: int
    condominium_id: int
    number: str
    kind: str
    floor: str
    building: str
    staircase: str
    shares: int


class ContactDetailsOut(Schema):
    emails: list[str]
    phones: list[str]
    postal_address: str


class PersonOut(Schema):
    id: int
    first_name: str
    last_name: str
    full_name: str
    staff_role: str | None
    company_id: int | None
    contact: ContactDetailsOut | None = Field(
        description="Pour le personnel du cabinet et pour la personne elle-même ; null sinon."
    )


class LotRef(Schema):
    id: int
    number: str
    floor: str


class PersonRef(Schema):
    id: int
    full_name: str


class CompanyRef(Schema):
    id: int
    name: str
    kind: str


# --- Dossiers ---------------------------------------------------------------------------


class DossierOut(Schema):
    id: int
    reference: str
    title: str
    description: str
    type: DossierType
    status: DossierStatus
    status_line: str
    condominium_id: int
    condominium_name: str
    manager: PersonRef | None
    party_lots: list[LotRef]
    party_persons: list[PersonRef]
    party_companies: list[CompanyRef]
    opened_on: dt.date
    closed_on: dt.date | None
    updated_at: dt.datetime
    audience: Audience | None = Field(description=STAFF_ONLY)
    council_sees_parties: bool | None = Field(description=STAFF_ONLY)
    auto_publish_audience: str | None = Field(description=STAFF_ONLY)


class DossierCreateIn(Schema):
    condominium_id: Id
    title: Title
    type: DossierType
    audience: Audience | None = Field(
        None, description="Par défaut, la visibilité habituelle du type de dossier."
    )
    description: Text = ""
    manager_id: Id | None = None
    council_sees_parties: bool = False
    party_lot_ids: IdList = []
    party_person_ids: IdList = []
    party_company_ids: IdList = []


class DossierUpdateIn(Schema):
    # Only the fields sent change. `manager_id: null` removes the manager;
    # `null` for any other field leaves it as it is.
    model_config = described(
        "Seuls les champs envoyés changent. `manager_id: null` retire le gestionnaire ; "
        "`null` pour un autre champ le laisse tel quel."
    )

    title: Title | None = None
    description: Text | None = None
    audience: Audience | None = None
    manager_id: Id | None = None
    council_sees_parties: bool | None = None
    auto_publish_audience: Literal["", "council", "owners", "parties"] | None = None
    party_lot_ids: IdList | None = None
    party_person_ids: IdList | None = None
    party_company_ids: IdList | None = None


class StatusChangeIn(Schema):
    status: DossierStatus
    comment: Text = ""
    audience: Audience | None = None


# --- The timeline -------------------------------------------------------------------------


class TaskOut(Schema):
    id: int
    dossier_id: int
    title: str
    description: str
    due_on: dt.date | None
    status: TaskStatus
    created_at: dt.datetime
    completed_at: dt.datetime | None
    assignee: PersonRef | None = Field(description=STAFF_ONLY)
    audience: Audience | None = Field(description=STAFF_ONLY)


class TaskCreateIn(Schema):
    title: Title
    description: Text = ""
    due_on: dt.date | None = None
    assignee_id: Id | None = None
    audience: Audience | None = Field(None, description="Par défaut, celle du dossier.")


class TaskUpdateIn(Schema):
    # A task is completed (the web's « Marquer comme terminée »); a completed
    # task is not reopened.
    model_config = described(
        "Une tâche se termine (« Marquer comme terminée ») ; une tâche terminée ne se rouvre pas."
    )

    status: Literal["done"]


class DecisionOut(Schema):
    id: int
    dossier_id: int
    decided_by: DecisionBody
    decided_on: dt.date
    text: str
    created_at: dt.datetime
    audience: Audience | None = Field(description=STAFF_ONLY)


class DecisionCreateIn(Schema):
    # Staff record any decision; the council's chair records the council's
    # opinion (`decided_by: council`), for the council or all co-owners.
    model_config = described(
        "Le personnel enregistre toute décision ; le président du conseil syndical "
        "enregistre l'avis du conseil (`decided_by: council`), pour le conseil ou tous "
        "les copropriétaires."
    )

    decided_by: DecisionBody
    text: RequiredText
    decided_on: dt.date | None = None
    audience: Audience | None = Field(None, description="Par défaut, celle du dossier.")


class NoteOut(Schema):
    id: int
    dossier_id: int
    text: str
    created_at: dt.datetime
    audience: Audience | None = Field(description=STAFF_ONLY)


class NoteCreateIn(Schema):
    text: RequiredText
    audience: Audience | None = Field(None, description="Par défaut, celle du dossier.")


class StatusChangeOut(Schema):
    id: int
    from_status: DossierStatus | None
    to_status: DossierStatus
    comment: str
    changed_at: dt.datetime


class DocumentOut(Schema):
    id: int
    title: str
    kind: DocumentKind
    filename: str
    content_type: str
    size: int
    condominium_id: int
    dossier_id: int | None
    lot_id: int | None
    space: DocumentSpace | None
    document_date: dt.date | None
    valid_until: dt.date | None
    uploaded_at: dt.datetime
    download_url: str
    audience: Audience | None = Field(description=STAFF_ONLY)


class RecipientOut(Schema):
    name: str
    address: str


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    is_inline: bool
    download_url: str


class FilingOut(Schema):
    # How the mail came to be in its dossier, as staff read it.
    model_config = described("Comment le courriel est arrivé dans son dossier.")

    method: FilingMethod
    score: float | None
    reason: str
    filed_at: dt.datetime | None


class MessageOut(Schema):
    # A mail. Outside the staff, its texts are served with the personal data
    # of others masked (`masked`), and its HTML version not at all, unless
    # staff unmasked the mail.
    model_config = described(
        "Un courriel. Hors du personnel, ses textes sont servis avec les données "
        "personnelles des autres masquées (`masked`), et sa version HTML pas du tout, "
        "sauf si le personnel a levé le masquage."
    )

    id: int
    dossier_id: int | None
    dossier_reference: str | None
    date: dt.datetime | None
    direction: Direction
    subject: str
    from_name: str
    new_text: str
    quoted_text: str
    signature: str
    text: str
    masked: bool
    html: str | None = Field(
        description=(
            "La version HTML nettoyée : pour le personnel, et pour les autres lecteurs "
            "si le personnel a levé le masquage ; null sinon."
        )
    )
    attachments: list[AttachmentOut]
    from_address: str | None = Field(description=STAFF_ONLY)
    to: list[RecipientOut] | None = Field(description=STAFF_ONLY)
    cc: list[RecipientOut] | None = Field(description=STAFF_ONLY)
    audience: Audience | None = Field(description=STAFF_ONLY)
    review: Review | None = Field(description=STAFF_ONLY)
    filing: FilingOut | None = Field(description=STAFF_ONLY)
    is_auto_reply: bool | None = Field(description=STAFF_ONLY)
    is_bounce: bool | None = Field(description=STAFF_ONLY)
    is_bulk: bool | None = Field(description=STAFF_ONLY)


class EntryOut(Schema):
    # One event of a dossier's timeline, with the object it is about.
    model_config = described(
        "Un événement de la chronologie d'un dossier, avec l'objet dont il parle."
    )

    id: int
    dossier_id: int
    occurred_at: dt.datetime
    kind: EntryKind
    event: EntryEvent
    note: NoteOut | None
    task: TaskOut | None
    decision: DecisionOut | None
    status_change: StatusChangeOut | None
    document: DocumentOut | None
    message: MessageOut | None
    audience: Audience | None = Field(description=STAFF_ONLY)
    actor: str | None = Field(description=STAFF_ONLY)
