"""Forms of the dossier pages. Choices are always limited to the viewer's agency."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Company, Condominium, Lot, Person
from lanterne.core.widgets import Select, SelectMultiple
from lanterne.documents.choices import DocumentKind

from .choices import Audience, DecisionBody, DossierStatus, DossierType
from .models import Dossier


def model_field(form: forms.Form, name: str) -> forms.ModelChoiceField:  # type: ignore[type-arg]
    """A model choice field of `form`, typed, to narrow its queryset."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    return field


def choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    """A choice field of `form`, typed, to narrow its choices."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


class DateInput(forms.DateInput):
    """A browser date picker: its value is an ISO date, whatever the language
    of the page (a localised initial value would be refused by the browser)."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str | None = None) -> None:
        super().__init__(attrs=attrs, format=format or "%Y-%m-%d")


class DossierForm(forms.Form):
    """Create or edit a dossier of one of the agency's condominiums."""

    condominium = forms.ModelChoiceField(
        queryset=Condominium.objects.none(), label=_("Copropriété"), widget=Select
    )
    title = forms.CharField(label=_("Titre"), max_length=200)
    type = forms.ChoiceField(label=_("Type"), choices=DossierType.choices, widget=Select)
    audience = forms.ChoiceField(
        label=_("Visibilité"),
        choices=[("", _("Selon le type de dossier"))] + list(Audience.choices),
        required=False,
        widget=Select,
        help_text=_(
            "Qui peut voir ce dossier ; c'est aussi la visibilité par défaut de ses entrées."
        ),
    )
    council_sees_parties = forms.BooleanField(
        label=_("Le conseil syndical suit ce dossier"), required=False
    )
    auto_publish_audience = forms.ChoiceField(
        label=_("Courriels reçus"),
        choices=[("", _("Relus par le cabinet avant publication"))]
        + [
            (value, _("Publiés automatiquement : %(audience)s") % {"audience": label})
            for value, label in Audience.choices
            if value != Audience.INTERNAL
        ],
        required=False,
        widget=Select,
        help_text=_(
            "Par défaut, un courriel classé dans ce dossier reste interne jusqu'à votre relecture. "
            "Les coordonnées personnelles de tiers sont toujours masquées."
        ),
    )
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    manager = forms.ModelChoiceField(
        queryset=Person.objects.none(), label=_("Gestionnaire"), required=False, widget=Select
    )
    party_lots = forms.ModelMultipleChoiceField(
        queryset=Lot.objects.none(),
        label=_("Lots concernés"),
        required=False,
        widget=SelectMultiple,
    )
    party_persons = forms.ModelMultipleChoiceField(
        queryset=Person.objects.none(),
        label=_("Personnes concernées"),
        required=False,
        widget=SelectMultiple,
    )
    party_companies = forms.ModelMultipleChoiceField(
        queryset=Company.objects.none(),
        label=_("Entreprises concernées"),
        required=False,
        widget=SelectMultiple,
    )

    def __init__(self, *args: Any, agency_id: int, dossier: Dossier | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        model_field(self, "condominium").queryset = Condominium.objects.filter(agency_id=agency_id)
        model_field(self, "manager").queryset = Person.objects.filter(agency_id=agency_id).exclude(
            staff_role=""
        )
        lots = Lot.objects.filter(condominium__agency_id=agency_id).select_related("condominium")
        if dossier is None:
            # Publication is chosen once the dossier exists (its edit page).
            del self.fields["auto_publish_audience"]
        else:
            lots = lots.filter(condominium=dossier.condominium)
            del self.fields["condominium"]
            del self.fields["type"]
            choice_field(self, "audience").choices = list(Audience.choices)
            self.fields["audience"].required = True
        model_field(self, "party_lots").queryset = lots.order_by("condominium__name", "number")
        model_field(self, "party_persons").queryset = Person.objects.filter(
            agency_id=agency_id, staff_role=""
        ).order_by("last_name", "first_name")
        model_field(self, "party_companies").queryset = Company.objects.filter(agency_id=agency_id)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        condominium = data.get("condominium")
        if condominium is not None:
            wrong = [
                lot.number
                for lot in data.get("party_lots", [])
                if lot.condominium_id != condominium.pk
            ]
            if wrong:
                self.add_error(
                    "party_lots",
                    _("Ces lots n'appartiennent pas à la copropriété choisie : %(lots)s")
                    % {"lots": ", ".join(wrong)},
                )
        return data


class AudienceField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Visibilité"))
        kwargs.setdefault("choices", Audience.choices)
        kwargs.setdefault("widget", Select)
        super().__init__(**kwargs)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20000
    )
    audience = AudienceField()


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Intitulé"), max_length=200)
    due_on = forms.DateField(label=_("Échéance"), required=False, widget=DateInput)
    assignee = forms.ModelChoiceField(
        queryset=Person.objects.none(), label=_("Responsable"), required=False, widget=Select
    )
    audience = AudienceField()

    def __init__(self, *args: Any, agency_id: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        model_field(self, "assignee").queryset = Person.objects.filter(agency_id=agency_id).exclude(
            staff_role=""
        )


class DecisionForm(forms.Form):
    decided_by = forms.ChoiceField(
        label=_("Décidé par"), choices=DecisionBody.choices, widget=Select
    )
    decided_on = forms.DateField(label=_("Date"), widget=DateInput)
    text = forms.CharField(
        label=_("Décision"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20000
    )
    audience = AudienceField()


class CouncilOpinionForm(forms.Form):
    """The council chair records the council's opinion."""

    text = forms.CharField(
        label=_("Avis du conseil syndical"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20000,
    )
    audience = AudienceField(
        choices=[
            (Audience.COUNCIL, Audience.COUNCIL.label),
            (Audience.OWNERS, Audience.OWNERS.label),
        ]
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Nouveau statut"), choices=DossierStatus.choices, widget=Select
    )
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        choice_field(self, "status").choices = choices


class DocumentForm(forms.Form):
    file = forms.FileField(label=_("Fichier"))
    kind = forms.ChoiceField(
        label=_("Type de document"), choices=DocumentKind.choices, widget=Select
    )
    title = forms.CharField(label=_("Titre"), max_length=200, required=False)
    audience = AudienceField()


class EntryAudienceForm(forms.Form):
    audience = AudienceField()
