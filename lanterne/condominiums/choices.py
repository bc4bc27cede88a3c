"""Enumerations of the condominiums app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LotKind(models.TextChoices):
    FLAT = "flat", _("Appartement")
    CELLAR = "cellar", _("Cave")
    PARKING = "parking", _("Parking")
    SHOP = "shop", _("Commerce")
    OFFICE = "office", _("Bureau")
    OTHER = "other", _("Autre")


class CompanyKind(models.TextChoices):
    CONTRACTOR = "contractor", _("Prestataire")
    INSURER = "insurer", _("Assureur")
    ADJUSTER = "adjuster", _("Expert")
    OTHER = "other", _("Autre")


class StaffRole(models.TextChoices):
    MANAGER = "manager", _("Gestionnaire")
    ASSISTANT = "assistant", _("Assistant(e)")


class CouncilRole(models.TextChoices):
    MEMBER = "council_member", _("Membre du conseil syndical")
    CHAIR = "council_chair", _("Président(e) du conseil syndical")
