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
]
