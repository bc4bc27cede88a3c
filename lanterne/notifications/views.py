"""Notification pages: the follow button, « Mes notifications », and the
unsubscribe link of notification mails (which needs no login)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from lanterne.dossiers import policy
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.selectors import dossier_for_viewer

from . import selectors, services
from .forms import FollowForm, PreferenceForm


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


@login_required
@require_POST
def follow(request: HttpRequest, dossier_id: int) -> HttpResponse:
    """Follow a dossier or stop following it (the button near its title)."""
    viewer = policy.viewer_of(request)
    dossier = dossier_for_viewer(viewer, dossier_id)
    form = FollowForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choix inconnu."), status=400)
    following = form.cleaned_data["suivre"]
    services.follow_set(viewer=viewer, actor=request.user, dossier=dossier, following=following)
    flash = _("Vous suivez ce dossier.") if following else _("Vous ne suivez plus ce dossier.")
    if getattr(request, "htmx", False):
        return render(
            request,
            "notifications/partials/follow_button.html",
            {
                "dossier": dossier,
                "following": following,
                "flash": flash,
                "show": True,
                "next": request.POST.get("next", ""),
            },
        )
    messages.success(request, flash)
    return redirect(_next_url(request, dossier_url(dossier)))


def dossier_url(dossier: Dossier) -> str:
    return reverse("dossiers:detail", args=[dossier.pk])


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """« Mes notifications »: how often to be written to, and the dossiers followed."""
    viewer = policy.viewer_of(request)
    form = PreferenceForm(
        request.POST or None, initial={"frequency": services.preference_for(request.user)}
    )
    if request.method == "POST":
        if form.is_valid():
            services.preference_set(actor=request.user, frequency=form.cleaned_data["frequency"])
            messages.success(request, _("Vos préférences sont enregistrées."))
            return redirect("notifications:preferences")
        status = 400
    else:
        status = 200
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "dossiers": list(selectors.dossiers_followed_by(viewer)[:300])},
        status=status,
    )


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The unsubscribe link of a notification mail, without login.

    GET only shows what the link stops and a button: mail scanners and link
    previews fetch links, and must not unsubscribe anyone. POST unsubscribes:
    the button, or a mail client's one-click request (RFC 8058, which sends
    no cookie and no CSRF token — hence the exemption, for this view only;
    the signed token is the proof)."""
    scope = services.unsubscribe_token_read(token)
    if scope is None:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    user = get_user_model().objects.filter(pk=scope.user_id).first()
    dossier = None
    if scope.dossier_id is not None and user is not None:
        candidate = Dossier.objects.filter(pk=scope.dossier_id).first()
        # Name the dossier only to someone who may still see it.
        if candidate is not None and policy.may_see_dossier(
            policy.Viewer.for_user(user), candidate
        ):
            dossier = candidate
    context = {"scope": scope, "dossier": dossier, "done": False}
    if request.method == "POST":
        services.unsubscribe_apply(scope=scope)
        context["done"] = True
    return render(request, "notifications/unsubscribe.html", context)
