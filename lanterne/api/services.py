"""Writes on API tokens, and the check of a token a request presents."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Agency, Person

from .choices import TokenScope
from .models import ApiToken

# Every secret starts with this, so that a secret pasted where it should not
# be (a repository, a ticket) is recognisable by people and by secret scanners.
TOKEN_PREFIX = "lnt_"
# The last use is written at most once a minute, not on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# Longer than any secret Lanterne makes: anything longer is not one of ours.
_MAX_SECRET_LENGTH = 100


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just made, and its secret — the only time the secret is known."""

    token: ApiToken
    secret: str


@transaction.atomic
def api_token_create(
    *, actor: Any, user: Any, agency: Agency, scope: str, name: str
) -> IssuedToken:
    """Make a token acting as `user` within `agency`. The user must be known
    to the agency (a staff member, a co-owner, a council member): the token
    carries the rights they have there, never more. Logged."""
    if scope not in TokenScope.values:
        raise ValidationError(_("Droits inconnus : « lecture » ou « écriture »."))
    if not user.is_active or not Person.objects.filter(user=user, agency=agency).exists():
        raise ValidationError(
            _("%(email)s n'est pas connu(e) du cabinet %(agency)s.")
            % {"email": user.email, "agency": agency.name}
        )
    name = " ".join(name.split())[:100] or _("Jeton sans nom")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        agency=agency,
        user=user,
        name=name,
        scope=scope,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        key_hash=_digest(secret),
    )
    audit_record(
        actor=actor,
        agency_id=agency.pk,
        action=AuditAction.CREATED,
        target=token,
        summary=f"Jeton d'API « {name} » ({scope}) créé pour {user.email}",
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Refuse the token from now on (it stays listed, revoked). Revoking a
    revoked token changes nothing. Logged."""
    now = timezone.now()
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        token.revoked_at = now
        audit_record(
            actor=actor,
            agency_id=token.agency_id,
            action=AuditAction.DELETED,
            target=token,
            summary=f"Jeton d'API « {token.name} » révoqué",
        )
    else:
        token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The active token whose secret this is, with its user and agency; None
    for an unknown or revoked token, or one whose login was deactivated."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > _MAX_SECRET_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("user", "agency")
        .filter(key_hash=_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
