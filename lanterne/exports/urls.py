"""Dossier exports: the timeline as PDF, the dossier as ZIP."""

from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("dossiers/<int:dossier_id>/pdf/", views.dossier_pdf, name="dossier_pdf"),
    path("dossiers/<int:dossier_id>/zip/", views.dossier_zip, name="dossier_zip"),
]
