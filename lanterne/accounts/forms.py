"""Login, first-run and invitation forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, labelled for an e-mail address."""

    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's message would read "Saisissez un adresse e-mail…" and claim
        # that every field is case-sensitive; the e-mail is not (see below).
        "invalid_login": _(
            "Adresse e-mail ou mot de passe incorrect. Attention : le mot de passe "
            "distingue les majuscules des minuscules."
        ),
    }

    username = forms.EmailField(
        label=_("Adresse e-mail"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class SetupForm(forms.Form):
    """First run: the agency and its first manager."""

    name = forms.CharField(label=_("Nom du cabinet"), max_length=200)
    mail_domain = forms.CharField(
        label=_("Domaine de messagerie"),
        max_length=200,
        help_text=_("Par exemple : syndic-exemple.fr"),
    )
    shared_mailbox = forms.EmailField(label=_("Adresse de la boîte partagée"))
    first_name = forms.CharField(label=_("Votre prénom"), max_length=100)
    last_name = forms.CharField(label=_("Votre nom"), max_length=100)
    email = forms.EmailField(label=_("Votre adresse e-mail"))
    password = forms.CharField(
        label=_("Mot de passe"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class InvitationAcceptForm(forms.Form):
    password = forms.CharField(
        label=_("Choisissez un mot de passe"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Confirmez le mot de passe"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("Les deux mots de passe ne correspondent pas."))
        return data


class SecondFactorForm(forms.Form):
    """The code of the second step: six digits from the authenticator app, or
    a backup code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_(
            "Le code à 6 chiffres de votre application d'authentification, ou l'un de vos "
            "codes de secours."
        ),
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "spellcheck": "false"}
        ),
    )


class EnrolmentForm(forms.Form):
    """The first code of the authenticator app being set up."""

    code = forms.CharField(
        label=_("Code à 6 chiffres affiché par l'application"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
