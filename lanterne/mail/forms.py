"""Forms of the mail pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Condominium
from lanterne.dossiers.choices import Audience, DossierStatus
from lanterne.dossiers.models import Dossier

from .models import MailRule, MailSource


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


class _DossierChoiceField(forms.ModelChoiceField):
    """A dossier shown as staff name it: reference, title, condominium."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.reference} — {obj.title} ({obj.condominium.name})"


class MailRuleForm(forms.ModelForm):
    """A filing rule of one agency: its conditions, then its actions. The
    checks are the model's (`MailRule.clean`), so the form and the service
    refuse the same rules with the same words."""

    dossier = _DossierChoiceField(
        label=_("Dossier"),
        queryset=Dossier.objects.none(),
        required=False,
        help_text=_("Les courriels concernés y sont classés."),
    )

    class Meta:
        model = MailRule
        fields = [
            "name",
            "sender_address",
            "sender_domain",
            "recipient_contains",
            "subject_contains",
            "body_contains",
            "dossier",
            "condominium",
            "audience",
            "not_dossier_related",
            "position",
            "is_active",
        ]
        labels = {
            "name": _("Nom de la règle"),
            "sender_address": _("Adresse de l'expéditeur"),
            "sender_domain": _("Domaine de l'expéditeur"),
            "recipient_contains": _("Un destinataire contient"),
            "subject_contains": _("L'objet contient"),
            "body_contains": _("Le texte contient"),
            "condominium": _("Copropriété"),
            "audience": _("Visibilité"),
            "not_dossier_related": _("Sans rapport avec un dossier"),
            "position": _("Ordre"),
            "is_active": _("Règle active"),
        }
        help_texts = {
            "name": _("Pour vous y retrouver, par exemple « Relevés du chauffagiste »."),
            "sender_address": _("L'adresse exacte, par exemple jean@plomberie.fr."),
            "sender_domain": _(
                "Par exemple plomberie.fr : toutes ses adresses, sous-domaines compris."
            ),
            "recipient_contains": _(
                "Un nom ou une partie d'adresse parmi les destinataires (À, Cc), "
                "par exemple « compta@ »."
            ),
            "condominium": _(
                "Sans dossier : les suggestions de classement se limitent à cette copropriété."
            ),
            "audience": _(
                "Qui voit ces courriels dans leur dossier. Vide : interne au cabinet, "
                "jusqu'à leur publication."
            ),
            "not_dossier_related": _(
                "Publicités, lettres d'information… : les courriels concernés sortent "
                "de la liste à classer sans aller dans un dossier."
            ),
            "position": _(
                "Les règles sont essayées dans cet ordre : la première qui correspond s'applique."
            ),
        }

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.agency = agency
        self.agency = agency
        condominium = self.fields["condominium"]
        assert isinstance(condominium, forms.ModelChoiceField)
        condominium.queryset = Condominium.objects.filter(agency=agency).order_by("name")
        # Open dossiers, and the one the rule already files into.
        dossiers = Dossier.objects.filter(agency=agency).exclude(status=DossierStatus.CLOSED)
        if self.instance.dossier_id:
            dossiers = Dossier.objects.filter(agency=agency).filter(
                Q(pk__in=dossiers.values("pk")) | Q(pk=self.instance.dossier_id)
            )
        dossier = self.fields["dossier"]
        assert isinstance(dossier, forms.ModelChoiceField)
        dossier.queryset = dossiers.select_related("condominium").order_by("-opened_on", "-id")
        audience = self.fields["audience"]
        assert isinstance(audience, forms.ChoiceField)
        audience.choices = [("", _("Par défaut : interne jusqu'à publication")), *Audience.choices]
        for name in MailRule.CONDITION_FIELDS:
            self.fields[name].widget.attrs.setdefault("autocomplete", "off")

    @property
    def condition_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in MailRule.CONDITION_FIELDS]

    @property
    def action_fields(self) -> list[forms.BoundField]:
        return [
            self[name] for name in ("dossier", "condominium", "audience", "not_dossier_related")
        ]

    @property
    def setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("position", "is_active")]

    def preview_rule(self) -> MailRule:
        """An unsaved rule with the conditions as typed so far, valid or not:
        what the live preview matches against the recent mail."""
        source = self.data if self.is_bound else {}
        rule = MailRule(agency=self.agency)
        for name in MailRule.CONDITION_FIELDS:
            if self.is_bound:
                value = source.get(self.add_prefix(name), "")
            else:
                value = getattr(self.instance, name)
            limit = getattr(MailRule._meta.get_field(name), "max_length", None) or 0
            setattr(rule, name, str(value or "")[:limit])
        return rule
