"""The form staff write a mail with, from a dossier (`views_outbound.compose`)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.documents.models import Document
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.forms import DateInput

from .outbound import IDEMPOTENCY_KEY, DossierContact, address_format, addresses_parse


def idempotency_key_new() -> str:
    """A fresh key for one compose form: 128 random bits, the unique part
    of the mail's Message-ID once sent."""
    return secrets.token_hex(16)


class DocumentChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Document) -> str:
        return f"{obj.title} ({obj.filename})"


class ComposeForm(forms.Form):
    """A mail from a dossier: recipients among the dossier's contacts or
    typed, the documents of the dossier to attach, the audience of the mail
    in the timeline, and optionally a reminder if no answer comes.

    `contacts` are the addresses staff may write to (`outbound.dossier_contacts`),
    `documents` the dossier's documents the viewer may see."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput)
    reply_to = forms.IntegerField(widget=forms.HiddenInput, required=False)
    to_contacts = forms.MultipleChoiceField(
        label=_("Destinataires du dossier"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    to = forms.CharField(
        label=_("À"),
        required=False,
        max_length=4000,
        help_text=_("Autres adresses, séparées par des virgules."),
    )
    cc = forms.CharField(
        label=_("Copie à"),
        required=False,
        max_length=4000,
        help_text=_("Adresses séparées par des virgules."),
    )
    subject = forms.CharField(
        label=_("Objet"),
        max_length=250,
        help_text=_("La référence du dossier y est ajoutée."),
    )
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 14}))
    documents = DocumentChoiceField(
        label=_("Documents du dossier à joindre"),
        queryset=Document.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    audience = forms.ChoiceField(
        label=_("Visible dans le dossier par"),
        choices=Audience.choices,
        help_text=_("Le courriel envoyé apparaît dans la chronologie pour ce public."),
    )
    await_reply_until = forms.DateField(
        label=_("Attendre une réponse avant le"),
        required=False,
        widget=DateInput,
        help_text=_("Sans réponse à cette date, le gestionnaire est prévenu."),
    )
    auto_remind = forms.BooleanField(
        label=_("Relancer alors automatiquement le destinataire par courriel"),
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        contacts: list[DossierContact],
        documents: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.contacts = {contact.address: contact for contact in contacts}
        to_contacts = self.fields["to_contacts"]
        assert isinstance(to_contacts, forms.MultipleChoiceField)
        to_contacts.choices = [(contact.address, contact.label) for contact in contacts]
        if not contacts:
            del self.fields["to_contacts"]
        documents_field = self.fields["documents"]
        assert isinstance(documents_field, forms.ModelMultipleChoiceField)
        documents_field.queryset = documents
        if not documents.exists():
            del self.fields["documents"]

    def clean_idempotency_key(self) -> str:
        key: str = self.cleaned_data["idempotency_key"]
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationError(_("Formulaire expiré : rechargez la page."))
        return key

    def clean_to(self) -> list[tuple[str, str]]:
        return addresses_parse(self.cleaned_data["to"])

    def clean_cc(self) -> list[tuple[str, str]]:
        return addresses_parse(self.cleaned_data["cc"])

    def clean_await_reply_until(self) -> dt.date | None:
        due_on: dt.date | None = self.cleaned_data["await_reply_until"]
        if due_on is not None and due_on <= timezone.localdate():
            raise ValidationError(_("Choisissez une date à venir."))
        return due_on

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = [
            (self.contacts[address].name, address)
            for address in data.get("to_contacts", [])
            if address in self.contacts
        ]
        typed = data.get("to") or []
        recipients = chosen + [item for item in typed if item[1] not in {a for _n, a in chosen}]
        if "to" in data and "to_contacts" not in self.errors and not recipients:
            self.add_error("to", _("Indiquez au moins un destinataire."))
        data["recipients"] = recipients
        if data.get("auto_remind") and not data.get("await_reply_until"):
            self.add_error(
                "await_reply_until", _("Indiquez jusqu'à quand attendre avant de relancer.")
            )
        return data

    @staticmethod
    def recipient_text(people: list[tuple[str, str]]) -> str:
        """Recipients as the « À » field shows them."""
        return ", ".join(address_format(name, address) for name, address in people)
