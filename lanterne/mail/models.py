"""Mail as Lanterne keeps it: the sources it comes from, the exact bytes
(`RawMessage`) and every delivery of them (`Delivery`), and the parsed
`Message` with its `Attachment`s.

The raw bytes are the source of truth: every later stage can be re-run from
them (`lanterne reprocess-mail`) without duplicating anything."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency

from .choices import Direction, RawFormat, RawState, SourceKind


class MailSource(models.Model):
    """Where an agency's mail comes from: an IMAP mailbox, the SMTP receiver,
    a provider's webhook, or a history import."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="mail_sources")
    kind = models.CharField(_("type"), max_length=20, choices=SourceKind.choices)
    name = models.CharField(_("nom"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    # IMAP only.
    imap_host = models.CharField(_("serveur IMAP"), max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(_("port"), default=993)
    imap_ssl = models.BooleanField(_("TLS"), default=True)
    imap_username = models.CharField(_("identifiant"), max_length=200, blank=True)
    imap_password = models.CharField(_("mot de passe"), max_length=500, blank=True)
    imap_folders = models.JSONField(
        _("dossiers à relever"), default=list, blank=True, help_text=_("Par défaut : INBOX.")
    )
    imap_sent_folder = models.CharField(
        _("dossier des messages envoyés"), max_length=200, blank=True
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("source de courriels")
        verbose_name_plural = _("sources de courriels")
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="mail_source_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ImapFolderState(models.Model):
    """How far an IMAP folder has been read. A new UIDVALIDITY (RFC 3501 §2.3.1.1)
    means the server renumbered the folder: reading starts again from UID 1,
    and the raw store's digests keep already-stored messages from doubling."""

    source = models.ForeignKey(MailSource, on_delete=models.CASCADE, related_name="folder_states")
    folder = models.CharField(max_length=500)
    uidvalidity = models.BigIntegerField()
    last_uid = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "folder"], name="imap_folder_state_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.folder} {self.uidvalidity}:{self.last_uid}"


class RawMessage(models.Model):
    """The exact bytes of one e-mail, stored content-addressed (sha256) in the
    raw store before any source is acknowledged, and its processing state."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="raw_messages")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=10, choices=RawFormat.choices, default=RawFormat.RFC822)
    storage_name = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=20, choices=RawState.choices, default=RawState.STORED)
    # The stage that failed and why, for quarantined and refused messages.
    failed_stage = models.CharField(max_length=30, blank=True)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The parsed message this raw message turned out to repeat (same
    # Message-ID delivered with different bytes, e.g. through two mailboxes).
    duplicate_of = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )

    class Meta:
        verbose_name = _("message brut")
        verbose_name_plural = _("messages bruts")
        constraints = [
            models.UniqueConstraint(fields=["agency", "sha256"], name="raw_message_unique_digest"),
        ]
        indexes = [models.Index(fields=["agency", "state"], name="raw_message_state")]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.state})"


class Delivery(models.Model):
    """One arrival of a raw message: from which source, folder and UID, when.
    The same bytes arriving twice give one RawMessage and two deliveries."""

    raw = models.ForeignKey(RawMessage, on_delete=models.CASCADE, related_name="deliveries")
    source = models.ForeignKey(
        MailSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    folder = models.CharField(max_length=500, blank=True)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    uid = models.BigIntegerField(null=True, blank=True)
    envelope_from = models.CharField(max_length=500, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    is_sent_folder = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("réception")
        verbose_name_plural = _("réceptions")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "folder", "uidvalidity", "uid"],
                condition=Q(uid__isnull=False),
                name="delivery_unique_imap_uid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.raw_id} via {self.source_id} {self.folder}:{self.uid}"


class Message(models.Model):
    """One e-mail as Lanterne understands it, parsed from its raw bytes."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="messages")
    raw = models.OneToOneField(RawMessage, on_delete=models.PROTECT, related_name="message")
    message_id = models.CharField(max_length=998)
    in_reply_to = models.JSONField(default=list, blank=True)
    references = models.JSONField(default=list, blank=True)
    subject = models.TextField(blank=True)
    from_name = models.CharField(max_length=300, blank=True)
    from_address = models.CharField(max_length=320, blank=True, db_index=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    date = models.DateTimeField(null=True, blank=True)
    date_header = models.CharField(max_length=300, blank=True)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.INBOUND
    )
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitised HTML, never the original.")
    new_text = models.TextField(blank=True)
    quoted_text = models.TextField(blank=True)
    signature = models.TextField(blank=True)
    is_auto_reply = models.BooleanField(default=False)
    is_bounce = models.BooleanField(default=False)
    is_bulk = models.BooleanField(default=False)
    is_lanterne_notification = models.BooleanField(default=False)
    bounced_message_id = models.CharField(max_length=998, blank=True)
    defects = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    parsed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("courriel")
        verbose_name_plural = _("courriels")
        constraints = [
            models.UniqueConstraint(fields=["agency", "message_id"], name="message_unique_id"),
        ]
        indexes = [models.Index(fields=["agency", "date", "id"], name="message_agency_date")]

    def __str__(self) -> str:
        return f"{self.subject[:60]} <{self.message_id}>"


class Attachment(models.Model):
    """A file carried by a message. Its bytes live once in the raw store's
    blob area, addressed by sha256; filing a message into a dossier (later)
    turns attachments into dossier documents."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveIntegerField()
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=200)
    detected_type = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_name = models.CharField(max_length=300)
    content_id = models.CharField(max_length=998, blank=True)
    is_inline = models.BooleanField(default=False)
    from_tnef = models.BooleanField(default=False)
    is_forwarded_message = models.BooleanField(default=False)
    is_signature_logo = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")
        ordering = ["message", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "position"], name="attachment_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return self.filename
