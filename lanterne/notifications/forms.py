"""Forms of the notifications app: the preference, and the follow button."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import Frequency


class PreferenceForm(forms.Form):
    frequency = forms.ChoiceField(
        label=_("Quand m'écrire ?"),
        choices=Frequency.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Pour les dossiers que vous suivez : ceux qui vous concernent, ceux du "
            "conseil syndical si vous en êtes membre, et ceux que vous avez choisi de suivre."
        ),
    )


class FollowForm(forms.Form):
    """The follow button: "1" follows the dossier, "0" stops following it."""

    suivre = forms.TypedChoiceField(
        choices=[("1", _("Suivre ce dossier")), ("0", _("Ne plus suivre"))],
        coerce=lambda value: value == "1",
    )
