"""The form of « Mes jetons d'API »."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency

from .choices import TokenScope


class ApiTokenForm(forms.Form):
    """A new token: its name, what it may do, and — for a login several
    agencies know — the agency it reads."""

    name = forms.CharField(
        label=_("Nom du jeton"),
        max_length=100,
        help_text=_("Pour vous y retrouver : le logiciel ou l'usage qui s'en sert."),
    )
    agency = forms.TypedChoiceField(label=_("Cabinet"), coerce=int)
    scope = forms.ChoiceField(
        label=_("Droits"),
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        widget=forms.RadioSelect,
        help_text=_(
            "Le jeton ne fait jamais plus que vous sur le site ; en lecture seule, "
            "il ne modifie rien."
        ),
    )

    def __init__(self, *args: Any, agencies: list[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agencies = {agency.pk: agency for agency in agencies}
        if len(agencies) == 1:
            del self.fields["agency"]
        else:
            field = self.fields["agency"]
            assert isinstance(field, forms.TypedChoiceField)
            field.choices = [(agency.pk, agency.name) for agency in agencies]

    @property
    def chosen_agency(self) -> Agency:
        if "agency" not in self.fields:
            return next(iter(self.agencies.values()))
        return self.agencies[self.cleaned_data["agency"]]
