from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "lanterne.accounts"
    verbose_name = _("Comptes")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .middleware import session_times_start
        from .throttling import login_failures_reset_on_login

        user_logged_in.connect(session_times_start, dispatch_uid="lanterne-session-times")
        user_logged_in.connect(
            login_failures_reset_on_login, dispatch_uid="lanterne-login-failures-reset"
        )
