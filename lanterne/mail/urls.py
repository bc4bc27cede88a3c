from django.urls import path

from . import views

app_name = "mail"

urlpatterns = [
    path("quarantaine/", views.quarantine, name="quarantine"),
    path("bruts/<int:raw_id>/retraiter/", views.reprocess, name="reprocess"),
    path("bruts/<int:raw_id>/telecharger/", views.raw_download, name="raw_download"),
    path("sources/", views.sources, name="sources"),
    path("sources/nouvelle/", views.source_create, name="source_create"),
    path("sources/<int:source_id>/", views.source_edit, name="source_edit"),
    path("sources/<int:source_id>/tester/", views.source_test, name="source_test"),
    path("regles/", views.rules, name="rules"),
    path("regles/nouvelle/", views.rule_create, name="rule_create"),
    path("regles/nouvelle/apercu/", views.rule_create_preview, name="rule_create_preview"),
    path("regles/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("regles/<int:rule_id>/apercu/", views.rule_edit_preview, name="rule_edit_preview"),
    path("regles/<int:rule_id>/activation/", views.rule_toggle, name="rule_toggle"),
    path("regles/<int:rule_id>/supprimer/", views.rule_delete, name="rule_delete"),
]
