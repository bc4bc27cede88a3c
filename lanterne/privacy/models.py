"""What Lanterne remembers of a person it anonymised: that it did, when, who
asked and why, and which records still hold that person's data until their
retention period is over."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PersonErasure(models.Model):
    """The anonymisation of a person who left (RGPD art. 17).

    The person's row stays (dossiers name it as a party; it now reads
    « Ancien copropriétaire n°42 »), with no name, e-mail, phone or address.
    What the agency must keep a while longer as evidence — the audit entries
    about the person, the reminders that waited for their answer — is purged
    by `lanterne apply-retention` once `settings.ERASED_PERSON_RETENTION_YEARS`
    have passed since the erasure; `reason` (staff's words, which may name the
    person) goes with it."""

    person = models.OneToOneField(
        "condominiums.Person", on_delete=models.CASCADE, related_name="erasure"
    )
    agency = models.ForeignKey("condominiums.Agency", on_delete=models.CASCADE, related_name="+")
    erased_at = models.DateTimeField(_("anonymisée le"), default=timezone.now)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(_("motif"), blank=True)
    # The reminders (lanterne.reminders) that waited for an answer from the
    # person: they name them, and are scrubbed with the rest.
    reminder_ids = models.JSONField(default=list, blank=True)
    purged_at = models.DateTimeField(_("données résiduelles effacées le"), null=True, blank=True)

    class Meta:
        verbose_name = _("anonymisation")
        verbose_name_plural = _("anonymisations")
        indexes = [
            models.Index(
                fields=["erased_at"],
                condition=models.Q(purged_at__isnull=True),
                name="erasure_to_purge",
            ),
        ]

    def __str__(self) -> str:
        return f"Personne n°{self.person_id} ({self.erased_at:%Y-%m-%d})"
