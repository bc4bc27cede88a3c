"""The data the gunicorn tests browse, written into the installation they
start (`python -m tests.deploy.seed`, with that installation's environment):
one agency, a co-owner with a login and a dossier of their building. Prints
what the tests need as JSON."""

from __future__ import annotations

import json


def main() -> None:
    import django

    django.setup()

    from tests.factories import (
        PASSWORD,
        AgencyFactory,
        CondominiumFactory,
        DossierFactory,
        LotFactory,
        OwnershipFactory,
        PersonFactory,
        UserFactory,
    )

    agency = AgencyFactory(name="Cabinet Lumière", mail_domain="cabinet-lumiere.fr")
    condominium = CondominiumFactory(agency=agency, name="Les Tilleuls")
    lot = LotFactory(condominium=condominium, number="12")
    user = UserFactory(email="proprietaire@exemple.fr")
    person = PersonFactory(agency=agency, last_name="Partie", user=user)
    OwnershipFactory(person=person, lot=lot)
    dossier = DossierFactory(condominium=condominium, title="Ravalement de la façade sur rue")
    print(
        json.dumps(
            {
                "email": user.email,
                "password": PASSWORD,
                "dossier_id": dossier.pk,
                "dossier_title": dossier.title,
            }
        )
    )


if __name__ == "__main__":
    main()
