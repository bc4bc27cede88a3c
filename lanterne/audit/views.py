"""The journal: the agency's audit log, for its staff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from lanterne.core.htmx import render_page
from lanterne.dossiers import policy

from . import selectors
from .forms import JournalFilterForm


@login_required
def journal(request: HttpRequest) -> HttpResponse:
    """Who did what, newest first, filtered; « plus anciennes » loads the
    next page (keyset). Staff only: anyone else gets a 404."""
    viewer = policy.viewer_of(request)
    if not policy.may_see_audit_log(viewer):
        raise Http404
    form = JournalFilterForm(request.GET, viewer=viewer)
    page = selectors.journal_page(viewer, form.filters(), after=request.GET.get("apres"))
    query = request.GET.copy()
    query.pop("apres", None)
    return render_page(
        request,
        "audit/journal.html",
        {"form": form, "page": page, "filter_query": query.urlencode()},
        partial="audit/partials/journal_rows.html",
    )
