"""Mail as Lanterne keeps it: the sources it comes from, the exact bytes
(`RawMessage`) and every delivery of them (`Delivery`), the parsed
`Message` with its `Attachment`s, the conversations (`Thread`) messages
are grouped into, with the Message-IDs each conversation is known by
(`ThreadLink`), and the rules staff write to file mail (`MailRule`). A
message's filing — its dossier and why it is there — lives on the `Message`
itself; `lanterne.mail.filing` writes it.

The raw bytes are the source of truth: every later stage can be re-run from
them (`lanterne reprocess-mail`) without duplicating anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Condominium
from lanterne.core.fields import EncryptedTextField
from lanterne.documents.choices import TextState
from lanterne.documents.models import TextDeferredManager
from lanterne.dossiers.choices import Audience

from .choices import Direction, RawFormat, RawState, Review, SendStatus, SourceKind

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class FilingMethod(models.TextChoices):
    """How a message came to be in its dossier (or to be in none).

    Kept here rather than in `choices.py` for now: this change was limited to
    the models; move it there with the next change of that module."""

    THREAD = "thread", _("Même conversation")
    REFERENCE = "reference", _("Référence du dossier")
    RULE = "rule", _("Règle")
    SUGGESTION = "suggestion", _("Suggestion")
    MANUAL = "manual", _("Classement manuel")
    NONE = "none", _("Non classé")


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
    # Encrypted at rest (lanterne.core.secrets): a database dump does not
    # give away the mailbox.
    imap_password = EncryptedTextField(_("mot de passe"), blank=True)
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


class Thread(models.Model):
    """One conversation: the messages that answer one another, grouped by the
    thread stage (`lanterne.mail.threads`) from their Message-ID, In-Reply-To
    and References headers (RFC 5322 §3.6.4), or by subject between the same
    participants when those headers are missing.

    Threads are derived data: they can be rebuilt from the messages. Two
    threads found to be one conversation (a reply that arrived before its
    parent) are merged into the one created first."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="mail_threads")
    # The subject without reply/forward prefixes and [tags], casefolded and
    # without accents (`threads.normalize_subject`): the key of the subject
    # fallback, never shown to anyone.
    normalized_subject = models.CharField(max_length=255, blank=True)
    # The date of the oldest and newest message (their Date header, or their
    # arrival when they have none); the subject fallback looks only at
    # threads active near a message's date.
    first_message_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # No French verbose_name yet: threads are not shown to anyone until
        # the triage inbox (issue 4, item 7) gives them a page and its strings.
        indexes = [
            models.Index(
                fields=["agency", "normalized_subject", "last_message_at"],
                name="thread_agency_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.normalized_subject[:60]} ({self.pk})"


class ThreadLink(models.Model):
    """A Message-ID known to belong to a thread: the Message-ID of every
    threaded message, and every identifier its In-Reply-To and References
    name — including messages Lanterne never received (the "empty
    containers" of JWZ's threading algorithm). "Which thread holds message-id
    X?" is thus one indexed query, and a reply that arrived before its parent
    is found by the parent when it comes."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=998)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "message_id"], name="thread_link_unique_id"),
        ]

    def __str__(self) -> str:
        return f"<{self.message_id}> → {self.thread_id}"


class Message(models.Model):
    """One e-mail as Lanterne understands it, parsed from its raw bytes."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="messages")
    raw = models.OneToOneField(RawMessage, on_delete=models.PROTECT, related_name="message")
    message_id = models.CharField(max_length=998)
    # Set by the thread stage; None until it ran (or if the thread was deleted).
    thread = models.ForeignKey(
        Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
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
    # Filing (`lanterne.mail.filing`): the dossier, and its provenance — how
    # (`filing_method`), how sure (`filing_score`, for learned suggestions),
    # why in words staff read (`filing_reason`, French), by whom and when.
    # A re-parse (`_message_save`) leaves these fields alone.
    dossier = models.ForeignKey(
        "dossiers.Dossier",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("dossier"),
    )
    # Who sees the message in its dossier: the audience of its timeline
    # entry, kept here too like a task's or a note's (so that changing an
    # entry's audience, `entry_set_audience`, changes it here). Empty while
    # the message is in no dossier.
    audience = models.CharField(
        _("visibilité"), max_length=20, choices=Audience.choices, blank=True
    )
    # Publication (`lanterne.mail.publication`): an inbound mail filed into a
    # dossier stays internal until staff review it (`review` "pending"; the
    # audience to propose is worked out when shown), unless its dossier or a rule publishes
    # automatically. Publishing sets `audience` and records `redactions`: the
    # spans of personal data found in the texts at that moment (computed once,
    # applied per viewer so that a person's own data stays readable to them).
    # Staff may lift the masking of one mail (`unmasked`, reason in the log).
    review = models.CharField(
        _("relecture"), max_length=10, choices=Review.choices, blank=True, default=""
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    redactions = models.JSONField(default=dict, blank=True)
    unmasked = models.BooleanField(_("données personnelles visibles"), default=False)
    # Outbound mail written in Lanterne (`lanterne.mail.outbound`): whether it
    # left through the mail backend. Empty for mail Lanterne only received.
    send_status = models.CharField(
        _("envoi"), max_length=10, choices=SendStatus.choices, blank=True, default=""
    )
    send_error = models.TextField(blank=True)
    filing_method = models.CharField(
        _("mode de classement"),
        max_length=20,
        choices=FilingMethod.choices,
        default=FilingMethod.NONE,
    )
    filing_score = models.FloatField(null=True, blank=True)
    filing_reason = models.TextField(_("raison du classement"), blank=True)
    filed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filed_at = models.DateTimeField(null=True, blank=True)
    # Staff said this message concerns no dossier (an advertisement, a
    # personal mail): it leaves the triage inbox without entering a dossier.
    not_dossier_related = models.BooleanField(_("sans rapport avec un dossier"), default=False)
    # The file stage's ranked dossiers for a message left in triage
    # (`lanterne.mail.autofile`), best first, at most three: a list of
    # {"dossier_id", "reference", "score", "reason"} — "score" is the learned
    # probability, or null for a dossier a reference or the conversation
    # names. Stored so the triage inbox and `export-messages` read them
    # without recomputing; emptied when the stage files the message (only
    # meaningful while the message waits in triage).
    suggestions = models.JSONField(default=list, blank=True)
    # A bounce: the message of this agency whose delivery failed (found by
    # `bounced_message_id`, the Message-ID the parser read in the bounce),
    # once both are known.
    bounce_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="bounces"
    )
    # A forward by staff to the shared mailbox: the original it carries
    # (an attached message/rfc822, or rebuilt from an inline forward), which
    # is ingested as its own message and filed in its place
    # (`lanterne.mail.forwarding`).
    forwarded_message = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="forwards"
    )

    class Meta:
        verbose_name = _("courriel")
        verbose_name_plural = _("courriels")
        constraints = [
            models.UniqueConstraint(fields=["agency", "message_id"], name="message_unique_id"),
            models.CheckConstraint(
                condition=~Q(dossier__isnull=False, not_dossier_related=True),
                name="message_filed_or_not_dossier_related",
            ),
        ]
        indexes = [
            # (The triage inbox has its own index, `message_triage`, made
            # by migration 0008 in SQL: SQLite's indexes know no NULLS LAST.)
            models.Index(fields=["agency", "date", "id"], name="message_agency_date"),
            # Bounces waiting for the message that bounced (read out of
            # order): found when it arrives. Only bounces are in it.
            # The mail waiting for staff review before publication.
            models.Index(
                fields=["dossier", "date"],
                condition=Q(review="pending"),
                name="message_review_pending",
            ),
            models.Index(
                fields=["agency", "bounced_message_id"],
                condition=~Q(bounced_message_id=""),
                name="message_bounced_id",
            ),
        ]

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
    # The file's text for search, read after the message is saved, never
    # while mail is ingested (`lanterne.documents.texts`): at most
    # `extraction.MAX_CHARACTERS`, the same for every attachment of the
    # same bytes in the agency.
    text = models.TextField(blank=True)
    text_state = models.CharField(
        max_length=20, choices=TextState.choices, default=TextState.PENDING
    )
    text_error = models.CharField(max_length=300, blank=True)

    objects = TextDeferredManager()

    class Meta:
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")
        ordering = ["message", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "position"], name="attachment_unique_position"
            ),
        ]
        indexes = [
            # `lanterne extract-text --pending`.
            models.Index(
                fields=["id"],
                condition=Q(text_state=TextState.PENDING),
                name="attachment_text_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class MailRule(models.Model):
    """A rule staff write to file mail: when every condition given matches a
    message (case- and accent-insensitive), its actions apply — a dossier, a
    condominium, an audience, or "not dossier-related".

    Rules are tried by `position` (then age): the first active rule that
    matches wins (`filing.rules_apply`). A condominium without a dossier
    narrows the suggestions of triage to that condominium; an audience alone
    sets who sees the message wherever it is filed. A rule with no condition
    matches nothing, and `clean` refuses it."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="mail_rules")
    name = models.CharField(_("nom"), max_length=200)
    # Conditions: each one optional, all the ones given must match.
    sender_address = models.CharField(_("adresse de l'expéditeur"), max_length=320, blank=True)
    sender_domain = models.CharField(_("domaine de l'expéditeur"), max_length=255, blank=True)
    recipient_contains = models.CharField(_("un destinataire contient"), max_length=320, blank=True)
    subject_contains = models.CharField(_("l'objet contient"), max_length=255, blank=True)
    body_contains = models.CharField(_("le texte contient"), max_length=255, blank=True)
    # Actions. A rule's target cannot vanish under it (PROTECT): change or
    # delete the rule first.
    condominium = models.ForeignKey(
        Condominium,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mail_rules",
        verbose_name=_("copropriété"),
    )
    dossier = models.ForeignKey(
        "dossiers.Dossier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mail_rules",
        verbose_name=_("dossier"),
    )
    audience = models.CharField(
        _("visibilité"), max_length=20, choices=Audience.choices, blank=True
    )
    not_dossier_related = models.BooleanField(_("sans rapport avec un dossier"), default=False)
    position = models.PositiveIntegerField(_("ordre"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    CONDITION_FIELDS = (
        "sender_address",
        "sender_domain",
        "recipient_contains",
        "subject_contains",
        "body_contains",
    )

    class Meta:
        verbose_name = _("règle de classement")
        verbose_name_plural = _("règles de classement")
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["agency", "is_active", "position"], name="mail_rule_order"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_condition(self) -> bool:
        return any(getattr(self, name).strip() for name in self.CONDITION_FIELDS)

    @property
    def has_action(self) -> bool:
        return bool(
            self.dossier_id or self.condominium_id or self.audience or self.not_dossier_related
        )

    def clean(self) -> None:
        """Refuse a rule that could do harm or nothing: no condition (it would
        match nothing, or everything), no action, contradicting actions, or a
        target of another agency."""
        for name in self.CONDITION_FIELDS:
            setattr(self, name, " ".join(getattr(self, name).split()))
        self.sender_address = self.sender_address.lower()
        self.sender_domain = self.sender_domain.lower().lstrip("@").rstrip(".")
        errors: dict[str, list[ValidationError]] = {}

        def error(field: str, message: StrOrPromise) -> None:
            errors.setdefault(field, []).append(ValidationError(message))

        if not self.has_condition:
            error(
                NON_FIELD_ERRORS,
                _(
                    "Indiquez au moins une condition : l'adresse ou le domaine de "
                    "l'expéditeur, un destinataire, l'objet ou le texte."
                ),
            )
        if not self.has_action:
            error(
                NON_FIELD_ERRORS,
                _(
                    "Indiquez au moins une action : un dossier, une copropriété, une "
                    "visibilité, ou « sans rapport avec un dossier »."
                ),
            )
        local, at, domain = self.sender_address.partition("@")
        if self.sender_address and (not at or not local or not domain or "@" in domain):
            error(
                "sender_address",
                _("Indiquez une adresse complète, par exemple jean@plomberie.fr."),
            )
        if self.sender_domain and ("@" in self.sender_domain or "." not in self.sender_domain):
            error("sender_domain", _("Indiquez un domaine, par exemple plomberie.fr."))
        if self.not_dossier_related and (self.dossier_id or self.condominium_id or self.audience):
            error(
                "not_dossier_related",
                _(
                    "Un courriel sans rapport avec un dossier ne va ni dans un dossier, ni "
                    "dans une copropriété, et n'a pas de visibilité : retirez ces actions."
                ),
            )
        dossier = self.dossier if self.dossier_id else None
        condominium = self.condominium if self.condominium_id else None
        if dossier is not None and dossier.agency_id != self.agency_id:
            error("dossier", _("Ce dossier n'appartient pas à ce cabinet."))
        if condominium is not None and condominium.agency_id != self.agency_id:
            error("condominium", _("Cette copropriété n'appartient pas à ce cabinet."))
        if (
            dossier is not None
            and condominium is not None
            and dossier.condominium_id != condominium.pk
        ):
            error("dossier", _("Ce dossier n'est pas un dossier de cette copropriété."))
        if errors:
            raise ValidationError(errors)
