"""Login, first-run setup, invitations, the second step of staff logins."""

from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import urlencode

import django_otp
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice

from lanterne.condominiums.models import Agency
from lanterne.condominiums.services import agency_create
from lanterne.dossiers import policy

from . import otp, services, throttling
from .forms import EnrolmentForm, InvitationAcceptForm, SecondFactorForm, SetupForm


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


# --- The second step of staff logins ----------------------------------------------------


def _two_factor_viewer(request: HttpRequest) -> policy.Viewer:
    """The viewer of a two-factor page: staff, on an installation that asks
    for it; nobody else has anything to do there."""
    viewer = policy.viewer_of(request)
    if not otp.two_factor_required(viewer):
        raise Http404
    return viewer


def _safe_next(request: HttpRequest) -> str:
    """Where to go once verified: a page of this site, never elsewhere."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return reverse("home")
    return next_url


def _wait_message(until: datetime) -> str:
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    return ngettext(
        "Trop de codes erronés à la suite : patientez %(seconds)d seconde avant de réessayer.",
        "Trop de codes erronés à la suite : patientez %(seconds)d secondes avant de réessayer.",
        seconds,
    ) % {"seconds": seconds}


def _locked_out(request: HttpRequest) -> HttpResponse:
    """Too many wrong codes: the half-open session ends, the lockout page
    says when to try again."""
    credentials = {"username": request.user.get_username()}
    logout(request)
    return throttling.lockout_response(request, None, credentials)


def _second_step_passed(request: HttpRequest, device: Device) -> None:
    django_otp.login(request, device)
    # The session now opens everything: a new key, so that one planted before
    # the login (session fixation) is worth nothing.
    request.session.cycle_key()
    throttling.login_failures_reset(request, request.user)


def _code_refused(
    request: HttpRequest, form: EnrolmentForm | SecondFactorForm
) -> HttpResponse | None:
    """Count a wrong code; the lockout page when it was one too many."""
    if throttling.login_failure_record(request, request.user):
        return _locked_out(request)
    form.add_error("code", _("Code incorrect. Vérifiez l'heure de votre téléphone et réessayez."))
    return None


@never_cache
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """« Double authentification »: set up the authenticator app (its QR code
    and secret, confirmed by a first code, then backup codes shown once); once
    set up, new backup codes or another app."""
    viewer = _two_factor_viewer(request)
    user = request.user
    confirmed = otp.confirmed_totp_device(user)
    if confirmed is not None and not otp.is_verified(user):
        # Replacing the app takes a code of the current one: a stolen
        # password alone must not let another phone in.
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse('accounts:two_factor_verify')}?{query}")
    action = request.POST.get("action") if request.method == "POST" else None
    if confirmed is not None and action == "backup_codes":
        codes = otp.backup_codes_regenerate(viewer=viewer, actor=user)
        return render(request, "accounts/two_factor_codes.html", {"codes": codes})
    if confirmed is not None and action != "enrol" and "changer" not in request.GET:
        return render(
            request,
            "accounts/two_factor_status.html",
            {"device": confirmed, "backup_codes_left": otp.backup_codes_left(user)},
        )
    device = otp.pending_totp_device(user)
    form = EnrolmentForm(request.POST if action == "enrol" else None)
    if action == "enrol" and form.is_valid():
        if throttling.login_locked_out(request, user):
            return _locked_out(request)
        wait = otp.throttled_until(device)
        if wait is not None:
            form.add_error("code", _wait_message(wait))
        else:
            first_codes = otp.totp_enrolment_confirm(
                viewer=viewer, actor=user, device=device, code=form.cleaned_data["code"]
            )
            if first_codes is not None:
                device.refresh_from_db()
                _second_step_passed(request, device)
                return render(
                    request,
                    "accounts/two_factor_codes.html",
                    {"codes": first_codes, "enrolled": True},
                )
            refused = _code_refused(request, form)
            if refused is not None:
                return refused
    return render(
        request,
        "accounts/two_factor_enrol.html",
        {"form": form, "secret": otp.secret_text(device), "replacing": confirmed is not None},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
def two_factor_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of the app being set up, as SVG from Lanterne's own origin
    (the page's policy allows images from nowhere else)."""
    _two_factor_viewer(request)
    if otp.confirmed_totp_device(request.user) is not None and not otp.is_verified(request.user):
        raise Http404
    device = otp.pending_totp_device(request.user)
    return HttpResponse(otp.qr_svg(device), content_type="image/svg+xml")


@never_cache
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of a staff login: a code from the app, or a backup code."""
    _two_factor_viewer(request)
    user = request.user
    next_url = _safe_next(request)
    if otp.is_verified(user):
        return redirect(next_url)
    if otp.confirmed_totp_device(user) is None:
        return redirect("accounts:two_factor")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if throttling.login_locked_out(request, user):
            return _locked_out(request)
        result = otp.second_factor_verify(user=user, code=form.cleaned_data["code"])
        if result.device is not None:
            _second_step_passed(request, result.device)
            if isinstance(result.device, StaticDevice):
                left = otp.backup_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "Code de secours utilisé : il vous en reste %(count)d.",
                        "Code de secours utilisé : il vous en reste %(count)d.",
                        left,
                    )
                    % {"count": left},
                )
            return redirect(next_url)
        if result.retry_at is not None:
            form.add_error("code", _wait_message(result.retry_at))
        else:
            refused = _code_refused(request, form)
            if refused is not None:
                return refused
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": next_url},
        status=400 if form.errors else 200,
    )
