"""Privacy pages: « Mes données » (a person downloads their own data), a
person's export for staff, and the anonymisation of a person who left."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lanterne.condominiums.models import Person
from lanterne.dossiers import policy

from . import services
from .export import person_export_zip
from .forms import ErasureForm


def _visible_person(viewer: policy.Viewer, person_id: int) -> Person:
    """The person if `viewer` may see them (staff of their agency, or
    themself); 404 otherwise, so that nobody learns who else exists."""
    person = (
        policy.persons_visible_to(viewer)
        .select_related("agency", "user", "company")
        .filter(pk=person_id)
        .first()
    )
    if person is None:
        raise Http404
    return person


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    """What a logged-in person may do with their data: download it, one
    archive per agency that knows them, and ask the agency to erase it."""
    viewer = policy.viewer_of(request)
    persons = (
        policy.persons_visible_to(viewer)
        .filter(pk__in=viewer.person_ids)
        .select_related("agency")
        .order_by("agency__name")
    )
    return render(request, "privacy/my_data.html", {"persons": persons})


@login_required
@require_POST
def person_export_download(request: HttpRequest, person_id: int) -> StreamingHttpResponse:
    """The ZIP of a person's data, streamed; the export is logged before the
    first byte leaves."""
    viewer = policy.viewer_of(request)
    person = _visible_person(viewer, person_id)
    if not policy.may_export_person_data(viewer, person):
        raise Http404
    export = services.person_export(viewer=viewer, actor=request.user, person=person)
    response = StreamingHttpResponse(person_export_zip(export), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def person_erase_view(request: HttpRequest, person_id: int) -> HttpResponse:
    """Confirm and anonymise a person who left: managers of their agency."""
    viewer = policy.viewer_of(request)
    person = _visible_person(viewer, person_id)
    if not viewer.is_staff_of(person.agency_id):
        raise Http404
    if not policy.may_erase_person(viewer, person):
        raise PermissionDenied
    form = ErasureForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.person_erase(
                    viewer=viewer,
                    actor=request.user,
                    person=person,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                for text in error.messages:
                    form.add_error(None, text)
            else:
                messages.success(
                    request,
                    _("La personne n°%(number)d est anonymisée.") % {"number": person.pk},
                )
                return redirect("condominiums:persons")
        status = 400
    return render(
        request,
        "privacy/erase.html",
        {"person": person, "form": form, "refusal": services.person_erase_refusal(person)},
        status=status,
    )
