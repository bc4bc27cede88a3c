"""Loosen the access policy one rule at a time and check the matrix test catches it.

Usage: .venv/bin/python tools/policy_mutations.py

Each mutation rewrites one line of the policy (or of a download view) the way
a careless change would, runs tests/dossiers/test_policy_matrix.py, and restores
the file. Every mutation must make the matrix fail; the script exits non-zero if
one survives. It is a check to run after changing the policy, not part of
`make test` (it runs the matrix once per mutation).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = "lanterne/dossiers/policy.py"

MUTATIONS: list[tuple[str, str, str, str]] = [
    (
        "owners of any condominium count as owners of this one",
        POLICY,
        "    if on_council or condominium_id in viewer.owner_condominium_ids:",
        "    if on_council or viewer.owner_condominium_ids:",
    ),
    (
        "the council always sees the parties' dossiers",
        POLICY,
        "    if is_party or (on_council and dossier.council_sees_parties):",
        "    if is_party or on_council:",
    ),
    (
        "an entry's own audience is ignored",
        POLICY,
        "    return entry.dossier.audience in audiences and entry.audience in audiences",
        "    return entry.dossier.audience in audiences",
    ),
    (
        "the timeline query ignores entry audiences",
        POLICY,
        "    return TimelineEntry.objects.filter(dossier=dossier, audience__in=audiences)",
        "    return TimelineEntry.objects.filter(dossier=dossier)",
    ),
    (
        "staff of any agency see every agency",
        POLICY,
        "    if viewer.is_staff_of(dossier.agency_id):\n        return frozenset(Audience.values)",
        "    if viewer.is_staff_anywhere:\n        return frozenset(Audience.values)",
    ),
    (
        "the dossier query lets the council into every parties dossier",
        POLICY,
        '                f"{p}council_sees_parties": True,\n',
        "",
    ),
    (
        "the dossier query opens owners dossiers to the whole agency",
        POLICY,
        '        | Q(**{f"{p}audience": Audience.OWNERS, f"{p}condominium_id__in": owners})',
        '        | Q(**{f"{p}audience": Audience.OWNERS, f"{p}agency_id__in": viewer.agency_ids})',
    ),
    (
        "downloads skip the policy",
        "lanterne/documents/views.py",
        "    if not policy.may_see_document(policy.viewer_of(request), document):",
        "    if False:",
    ),
    (
        "a mail's own audience is ignored",
        POLICY,
        "    return dossier.audience in audiences and message.audience in audiences",
        "    return dossier.audience in audiences",
    ),
    (
        "staff of any agency read every agency's mail",
        POLICY,
        "    if viewer.is_staff_of(message.agency_id):\n        return True",
        "    if viewer.is_staff_anywhere:\n        return True",
    ),
    (
        "mail in no dossier is read by everyone of the agency",
        POLICY,
        "    if message.dossier_id is None:\n        return False",
        "    if message.dossier_id is None:\n        return message.agency_id in viewer.agency_ids",
    ),
    (
        "the mail query ignores the mail's audience",
        POLICY,
        "        audience_admits,\n",
        "",
    ),
    (
        "the mail query lets the council read every parties mail",
        POLICY,
        "            dossier__council_sees_parties=True,\n",
        "",
    ),
    (
        "mail attachments and images skip the policy",
        "lanterne/mail/display.py",
        "    if not policy.may_read_message(policy.viewer_of(request), attachment.message):",
        "    if False:",
    ),
    (
        "the HTML version of a mail is served to every reader of the mail",
        "lanterne/mail/display.py",
        "    if not message.html.strip() or not policy.may_read_message_original(",
        "    if not message.html.strip() or not policy.may_read_message(",
    ),
    (
        "a mail's original (unmasked) is read by its audience without unmasking",
        POLICY,
        "    return message.unmasked and may_read_message(viewer, message)",
        "    return may_read_message(viewer, message)",
    ),
    (
        "an unmasked mail is read as received by anyone",
        POLICY,
        "    return message.unmasked and may_read_message(viewer, message)",
        "    return message.unmasked",
    ),
    (
        "any logged-in person reads contact details",
        POLICY,
        "    return viewer.is_staff_of(person.agency_id) or person.pk in viewer.person_ids",
        "    return not viewer.is_anonymous",
    ),
    (
        "council members may import",
        POLICY,
        "    return viewer.is_manager_of(agency_id)",
        "    return viewer.is_staff_of(agency_id) or bool(viewer.council_condominium_ids)",
    ),
    (
        "a lot's documents are seen by every co-owner of the condominium",
        POLICY,
        "        return document.lot_id in viewer.owned_lot_ids",
        "        return document.condominium_id in viewer.owner_condominium_ids",
    ),
    (
        "the council sees the lots' documents",
        POLICY,
        "        return document.lot_id in viewer.owned_lot_ids",
        "        return document.lot_id in viewer.owned_lot_ids or (\n"
        "            document.condominium_id in viewer.council_condominium_ids\n"
        "        )",
    ),
    (
        "staff of any agency see the lots' documents",
        POLICY,
        "        if viewer.is_staff_of(document.agency_id):\n            return True",
        "        if viewer.is_staff_anywhere:\n            return True",
    ),
    (
        "the space query lists every lot's documents",
        POLICY,
        "        | Q(lot__in=viewer.owned_lot_ids)",
        "        | Q(lot__isnull=False)",
    ),
    (
        "the space query ignores the audience of the condominium's documents",
        POLICY,
        "        Q(lot__isnull=True, audience__in=condominium_audiences_for(viewer, condominium))",
        "        Q(lot__isnull=True)",
    ),
    (
        "staff of any agency list every condominium's space",
        POLICY,
        "    if viewer.is_staff_of(condominium.agency_id):\n        return documents",
        "    if viewer.is_staff_anywhere:\n        return documents",
    ),
    (
        "the space page skips the policy",
        "lanterne/documents/selectors.py",
        "        policy.condominium_documents_visible_to(viewer, condominium)"
        '.select_related("lot")',
        '        Document.objects.filter(condominium=condominium).select_related("lot")',
    ),
    (
        "the council reads the checklist of required documents",
        POLICY,
        "    return viewer.is_staff_of(condominium.agency_id)",
        "    return viewer.is_staff_of(condominium.agency_id) or bool(\n"
        "        viewer.council_condominium_ids\n"
        "    )",
    ),
    (
        "any council member records the council's opinion",
        POLICY,
        "    return dossier.condominium_id in viewer.chair_condominium_ids and may_see_dossier(",
        "    return dossier.condominium_id in viewer.council_condominium_ids and may_see_dossier(",
    ),
    (
        "search: the published part ignores each row's own audience",
        POLICY,
        "    published = rows & admits & _search_document_current_q()",
        "    published = rows & _search_document_current_q()",
    ),
    (
        "search: rows not re-indexed after an audience change are found by readers",
        POLICY,
        "    published = rows & admits & _search_document_current_q()",
        "    published = rows & admits",
    ),
    (
        "search: a staff member reads the originals of every agency",
        POLICY,
        "    original = Q(agency_id__in=staff) if staff else None",
        "    original = Q() if staff else None",
    ),
    (
        "search: a parties row is found by any reader of the dossier",
        POLICY,
        "        | Q(audience=Audience.PARTIES, dossier_id__in=[d[0] for d in visible if d[3]])",
        "        | Q(audience=Audience.PARTIES)",
    ),
    (
        "an owner of any lot is a party to every dossier with lots",
        POLICY,
        "    lots = Dossier.party_lots.through.objects.filter(lot_id__in=viewer.owned_lot_ids)",
        "    lots = Dossier.party_lots.through.objects.all()",
    ),
    (
        "any person is a party to every dossier with persons",
        POLICY,
        "    persons = Dossier.party_persons.through.objects.filter("
        "person_id__in=viewer.person_ids)",
        "    persons = Dossier.party_persons.through.objects.all()",
    ),
    (
        "journal: staff read the audit log of every agency",
        POLICY,
        "    return AuditLog.objects.filter(agency_id__in=viewer.staff_agency_ids)",
        "    return AuditLog.objects.all()",
    ),
    (
        "privacy: any co-owner exports anyone's data",
        POLICY,
        "    return viewer.is_staff_of(person.agency_id) or person.pk in viewer.person_ids",
        "    return viewer.is_staff_of(person.agency_id) or bool(viewer.person_ids)",
    ),
    (
        "privacy: a manager erases their own person",
        POLICY,
        "    return viewer.is_manager_of(person.agency_id) and person.pk not in viewer.person_ids",
        "    return viewer.is_manager_of(person.agency_id)",
    ),
    (
        "contacts: a co-owner lists the agency's persons",
        POLICY,
        "        Q(agency_id__in=viewer.staff_agency_ids) | Q(pk__in=viewer.person_ids)",
        "        Q(agency_id__in=viewer.staff_agency_ids) | Q(agency_id__in=viewer.agency_ids)",
    ),
]


def main() -> int:
    survivors = 0
    for description, relative, old, new in MUTATIONS:
        path = ROOT / relative
        original = path.read_text()
        if old not in original:
            print(f"STALE    {description}: the line to mutate is gone; update this script")
            survivors += 1
            continue
        path.write_text(original.replace(old, new, 1))
        try:
            result = subprocess.run(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-p",
                    "no:warnings",
                    "tests/dossiers/test_policy_matrix.py",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            path.write_text(original)
        caught = result.returncode != 0
        survivors += not caught
        print(f"{'caught' if caught else 'SURVIVED':8} {description}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
