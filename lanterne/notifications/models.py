"""Who follows which dossier, how often each login wants mail, and the durable
outbox of notifications (one row per recipient and timeline entry)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Delivery, Frequency, NotificationStatus


class Follow(models.Model):
    """An explicit choice of a login about one dossier: follow it, or not.

    Without a row, a login follows the dossiers it is implicitly concerned by
    (a party, an owner of a party lot, a council member of the condominium,
    the dossier's manager: `selectors.followers_of`). A row with `following`
    false removes an implicit follow; one with `following` true adds a dossier
    the login may see without being concerned (a neighbour on an "owners"
    dossier, another member of staff). One row per login and dossier, changed
    in place: the latest choice is the one that counts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dossier_follows"
    )
    dossier = models.ForeignKey(
        "dossiers.Dossier", on_delete=models.CASCADE, related_name="follows"
    )
    following = models.BooleanField(_("suivi"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("suivi de dossier")
        verbose_name_plural = _("suivis de dossiers")
        constraints = [
            models.UniqueConstraint(fields=["user", "dossier"], name="follow_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {'→' if self.following else '✕'} {self.dossier_id}"


class NotificationPreference(models.Model):
    """How often a login wants mail about the dossiers it follows.

    A login without a row gets a mail per new entry (`Frequency.IMMEDIATE`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    frequency = models.CharField(
        _("fréquence"), max_length=20, choices=Frequency.choices, default=Frequency.IMMEDIATE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("préférence de notification")
        verbose_name_plural = _("préférences de notification")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.frequency}"


class Notification(models.Model):
    """One timeline entry to tell one login about: the durable outbox.

    Rows are written in the transaction that publishes the entry
    (`services.entries_published`), so that nothing is announced that was
    not saved, and nothing saved is forgotten if the process dies before
    sending. A sender claims rows with a conditional UPDATE (`claim`), so two
    senders never mail the same row; a claim older than
    `services.CLAIM_TIMEOUT` is taken over (its sender died). What the mail
    shows is decided at send time, with the recipient's rights then."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    entry = models.ForeignKey(
        "dossiers.TimelineEntry", on_delete=models.CASCADE, related_name="notifications"
    )
    # The entry's dossier, kept here to group a digest by dossier without a join.
    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.CASCADE, related_name="+")
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Why the row was dropped, or the last sending error (for the operator).
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            # Publishing an entry twice (its audience widened again) tells
            # nobody twice.
            models.UniqueConstraint(fields=["user", "entry"], name="notification_one_per_entry"),
        ]
        indexes = [
            # The senders' queue: what is still to send, oldest first.
            models.Index(
                fields=["delivery", "created_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notification_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ← {self.entry_id} ({self.delivery}, {self.status})"
