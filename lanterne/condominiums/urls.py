from django.urls import path

from . import views

app_name = "condominiums"

urlpatterns = [
    path("personnes/", views.persons, name="persons"),
    path("import/", views.import_csv, name="import"),
]
