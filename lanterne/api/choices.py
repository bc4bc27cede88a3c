"""Enumerations of the API app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TokenScope(models.TextChoices):
    """What an API token may do, within what its login may do on the web."""

    READ = "read", _("Lecture seule")
    WRITE = "write", _("Lecture et écriture")
