"""API tokens: how a program (accounting software, a syndic's own tool) reads
and writes Lanterne on behalf of a login, within one agency."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency

from .choices import TokenScope


class ApiToken(models.Model):
    """A secret that lets a program act as `user`, restricted to `agency` and,
    for a `read` token, to reading.

    Only the SHA-256 of the secret is stored (`key_hash`): the secret is shown
    once, when the token is made, and cannot be rebuilt from the database. It
    is 256 random bits, so an unsalted hash is enough (nothing to guess from
    it). `prefix` — the secret's first characters — lets its owner recognise
    a token in a list or in a program's settings. A revoked token is kept,
    for the record, and refused."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("nom"), max_length=100)
    scope = models.CharField(
        _("droits"), max_length=10, choices=TokenScope.choices, default=TokenScope.READ
    )
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)

    class Meta:
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def may_write(self) -> bool:
        return self.scope == TokenScope.WRITE
