"""Enumerations of the documents app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    QUOTE = "quote", _("Devis")
    INVOICE = "invoice", _("Facture")
    REPORT = "report", _("Rapport")
    PHOTO = "photo", _("Photo")
    MINUTES = "minutes", _("Procès-verbal")
    WORK_ORDER = "work_order", _("Ordre de service")
    MAINTENANCE_CONTRACT = "maintenance_contract", _("Contrat d'entretien")
    INSURANCE_CONTRACT = "insurance_contract", _("Contrat d'assurance")
    MAINTENANCE_LOG = "maintenance_log", _("Carnet d'entretien")
    SUMMARY_SHEET = "summary_sheet", _("Fiche synthétique")
    BYLAWS = "bylaws", _("Règlement de copropriété")
    LETTER = "letter", _("Courrier")
    OTHER = "other", _("Autre")
