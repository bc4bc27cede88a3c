"""The journal's filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lanterne.dossiers import policy

from .models import AuditAction
from .selectors import JournalFilters, journal_actor_choices, object_type_choices


class JournalFilterForm(forms.Form):
    """Narrow the journal by action, kind of object, author, dates and text.
    Every field is optional; an invalid value is ignored, not an error page."""

    action = forms.ChoiceField(label=_("Action"), required=False)
    objet = forms.ChoiceField(label=_("Type d'objet"), required=False)
    auteur = forms.TypedChoiceField(label=_("Auteur"), required=False, coerce=int, empty_value=None)
    du = forms.DateField(
        label=_("Du"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    au = forms.DateField(
        label=_("Au"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    texte = forms.CharField(label=_("Texte"), required=False, max_length=200)

    def __init__(self, *args: Any, viewer: policy.Viewer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("Toutes"))]
        self.fields["action"].choices = everything + [  # type: ignore[attr-defined]
            (value, label.capitalize()) for value, label in AuditAction.choices
        ]
        self.fields["objet"].choices = [("", _("Tous"))] + object_type_choices()  # type: ignore[attr-defined]
        self.fields["auteur"].choices = [("", _("Tous"))] + journal_actor_choices(viewer)  # type: ignore[attr-defined]
        # ISO values in the date inputs whatever the interface's language.
        for name in ("du", "au"):
            self.fields[name].widget.format = "%Y-%m-%d"  # type: ignore[attr-defined]

    def filters(self) -> JournalFilters:
        """The filters to apply: the valid fields only."""
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
        return JournalFilters(
            action=data.get("action") or "",
            object_type=data.get("objet") or "",
            actor_id=data.get("auteur"),
            since=data.get("du"),
            until=data.get("au"),
            text=(data.get("texte") or "").strip(),
        )
