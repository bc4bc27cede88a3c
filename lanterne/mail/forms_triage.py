"""Forms of the triage inbox (`lanterne.mail.triage`). Every choice is limited
to the message's agency: a form never offers a condominium or a dossier of
another agency, and the services check it again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Company, Condominium, Person
from lanterne.dossiers.choices import Audience, DossierType
from lanterne.dossiers.forms import model_field

# The audience of a message filed from triage. By default none: it waits,
# internal, for its review before publication (`lanterne.mail.publication`);
# staff may publish it at once to an audience, or keep it internal for good.
AUDIENCE_FIELD_LABEL = _("Visible par")
TRIAGE_AUDIENCE_CHOICES = [("", _("Interne, à relire avant publication")), *Audience.choices]


def audience_field(**kwargs: Any) -> forms.ChoiceField:
    kwargs.setdefault("label", AUDIENCE_FIELD_LABEL)
    return forms.ChoiceField(choices=TRIAGE_AUDIENCE_CHOICES, initial="", required=False, **kwargs)


class TriageFileForm(forms.Form):
    """File one message: into the dossier of a suggestion (`dossier`, the id
    the button carries), or into the dossier whose reference or title staff
    typed (`query`)."""

    dossier = forms.IntegerField(required=False, min_value=1)
    query = forms.CharField(
        label=_("Référence ou titre du dossier"), required=False, max_length=200
    )
    audience = audience_field()

    def clean_audience(self) -> str | None:
        return self.cleaned_data.get("audience") or None


class MessageIdsField(forms.Field):
    """The ids of the messages ticked in the list (`<input name=messages>`,
    repeated), without duplicates. Which of them the viewer may file is for
    the view to say: here they only have to be ids."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": _("La sélection de courriels est invalide."),
        "too_many": _("Sélectionnez au plus %(limit)s courriels à la fois."),
    }
    limit = 500

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            ids = list(dict.fromkeys(int(item) for item in value))
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(pk < 1 for pk in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if len(ids) > self.limit:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"limit": self.limit}
            )
        return ids


class TriageBulkForm(TriageFileForm):
    """Act on the messages ticked in the list: file them all into one dossier,
    or say that none concerns a dossier."""

    FILE = "file"
    NOT_RELATED = "not_related"

    action = forms.ChoiceField(
        choices=[(FILE, _("Classer")), (NOT_RELATED, _("Sans rapport avec un dossier"))]
    )
    messages = MessageIdsField(required=False)


class TriageDossierForm(forms.Form):
    """Open a dossier from a message waiting in triage, and file the message
    there. The sender, when the agency knows them, may become a party."""

    title = forms.CharField(label=_("Titre"), max_length=200)
    condominium = forms.ModelChoiceField(
        queryset=Condominium.objects.none(), label=_("Copropriété")
    )
    # No type chosen in advance: it decides the dossier's lifecycle and its
    # default audience, so staff pick it.
    type = forms.ChoiceField(label=_("Type"), choices=[("", "—"), *DossierType.choices])
    dossier_audience = forms.ChoiceField(
        label=_("Visibilité du dossier"),
        choices=[("", _("Selon le type de dossier"))] + list(Audience.choices),
        required=False,
        help_text=_(
            "Qui peut voir ce dossier ; c'est aussi la visibilité par défaut de ses entrées."
        ),
    )
    audience = audience_field(label=_("Visibilité de ce courriel"))
    add_sender = forms.BooleanField(required=False, initial=True)
    add_company = forms.BooleanField(required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        agency_id: int,
        sender: Person | None,
        company: Company | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        model_field(self, "condominium").queryset = Condominium.objects.filter(
            agency_id=agency_id
        ).order_by("name")
        self.sender = sender
        self.company = company
        if sender is None:
            del self.fields["add_sender"]
        else:
            self.fields["add_sender"].label = _("Ajouter %(name)s aux personnes concernées") % {
                "name": sender.full_name
            }
        if company is None:
            del self.fields["add_company"]
        else:
            self.fields["add_company"].label = _(
                "Ajouter l'entreprise %(name)s aux entreprises concernées"
            ) % {"name": company.name}

    def clean_audience(self) -> str | None:
        return self.cleaned_data.get("audience") or None
