"""Choosing the agency a mail command works on."""

from __future__ import annotations

from django.core.management.base import CommandError

from lanterne.condominiums.models import Agency


def agency_from_option(name: str | None) -> Agency:
    """The agency named `name`, or the only one when `name` is None."""
    if name:
        agency = (
            Agency.objects.filter(name=name).first()
            or Agency.objects.filter(name__iexact=name).first()
        )
        if agency is None:
            raise CommandError(f"No agency named {name!r}.")
        return agency
    agencies = list(Agency.objects.all()[:2])
    if len(agencies) == 1:
        return agencies[0]
    if not agencies:
        raise CommandError("No agency yet: create one with `lanterne create-agency`.")
    raise CommandError("Several agencies exist: choose one with --agency NAME.")
