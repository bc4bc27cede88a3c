"""« Mes jetons d'API »: each person makes and revokes their own tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lanterne.accounts.models import User
from lanterne.condominiums.models import Agency

from .forms import ApiTokenForm
from .models import ApiToken
from .services import IssuedToken, api_token_create, api_token_revoke


def _login(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required
    return user


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """The person's tokens, and the form for a new one. A new token's secret
    is shown on the answer to the form, once: it is not kept anywhere it
    could be shown again."""
    agencies = list(
        Agency.objects.filter(persons__user=_login(request)).distinct().order_by("name")
    )
    form = ApiTokenForm(request.POST or None, agencies=agencies) if agencies else None
    issued: IssuedToken | None = None
    status = 200
    if request.method == "POST":
        if form is None:
            raise Http404
        status = 400
        if form.is_valid():
            try:
                issued = api_token_create(
                    actor=request.user,
                    user=request.user,
                    agency=form.chosen_agency,
                    scope=form.cleaned_data["scope"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                status = 201
                form = ApiTokenForm(agencies=agencies)
    response = render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "issued": issued,
            "tokens": ApiToken.objects.filter(user=_login(request)).select_related("agency"),
            "several_agencies": len(agencies) > 1,
        },
        status=status,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke one of one's own tokens (someone else's is not found)."""
    token_id = request.POST.get("token", "")
    token = (
        ApiToken.objects.filter(user=_login(request), pk=token_id).first()
        if token_id.isdigit() and len(token_id) < 19
        else None
    )
    if token is None:
        raise Http404
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("Le jeton « %(name)s » est révoqué.") % {"name": token.name})
    return redirect("api:tokens")
