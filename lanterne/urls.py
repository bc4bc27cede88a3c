"""Lanterne's URLs (French paths: they are part of the interface)."""

from django.conf import settings
from django.urls import include, path

from lanterne.dossiers import views as dossier_views

urlpatterns = [
    path("", dossier_views.home, name="home"),
    path(
        "coproprietes/<int:condominium_id>/", dossier_views.condominium_detail, name="condominium"
    ),
    path("", include("lanterne.accounts.urls")),
    path("dossiers/", include("lanterne.dossiers.urls")),
    path("documents/", include("lanterne.documents.urls")),
    path("cabinet/", include("lanterne.condominiums.urls")),
    path("courriels/", include("lanterne.mail.urls")),
    path("notifications/", include("lanterne.notifications.urls")),
    path("relances/", include("lanterne.reminders.urls")),
    path("api/", include("lanterne.api.urls")),
    path("exports/", include("lanterne.exports.urls")),
    path("donnees-personnelles/", include("lanterne.privacy.urls")),
    path("recherche/", include("lanterne.search.urls")),
    path("journal/", include("lanterne.audit.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

# Inbound mail webhooks (django-anymail), mounted only when configured:
# LANTERNE_ANYMAIL_WEBHOOK_SECRET and LANTERNE_MAILGUN_WEBHOOK_SIGNING_KEY.
if settings.MAIL_WEBHOOKS_ENABLED:
    urlpatterns.append(path("webhooks/anymail/", include("lanterne.mail.sources.webhook")))
