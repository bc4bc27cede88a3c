"""The access policy: the one place that answers "may this person see / do this?".

Every view, export, command and (later) API endpoint asks this module, either
through its predicates (`may_*`) or through the querysets it filters
(`*_visible_to`). Nothing else in Lanterne decides visibility.

The rules (GLOSSARY.md, "Audiences"):

- The agency is the tenant boundary: nobody outside an agency sees anything of it.
- Staff of an agency (manager, assistant) see everything of their agency.
- A dossier, a timeline entry and a document each have an audience:
  `internal` — staff only; `council` — the council members of the condominium;
  `owners` — every co-owner of the condominium (council members included);
  `parties` — the persons named on the dossier and the owners of the lots named
  on it, and the council when the dossier says so (`council_sees_parties`).
- An entry or a document of a dossier is visible only if the dossier itself is.
- A document of the condominium outside any dossier sits in one space of the
  décret n° 2019-502: « Tous les copropriétaires » (audience `owners`),
  « Conseil syndical » (`council`), or « Mon lot » — a document of a `lot`,
  seen by the owners of that lot and staff only: not by the council, not by
  the other co-owners. Any other document outside a dossier is for staff.
  The checklist of required documents is for the agency's staff.
- A filed mail — its text, attachments and inline images — is read by
  exactly those who see its timeline entry; mail in no dossier by the staff
  of its agency only. Outside the staff, its texts are served with the
  personal data of others masked, and its HTML version (which cannot be
  masked) not at all, until staff unmask that mail.
- A co-owner sees other persons' names on a dossier they may see, never their
  contact details; only staff read the contact book. Likewise the lots of a
  condominium: staff list them all, a co-owner their own.
- Recording the council's opinion as a decision is for the council's chair.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet

from lanterne.condominiums.choices import CouncilRole, StaffRole
from lanterne.condominiums.models import Condominium, CouncilMembership, Lot, Ownership, Person

from .choices import Audience

if TYPE_CHECKING:
    from lanterne.audit.models import AuditLog
    from lanterne.documents.models import Document
    from lanterne.mail.models import Attachment, Message
    from lanterne.search.models import SearchDocument

    from .models import Dossier, TimelineEntry


@dataclass(frozen=True)
class Viewer:
    """What the policy needs to know about the person asking, read once per request."""

    user_id: int | None = None
    staff_agency_ids: frozenset[int] = frozenset()
    manager_agency_ids: frozenset[int] = frozenset()
    person_ids: frozenset[int] = frozenset()
    owned_lot_ids: frozenset[int] = frozenset()
    owner_condominium_ids: frozenset[int] = frozenset()
    council_condominium_ids: frozenset[int] = frozenset()
    chair_condominium_ids: frozenset[int] = frozenset()
    agency_ids: frozenset[int] = field(default=frozenset())

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def is_staff_anywhere(self) -> bool:
        return bool(self.staff_agency_ids)

    @classmethod
    def anonymous(cls) -> Viewer:
        return cls()

    @classmethod
    def system(cls, agency_id: int) -> Viewer:
        """The viewer of a management command run by the server's operator on one
        agency: staff and manager rights there, and no login.

        Meant for the write services' permission checks (`may_import`,
        `may_manage_dossiers`…). Having no user, it is anonymous to the audience
        rules and the `*_visible_to` querysets: never use it to list what someone
        may see."""
        agency_ids = frozenset({agency_id})
        return cls(
            staff_agency_ids=agency_ids, manager_agency_ids=agency_ids, agency_ids=agency_ids
        )

    @classmethod
    def for_user(cls, user: Any, *, agency_id: int | None = None) -> Viewer:
        """Read the roles of a login (one query), or the anonymous viewer.

        With `agency_id`, only the roles the login holds in that agency: an API
        token is scoped to one agency (`lanterne.api`), so a login known to
        two agencies reads through it as if it knew only the token's."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return cls.anonymous()
        rows = _roles_of(user.pk, agency_id)
        persons = [(pk, agency, role) for kind, pk, agency, role in rows if kind == _PERSON]
        lots = [(lot, condominium) for kind, lot, condominium, _ in rows if kind == _LOT]
        seats = [(condominium, role) for kind, condominium, _, role in rows if kind == _SEAT]
        return cls(
            user_id=user.pk,
            staff_agency_ids=frozenset(agency for _, agency, role in persons if role),
            manager_agency_ids=frozenset(
                agency for _, agency, role in persons if role == StaffRole.MANAGER
            ),
            person_ids=frozenset(pk for pk, _, _ in persons),
            owned_lot_ids=frozenset(lot for lot, _ in lots),
            owner_condominium_ids=frozenset(condominium for _, condominium in lots),
            council_condominium_ids=frozenset(condominium for condominium, _ in seats),
            chair_condominium_ids=frozenset(
                condominium for condominium, role in seats if role == CouncilRole.CHAIR
            ),
            agency_ids=frozenset(agency for _, agency, _ in persons),
        )

    def is_staff_of(self, agency_id: int) -> bool:
        return agency_id in self.staff_agency_ids

    def is_manager_of(self, agency_id: int) -> bool:
        return agency_id in self.manager_agency_ids


# The kinds of row `_roles_of` reads.
_PERSON, _LOT, _SEAT = 0, 1, 2


def _roles_of(user_id: int, agency_id: int | None) -> list[tuple[int, int, int, str]]:
    """The roles of a login, in every agency or in `agency_id` only, as rows
    (kind, id, agency or condominium, role): its persons (id, agency, staff
    role), the lots they own (lot, its condominium) and their council seats
    (condominium twice, seat's role).

    Every request asks, so in SQL: one statement takes 0.7 ms on the scale
    data, where Django's ORM spent 2.5 ms building and reading three
    queries (docs/benchmarks.md)."""
    with connection.cursor() as cursor:
        cursor.execute(_roles_sql(), {"user": user_id, "agency": agency_id})
        return cursor.fetchall()


@functools.cache
def _roles_sql() -> str:
    person = Person._meta.db_table
    ownership = Ownership._meta.db_table
    lot = Lot._meta.db_table
    seat = CouncilMembership._meta.db_table
    condominium = Condominium._meta.db_table
    # A role counts in its person's agency only, and only in `agency` when given.
    return f"""
        WITH p AS (
          SELECT id, agency_id, staff_role FROM {person}
           WHERE user_id = %(user)s
             AND (CAST(%(agency)s AS BIGINT) IS NULL OR agency_id = %(agency)s)
        )
        SELECT {_PERSON}, p.id, p.agency_id, p.staff_role FROM p
        UNION ALL
        SELECT {_LOT}, o.lot_id, l.condominium_id, ''
          FROM {ownership} o
          JOIN p ON p.id = o.person_id
          JOIN {lot} l ON l.id = o.lot_id
          JOIN {condominium} c ON c.id = l.condominium_id AND c.agency_id = p.agency_id
        UNION ALL
        SELECT {_SEAT}, s.condominium_id, s.condominium_id, s.role
          FROM {seat} s
          JOIN p ON p.id = s.person_id
          JOIN {condominium} c ON c.id = s.condominium_id AND c.agency_id = p.agency_id
    """  # noqa: S608 (table names from the models; values are parameters)


def viewer_of(request: Any) -> Viewer:
    """The viewer of a request, computed once and kept on the request."""
    viewer = getattr(request, "_lanterne_viewer", None)
    if viewer is None:
        viewer = Viewer.for_user(getattr(request, "user", None))
        request._lanterne_viewer = viewer
    return viewer


# --- Audiences -----------------------------------------------------------------


def audiences_for(
    viewer: Viewer,
    dossier: Dossier,
    *,
    party_person_ids: set[int] | None = None,
    party_lot_ids: set[int] | None = None,
) -> frozenset[str]:
    """The audiences of `dossier` that `viewer` belongs to.

    Pass the dossier's party ids when they are already loaded, to spare queries."""
    if viewer.is_anonymous:
        return frozenset()
    if viewer.is_staff_of(dossier.agency_id):
        return frozenset(Audience.values)
    condominium_id = dossier.condominium_id
    audiences: set[str] = set()
    on_council = condominium_id in viewer.council_condominium_ids
    if on_council:
        audiences.add(Audience.COUNCIL)
    if on_council or condominium_id in viewer.owner_condominium_ids:
        audiences.add(Audience.OWNERS)
    if party_person_ids is None:
        party_person_ids = {p.pk for p in dossier.party_persons.all()}
    if party_lot_ids is None:
        party_lot_ids = {lot.pk for lot in dossier.party_lots.all()}
    is_party = bool(viewer.person_ids & party_person_ids) or bool(
        viewer.owned_lot_ids & party_lot_ids
    )
    if is_party or (on_council and dossier.council_sees_parties):
        audiences.add(Audience.PARTIES)
    return frozenset(audiences)


def condominium_audiences_for(viewer: Viewer, condominium: Condominium) -> frozenset[str]:
    """The audiences of a condominium-level object (a document outside any dossier)."""
    if viewer.is_anonymous:
        return frozenset()
    if viewer.is_staff_of(condominium.agency_id):
        return frozenset(Audience.values)
    audiences: set[str] = set()
    if condominium.pk in viewer.council_condominium_ids:
        audiences.update({Audience.COUNCIL, Audience.OWNERS})
    if condominium.pk in viewer.owner_condominium_ids:
        audiences.add(Audience.OWNERS)
    return frozenset(audiences)


# --- Predicates ------------------------------------------------------------------


def may_see_condominium(viewer: Viewer, condominium: Condominium) -> bool:
    return bool(condominium_audiences_for(viewer, condominium))


def may_see_document_checklist(viewer: Viewer, condominium: Condominium) -> bool:
    """The checklist of the documents the law requires online (décret n° 2019-502),
    and the space's upload form: the agency's staff."""
    return viewer.is_staff_of(condominium.agency_id)


def may_see_dossier(viewer: Viewer, dossier: Dossier) -> bool:
    return dossier.audience in audiences_for(viewer, dossier)


def may_see_entry(viewer: Viewer, entry: TimelineEntry) -> bool:
    audiences = audiences_for(viewer, entry.dossier)
    return entry.dossier.audience in audiences and entry.audience in audiences


def may_see_document(viewer: Viewer, document: Document) -> bool:
    if document.dossier_id is not None:
        dossier = document.dossier
        assert dossier is not None
        audiences = audiences_for(viewer, dossier)
        return dossier.audience in audiences and document.audience in audiences
    if document.lot_id is not None:
        # « Mon lot »: a co-owner's account, charges, calls for funds (the
        # database keeps such a document out of dossiers, audience `parties`).
        if viewer.is_staff_of(document.agency_id):
            return True
        return document.lot_id in viewer.owned_lot_ids
    # Outside a dossier and a lot, `parties` names nobody: only staff have it.
    return document.audience in condominium_audiences_for(viewer, document.condominium)


def may_read_message(viewer: Viewer, message: Message) -> bool:
    """Read a mail: its text, its HTML version, its attachments and inline images.

    Exactly those who may see its timeline entry: the mail's `audience` is its
    entry's (`entry_set_audience` changes both), and it is read only where the
    dossier itself is seen. A mail in no dossier — in triage, or said to
    concern none — has no audience yet: the agency's staff only."""
    if viewer.is_staff_of(message.agency_id):
        return True
    if message.dossier_id is None:
        return False
    dossier = message.dossier
    assert dossier is not None
    if dossier.agency_id != message.agency_id:
        return False
    audiences = audiences_for(viewer, dossier)
    return dossier.audience in audiences and message.audience in audiences


def may_read_message_original(viewer: Viewer, message: Message) -> bool:
    """Read a mail as received — personal data unmasked, its HTML version —
    rather than the masked texts its audience is served: staff of its agency,
    and its readers once staff unmasked it (a logged decision)."""
    if viewer.is_staff_of(message.agency_id):
        return True
    return message.unmasked and may_read_message(viewer, message)


def may_see_contact_details(viewer: Viewer, person: Person) -> bool:
    """E-mails, phones and postal address: staff of the person's agency, or oneself."""
    return viewer.is_staff_of(person.agency_id) or person.pk in viewer.person_ids


def may_manage_dossiers(viewer: Viewer, agency_id: int) -> bool:
    """Create and edit dossiers, tasks, decisions, notes, documents; set audiences."""
    return viewer.is_staff_of(agency_id)


def may_edit_dossier(viewer: Viewer, dossier: Dossier) -> bool:
    return may_manage_dossiers(viewer, dossier.agency_id)


def may_invite(viewer: Viewer, person: Person) -> bool:
    """Send a login invitation to a contact of the agency."""
    return viewer.is_staff_of(person.agency_id)


def may_import(viewer: Viewer, agency_id: int) -> bool:
    """Bulk import (CSV) into an agency: managers only."""
    return viewer.is_manager_of(agency_id)


def may_record_council_opinion(viewer: Viewer, dossier: Dossier) -> bool:
    """The council chair records the council's opinion on a dossier they may see."""
    if viewer.is_staff_of(dossier.agency_id):
        return True
    return dossier.condominium_id in viewer.chair_condominium_ids and may_see_dossier(
        viewer, dossier
    )


# --- Querysets -------------------------------------------------------------------


def condominiums_visible_to(viewer: Viewer) -> QuerySet[Condominium]:
    if viewer.is_anonymous:
        return Condominium.objects.none()
    return Condominium.objects.filter(
        Q(agency_id__in=viewer.staff_agency_ids)
        | Q(pk__in=viewer.owner_condominium_ids)
        | Q(pk__in=viewer.council_condominium_ids)
    )


def _party_of_q(viewer: Viewer, field: str) -> Q:
    """Rows whose `field` (a dossier's pk, or a pointer to a dossier) is a
    dossier `viewer` is a party to, in person or through a lot they own.

    Subqueries on the two link tables, not joins through the parties: a
    join repeats rows and, ORed with the other conditions, makes the
    database hash every dossier with its parties (48 ms over 20,000
    dossiers, against 2 ms this way)."""
    from .models import Dossier

    persons = Dossier.party_persons.through.objects.filter(person_id__in=viewer.person_ids)
    lots = Dossier.party_lots.through.objects.filter(lot_id__in=viewer.owned_lot_ids)
    return Q(**{f"{field}__in": persons.values("dossier_id")}) | Q(
        **{f"{field}__in": lots.values("dossier_id")}
    )


def dossier_visibility_q(viewer: Viewer, prefix: str = "") -> Q:
    """A filter on dossiers (or, with `prefix`, on rows pointing at a dossier)
    keeping those `viewer` may see. Mirrors `may_see_dossier`."""
    if viewer.is_anonymous:
        return Q(pk__in=[])
    p = prefix
    council = viewer.council_condominium_ids
    owners = viewer.owner_condominium_ids | council
    return (
        Q(**{f"{p}agency_id__in": viewer.staff_agency_ids})
        | Q(**{f"{p}audience": Audience.OWNERS, f"{p}condominium_id__in": owners})
        | Q(**{f"{p}audience": Audience.COUNCIL, f"{p}condominium_id__in": council})
        | (Q(**{f"{p}audience": Audience.PARTIES}) & _party_of_q(viewer, f"{p}pk"))
        | Q(
            **{
                f"{p}audience": Audience.PARTIES,
                f"{p}council_sees_parties": True,
                f"{p}condominium_id__in": council,
            }
        )
    )


def dossiers_visible_to(viewer: Viewer) -> QuerySet[Dossier]:
    from .models import Dossier

    if viewer.is_anonymous:
        return Dossier.objects.none()
    return Dossier.objects.filter(dossier_visibility_q(viewer))


def entries_visible_to(viewer: Viewer, dossier: Dossier) -> QuerySet[TimelineEntry]:
    """The timeline entries of `dossier` that `viewer` may see (none if the
    dossier itself is hidden)."""
    from .models import TimelineEntry

    audiences = audiences_for(viewer, dossier)
    if dossier.audience not in audiences:
        return TimelineEntry.objects.none()
    return TimelineEntry.objects.filter(dossier=dossier, audience__in=audiences)


def documents_visible_to(viewer: Viewer, dossier: Dossier) -> QuerySet[Document]:
    from lanterne.documents.models import Document

    audiences = audiences_for(viewer, dossier)
    if dossier.audience not in audiences:
        return Document.objects.none()
    return Document.objects.filter(dossier=dossier, audience__in=audiences)


def condominium_documents_visible_to(
    viewer: Viewer, condominium: Condominium
) -> QuerySet[Document]:
    """The documents of the condominium's space (outside any dossier) that `viewer`
    may see: `may_see_document` in SQL. Staff of the agency see them all; a
    co-owner those for all co-owners and those of their own lots; a council
    member also the council's."""
    from lanterne.documents.models import Document

    if viewer.is_anonymous:
        return Document.objects.none()
    documents = Document.objects.filter(condominium=condominium, dossier__isnull=True)
    if viewer.is_staff_of(condominium.agency_id):
        return documents
    return documents.filter(
        Q(lot__isnull=True, audience__in=condominium_audiences_for(viewer, condominium))
        | Q(lot__in=viewer.owned_lot_ids)
    )


def messages_visible_to(viewer: Viewer) -> QuerySet[Message]:
    """The mail `viewer` may read, in every dossier: `may_read_message` in SQL.

    The mail of the agencies where `viewer` is staff, and filed mail whose
    dossier `viewer` may see and whose own audience admits them (the rules of
    `dossier_visibility_q`, applied to the mail's audience)."""
    from lanterne.mail.models import Message

    if viewer.is_anonymous:
        return Message.objects.none()
    council = viewer.council_condominium_ids
    owners = viewer.owner_condominium_ids | council
    audience_admits = (
        Q(audience=Audience.OWNERS, dossier__condominium_id__in=owners)
        | Q(audience=Audience.COUNCIL, dossier__condominium_id__in=council)
        | (Q(audience=Audience.PARTIES) & _party_of_q(viewer, "dossier_id"))
        | Q(
            audience=Audience.PARTIES,
            dossier__council_sees_parties=True,
            dossier__condominium_id__in=council,
        )
    )
    published = Message.objects.filter(
        dossier_visibility_q(viewer, "dossier__"),
        audience_admits,
        dossier__agency_id=F("agency_id"),
    ).values("pk")
    return Message.objects.filter(Q(agency_id__in=viewer.staff_agency_ids) | Q(pk__in=published))


def attachments_visible_to(viewer: Viewer) -> QuerySet[Attachment]:
    """The attachments and inline images `viewer` may download: those of the
    mail they may read (`may_read_message`)."""
    from lanterne.mail.models import Attachment

    return Attachment.objects.filter(message__in=messages_visible_to(viewer))


def persons_visible_to(viewer: Viewer) -> QuerySet[Person]:
    """The contact book: staff see their agency's persons; others see themselves."""
    return Person.objects.filter(
        Q(agency_id__in=viewer.staff_agency_ids) | Q(pk__in=viewer.person_ids)
    )


def lots_visible_to(viewer: Viewer) -> QuerySet[Lot]:
    """The lots listed to `viewer` (the API's lots): staff see their
    agency's; a co-owner their own. Anyone else knows a lot only by its
    number, as a party of a dossier they may see."""
    return Lot.objects.filter(
        Q(condominium__agency_id__in=viewer.staff_agency_ids) | Q(pk__in=viewer.owned_lot_ids)
    )


def unfiled_messages_visible_to(viewer: Viewer) -> QuerySet[Message]:
    """Mail in no dossier — waiting in the triage inbox, or said to concern no
    dossier — of the agencies where `viewer` is staff. Such mail has no
    audience: until it is filed into a dossier (and published), only the
    agency's staff read it."""
    from lanterne.mail.models import Message

    if viewer.is_anonymous:
        return Message.objects.none()
    return Message.objects.filter(agency_id__in=viewer.staff_agency_ids, dossier__isnull=True)


# --- Privacy and the audit log ---------------------------------------------------


def may_see_audit_log(viewer: Viewer) -> bool:
    """The journal (/journal/): staff, each for their own agencies' rows."""
    return viewer.is_staff_anywhere


def audit_log_visible_to(viewer: Viewer) -> QuerySet[AuditLog]:
    """The audit log rows of the agencies where `viewer` is staff; none for
    anyone else (a co-owner reads no journal, not even of their own acts)."""
    from lanterne.audit.models import AuditLog

    if not viewer.staff_agency_ids:
        return AuditLog.objects.none()
    return AuditLog.objects.filter(agency_id__in=viewer.staff_agency_ids)


def may_export_person_data(viewer: Viewer, person: Person) -> bool:
    """Download everything Lanterne holds about `person` (RGPD art. 15 and 20):
    the staff of their agency (who hand it over), or the person themself. The
    export is the same whoever asks: it carries the person's own data, other
    persons' masked (art. 15-4)."""
    return viewer.is_staff_of(person.agency_id) or person.pk in viewer.person_ids


def may_erase_person(viewer: Viewer, person: Person) -> bool:
    """Anonymise a person who left (RGPD art. 17): the managers of their
    agency — never themselves."""
    return viewer.is_manager_of(person.agency_id) and person.pk not in viewer.person_ids


def lot_documents_owned_by(person: Person) -> QuerySet[Document]:
    """The « Mon lot » documents of the lots `person` owns now — what
    `may_see_document` shows a lot's owner, and what their export carries."""
    from lanterne.documents.models import Document

    return Document.objects.filter(
        agency_id=person.agency_id, dossier__isnull=True, lot__ownerships__person=person
    )


# --- Search ----------------------------------------------------------------------


def _search_document_current_q() -> Q:
    """Index rows that still say what their object says: the same audience
    (and, for a mail or a document, the same dossier). A row not yet
    re-indexed after a change is then found by staff only — never by a
    reader the object no longer admits.

    One EXISTS per kind rather than a join to each kind's table: six
    joins made PostgreSQL spend 10 ms weighing their orders, per query."""
    from lanterne.documents.models import Document
    from lanterne.mail.models import Message
    from lanterne.search.choices import SearchKind

    from .models import Decision, Dossier, Note, Task

    same = {"audience": OuterRef("audience")}
    in_dossier = {**same, "dossier_id": OuterRef("dossier_id")}

    def still(model: Any, pointer: str, **fields: Any) -> Exists:
        return Exists(model.objects.filter(pk=OuterRef(pointer), **fields))

    return (
        Q(still(Dossier, "dossier_id", **same), kind=SearchKind.DOSSIER)
        | Q(still(Message, "message_id", **in_dossier), kind=SearchKind.MESSAGE)
        | Q(still(Note, "note_id", **same), kind=SearchKind.NOTE)
        | Q(still(Decision, "decision_id", **same), kind=SearchKind.DECISION)
        | Q(still(Task, "task_id", **same), kind=SearchKind.TASK)
        | Q(still(Document, "document_id", **in_dossier), kind=SearchKind.DOCUMENT)
    )


# A search that may find at most this many rows checks each for the words
# (`SearchScope.narrow`).
NARROW_SEARCH_ROWS = 20_000


@dataclass(frozen=True)
class SearchScope:
    """What a search may find for one viewer, as two filters on the index
    (`lanterne.search.models.SearchDocument`), None when empty:

    - `original`: the rows `viewer` reads as staff — every object of the
      agencies where they are staff, mail in no dossier included; they are
      matched and quoted on the texts as received;
    - `published`: the rows they read as a member of an audience — objects of
      dossiers they may see (`may_see_dossier`) whose own audience admits
      them (`may_see_entry`, `may_read_message`), outside the agencies where
      they are staff; matched and quoted on the public texts only (mail
      masked as they are served it, `publication.message_texts_for`).

    A row in neither is not there for them: no result, no count, no snippet."""

    original: Q | None
    published: Q | None
    # True when `published` is all there is and covers few rows (at most
    # `NARROW_SEARCH_ROWS`): checking each of them for the words is then
    # cheaper than reading every match of the words from their index.
    narrow: bool = False


def search_scope(viewer: Viewer) -> SearchScope:
    """The `SearchScope` of `viewer`: the access policy inside the search
    query."""
    from lanterne.search.choices import SearchKind

    if viewer.is_anonymous:
        return SearchScope(original=None, published=None)
    staff = viewer.staff_agency_ids
    original = Q(agency_id__in=staff) if staff else None
    member_of_nothing = not (
        viewer.person_ids
        or viewer.owned_lot_ids
        or viewer.owner_condominium_ids
        or viewer.council_condominium_ids
    )
    if member_of_nothing or (viewer.agency_ids and viewer.agency_ids <= staff):
        # Staff wherever they are known: they read everything there as staff.
        return SearchScope(original=original, published=None)
    # The dossiers they may see, read first (tens, hundreds for a council),
    # with what the rows' audiences are checked against: given as values,
    # they let the database start from those dossiers' rows (a few thousand
    # over a million mails) and check the words there, rather than read
    # every row the words match (hundreds of thousands for a common word)
    # and check each against the policy.
    council = viewer.council_condominium_ids
    owners = viewer.owner_condominium_ids | council
    party = _party_of_q(viewer, "pk") | Q(council_sees_parties=True, condominium_id__in=council)
    visible = list(
        dossiers_visible_to(viewer)
        .annotate(is_party=ExpressionWrapper(party, output_field=BooleanField()))
        .values_list("pk", "agency_id", "condominium_id", "is_party")
    )
    if not visible:
        return SearchScope(original=original, published=None)
    by_agency: dict[int, list[int]] = {}
    for pk, agency_id, _, _ in visible:
        by_agency.setdefault(agency_id, []).append(pk)
    # A row belongs to a visible dossier of its own agency.
    rows = Q(pk__in=[])
    for agency_id, pks in sorted(by_agency.items()):
        rows |= Q(agency_id=agency_id, dossier_id__in=pks)
    # Its own audience admits them there (`audiences_for`; `internal`
    # admits nobody here: staff are admitted by agency).
    admits = (
        Q(kind=SearchKind.DOSSIER)
        | Q(audience=Audience.OWNERS, dossier_id__in=[d[0] for d in visible if d[2] in owners])
        | Q(audience=Audience.COUNCIL, dossier_id__in=[d[0] for d in visible if d[2] in council])
        | Q(audience=Audience.PARTIES, dossier_id__in=[d[0] for d in visible if d[3]])
    )
    published = rows & admits & _search_document_current_q()
    if staff:
        published &= ~Q(agency_id__in=staff)
    narrow = original is None and not _more_rows_than([d[0] for d in visible], NARROW_SEARCH_ROWS)
    return SearchScope(original=original, published=published, narrow=narrow)


def _more_rows_than(dossier_ids: list[int], limit: int) -> bool:
    """Whether the search index holds more than `limit` rows of these dossiers."""
    from lanterne.search.models import SearchDocument

    return SearchDocument.objects.filter(dossier_id__in=dossier_ids)[: limit + 1].count() > limit


def search_documents_visible_to(viewer: Viewer) -> QuerySet[SearchDocument]:
    """The index rows a search by `viewer` may find (`search_scope`, both parts)."""
    from lanterne.search.models import SearchDocument

    scope = search_scope(viewer)
    parts = [part for part in (scope.original, scope.published) if part is not None]
    if not parts:
        return SearchDocument.objects.none()
    found = parts[0]
    for part in parts[1:]:
        found |= part
    return SearchDocument.objects.filter(found)
