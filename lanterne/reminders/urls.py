from django.urls import path

from . import views

app_name = "reminders"

urlpatterns = [
    path("dossiers/<int:dossier_id>/nouvelle/", views.reminder_create, name="create"),
    path("<int:reminder_id>/annuler/", views.reminder_cancel, name="cancel"),
    path("<int:reminder_id>/reponse-recue/", views.reminder_answered, name="answered"),
]
