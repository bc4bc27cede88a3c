"""Shared fixtures: a small world with one agency, one condominium and a person
in every role the access policy knows — plus a second agency to leak into."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from lanterne.accounts.models import User
from lanterne.condominiums.choices import CouncilRole, StaffRole
from lanterne.condominiums.models import Agency, Condominium, Lot, Person
from lanterne.dossiers.choices import Audience, DossierType
from lanterne.dossiers.models import Dossier

from .factories import (
    PASSWORD,
    AgencyFactory,
    CondominiumFactory,
    CouncilMembershipFactory,
    DossierFactory,
    LotFactory,
    OwnershipFactory,
    PersonFactory,
    StaffFactory,
    UserFactory,
)


@dataclass
class World:
    """One agency with a condominium, every role, and a dossier whose parties
    are `party` (through their lot) — plus a neighbouring agency."""

    agency: Agency
    condominium: Condominium
    other_condominium: Condominium
    other_agency: Agency
    dossier: Dossier
    party_lot: Lot
    users: dict[str, User | None]
    persons: dict[str, Person]


ROLES = (
    "anonymous",
    "staff_other_agency",
    "staff",
    "owner_other_condominium",
    "owner_not_party",
    "owner_party",
    "council_member",
    "council_chair",
)


def _login(person: Person, email: str) -> User:
    user = UserFactory(email=email)
    person.user = user
    person.save(update_fields=["user"])
    return user


@pytest.fixture
def world(db: None) -> World:
    agency = AgencyFactory(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")
    other_agency = AgencyFactory(name="Cabinet Voisin", mail_domain="voisin.fr")
    condominium = CondominiumFactory(agency=agency, name="Les Tilleuls")
    other_condominium = CondominiumFactory(agency=agency, name="Le Belvédère")
    party_lot = LotFactory(condominium=condominium, number="12")
    other_lot = LotFactory(condominium=condominium, number="14")
    far_lot = LotFactory(condominium=other_condominium, number="3")

    persons: dict[str, Person] = {}
    users: dict[str, User | None] = {"anonymous": None}

    persons["staff"] = StaffFactory(agency=agency, staff_role=StaffRole.MANAGER, user=None)
    persons["staff_other_agency"] = StaffFactory(agency=other_agency, user=None)
    persons["owner_party"] = PersonFactory(agency=agency, last_name="Partie")
    OwnershipFactory(person=persons["owner_party"], lot=party_lot)
    persons["owner_not_party"] = PersonFactory(agency=agency, last_name="Voisin")
    OwnershipFactory(person=persons["owner_not_party"], lot=other_lot)
    persons["owner_other_condominium"] = PersonFactory(agency=agency, last_name="Ailleurs")
    OwnershipFactory(person=persons["owner_other_condominium"], lot=far_lot)
    persons["council_member"] = PersonFactory(agency=agency, last_name="Conseil")
    CouncilMembershipFactory(person=persons["council_member"], condominium=condominium)
    persons["council_chair"] = PersonFactory(agency=agency, last_name="Présidente")
    CouncilMembershipFactory(
        person=persons["council_chair"], condominium=condominium, role=CouncilRole.CHAIR
    )
    for role, person in persons.items():
        users[role] = _login(person, f"{role.replace('_', '-')}@exemple.fr")

    dossier = DossierFactory(
        condominium=condominium,
        title="Fuite au plafond du lot 12",
        type=DossierType.WATER_DAMAGE,
        status="declared",
        audience=Audience.OWNERS,
    )
    dossier.party_lots.add(party_lot)
    return World(
        agency=agency,
        condominium=condominium,
        other_condominium=other_condominium,
        other_agency=other_agency,
        dossier=dossier,
        party_lot=party_lot,
        users=users,
        persons=persons,
    )


@pytest.fixture
def client_for(world: World):  # type: ignore[no-untyped-def]
    """A test client logged in as one of the world's roles."""

    def make(role: str) -> Client:
        client = Client()
        user = world.users[role]
        if user is not None:
            client.force_login(user)
        return client

    return make


__all__ = ["PASSWORD", "ROLES", "World"]
