"""Enumerations of the dossiers app: audiences, dossier types and their status
lifecycles, timeline entry kinds."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Audience(models.TextChoices):
    """Who may see a dossier, a timeline entry or a document (see GLOSSARY.md).

    Staff of the agency see everything of their agency whatever the audience."""

    INTERNAL = "internal", _("Interne au cabinet")
    COUNCIL = "council", _("Conseil syndical")
    OWNERS = "owners", _("Tous les copropriétaires")
    PARTIES = "parties", _("Personnes concernées")


def audience_choices() -> list[tuple[str, str]]:
    """`Audience.choices` translated now, for a page that lists them many
    times (each entry of a timeline): a lazy label is translated at each use."""
    return [(value, str(label)) for value, label in Audience.choices]


class DossierType(models.TextChoices):
    WATER_DAMAGE = "water_damage", _("Dégât des eaux / fuite")
    WORKS = "works", _("Travaux")
    INCIDENT = "incident", _("Incident / intervention")
    CLAIM = "claim", _("Sinistre")
    ARREARS = "arrears", _("Impayés")
    GENERAL_MEETING = "general_meeting", _("Assemblée générale")
    COUNCIL_REQUEST = "council_request", _("Demande du conseil syndical")
    OTHER = "other", _("Autre")


class DossierStatus(models.TextChoices):
    OPEN = "open", _("Ouvert")
    DECLARED = "declared", _("Déclaré")
    LEAK_SEARCH = "leak_search", _("Recherche de fuite")
    ASSESSMENT = "assessment", _("Expertise")
    REPAIRS = "repairs", _("Réparations")
    COMPENSATION = "compensation", _("Indemnisation")
    QUOTES = "quotes", _("Demande de devis")
    AWAITING_VOTE = "awaiting_vote", _("En attente de vote")
    ORDERED = "ordered", _("Commandé")
    IN_PROGRESS = "in_progress", _("En cours")
    ACCEPTANCE = "acceptance", _("Réception des travaux")
    CONTRACTOR_CALLED = "contractor_called", _("Prestataire missionné")
    RESOLVED = "resolved", _("Résolu")
    REMINDER = "reminder", _("Relance")
    FORMAL_NOTICE = "formal_notice", _("Mise en demeure")
    PAYMENT_PLAN = "payment_plan", _("Échéancier")
    LITIGATION = "litigation", _("Procédure")
    PREPARATION = "preparation", _("Préparation")
    CONVENED = "convened", _("Convoquée")
    HELD = "held", _("Tenue")
    MINUTES_SENT = "minutes_sent", _("Procès-verbal envoyé")
    ANSWERED = "answered", _("Répondu")
    CLOSED = "closed", _("Clos")


S = DossierStatus

# The lifecycle of each dossier type, in its usual order. A dossier starts at
# the first status and may move to any later one (steps can be skipped: not every
# water damage needs an adjuster), back to the previous one (a step reopened), or
# from any status to closed; a closed dossier may only be reopened to the status
# it had before closing (see `allowed_transitions`).
LIFECYCLES: dict[str, tuple[str, ...]] = {
    DossierType.WATER_DAMAGE: (
        S.DECLARED,
        S.LEAK_SEARCH,
        S.ASSESSMENT,
        S.REPAIRS,
        S.COMPENSATION,
        S.CLOSED,
    ),
    DossierType.WORKS: (
        S.QUOTES,
        S.AWAITING_VOTE,
        S.ORDERED,
        S.IN_PROGRESS,
        S.ACCEPTANCE,
        S.CLOSED,
    ),
    DossierType.INCIDENT: (S.OPEN, S.CONTRACTOR_CALLED, S.IN_PROGRESS, S.RESOLVED, S.CLOSED),
    DossierType.CLAIM: (S.DECLARED, S.ASSESSMENT, S.COMPENSATION, S.CLOSED),
    DossierType.ARREARS: (
        S.REMINDER,
        S.FORMAL_NOTICE,
        S.PAYMENT_PLAN,
        S.LITIGATION,
        S.CLOSED,
    ),
    DossierType.GENERAL_MEETING: (
        S.PREPARATION,
        S.CONVENED,
        S.HELD,
        S.MINUTES_SENT,
        S.CLOSED,
    ),
    DossierType.COUNCIL_REQUEST: (S.OPEN, S.IN_PROGRESS, S.ANSWERED, S.CLOSED),
    DossierType.OTHER: (S.OPEN, S.IN_PROGRESS, S.CLOSED),
}


def initial_status(dossier_type: str) -> str:
    """The status a new dossier of this type starts in."""
    return LIFECYCLES[dossier_type][0]


def allowed_transitions(
    dossier_type: str, current: str, *, status_before_closing: str | None = None
) -> list[str]:
    """The statuses a dossier of `dossier_type` in status `current` may move to.

    `status_before_closing` is the status a closed dossier had before it was
    closed; reopening returns to it (or to the first status if unknown)."""
    lifecycle = LIFECYCLES[dossier_type]
    if current == S.CLOSED:
        if status_before_closing in lifecycle and status_before_closing != S.CLOSED:
            return [status_before_closing]
        return [lifecycle[0]]
    if current not in lifecycle:
        # A status imported from a previous software that this type does not
        # know: any status of the lifecycle brings it back on track.
        return list(lifecycle)
    index = lifecycle.index(current)
    targets = list(lifecycle[index + 1 :])
    if index > 0:
        targets.insert(0, lifecycle[index - 1])
    return targets


def statuses_of(dossier_type: str) -> list[tuple[str, str]]:
    """(value, label) pairs of the statuses of a dossier type, in order."""
    return [(value, str(DossierStatus(value).label)) for value in LIFECYCLES[dossier_type]]


# Suggested default audience of a new dossier, by type: private matters
# (arrears) are internal; common matters are open to the owners; a water damage
# concerns its parties first.
DEFAULT_AUDIENCE: dict[str, str] = {
    DossierType.WATER_DAMAGE: Audience.PARTIES,
    DossierType.WORKS: Audience.OWNERS,
    DossierType.INCIDENT: Audience.OWNERS,
    DossierType.CLAIM: Audience.PARTIES,
    DossierType.ARREARS: Audience.INTERNAL,
    DossierType.GENERAL_MEETING: Audience.OWNERS,
    DossierType.COUNCIL_REQUEST: Audience.COUNCIL,
    DossierType.OTHER: Audience.INTERNAL,
}


class EntryKind(models.TextChoices):
    NOTE = "note", _("Note")
    TASK = "task", _("Tâche")
    DECISION = "decision", _("Décision")
    STATUS_CHANGE = "status_change", _("Changement de statut")
    DOCUMENT = "document", _("Document")
    MESSAGE = "message", _("Courriel")


class EntryEvent(models.TextChoices):
    CREATED = "created", _("créé")
    COMPLETED = "completed", _("terminé")
    REOPENED = "reopened", _("rouvert")


class DecisionBody(models.TextChoices):
    GENERAL_MEETING = "general_meeting", _("Assemblée générale")
    COUNCIL = "council", _("Conseil syndical")
    MANAGER = "manager", _("Gestionnaire")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("À faire")
    DONE = "done", _("Terminée")


# Where a dossier stands, in a sentence a co-owner understands, by status;
# `%(date)s` is the day the dossier entered that status (`dossier_status_line`).
STATUS_LINES: dict[str, str] = {
    S.OPEN: _("Ouvert le %(date)s"),
    S.DECLARED: _("Sinistre déclaré le %(date)s"),
    S.LEAK_SEARCH: _("Recherche de fuite en cours depuis le %(date)s"),
    S.ASSESSMENT: _("En attente de l'expertise depuis le %(date)s"),
    S.REPAIRS: _("Réparations en cours depuis le %(date)s"),
    S.COMPENSATION: _("En attente de l'indemnisation depuis le %(date)s"),
    S.QUOTES: _("En attente des devis depuis le %(date)s"),
    S.AWAITING_VOTE: _("En attente du vote de l'assemblée générale depuis le %(date)s"),
    S.ORDERED: _("Travaux commandés le %(date)s, en attente de leur début"),
    S.IN_PROGRESS: _("En cours depuis le %(date)s"),
    S.ACCEPTANCE: _("Réception des travaux en cours depuis le %(date)s"),
    S.CONTRACTOR_CALLED: _("Prestataire missionné le %(date)s, en attente de son intervention"),
    S.RESOLVED: _("Résolu le %(date)s"),
    S.REMINDER: _("Relance envoyée le %(date)s"),
    S.FORMAL_NOTICE: _("Mise en demeure envoyée le %(date)s"),
    S.PAYMENT_PLAN: _("Échéancier en cours depuis le %(date)s"),
    S.LITIGATION: _("Procédure en cours depuis le %(date)s"),
    S.PREPARATION: _("Assemblée générale en préparation depuis le %(date)s"),
    S.CONVENED: _("Assemblée générale convoquée le %(date)s"),
    S.HELD: _("Assemblée générale tenue le %(date)s"),
    S.MINUTES_SENT: _("Procès-verbal envoyé le %(date)s"),
    S.ANSWERED: _("Réponse apportée le %(date)s"),
    S.CLOSED: _("Clos le %(date)s"),
}
