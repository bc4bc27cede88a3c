"""The search page: /recherche/?q=…"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from lanterne.core.htmx import render_page
from lanterne.dossiers import policy

from .forms import SearchForm
from .selectors import search_page


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Results of the words typed, among what the person may see, ranked,
    with their snippets; htmx gets the results alone (the filters stay)."""
    viewer = policy.viewer_of(request)
    # Their names alone: 500 whole rows took 5 ms, their names 1.
    condominiums = list(
        policy.condominiums_visible_to(viewer).order_by("name").values_list("pk", "name")
    )
    form = SearchForm(request.GET or None, condominiums=condominiums)
    filters = form.filters() if form.is_bound else None
    text = form.text
    page = search_page(viewer, text, filters, page=_page_number(request))
    dossier = None
    if filters is not None and filters.dossier_id is not None:
        dossier = policy.dossiers_visible_to(viewer).filter(pk=filters.dossier_id).first()
    query = request.GET.copy()
    query.pop("page", None)
    return render_page(
        request,
        "search/search.html",
        {
            "form": form,
            "text": text,
            "page": page,
            "dossier": dossier,
            "filter_query": query.urlencode(),
            "is_staff": viewer.is_staff_anywhere,
        },
        partial="search/partials/results.html",
    )
