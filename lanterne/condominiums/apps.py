from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CondominiumsConfig(AppConfig):
    name = "lanterne.condominiums"
    verbose_name = _("Copropriétés")
