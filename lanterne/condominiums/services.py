"""Writes on agencies, condominiums, persons and companies."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from lanterne.accounts.models import User
from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record

from .choices import StaffRole
from .models import Agency, Person, PersonEmail

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def validate_domain(domain: str) -> str:
    domain = domain.strip().lower()
    if not DOMAIN_RE.match(domain):
        raise ValidationError(
            _("« %(domain)s » n'est pas un nom de domaine valide.") % {"domain": domain}
        )
    return domain


@transaction.atomic
def agency_create(
    *,
    name: str,
    mail_domain: str,
    shared_mailbox: str,
    staff_email: str,
    staff_password: str,
    staff_first_name: str = "",
    staff_last_name: str = "",
) -> tuple[Agency, Person]:
    """Create an agency and its first staff account (a manager)."""
    if not name.strip():
        raise ValidationError(_("Le nom du cabinet est obligatoire."))
    mail_domain = validate_domain(mail_domain)
    shared_mailbox = shared_mailbox.strip().lower()
    validate_email(shared_mailbox)
    staff_email = staff_email.strip().lower()
    validate_email(staff_email)
    if Agency.objects.filter(name=name.strip()).exists():
        raise ValidationError(_("Un cabinet porte déjà ce nom."))
    user = User.objects.filter(email=staff_email).first()
    if user is None:
        validate_password(staff_password)
        user = User.objects.create_user(
            staff_email,
            staff_password,
            full_name=f"{staff_first_name} {staff_last_name}".strip(),
        )
    elif not user.check_password(staff_password):
        # An existing login may manage a second agency, but only its owner can
        # say so: a different password would silently be ignored otherwise.
        raise ValidationError(
            _("Un compte existe déjà pour %(email)s : saisissez son mot de passe.")
            % {"email": staff_email}
        )
    agency = Agency.objects.create(
        name=name.strip(), mail_domain=mail_domain, shared_mailbox=shared_mailbox
    )
    person = Person.objects.create(
        agency=agency,
        user=user,
        first_name=staff_first_name.strip(),
        last_name=staff_last_name.strip() or staff_email.split("@")[0],
        staff_role=StaffRole.MANAGER,
    )
    PersonEmail.objects.create(person=person, agency=agency, address=staff_email, is_primary=True)
    audit_record(
        actor=user,
        agency_id=agency.pk,
        action=AuditAction.CREATED,
        target=agency,
        summary=f"Cabinet créé : {agency.name}",
    )
    return agency, person


def person_primary_email(person: Person) -> str | None:
    """The address to write to: the primary one, else the first known."""
    emails = sorted(person.emails.all(), key=lambda e: (not e.is_primary, e.pk))
    return emails[0].address if emails else None


def person_add_email(
    *, person: Person, address: str, primary: bool = False, actor: Any = None
) -> PersonEmail:
    """Attach an e-mail address to a person; an address is unique within the agency."""
    address = address.strip().lower()
    validate_email(address)
    existing = PersonEmail.objects.filter(agency_id=person.agency_id, address=address).first()
    if existing is not None and existing.person_id != person.pk:
        raise ValidationError(
            _("L'adresse %(address)s appartient déjà à une autre personne.") % {"address": address}
        )
    if existing is not None:
        return existing
    return PersonEmail.objects.create(
        person=person, agency_id=person.agency_id, address=address, is_primary=primary
    )
