"""Factories for Lanterne's models (factory-boy)."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from lanterne.accounts.models import User
from lanterne.condominiums.choices import CompanyKind, CouncilRole, LotKind, StaffRole
from lanterne.condominiums.models import (
    Agency,
    Company,
    CompanyDomain,
    Condominium,
    CouncilMembership,
    Lot,
    Ownership,
    Person,
    PersonEmail,
)
from lanterne.dossiers.choices import Audience, DossierStatus, DossierType
from lanterne.dossiers.models import Dossier

PASSWORD = "Tilleuls-2026!"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@exemple.fr")
    full_name = factory.Sequence(lambda n: f"Utilisateur {n}")
    password = factory.django.Password(PASSWORD)


class AgencyFactory(DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Cabinet {n}")
    mail_domain = factory.Sequence(lambda n: f"cabinet{n}.fr")
    shared_mailbox = factory.LazyAttribute(lambda a: f"gestion@{a.mail_domain}")


class CondominiumFactory(DjangoModelFactory):
    class Meta:
        model = Condominium

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Résidence {n}")
    address = factory.Sequence(lambda n: f"{n} rue des Tilleuls")
    postal_code = "69003"
    city = "Lyon"


class LotFactory(DjangoModelFactory):
    class Meta:
        model = Lot

    condominium = factory.SubFactory(CondominiumFactory)
    number = factory.Sequence(lambda n: str(n + 1))
    kind = LotKind.FLAT
    floor = "2"
    shares = 100


class CompanyFactory(DjangoModelFactory):
    class Meta:
        model = Company

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Plomberie {n}")
    kind = CompanyKind.CONTRACTOR


class CompanyDomainFactory(DjangoModelFactory):
    class Meta:
        model = CompanyDomain

    company = factory.SubFactory(CompanyFactory)
    domain = factory.Sequence(lambda n: f"entreprise{n}.fr")


class PersonFactory(DjangoModelFactory):
    class Meta:
        model = Person
        skip_postgeneration_save = True

    agency = factory.SubFactory(AgencyFactory)
    # Sequences, not random names: a random « Martin » could collide with a
    # name a test looks up.
    first_name = factory.Sequence(lambda n: f"Prénom{n}")
    last_name = factory.Sequence(lambda n: f"Nom{n}")

    @factory.post_generation
    def email(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            PersonEmail.objects.create(
                person=self, agency=self.agency, address=extracted, is_primary=True
            )


class StaffFactory(PersonFactory):
    staff_role = StaffRole.MANAGER
    user = factory.SubFactory(UserFactory)


class OwnershipFactory(DjangoModelFactory):
    class Meta:
        model = Ownership

    person = factory.SubFactory(PersonFactory)
    lot = factory.SubFactory(LotFactory)


class CouncilMembershipFactory(DjangoModelFactory):
    class Meta:
        model = CouncilMembership

    person = factory.SubFactory(PersonFactory)
    condominium = factory.SubFactory(CondominiumFactory)
    role = CouncilRole.MEMBER


class DossierFactory(DjangoModelFactory):
    class Meta:
        model = Dossier

    condominium = factory.SubFactory(CondominiumFactory)
    agency = factory.LazyAttribute(lambda d: d.condominium.agency)
    reference = factory.Sequence(lambda n: f"DOS-2026-{n + 1:04d}")
    title = factory.Sequence(lambda n: f"Dossier {n}")
    type = DossierType.WORKS
    status = DossierStatus.QUOTES
    audience = Audience.OWNERS
