"""Staff publishing filed mail: publish to an audience or keep internal,
unmask personal data, and the list of mail waiting for review."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from lanterne.dossiers import policy, selectors
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import TimelineEntry
from lanterne.dossiers.views import entry_response

from . import publication
from .choices import Review
from .models import Message

REVIEW_PAGE_SIZE = 25


def _staff_message(request: HttpRequest, message_id: int) -> tuple[policy.Viewer, Message]:
    """A filed message of an agency where the viewer is staff; 404 otherwise."""
    viewer = policy.viewer_of(request)
    message = get_object_or_404(
        Message.objects.select_related("dossier", "agency"), pk=message_id, dossier__isnull=False
    )
    if not policy.may_manage_dossiers(viewer, message.agency_id):
        raise Http404
    return viewer, message


def _entry_response(
    request: HttpRequest, viewer: policy.Viewer, message: Message, flash: str
) -> HttpResponse:
    """The mail's timeline entry, re-rendered for htmx; a redirect to it otherwise."""
    entry = (
        selectors.entries_with_objects(
            TimelineEntry.objects.filter(message=message), joined=("dossier",)
        )
        .order_by("pk")
        .first()
    )
    if entry is None:
        raise Http404
    if not getattr(request, "htmx", False):
        messages.info(request, flash)
        return redirect(reverse("dossiers:detail", args=[entry.dossier_id]) + f"#entry-{entry.pk}")
    return entry_response(request, viewer, entry, entry.dossier, flash=flash)


@login_required
@require_POST
def message_publish(request: HttpRequest, message_id: int) -> HttpResponse:
    """Publish a mail to the audience chosen, or keep it internal."""
    viewer, message = _staff_message(request, message_id)
    audience = (
        Audience.INTERNAL
        if request.POST.get("action") == "internal"
        else request.POST.get("audience", "")
    )
    try:
        publication.message_publish(
            viewer=viewer, actor=request.user, message=message, audience=audience
        )
    except ValidationError as error:
        flash = " ".join(error.messages)
    else:
        flash = (
            _("Courriel gardé interne.")
            if audience == Audience.INTERNAL
            else _("Courriel publié : %(audience)s.") % {"audience": Audience(audience).label}
        )
    return _entry_response(request, viewer, message, flash)


@login_required
@require_POST
def message_unmask(request: HttpRequest, message_id: int) -> HttpResponse:
    """Show a published mail as received to its audience, with a reason."""
    viewer, message = _staff_message(request, message_id)
    try:
        publication.message_unmask(
            viewer=viewer,
            actor=request.user,
            message=message,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as error:
        flash = " ".join(error.messages)
    else:
        flash = _("Les données personnelles de ce courriel sont visibles par son public.")
    return _entry_response(request, viewer, message, flash)


@login_required
@require_safe
def review_list(request: HttpRequest) -> HttpResponse:
    """The filed mail of the viewer's agencies that waits for review, oldest
    first, each with the audience proposed."""
    viewer = policy.viewer_of(request)
    if not viewer.is_staff_anywhere:
        raise Http404
    pending = (
        Message.objects.filter(
            agency_id__in=viewer.staff_agency_ids,
            review=Review.PENDING,
            dossier__isnull=False,
        )
        .select_related("dossier", "dossier__condominium")
        .order_by("date", "pk")
    )
    page = Paginator(pending, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    proposals = publication.proposed_audiences(rows)
    for row in rows:
        row.proposed_audience = proposals.get(row.pk, Audience.INTERNAL)  # type: ignore[attr-defined]
    return render(
        request,
        "mail/review.html",
        {"page": page, "rows": rows, "audience_choices": Audience.choices},
    )
