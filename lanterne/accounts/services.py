"""Invitations: a staff member invites a contact to create their login."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Person
from lanterne.condominiums.services import person_primary_email
from lanterne.dossiers.policy import Viewer, may_invite

from .models import Invitation, User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_send(*, viewer: Viewer, actor: Any, person: Person) -> tuple[Invitation, str]:
    """Create an invitation for `person` and e-mail its one-time link.

    Returns the invitation and the link (shown to staff only in tests and the
    demo; it is sent by mail)."""
    if not may_invite(viewer, person):
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))
    if person.user_id is not None:
        raise ValidationError(_("Cette personne a déjà un compte."))
    email = person_primary_email(person)
    if email is None:
        raise ValidationError(_("Cette personne n'a pas d'adresse e-mail."))
    # Earlier links for the same person stop working.
    Invitation.objects.filter(person=person, accepted_at__isnull=True).update(
        expires_at=timezone.now()
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        person=person,
        email=email,
        token_hash=_hash(token),
        invited_by=actor,
        expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    link = settings.SITE_URL + reverse("accounts:invitation", args=[token])
    context = {
        "person": person,
        "agency": person.agency,
        "link": link,
        "days": settings.INVITATION_VALID_DAYS,
    }
    body = render_to_string("accounts/email/invitation.txt", context)
    subject = _("Votre accès à l'extranet de %(agency)s") % {"agency": person.agency.name}
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    audit_record(
        actor=actor,
        agency_id=person.agency_id,
        action=AuditAction.INVITED,
        target=person,
        summary=f"Invitation envoyée à {email}",
    )
    return invitation, link


def invitation_for_token(token: str) -> Invitation | None:
    """The usable invitation of a link, or None (unknown, used or expired)."""
    invitation = (
        Invitation.objects.select_related("person", "person__agency")
        .filter(token_hash=_hash(token))
        .first()
    )
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, password: str) -> User:
    """Create (or link) the login of an invited person; the link then stops working."""
    invitation = invitation_for_token(token)
    if invitation is None:
        raise ValidationError(_("Ce lien d'invitation n'est plus valable."))
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_usable:
        raise ValidationError(_("Ce lien d'invitation n'est plus valable."))
    person = invitation.person
    user = User.objects.filter(email=invitation.email).first()
    if user is None:
        candidate = User(email=invitation.email, full_name=person.full_name)
        validate_password(password, user=candidate)
        user = User.objects.create_user(invitation.email, password, full_name=person.full_name)
    elif not user.check_password(password):
        raise ValidationError(
            _("Un compte existe déjà pour %(email)s : saisissez son mot de passe.")
            % {"email": invitation.email}
        )
    if Person.objects.filter(agency_id=person.agency_id, user=user).exclude(pk=person.pk).exists():
        raise ValidationError(_("Ce compte est déjà lié à une autre fiche de ce cabinet."))
    person.user = user
    person.save(update_fields=["user"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(
        actor=user,
        agency_id=person.agency_id,
        action=AuditAction.INVITATION_ACCEPTED,
        target=person,
        summary=f"Invitation acceptée par {invitation.email}",
    )
    return user
