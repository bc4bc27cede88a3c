from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("<int:document_id>/telecharger/", views.document_download, name="download"),
    path("coproprietes/<int:condominium_id>/", views.condominium_space, name="space"),
    path(
        "coproprietes/<int:condominium_id>/obligatoires/",
        views.condominium_checklist,
        name="checklist",
    ),
    path(
        "coproprietes/<int:condominium_id>/deposer/",
        views.condominium_document_create,
        name="create",
    ),
]
