"""The agency (tenant boundary), its condominiums, lots, persons and companies,
and the roles that link persons to condominiums."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import CompanyKind, CouncilRole, LotKind, StaffRole


class Agency(models.Model):
    """A syndic firm. Nothing crosses an agency: every other object belongs to one."""

    name = models.CharField(_("nom"), max_length=200)
    mail_domain = models.CharField(_("domaine de messagerie"), max_length=200)
    shared_mailbox = models.EmailField(_("boîte partagée"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("cabinet")
        verbose_name_plural = _("cabinets")

    def __str__(self) -> str:
        return self.name


class Condominium(models.Model):
    """A copropriété managed by the agency."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="condominiums")
    name = models.CharField(_("nom"), max_length=200)
    address = models.CharField(_("adresse"), max_length=300)
    other_addresses = models.TextField(
        _("autres adresses"), blank=True, help_text=_("Une adresse par ligne.")
    )
    postal_code = models.CharField(_("code postal"), max_length=10, blank=True)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    nicknames = models.TextField(
        _("surnoms"),
        blank=True,
        help_text=_("Les noms que l'on emploie dans les mails, un par ligne."),
    )
    registry_number = models.CharField(_("numéro d'immatriculation"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("copropriété")
        verbose_name_plural = _("copropriétés")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="condominium_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def nickname_list(self) -> list[str]:
        return [line.strip() for line in self.nicknames.splitlines() if line.strip()]


class Lot(models.Model):
    """A unit of the condominium: flat, cellar, parking space, shop."""

    condominium = models.ForeignKey(Condominium, on_delete=models.CASCADE, related_name="lots")
    number = models.CharField(_("numéro"), max_length=20)
    kind = models.CharField(_("nature"), max_length=20, choices=LotKind.choices)
    floor = models.CharField(_("étage"), max_length=20, blank=True)
    building = models.CharField(_("bâtiment"), max_length=50, blank=True)
    staircase = models.CharField(_("escalier"), max_length=50, blank=True)
    shares = models.PositiveIntegerField(_("tantièmes"), default=0)

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["condominium", "number"]
        constraints = [
            models.UniqueConstraint(fields=["condominium", "number"], name="lot_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.condominium} — lot {self.number}"


class Company(models.Model):
    """A contractor, insurer or loss adjuster the agency exchanges mail with."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="companies")
    name = models.CharField(_("nom"), max_length=200)
    kind = models.CharField(_("type"), max_length=20, choices=CompanyKind.choices)
    email = models.EmailField(_("adresse e-mail"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=40, blank=True)
    address = models.CharField(_("adresse"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("entreprise")
        verbose_name_plural = _("entreprises")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="company_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class CompanyDomain(models.Model):
    """A mail domain used by a company (mail from it is attributed to the company)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(_("domaine"), max_length=200)

    class Meta:
        verbose_name = _("domaine d'entreprise")
        verbose_name_plural = _("domaines d'entreprise")
        constraints = [
            models.UniqueConstraint(fields=["company", "domain"], name="company_domain_unique"),
        ]

    def __str__(self) -> str:
        return self.domain


class Person(models.Model):
    """A contact of the agency, with or without a login.

    A person belongs to one agency; a login (`user`) that several agencies know
    has one Person in each. Staff of the agency have a `staff_role`."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="persons")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="persons",
    )
    first_name = models.CharField(_("prénom"), max_length=100, blank=True)
    last_name = models.CharField(_("nom"), max_length=100)
    phones = models.JSONField(_("téléphones"), default=list, blank=True)
    postal_address = models.CharField(_("adresse postale"), max_length=300, blank=True)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts"
    )
    staff_role = models.CharField(
        _("rôle au cabinet"), max_length=20, choices=StaffRole.choices, blank=True
    )

    class Meta:
        verbose_name = _("personne")
        verbose_name_plural = _("personnes")
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "user"],
                condition=Q(user__isnull=False),
                name="person_one_per_user_and_agency",
            ),
        ]
        indexes = [
            # The agency's staff by name (a task's assignee list on every
            # dossier page): a handful among the agency's tens of thousands.
            models.Index(
                fields=["agency", "last_name", "first_name"],
                condition=~Q(staff_role=""),
                name="person_staff_by_name",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_staff_member(self) -> bool:
        return bool(self.staff_role)


class PersonEmail(models.Model):
    """An e-mail address of a person; an address belongs to one person per agency."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="emails")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    address = models.EmailField(_("adresse e-mail"))
    is_primary = models.BooleanField(_("principale"), default=False)

    class Meta:
        verbose_name = _("adresse e-mail")
        verbose_name_plural = _("adresses e-mail")
        constraints = [
            models.UniqueConstraint(fields=["agency", "address"], name="person_email_unique"),
        ]

    def __str__(self) -> str:
        return self.address

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)


class Ownership(models.Model):
    """A person is a co-owner (copropriétaire) of a lot."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="ownerships")
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="ownerships")
    since = models.DateField(_("depuis"), null=True, blank=True)

    class Meta:
        verbose_name = _("propriété de lot")
        verbose_name_plural = _("propriétés de lots")
        constraints = [
            models.UniqueConstraint(fields=["person", "lot"], name="ownership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.lot}"


class CouncilMembership(models.Model):
    """A person sits on the owners' council (conseil syndical) of a condominium."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="council_seats")
    condominium = models.ForeignKey(
        Condominium, on_delete=models.CASCADE, related_name="council_seats"
    )
    role = models.CharField(
        _("rôle"), max_length=20, choices=CouncilRole.choices, default=CouncilRole.MEMBER
    )

    class Meta:
        verbose_name = _("membre du conseil syndical")
        verbose_name_plural = _("membres du conseil syndical")
        constraints = [
            models.UniqueConstraint(fields=["person", "condominium"], name="council_seat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()} — {self.condominium}"
