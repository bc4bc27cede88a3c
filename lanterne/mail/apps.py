from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "lanterne.mail"
    verbose_name = _("Courriels")

    def ready(self) -> None:
        # Connects the receiver of django-anymail's `inbound` signal (provider webhooks).
        from .sources import webhook  # noqa: F401
