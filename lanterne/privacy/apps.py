from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "lanterne.privacy"
    verbose_name = _("Données personnelles")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
