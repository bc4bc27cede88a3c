"""Forms of the condominium's document space."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Length
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Condominium, Lot, Ownership
from lanterne.dossiers.forms import DateInput

from .checklist import SPACE_ORDER, kind_order, space_refusal, spaces_for_kind
from .choices import SPACE_LABELS_FOR_STAFF, DocumentKind, DocumentSpace

SPACE_CHOICES = [(space.value, label) for space, label in SPACE_LABELS_FOR_STAFF.items()]


class LotChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A lot, named with its owners so that a statement reaches the right person."""

    def label_from_instance(self, obj: Any) -> str:
        place = [str(obj.get_kind_display())]
        if obj.staircase:
            place.append(_("escalier %(staircase)s") % {"staircase": obj.staircase})
        if obj.floor:
            place.append(_("étage %(floor)s") % {"floor": obj.floor})
        label = _("Lot %(number)s (%(place)s)") % {"number": obj.number, "place": ", ".join(place)}
        owners = ", ".join(o.person.full_name for o in obj.ownerships.all())
        return f"{label} — {owners}" if owners else str(label)


def _kind_choices() -> list[tuple[Any, Any]]:
    """Kinds grouped by the space they belong to (an <optgroup> each, no script needed)."""
    groups: dict[str, list[tuple[str, Any]]] = {space: [] for space in SPACE_ORDER}
    others: list[tuple[str, Any]] = []
    for kind in kind_order():
        spaces = spaces_for_kind(kind)
        entry = (kind, DocumentKind(kind).label)
        if spaces == SPACE_ORDER:
            others.append(entry)
        else:
            groups[spaces[0]].append(entry)
    labels = dict(SPACE_CHOICES)
    return [
        ("", "—"),
        *((labels[space], entries) for space, entries in groups.items() if entries),
        (_("Autres documents"), others),
    ]


class CondominiumDocumentForm(forms.Form):
    """Staff file a document in one space of the condominium."""

    space = forms.ChoiceField(label=_("Espace"), choices=SPACE_CHOICES)
    lot = LotChoiceField(
        label=_("Lot"),
        queryset=Lot.objects.none(),
        required=False,
        help_text=_("Seulement pour l'espace d'un lot : ses copropriétaires seuls le verront."),
    )
    kind = forms.ChoiceField(label=_("Type de document"), choices=_kind_choices)
    title = forms.CharField(
        label=_("Titre"),
        max_length=200,
        required=False,
        help_text=_("Par défaut, le nom du fichier."),
    )
    file = forms.FileField(label=_("Fichier"))
    document_date = forms.DateField(
        label=_("Date du document"),
        widget=DateInput(),
        help_text=_("Date de l'assemblée pour un procès-verbal, de l'arrêté pour un relevé."),
    )
    valid_until = forms.DateField(
        label=_("Valable jusqu'au"),
        required=False,
        widget=DateInput(),
        help_text=_(
            "Échéance d'un contrat, fin de validité d'un diagnostic ; vide s'il n'y en a pas."
        ),
    )

    def __init__(self, *args: Any, condominium: Condominium, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lots: QuerySet[Lot] = (
            Lot.objects.filter(condominium=condominium)
            .prefetch_related(
                Prefetch("ownerships", queryset=Ownership.objects.select_related("person"))
            )
            .order_by(Length("number"), "number")
        )
        lot_field = self.fields["lot"]
        assert isinstance(lot_field, forms.ModelChoiceField)
        lot_field.queryset = lots

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        space, lot, kind = cleaned.get("space"), cleaned.get("lot"), cleaned.get("kind")
        if space == DocumentSpace.LOT and lot is None and "lot" not in self.errors:
            self.add_error("lot", _("Choisissez le lot auquel ce document se rapporte."))
        if space and space != DocumentSpace.LOT and lot is not None:
            self.add_error("lot", _("Seul un document de l'espace d'un lot se rapporte à un lot."))
        refusal = space_refusal(kind, space) if space and kind else None
        if refusal is not None:
            self.add_error("space", refusal)
        start, end = cleaned.get("document_date"), cleaned.get("valid_until")
        if start and end and end < start:
            self.add_error(
                "valid_until", _("La fin de validité ne peut pas précéder la date du document.")
            )
        return cleaned
