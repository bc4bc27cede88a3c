"""Staff pages on the agency's contacts, and the CSV import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lanterne.dossiers import policy

from .imports import COLUMNS, MAX_IMPORT_SIZE, CsvImportError, ImportKind, csv_import, example_csv
from .models import Agency, CouncilMembership, Ownership


@login_required
def persons(request: HttpRequest) -> HttpResponse:
    """The agency's contact book, with login status and an invitation button."""
    viewer = policy.viewer_of(request)
    if not viewer.is_staff_anywhere:
        raise PermissionDenied
    query = request.GET.get("q", "").strip()
    people = (
        policy.persons_visible_to(viewer)
        .filter(agency_id__in=viewer.staff_agency_ids)
        .select_related("company", "user")
        .prefetch_related(
            "emails",
            Prefetch("ownerships", queryset=Ownership.objects.select_related("lot__condominium")),
            Prefetch(
                "council_seats", queryset=CouncilMembership.objects.select_related("condominium")
            ),
        )
        .order_by("last_name", "first_name")
    )
    if query:
        people = people.filter(last_name__icontains=query) | people.filter(
            emails__address__icontains=query
        )
        people = people.distinct()
    return render(request, "condominiums/persons.html", {"persons": people[:300], "query": query})


class ImportForm(forms.Form):
    """What to import, and the file. The agency is asked for only when the
    manager manages several."""

    agency = forms.TypedChoiceField(label=gettext_lazy("Cabinet"), coerce=int)
    kind = forms.ChoiceField(label=gettext_lazy("Contenu du fichier"), choices=ImportKind.choices)
    file = forms.FileField(
        label=gettext_lazy("Fichier CSV"),
        help_text=gettext_lazy(
            "UTF-8 ou Windows-1252, séparateur « ; » ou « , », 5 Mo au plus. "
            "Le fichier est importé en entier ou pas du tout."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, agencies: list[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agencies = {agency.pk: agency for agency in agencies}
        if len(agencies) == 1:
            del self.fields["agency"]
        else:
            field = self.fields["agency"]
            assert isinstance(field, forms.TypedChoiceField)
            field.choices = [(agency.pk, agency.name) for agency in agencies]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_SIZE:
            raise ValidationError(
                _("Le fichier dépasse %(size)d Mo : découpez-le en plusieurs fichiers.")
                % {"size": MAX_IMPORT_SIZE // (1024 * 1024)}
            )
        return upload

    @property
    def chosen_agency(self) -> Agency:
        if "agency" not in self.fields:
            return next(iter(self.agencies.values()))
        return self.agencies[self.cleaned_data["agency"]]


@login_required
def import_csv(request: HttpRequest) -> HttpResponse:
    """Managers import the agency's data from CSV files, all or nothing; a model
    file of each kind is offered for download (`?modele=KIND`)."""
    viewer = policy.viewer_of(request)
    agencies = [
        agency
        for agency in Agency.objects.filter(pk__in=viewer.staff_agency_ids).order_by("name")
        if policy.may_import(viewer, agency.pk)
    ]
    if not agencies:
        raise PermissionDenied
    model_kind = request.GET.get("modele")
    if model_kind in ImportKind.values:
        # The BOM lets Excel read the model as UTF-8.
        response = HttpResponse("\ufeff" + example_csv(model_kind), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="lanterne-{model_kind}.csv"'
        return response
    form = ImportForm(request.POST or None, request.FILES or None, agencies=agencies)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                report = csv_import(
                    viewer=viewer,
                    actor=request.user,
                    agency=form.chosen_agency,
                    kind=form.cleaned_data["kind"],
                    data=form.cleaned_data["file"].read(),
                )
            except CsvImportError as error:
                problems = error.messages
                status = 400
            else:
                messages.success(
                    request, _("Import réussi : %(summary)s.") % {"summary": report.summary()}
                )
                return redirect("condominiums:import")
        else:
            status = 400
    kinds = [
        {"value": value, "label": label, "columns": COLUMNS[value]}
        for value, label in ImportKind.choices
    ]
    return render(
        request,
        "condominiums/import.html",
        {"form": form, "problems": problems, "kinds": kinds},
        status=status,
    )
