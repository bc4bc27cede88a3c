"""Enumerations of the documents app."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from . import extraction


class DocumentKind(models.TextChoices):
    """What a document is: the category it is filed under."""

    # Documents of a dossier.
    QUOTE = "quote", _("Devis")
    INVOICE = "invoice", _("Facture")
    REPORT = "report", _("Rapport")
    PHOTO = "photo", _("Photo")
    WORK_ORDER = "work_order", _("Ordre de service")
    LETTER = "letter", _("Courrier")
    # For all co-owners (décret n° 2019-502, art. 1er, I).
    BYLAWS = "bylaws", _("Règlement de copropriété")
    SUMMARY_SHEET = "summary_sheet", _("Fiche synthétique")
    MAINTENANCE_LOG = "maintenance_log", _("Carnet d'entretien")
    DIAGNOSTIC_DTG = "diagnostic_dtg", _("Diagnostic technique global (DTG)")
    DIAGNOSTIC_ASBESTOS = "diagnostic_asbestos", _("Dossier technique amiante (DTA)")
    DIAGNOSTIC_ENERGY = "diagnostic_energy", _("Diagnostic de performance énergétique collectif")
    INSURANCE_CONTRACT = "insurance_contract", _("Contrat d'assurance")
    MAINTENANCE_CONTRACT = "maintenance_contract", _("Contrat d'entretien")
    SYNDIC_CONTRACT = "syndic_contract", _("Contrat de syndic")
    MINUTES = "minutes", _("Procès-verbal")
    # For each co-owner, about their own lots (art. 1er, II).
    OWNER_ACCOUNT = "owner_account", _("Compte du copropriétaire")
    CHARGES_STATEMENT = "charges_statement", _("Relevé des charges")
    WORKS_FUND_SHARE = "works_fund_share", _("Part du fonds de travaux")
    CALL_FOR_FUNDS = "call_for_funds", _("Appel de fonds")
    # For the council (art. 1er, III).
    ACCOUNTS = "accounts", _("Comptes du syndicat")
    BANK_STATEMENT = "bank_statement", _("Relevé bancaire")
    OWNERS_LIST = "owners_list", _("Liste des copropriétaires")
    SYNDIC_CREDENTIALS = "syndic_credentials", _("Attestations du syndic")
    LEGAL_PROCEEDINGS = "legal_proceedings", _("Procédure judiciaire")
    OTHER = "other", _("Autre")


class DocumentSpace(models.TextChoices):
    """The three parts of the condominium's online space (loi du 10 juillet 1965,
    art. 18; décret n° 2019-502): each is seen by different persons."""

    OWNERS = "owners", _("Tous les copropriétaires")
    LOT = "lot", _("Mon lot")
    COUNCIL = "council", _("Conseil syndical")


# Staff file documents for others: the space says who will see them.
SPACE_LABELS_FOR_STAFF = {
    DocumentSpace.OWNERS: _("Tous les copropriétaires"),
    DocumentSpace.LOT: _("Un lot : ses copropriétaires seulement"),
    DocumentSpace.COUNCIL: _("Conseil syndical"),
}


class TextState(models.TextChoices):
    """Where the text of a file (a mail's attachment, a document) is, for
    search (`extraction`, `texts`)."""

    PENDING = "pending", _("En attente")
    EXTRACTED = extraction.EXTRACTED, _("Texte extrait")
    TOO_LARGE = extraction.TOO_LARGE, _("Texte en partie extrait (fichier trop grand)")
    UNSUPPORTED = extraction.UNSUPPORTED, _("Format sans texte lisible")
    FAILED = extraction.FAILED, _("Texte illisible")
