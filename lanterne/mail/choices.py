"""Enumerations of the mail app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    IMAP = "imap", _("Boîte IMAP")
    SMTP = "smtp", _("Réception SMTP/LMTP")
    WEBHOOK = "webhook", _("Webhook d'un fournisseur")
    IMPORT = "import", _("Import d'historique")


class RawState(models.TextChoices):
    """Where a stored message stands in the pipeline."""

    STORED = "stored", _("Reçu, en attente de traitement")
    PARSED = "parsed", _("Analysé")
    DUPLICATE = "duplicate", _("Doublon d'un message déjà reçu")
    QUARANTINED = "quarantined", _("En quarantaine")
    REFUSED = "refused", _("Refusé")


class RawFormat(models.TextChoices):
    RFC822 = "rfc822", _("Courriel (RFC 5322)")
    OUTLOOK_MSG = "msg", _("Fichier Outlook .msg")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Reçu")
    OUTBOUND = "outbound", _("Envoyé")


class Review(models.TextChoices):
    """Where an inbound filed mail stands in its staff review before publication."""

    PENDING = "pending", _("À relire")
    PUBLISHED = "published", _("Publié")
    KEPT_INTERNAL = "internal", _("Gardé interne")


class SendStatus(models.TextChoices):
    QUEUED = "queued", _("En cours d'envoi")
    SENT = "sent", _("Envoyé")
    FAILED = "failed", _("Échec de l'envoi")
