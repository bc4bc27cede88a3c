"""Reminder pages: set one from a dossier, cancel it, or say the answer came."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lanterne.dossiers import policy, selectors
from lanterne.mail.choices import Direction
from lanterne.mail.models import Message
from lanterne.mail.outbound import dossier_contacts

from . import services
from .forms import ReminderForm
from .selectors import reminder_for_staff

# The mails an answer can be awaited to, offered in the form.
AWAITED_CHOICES = 30


def _block_url(dossier_id: int) -> str:
    return reverse("dossiers:detail", args=[dossier_id]) + "#relances"


@login_required
def reminder_create(request: HttpRequest, dossier_id: int) -> HttpResponse:
    """« Ajouter une relance » on a dossier (`?courriel=<id>`: about that mail)."""
    viewer = policy.viewer_of(request)
    dossier = selectors.dossier_for_viewer(viewer, dossier_id)
    if not policy.may_edit_dossier(viewer, dossier):
        raise PermissionDenied
    sent = Message.objects.filter(
        dossier=dossier, agency_id=dossier.agency_id, direction=Direction.OUTBOUND
    ).order_by("-date", "-pk")
    sent_ids = list(sent.values_list("pk", flat=True)[:AWAITED_CHOICES])
    form = ReminderForm(
        request.POST or None,
        contacts=dossier_contacts(viewer, dossier),
        messages=Message.objects.filter(pk__in=sent_ids).order_by("-date", "-pk"),
        initial={"message": request.GET.get("courriel")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        name, address = data["waiting_for"]
        try:
            services.reminder_create(
                viewer=viewer,
                actor=request.user,
                dossier=dossier,
                waiting_for_name=name,
                waiting_for_address=address,
                due_on=data["due_on"],
                about=data["about"],
                auto_send=data["auto_send"],
                message=data["message"],
            )
        except ValidationError as error:
            for text in error.messages:
                form.add_error(None, text)
        else:
            messages.success(request, _("Relance enregistrée."))
            return redirect(_block_url(dossier.pk))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "reminders/reminder_form.html", {"dossier": dossier, "form": form}, status=status
    )


@login_required
@require_POST
def reminder_cancel(request: HttpRequest, reminder_id: int) -> HttpResponse:
    viewer = policy.viewer_of(request)
    reminder = reminder_for_staff(viewer, reminder_id)
    services.reminder_cancel(viewer=viewer, actor=request.user, reminder=reminder)
    messages.success(request, _("Relance annulée."))
    return redirect(_block_url(reminder.dossier_id))


@login_required
@require_POST
def reminder_answered(request: HttpRequest, reminder_id: int) -> HttpResponse:
    viewer = policy.viewer_of(request)
    reminder = reminder_for_staff(viewer, reminder_id)
    services.reminder_mark_answered(viewer=viewer, actor=request.user, reminder=reminder)
    messages.success(request, _("Relance close : réponse reçue."))
    return redirect(_block_url(reminder.dossier_id))
