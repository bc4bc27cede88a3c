from django.urls import path

from . import views

app_name = "dossiers"

urlpatterns = [
    path("nouveau/", views.dossier_create, name="create"),
    path("<int:dossier_id>/", views.dossier_detail, name="detail"),
    path("<int:dossier_id>/modifier/", views.dossier_edit, name="edit"),
    path("<int:dossier_id>/notes/", views.note_create, name="note_create"),
    path("<int:dossier_id>/taches/", views.task_create, name="task_create"),
    path("<int:dossier_id>/decisions/", views.decision_create, name="decision_create"),
    path("<int:dossier_id>/avis-du-conseil/", views.council_opinion_create, name="council_opinion"),
    path("<int:dossier_id>/documents/", views.document_create, name="document_create"),
    path("<int:dossier_id>/statut/", views.status_change, name="status_change"),
    path("taches/<int:task_id>/terminer/", views.task_complete, name="task_complete"),
    path("entrees/<int:entry_id>/visibilite/", views.entry_audience, name="entry_audience"),
]
