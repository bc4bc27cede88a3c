"""The search form: the words, and what to narrow the results to."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lanterne.core.widgets import Select
from lanterne.dossiers.forms import DateInput

from .choices import SearchKind, SearchOrder
from .query import MAX_LENGTH
from .selectors import SearchFilters


class SearchForm(forms.Form):
    """Every field is optional; a value that does not fit is ignored rather
    than an error page (a link shared with stale filters still searches)."""

    q = forms.CharField(
        label=_("Rechercher"),
        required=False,
        max_length=MAX_LENGTH,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    copropriete = forms.TypedChoiceField(
        label=_("Copropriété"), required=False, coerce=int, empty_value=None, widget=Select
    )
    dossier = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    type = forms.MultipleChoiceField(
        label=_("Type"),
        required=False,
        choices=SearchKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    du = forms.DateField(label=_("Du"), required=False, widget=DateInput())
    au = forms.DateField(label=_("Au"), required=False, widget=DateInput())
    tri = forms.ChoiceField(
        label=_("Trier par"),
        required=False,
        choices=SearchOrder.choices,
        initial="pertinence",
        widget=Select,
    )

    def __init__(self, *args: Any, condominiums: list[tuple[int, str]], **kwargs: Any) -> None:
        """`condominiums`: the (id, name) of those the person may search in."""
        super().__init__(*args, **kwargs)
        field = self.fields["copropriete"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("Toutes")), *condominiums]

    def _value(self, name: str) -> Any:
        if not self.is_bound:
            return None
        if name in self.errors:
            return None
        return self.cleaned_data.get(name)

    @property
    def text(self) -> str:
        return (self._value("q") or "").strip()

    def filters(self) -> SearchFilters:
        self.is_valid()
        return SearchFilters(
            condominium_id=self._value("copropriete"),
            dossier_id=self._value("dossier"),
            kinds=tuple(self._value("type") or ()),
            date_from=self._value("du"),
            date_to=self._value("au"),
            order=self._value("tri") or SearchOrder.RELEVANCE,
        )
