"""Staff pages on the agency's contacts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lanterne.dossiers import policy

from .models import CouncilMembership, Ownership


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
