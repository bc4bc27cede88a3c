"""Writing a mail from a dossier, and sending again one that failed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lanterne.dossiers import policy, selectors
from lanterne.dossiers.models import Dossier
from lanterne.reminders.services import reminder_create

from .choices import SendStatus
from .forms_outbound import ComposeForm, idempotency_key_new
from .models import Message
from .outbound import (
    address_format,
    dossier_contacts,
    dossier_mail_resend,
    dossier_mail_send,
    reply_defaults,
)


def _staff_dossier(request: HttpRequest, dossier_id: int) -> tuple[policy.Viewer, Dossier]:
    viewer = policy.viewer_of(request)
    dossier = selectors.dossier_for_viewer(viewer, dossier_id)
    if not policy.may_edit_dossier(viewer, dossier):
        raise PermissionDenied
    return viewer, dossier


def _replied(viewer: policy.Viewer, dossier: Dossier, value: Any) -> Message | None:
    """The mail of this dossier being answered, from the page's parameter;
    404 for anything else (a mail of another dossier is not revealed)."""
    if value in (None, ""):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    message = Message.objects.filter(pk=pk, dossier=dossier, agency_id=dossier.agency_id).first()
    if message is None or not policy.may_read_message(viewer, message):
        raise Http404
    return message


def _entry_url(dossier: Dossier, message: Message) -> str:
    return reverse("dossiers:detail", args=[dossier.pk]) + f"#courriel-{message.pk}"


@login_required
def compose(request: HttpRequest, dossier_id: int) -> HttpResponse:
    """The compose page of a dossier (« Écrire un courriel »), or « Répondre »
    to one of its mails (`?reponse=<id>`): recipients, subject and quoted
    text pre-filled. Posting sends the mail (`outbound.dossier_mail_send`)
    and, when asked, sets a reminder in the same transaction."""
    viewer, dossier = _staff_dossier(request, dossier_id)
    replied = _replied(
        viewer,
        dossier,
        request.POST.get("reply_to") if request.method == "POST" else request.GET.get("reponse"),
    )
    contacts = dossier_contacts(viewer, dossier)
    documents = policy.documents_visible_to(viewer, dossier).order_by("-uploaded_at", "-pk")
    form_kwargs: dict[str, Any] = {"contacts": contacts, "documents": documents}
    if request.method != "POST":
        initial: dict[str, Any] = {
            "idempotency_key": idempotency_key_new(),
            "audience": dossier.audience,
        }
        if replied is not None:
            defaults = reply_defaults(replied)
            known = {contact.address for contact in contacts}
            initial.update(
                reply_to=replied.pk,
                to_contacts=[a for _n, a in defaults.recipients if a in known],
                to=ComposeForm.recipient_text(
                    [(n, a) for n, a in defaults.recipients if a not in known]
                ),
                subject=defaults.subject,
                body=defaults.body,
            )
        form = ComposeForm(initial=initial, **form_kwargs)
        return _compose_page(request, dossier, form, replied)

    form = ComposeForm(request.POST, **form_kwargs)
    if not form.is_valid():
        return _compose_page(request, dossier, form, replied, status=400)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            message = dossier_mail_send(
                viewer=viewer,
                actor=request.user,
                dossier=dossier,
                to=[address_format(name, address) for name, address in data["recipients"]],
                cc=[address_format(name, address) for name, address in data["cc"]],
                subject=data["subject"],
                body=data["body"],
                documents=data.get("documents") or (),
                audience=data["audience"],
                reply_to=replied,
                idempotency_key=data["idempotency_key"],
            )
            if data["await_reply_until"] is not None:
                name, address = data["recipients"][0]
                reminder_create(
                    viewer=viewer,
                    actor=request.user,
                    dossier=dossier,
                    message=message,
                    waiting_for_name=name,
                    waiting_for_address=address,
                    due_on=data["await_reply_until"],
                    auto_send=data["auto_remind"],
                    about=message.subject,
                )
    except ValidationError as error:
        for text in error.messages:
            form.add_error(None, text)
        return _compose_page(request, dossier, form, replied, status=400)
    # The mail left (or failed) when the transaction committed.
    message.refresh_from_db(fields=["send_status", "send_error"])
    if message.send_status == SendStatus.FAILED:
        messages.error(
            request,
            _(
                "Le courriel est enregistré dans le dossier, mais son envoi a échoué : "
                "%(error)s. Vous pouvez le renvoyer depuis la chronologie."
            )
            % {"error": message.send_error},
        )
    else:
        messages.success(request, _("Courriel envoyé."))
    return redirect(_entry_url(dossier, message))


def _compose_page(
    request: HttpRequest,
    dossier: Dossier,
    form: ComposeForm,
    replied: Message | None,
    *,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "mail/compose.html",
        {"dossier": dossier, "form": form, "replied": replied},
        status=status,
    )


@login_required
@require_POST
def resend(request: HttpRequest, message_id: int) -> HttpResponse:
    """« Renvoyer » a mail whose sending failed (`outbound.dossier_mail_resend`)."""
    viewer = policy.viewer_of(request)
    message = get_object_or_404(
        Message.objects.select_related("dossier"), pk=message_id, dossier__isnull=False
    )
    if not policy.may_manage_dossiers(viewer, message.agency_id):
        raise Http404
    dossier = message.dossier
    assert dossier is not None
    try:
        message = dossier_mail_resend(viewer=viewer, actor=request.user, message=message)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect(_entry_url(dossier, message))
    message.refresh_from_db(fields=["send_status", "send_error"])
    if message.send_status == SendStatus.SENT:
        messages.success(request, _("Courriel envoyé."))
    elif message.send_status == SendStatus.FAILED:
        messages.error(
            request,
            _("L'envoi a encore échoué : %(error)s") % {"error": message.send_error},
        )
    return redirect(_entry_url(dossier, message))
