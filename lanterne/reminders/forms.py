"""Forms of the reminders: set one from a dossier page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.dossiers.forms import DateInput
from lanterne.mail.models import Message
from lanterne.mail.outbound import DossierContact, addresses_parse


class AwaitedMessageField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Message) -> str:
        moment = timezone.localtime(obj.date or obj.parsed_at)
        return f"{moment:%d/%m/%Y} — {obj.subject[:100] or '(sans objet)'}"


class ReminderForm(forms.Form):
    """Wait for an answer from a contact of the dossier (or any address),
    until a date, about one of the mails the agency sent from it."""

    contact = forms.ChoiceField(label=_("Contact du dossier"), required=False)
    address = forms.CharField(
        label=_("Ou une autre adresse"),
        required=False,
        max_length=400,
        help_text=_("Par exemple : Jean Dupont <jean@plomberie.fr>"),
    )
    message = AwaitedMessageField(
        label=_("En réponse au courriel"),
        queryset=Message.objects.none(),
        required=False,
        help_text=_("La réponse est cherchée dans la même conversation."),
    )
    about = forms.CharField(label=_("Objet"), max_length=300, required=False)
    due_on = forms.DateField(label=_("Réponse attendue avant le"), widget=DateInput)
    auto_send = forms.BooleanField(
        label=_("Relancer alors automatiquement par courriel"), required=False
    )

    def __init__(
        self,
        *args: Any,
        contacts: list[DossierContact],
        messages: QuerySet[Message],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.contacts = {contact.address: contact for contact in contacts}
        contact = self.fields["contact"]
        assert isinstance(contact, forms.ChoiceField)
        contact.choices = [("", "—")] + [(c.address, c.label) for c in contacts]
        message = self.fields["message"]
        assert isinstance(message, forms.ModelChoiceField)
        message.queryset = messages

    def clean_address(self) -> list[tuple[str, str]]:
        people = addresses_parse(self.cleaned_data["address"])
        if len(people) > 1:
            raise ValidationError(_("Indiquez une seule adresse e-mail."))
        return people

    def clean_due_on(self) -> dt.date:
        due_on: dt.date = self.cleaned_data["due_on"]
        if due_on < timezone.localdate():
            raise ValidationError(_("Choisissez une date à venir."))
        return due_on

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        typed = data.get("address") or []
        chosen = data.get("contact")
        if typed:
            data["waiting_for"] = typed[0]
        elif chosen and chosen in self.contacts:
            data["waiting_for"] = (self.contacts[chosen].name, chosen)
        elif "address" not in self.errors:
            self.add_error("contact", _("Choisissez un contact ou indiquez une adresse."))
        return data
