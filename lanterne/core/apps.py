"""The core app: helpers shared by every app, and the demo agency (`lanterne load-demo`)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "lanterne.core"
    verbose_name = _("Socle")
