"""The API (/api/…, django-ninja: its views are named "api:v1:<name>") and
the page where each person manages their API tokens."""

from django.urls import path

from . import views
from .endpoints import api

app_name = "api"

urlpatterns = [
    path("jetons/", views.tokens, name="tokens"),
    path("jetons/revoquer/", views.token_revoke, name="token_revoke"),
    path("", api.urls),
]
