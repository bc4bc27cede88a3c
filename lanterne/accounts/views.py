"""Login, first-run setup, invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lanterne.condominiums.models import Agency
from lanterne.condominiums.services import agency_create
from lanterne.dossiers import policy

from . import services
from .forms import InvitationAcceptForm, SetupForm


def setup(request: HttpRequest) -> HttpResponse:
    """First run: create the agency and its first manager. Gone once an agency exists."""
    if Agency.objects.exists():
        raise Http404
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _agency, person = agency_create(
                name=data["name"],
                mail_domain=data["mail_domain"],
                shared_mailbox=data["shared_mailbox"],
                staff_email=data["email"],
                staff_password=data["password"],
                staff_first_name=data["first_name"],
                staff_last_name=data["last_name"],
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            assert person.user is not None
            login(request, person.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Bienvenue ! Votre cabinet est prêt."))
            return redirect("home")
    return render(
        request, "accounts/setup.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def invite(request: HttpRequest, person_id: int) -> HttpResponse:
    viewer = policy.viewer_of(request)
    person = get_object_or_404(policy.persons_visible_to(viewer), pk=person_id)
    if not policy.may_invite(viewer, person):
        raise PermissionDenied
    try:
        services.invitation_send(viewer=viewer, actor=request.user, person=person)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Invitation envoyée à %(name)s.") % {"name": person.full_name})
    next_url = request.POST.get("next", "")
    # Only back to a page of this site: never an open redirect.
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    return redirect(next_url or "condominiums:persons")


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time invitation link: choose a password, then you are in."""
    found = services.invitation_for_token(token)
    if found is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(token=token, password=form.cleaned_data["password"])
        except ValidationError as error:
            for message in error.messages:
                form.add_error("password", message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Votre compte est créé. Bienvenue !"))
            return redirect("home")
    return render(
        request,
        "accounts/invitation.html",
        {"form": form, "invitation": found},
        status=400 if form.errors else 200,
    )
