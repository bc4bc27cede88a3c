"""Forms of the mail pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency

from .models import MailSource


class ImapSourceForm(forms.Form):
    """An IMAP mailbox to read. The stored password is never sent back to the
    browser: left empty when editing, it is kept."""

    agency = forms.TypedChoiceField(label=_("Cabinet"), coerce=int)
    name = forms.CharField(
        label=_("Nom"),
        max_length=200,
        help_text=_("Pour vous y retrouver, par exemple « Boîte gestion »."),
    )
    host = forms.CharField(
        label=_("Serveur IMAP"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "imap.exemple.fr", "autocomplete": "off"}),
    )
    port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535, initial=993)
    use_tls = forms.BooleanField(
        label=_("Connexion chiffrée (TLS)"),
        required=False,
        initial=True,
        help_text=_(
            "Port 993 en général. Sans cette case (port 143), STARTTLS est utilisé "
            "si le serveur le propose."
        ),
    )
    username = forms.CharField(
        label=_("Identifiant"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        max_length=500,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    folders = forms.CharField(
        label=_("Dossiers à relever"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "INBOX"}),
        help_text=_("Un dossier par ligne. Vide : la boîte de réception (INBOX)."),
    )
    sent_folder = forms.CharField(
        label=_("Dossier des messages envoyés"),
        max_length=200,
        required=False,
        help_text=_(
            "Par exemple « Sent » ou « Éléments envoyés » : ses messages sont enregistrés "
            "comme envoyés par le cabinet. Vide : non relevé."
        ),
    )
    is_active = forms.BooleanField(
        label=_("Relever cette boîte"),
        required=False,
        initial=True,
    )

    def __init__(
        self, *args: Any, agencies: list[Agency], source: MailSource | None = None, **kwargs: Any
    ) -> None:
        if source is not None:
            kwargs.setdefault(
                "initial",
                {
                    "agency": source.agency_id,
                    "name": source.name,
                    "host": source.imap_host,
                    "port": source.imap_port,
                    "use_tls": source.imap_ssl,
                    "username": source.imap_username,
                    "folders": "\n".join(source.imap_folders or []),
                    "sent_folder": source.imap_sent_folder,
                    "is_active": source.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        self.source = source
        self.agencies = {agency.pk: agency for agency in agencies}
        password = self.fields["password"]
        if source is None:
            password.required = True
        else:
            password.help_text = _(
                "Laissez vide pour garder le mot de passe enregistré (il n'est jamais réaffiché)."
            )
        if source is not None or len(agencies) == 1:
            del self.fields["agency"]
        else:
            field = self.fields["agency"]
            assert isinstance(field, forms.TypedChoiceField)
            field.choices = [(agency.pk, agency.name) for agency in agencies]

    @property
    def chosen_agency(self) -> Agency:
        if self.source is not None:
            return self.source.agency
        if "agency" not in self.fields:
            return next(iter(self.agencies.values()))
        return self.agencies[self.cleaned_data["agency"]]

    def clean_host(self) -> str:
        host: str = self.cleaned_data["host"].strip()
        if any(character.isspace() for character in host) or "/" in host:
            raise forms.ValidationError(
                _("Indiquez seulement le nom du serveur, par exemple imap.exemple.fr.")
            )
        return host

    def clean_password(self) -> str | None:
        """None keeps the stored password."""
        password: str = self.cleaned_data["password"]
        return password or None

    def clean_folders(self) -> list[str]:
        return list(
            dict.fromkeys(
                line.strip() for line in self.cleaned_data["folders"].splitlines() if line.strip()
            )
        )

    def clean_sent_folder(self) -> str:
        sent: str = self.cleaned_data["sent_folder"]
        return sent.strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name = cleaned.get("name")
        if name and not self.errors.get("agency"):
            same_name = MailSource.objects.filter(agency=self.chosen_agency, name=name)
            if self.source is not None:
                same_name = same_name.exclude(pk=self.source.pk)
            if same_name.exists():
                self.add_error("name", _("Une autre source du cabinet porte déjà ce nom."))
        return cleaned

    def save_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `imap_source_save`."""
        data = self.cleaned_data
        return {
            "agency": self.chosen_agency,
            "source": self.source,
            "name": data["name"],
            "host": data["host"],
            "port": data["port"],
            "use_tls": data["use_tls"],
            "username": data["username"],
            "password": data["password"],
            "folders": data["folders"],
            "sent_folder": data["sent_folder"],
            "is_active": data["is_active"],
        }
