from django.urls import path

from . import display, triage, views, views_outbound, views_publication

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
    path("tri/", triage.triage, name="triage"),
    path("tri/compte/", triage.triage_count_badge, name="triage_count"),
    path("tri/selection/", triage.triage_bulk_view, name="triage_bulk"),
    path("tri/dossiers/", triage.triage_dossier_search_view, name="triage_dossier_search"),
    path("tri/<int:message_id>/", triage.triage_message_view, name="triage_message"),
    path("tri/<int:message_id>/classer/", triage.triage_file_view, name="triage_file"),
    path(
        "tri/<int:message_id>/sans-rapport/",
        triage.triage_not_related_view,
        name="triage_not_related",
    ),
    path(
        "tri/<int:message_id>/nouveau-dossier/",
        triage.triage_dossier_create_view,
        name="triage_dossier_create",
    ),
    path("<int:message_id>/html/", display.message_html, name="message_html"),
    path("dossiers/<int:dossier_id>/ecrire/", views_outbound.compose, name="compose"),
    path("<int:message_id>/renvoyer/", views_outbound.resend, name="resend"),
    path("<int:message_id>/publier/", views_publication.message_publish, name="message_publish"),
    path("<int:message_id>/demasquer/", views_publication.message_unmask, name="message_unmask"),
    path("a-publier/", views_publication.review_list, name="review"),
    path(
        "pieces-jointes/<int:attachment_id>/",
        display.attachment_download,
        name="attachment_download",
    ),
    path(
        "pieces-jointes/<int:attachment_id>/image/",
        display.attachment_inline,
        name="attachment_inline",
    ),
]
