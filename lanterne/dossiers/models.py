"""Dossiers (case files) and what their timeline is made of: tasks, decisions,
notes, status changes, documents, filed e-mails, and the one TimelineEntry
stream that orders them all."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Company, Condominium, Lot, Person
from lanterne.core.dates import long_date

from .choices import (
    STATUS_LINES,
    Audience,
    DecisionBody,
    DossierStatus,
    DossierType,
    EntryEvent,
    EntryKind,
    TaskStatus,
)


class Dossier(models.Model):
    """A case file of a condominium: a water damage, works, a breakdown…

    `audience` says who may see the dossier at all, and is the default audience
    of the entries added to it. `council_sees_parties` lets the council follow a
    dossier whose audience is the parties (GLOSSARY.md, "parties")."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="dossiers")
    condominium = models.ForeignKey(
        Condominium,
        on_delete=models.PROTECT,
        related_name="dossiers",
        verbose_name=_("copropriété"),
    )
    reference = models.CharField(_("référence"), max_length=40)
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    type = models.CharField(_("type"), max_length=30, choices=DossierType.choices)
    status = models.CharField(_("statut"), max_length=30, choices=DossierStatus.choices)
    audience = models.CharField(
        _("visibilité"), max_length=20, choices=Audience.choices, default=Audience.INTERNAL
    )
    council_sees_parties = models.BooleanField(
        _("le conseil syndical suit ce dossier"),
        default=False,
        help_text=_("Si la visibilité est « Personnes concernées », le conseil la partage."),
    )
    # Mail filed into the dossier waits for staff review before it reaches
    # the council or co-owners, unless an audience is set here: then it is
    # published to that audience as it is filed (personal data masked).
    auto_publish_audience = models.CharField(
        _("publication automatique des courriels"),
        max_length=20,
        choices=Audience.choices,
        blank=True,
        default="",
        help_text=_("Vide : chaque courriel reçu attend votre relecture avant publication."),
    )
    manager = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_dossiers",
        verbose_name=_("gestionnaire"),
        limit_choices_to=~Q(staff_role=""),
    )
    party_lots = models.ManyToManyField(
        Lot, blank=True, related_name="dossiers", verbose_name=_("lots concernés")
    )
    party_persons = models.ManyToManyField(
        Person, blank=True, related_name="party_to_dossiers", verbose_name=_("personnes concernées")
    )
    party_companies = models.ManyToManyField(
        Company, blank=True, related_name="dossiers", verbose_name=_("entreprises concernées")
    )
    opened_on = models.DateField(_("ouvert le"), default=timezone.localdate)
    closed_on = models.DateField(_("clos le"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "reference"], name="dossier_unique_reference"
            ),
        ]
        indexes = [
            models.Index(fields=["condominium", "status"], name="dossier_condo_status"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} — {self.title}"

    @property
    def is_closed(self) -> bool:
        return self.status == DossierStatus.CLOSED

    @property
    def status_line(self) -> str:
        """Where the dossier stands, in words: « En attente des devis depuis
        le 12 mars 2026 ». The day comes from `status_since` (annotated by
        the selectors: the last status change), else the opening day."""
        since = getattr(self, "status_since", None)
        day = timezone.localdate(since) if since is not None else self.opened_on
        template = STATUS_LINES.get(self.status)
        if template is None:
            return str(self.get_status_display())
        return str(template) % {"date": long_date(day)}


class DossierSequence(models.Model):
    """The last number given to a `DOS-YYYY-NNNN` reference, per agency and year."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "year"], name="dossier_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"DOS-{self.year}-{self.last_number:04d}"


class Task(models.Model):
    """Something to do on a dossier, with an optional due date and assignee."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("intitulé"), max_length=200)
    description = models.TextField(_("détails"), blank=True)
    due_on = models.DateField(_("échéance"), null=True, blank=True)
    assignee = models.ForeignKey(
        Person,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
        verbose_name=_("responsable"),
    )
    status = models.CharField(
        _("état"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("tâche")
        verbose_name_plural = _("tâches")

    def __str__(self) -> str:
        return self.title


class Decision(models.Model):
    """A decision taken on the dossier: by the general meeting, the council or the manager."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="decisions")
    decided_by = models.CharField(_("décidé par"), max_length=20, choices=DecisionBody.choices)
    decided_on = models.DateField(_("date"), default=timezone.localdate)
    text = models.TextField(_("décision"))
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("décision")
        verbose_name_plural = _("décisions")

    def __str__(self) -> str:
        return self.text[:60]


class Note(models.Model):
    """A free note on the dossier (a phone call, a visit, a remark)."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(_("note"))
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    author = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return self.text[:60]


class StatusChange(models.Model):
    """A move of the dossier from one status to another."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=30, choices=DossierStatus.choices, blank=True)
    to_status = models.CharField(max_length=30, choices=DossierStatus.choices)
    comment = models.TextField(_("commentaire"), blank=True)
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    changed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("changement de statut")
        verbose_name_plural = _("changements de statut")

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class TimelineEntry(models.Model):
    """One event of a dossier's timeline, pointing at the object it is about.

    The timeline is append-only: completing a task adds an entry, it does not
    rewrite the first one. Pages are read newest first with keyset pagination on
    (occurred_at, id), which the `timeline_keyset` index serves."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    event = models.CharField(max_length=20, choices=EntryEvent.choices, default=EntryEvent.CREATED)
    audience = models.CharField(_("visibilité"), max_length=20, choices=Audience.choices)
    actor = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, null=True, blank=True, related_name="entries"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, null=True, blank=True, related_name="entries"
    )
    note = models.ForeignKey(
        Note, on_delete=models.CASCADE, null=True, blank=True, related_name="entries"
    )
    status_change = models.ForeignKey(
        StatusChange, on_delete=models.CASCADE, null=True, blank=True, related_name="entries"
    )
    document = models.ForeignKey(
        "documents.Document",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="entries",
    )
    # A string reference: the mail app imports this one (its Message points
    # at Dossier), so neither module imports the other's models.
    message = models.ForeignKey(
        "mail.Message",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="entries",
    )

    class Meta:
        verbose_name = _("entrée de chronologie")
        verbose_name_plural = _("entrées de chronologie")
        indexes = [
            models.Index(fields=["dossier", "occurred_at", "id"], name="timeline_keyset"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=EntryKind.TASK, task__isnull=False)
                    | Q(kind=EntryKind.DECISION, decision__isnull=False)
                    | Q(kind=EntryKind.NOTE, note__isnull=False)
                    | Q(kind=EntryKind.STATUS_CHANGE, status_change__isnull=False)
                    | Q(kind=EntryKind.DOCUMENT, document__isnull=False)
                    | Q(kind=EntryKind.MESSAGE, message__isnull=False)
                ),
                name="timeline_entry_points_at_its_kind",
            ),
            # A filed message appears once in the timelines, in one dossier:
            # filing it again elsewhere moves its entry (`mail.filing`).
            models.UniqueConstraint(
                fields=["message"],
                condition=Q(kind=EntryKind.MESSAGE, event=EntryEvent.CREATED),
                name="timeline_entry_one_per_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dossier.reference} {self.kind} {self.occurred_at:%Y-%m-%d}"

    @property
    def subject(self) -> Task | Decision | Note | StatusChange | models.Model | None:
        """The object this entry is about."""
        return (
            self.task
            or self.decision
            or self.note
            or self.status_change
            or self.document
            or self.message
        )
