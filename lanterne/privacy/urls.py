from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("", views.my_data, name="mine"),
    path("personnes/<int:person_id>/export/", views.person_export_download, name="export"),
    path("personnes/<int:person_id>/anonymiser/", views.person_erase_view, name="erase"),
]
