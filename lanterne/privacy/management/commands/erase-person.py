"""`lanterne erase-person ID --reason TEXT`: anonymise a person who left, as
the managers do from the contact book (`privacy.services.person_erase`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.condominiums.models import Person
from lanterne.dossiers.policy import Viewer
from lanterne.privacy.services import person_erase


class Command(BaseCommand):
    help = (
        "Anonymise a person who left (RGPD art. 17): name, e-mails, phones, address and "
        "login erased; dossier records kept. Refused while they own a lot or sit on a council."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person_id", type=int, help="The person's id (Person n°…)")
        parser.add_argument("--reason", required=True, help="Why (kept with the erasure)")

    def handle(self, *args: Any, **options: Any) -> None:
        person = Person.objects.filter(pk=options["person_id"]).first()
        if person is None:
            raise CommandError(f"No person {options['person_id']}.")
        try:
            erasure = person_erase(
                viewer=Viewer.system(person.agency_id),
                actor=None,
                person=person,
                reason=options["reason"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Person {erasure.person_id} anonymised.")
