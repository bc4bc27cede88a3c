"""The anonymisation form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ErasureForm(forms.Form):
    """A reason, and an explicit confirmation: anonymising cannot be undone."""

    reason = forms.CharField(
        label=_("Motif"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Par exemple : lot vendu, la personne a demandé l'effacement de ses données."),
    )
    confirm = forms.BooleanField(
        label=_(
            "Je confirme l'anonymisation : le nom, les adresses e-mail, les téléphones, "
            "l'adresse postale et le compte de cette personne seront effacés définitivement."
        ),
        required=True,
    )
