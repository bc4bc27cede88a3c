"""The audit log: who created, changed, published what, and when."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    CREATED = "created", _("création")
    CHANGED = "changed", _("modification")
    AUDIENCE_CHANGED = "audience_changed", _("changement de visibilité")
    STATUS_CHANGED = "status_changed", _("changement de statut")
    IMPORTED = "imported", _("import")
    INVITED = "invited", _("invitation")
    INVITATION_ACCEPTED = "invitation_accepted", _("invitation acceptée")
    DOWNLOADED = "downloaded", _("téléchargement")
    DELETED = "deleted", _("suppression")
    # A message filed into a dossier (or judged not dossier-related), and
    # moved from one dossier to another (or out of it): the filing method is
    # in the entry's `changes`.
    FILED = "filed", _("classement")
    REFILED = "refiled", _("reclassement")
    # A mail published to an audience after review (or kept internal), and
    # its personal data shown unmasked with a reason.
    PUBLISHED = "published", _("publication")
    UNMASKED = "unmasked", _("démasquage")
    # Privacy (lanterne.privacy): a person's data exported (RGPD art. 15 and
    # 20), a person anonymised when they leave (art. 17), and the retention
    # periods applied (documents and erased persons' data past them deleted).
    # `exported` also fits other exports (a dossier, an agency's archive).
    EXPORTED = "exported", _("export")
    ERASED = "erased", _("anonymisation")
    RETENTION_APPLIED = "retention_applied", _("durées de conservation appliquées")


class AuditLog(models.Model):
    """One recorded action. Rows are only ever added — with one exception: an
    erased person's data left in the summaries of the rows about them is
    removed once its retention period is over (`lanterne.privacy.retention`)."""

    agency = models.ForeignKey(
        "condominiums.Agency", on_delete=models.CASCADE, null=True, related_name="audit_log"
    )
    actor = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50, blank=True)
    summary = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("entrée du journal")
        verbose_name_plural = _("journal d'audit")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            # The journal page (lanterne.audit.views): an agency's rows newest
            # first, by keyset pages on (created_at, id).
            models.Index(fields=["agency", "created_at", "id"], name="audit_agency_keyset"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.summary}"
