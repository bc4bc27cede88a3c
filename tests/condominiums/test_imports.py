"""The CSV import: the service, the command and the staff page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.condominiums.choices import CompanyKind, CouncilRole, LotKind, StaffRole
from lanterne.condominiums.imports import (
    COLUMNS,
    MAX_IMPORT_SIZE,
    CsvImportError,
    ImportKind,
    ImportReport,
    csv_import,
    example_csv,
)
from lanterne.condominiums.models import (
    Agency,
    Company,
    CompanyDomain,
    Condominium,
    CouncilMembership,
    Lot,
    Ownership,
    Person,
    PersonEmail,
)
from lanterne.dossiers.choices import Audience, DossierStatus, DossierType
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer

from ..factories import (
    AgencyFactory,
    CompanyDomainFactory,
    CompanyFactory,
    CondominiumFactory,
    DossierFactory,
    LotFactory,
    PersonFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "csv"
IMPORT_ORDER = ["condominiums", "lots", "companies", "persons", "dossiers"]
MODELS = (
    Agency,
    Condominium,
    Lot,
    Company,
    CompanyDomain,
    Person,
    PersonEmail,
    Ownership,
    CouncilMembership,
    Dossier,
    AuditLog,
)


def counts() -> dict[str, int]:
    """Rows of every table an import may write to."""
    return {model.__name__: model.objects.count() for model in MODELS}


def manager_viewer(world):  # type: ignore[no-untyped-def]
    return Viewer.for_user(world.users["staff"])


def run(world, kind: str, text: str, *, encoding: str = "utf-8") -> ImportReport:  # type: ignore[no-untyped-def]
    return csv_import(
        viewer=manager_viewer(world),
        actor=world.users["staff"],
        agency=world.agency,
        kind=kind,
        data=text.encode(encoding),
    )


def refused(world, kind: str, text: str, *, encoding: str = "utf-8") -> list[str]:  # type: ignore[no-untyped-def]
    """Import a file that must be refused; check nothing changed; return the messages."""
    before = counts()
    with pytest.raises(CsvImportError) as caught:
        run(world, kind, text, encoding=encoding)
    assert counts() == before
    return caught.value.messages


# --- The documentation's examples ---------------------------------------------------


def test_docs_examples_import_in_order() -> None:
    """docs/examples/csv/*.csv import, in the documented order, into a new agency."""
    agency = AgencyFactory()
    manager = StaffFactory(agency=agency, staff_role=StaffRole.MANAGER)
    viewer = Viewer.for_user(manager.user)
    created: dict[str, dict[str, int]] = {}
    for kind in IMPORT_ORDER:
        report = csv_import(
            viewer=viewer,
            actor=manager.user,
            agency=agency,
            kind=kind,
            data=(EXAMPLES / f"{kind}.csv").read_bytes(),
        )
        created[kind] = report.created
    assert created["condominiums"] == {"condominiums": 3}
    assert created["lots"] == {"lots": 7}
    assert created["companies"] == {"companies": 4, "domains": 5}
    assert created["persons"] == {"persons": 5, "emails": 5, "ownerships": 6, "council_seats": 2}
    assert created["dossiers"] == {"dossiers": 4}
    assert Dossier.objects.get(reference="2025/117").agency == agency
    assert sorted(path.stem for path in EXAMPLES.glob("*.csv")) == sorted(IMPORT_ORDER)


def test_docs_list_every_column() -> None:
    doc = (EXAMPLES.parents[1] / "csv-import.md").read_text()
    for columns in COLUMNS.values():
        for column in columns:
            assert f"`{column.header}`" in doc, column.header


@pytest.mark.parametrize("kind", IMPORT_ORDER)
def test_model_file_header_is_understood(world, kind: str) -> None:  # type: ignore[no-untyped-def]
    """The page's model file has every column, in a header the import reads."""
    header = example_csv(kind).splitlines()[0]
    assert header.split(";") == [column.header for column in COLUMNS[kind]]
    messages = refused(world, kind, header + "\n")
    assert messages == ["Le fichier ne contient que la ligne d'en-tête, aucune donnée."]


# --- Each kind ----------------------------------------------------------------------


def test_condominiums(world) -> None:  # type: ignore[no-untyped-def]
    report = run(
        world,
        "condominiums",
        "Nom;Adresse;Code postal;Ville;Autres adresses;Surnoms;Immatriculation\n"
        "Les Platanes;1 rue Garibaldi;1000;Bourg-en-Bresse;3 rue Garibaldi|5 rue Garibaldi;"
        "Platanes|Résidence des Platanes;AA0000001\n"
        "Le Clos;2 rue du Clos;69003;Lyon;;;\n",
    )
    assert report.created == {"condominiums": 2}
    assert report.summary() == "2 copropriétés"
    condominium = Condominium.objects.get(name="Les Platanes")
    assert condominium.agency == world.agency
    assert condominium.postal_code == "01000"
    assert condominium.other_addresses == "3 rue Garibaldi\n5 rue Garibaldi"
    assert condominium.nickname_list == ["Platanes", "Résidence des Platanes"]
    assert condominium.registry_number == "AA0000001"
    assert (
        AuditLog.objects.filter(
            action=AuditAction.IMPORTED, object_type="condominiums.condominium"
        ).count()
        == 2
    )
    summary = AuditLog.objects.get(object_type="condominiums.agency")
    assert summary.actor == world.users["staff"]
    assert summary.changes == {"kind": "condominiums", "created": {"condominiums": 2}}


def test_lots_with_loose_headers_and_labels(world) -> None:  # type: ignore[no-untyped-def]
    report = run(
        world,
        "lots",
        "COPROPRIETE;N° de lot;Nature;Etage;Batiment;Escalier;Tantiemes\n"
        "les tilleuls;27;Appartement;4;B;2;1 250\n"
        "Les Tilleuls;28;cave;-1;;;12,00\n"
        "Le Belvédère;9;parking;;;;\n"
        "Le Belvédère;10;shop;0;;;\n",
    )
    assert report.created == {"lots": 4}
    lot = Lot.objects.get(condominium=world.condominium, number="27")
    assert (lot.kind, lot.floor, lot.building, lot.staircase, lot.shares) == (
        LotKind.FLAT,
        "4",
        "B",
        "2",
        1250,
    )
    assert Lot.objects.get(condominium=world.condominium, number="28").shares == 12
    assert Lot.objects.get(condominium=world.other_condominium, number="9").kind == LotKind.PARKING
    assert Lot.objects.get(condominium=world.other_condominium, number="10").kind == LotKind.SHOP


def test_companies(world) -> None:  # type: ignore[no-untyped-def]
    report = run(
        world,
        "companies",
        "nom,type,e-mail,téléphone,adresse,domaines\n"
        "Plomberie Durand,Prestataire,Contact@Plomberie-Durand.fr,478000000,"
        '"8 quai Perrache, 69002 Lyon","plomberie-durand.fr, @durand.fr"\n'
        "Axa Immeuble,insurer,,,,\n"
        "Expertises Rhône,Expert,,,,\n",
    )
    assert report.created == {"companies": 3, "domains": 2}
    company = Company.objects.get(name="Plomberie Durand")
    assert company.agency == world.agency
    assert company.kind == CompanyKind.CONTRACTOR
    assert company.email == "contact@plomberie-durand.fr"
    assert company.phone == "0478000000"
    assert company.address == "8 quai Perrache, 69002 Lyon"
    assert sorted(company.domains.values_list("domain", flat=True)) == [
        "durand.fr",
        "plomberie-durand.fr",
    ]
    assert Company.objects.get(name="Axa Immeuble").kind == CompanyKind.INSURER
    assert Company.objects.get(name="Expertises Rhône").kind == CompanyKind.ADJUSTER


def test_persons(world) -> None:  # type: ignore[no-untyped-def]
    LotFactory(condominium=world.condominium, number="31")
    company = CompanyFactory(agency=world.agency, name="Mutuelle des Copropriétés")
    report = run(
        world,
        "persons",
        "nom;prénom;e-mails;téléphones;adresse postale;copropriété;lots;conseil syndical;"
        "entreprise\n"
        "Martin;Sophie;Sophie.Martin@exemple.fr, s.martin@travail.fr;"
        "06 12 34 56 78|612345679;;Les Tilleuls;12, 31;Présidente;\n"
        "Nguyen;Thierry;t.nguyen@exemple.fr;;;Les Tilleuls;14;membre du CS;\n"
        "Roux;Jean;;;3 rue Paul Bert, 69003 Lyon;;;;\n"
        "Bernard;Claire;c.bernard@mutuelle.fr;;;;;;mutuelle des coproprietes\n",
    )
    assert report.created == {"persons": 4, "emails": 4, "ownerships": 3, "council_seats": 2}
    assert report.summary() == (
        "4 personnes, 4 adresses e-mail, 3 propriétés de lots, 2 sièges au conseil syndical"
    )
    martin = Person.objects.get(last_name="Martin")
    assert martin.agency == world.agency
    assert martin.first_name == "Sophie"
    assert martin.phones == ["06 12 34 56 78", "0612345679"]
    emails = {e.address: e.is_primary for e in martin.emails.all()}
    assert emails == {"sophie.martin@exemple.fr": True, "s.martin@travail.fr": False}
    assert sorted(martin.ownerships.values_list("lot__number", flat=True)) == ["12", "31"]
    seat = martin.council_seats.get()
    assert (seat.condominium, seat.role) == (world.condominium, CouncilRole.CHAIR)
    nguyen = Person.objects.get(last_name="Nguyen")
    assert nguyen.council_seats.get().role == CouncilRole.MEMBER
    assert Person.objects.get(last_name="Roux").postal_address == "3 rue Paul Bert, 69003 Lyon"
    assert Person.objects.get(last_name="Bernard").company == company


def test_dossiers(world) -> None:  # type: ignore[no-untyped-def]
    owner = PersonFactory(agency=world.agency, email="sophie.martin@exemple.fr")
    plumber = CompanyFactory(agency=world.agency, name="Plomberie Durand")
    manager = world.persons["staff"]
    PersonEmail.objects.create(person=manager, agency=world.agency, address="claire@cabinet.fr")
    report = run(
        world,
        "dossiers",
        "Référence;Copropriété;Titre;Type;Statut;Ouvert le;Lots;Personnes;Entreprises;"
        "Visibilité;Description;Gestionnaire\n"
        "DOS-1041;Les Tilleuls;Fuite au plafond;Dégât des eaux;Recherche de fuite;03/02/2025;"
        "12|14;sophie.martin@exemple.fr;Plomberie Durand;;Depuis le lot 14.;claire@cabinet.fr\n"
        "2025/117;Les Tilleuls;Ravalement;Travaux;;2025-01-15;;;;Conseil syndical;;\n"
        " AG 2025 ;Le Belvédère;Assemblée générale 2025;AG;convoquée;1/6/2025 00:00;;;;;;\n",
    )
    assert report.created == {"dossiers": 3}
    leak = Dossier.objects.get(reference="DOS-1041")
    assert leak.agency == world.agency
    assert leak.condominium == world.condominium
    assert (leak.type, leak.status, leak.audience) == (
        DossierType.WATER_DAMAGE,
        DossierStatus.LEAK_SEARCH,
        Audience.PARTIES,
    )
    assert leak.opened_on == dt.date(2025, 2, 3)
    assert sorted(leak.party_lots.values_list("number", flat=True)) == ["12", "14"]
    assert list(leak.party_persons.all()) == [owner]
    assert list(leak.party_companies.all()) == [plumber]
    assert leak.description == "Depuis le lot 14."
    assert leak.manager == manager
    works = Dossier.objects.get(reference="2025/117")
    assert (works.status, works.audience, works.opened_on) == (
        DossierStatus.QUOTES,
        Audience.COUNCIL,
        dt.date(2025, 1, 15),
    )
    meeting = Dossier.objects.get(reference="AG 2025")
    assert (meeting.type, meeting.status, meeting.opened_on) == (
        DossierType.GENERAL_MEETING,
        DossierStatus.CONVENED,
        dt.date(2025, 6, 1),
    )
    assert (
        AuditLog.objects.filter(action=AuditAction.CREATED, object_type="dossiers.dossier").count()
        == 3
    )


def test_windows_1252_with_semicolons_keeps_accents(world) -> None:  # type: ignore[no-untyped-def]
    text = (
        "nom;prénom;e-mails;copropriété;lots;conseil syndical\r\n"
        "Lefèvre;Hélène;helene.lefevre@exemple.fr;Le Belvédère;3;Présidente\r\n"
        "Œuvray;François;;;;\r\n"
    )
    run(world, "persons", text, encoding="cp1252")
    # The world's persons have random French names: look the imported one up
    # by both names and its address.
    helene = Person.objects.get(emails__address="helene.lefevre@exemple.fr")
    assert (helene.first_name, helene.last_name) == ("Hélène", "Lefèvre")
    assert helene.council_seats.get().condominium == world.other_condominium
    assert Person.objects.filter(last_name="Œuvray", first_name="François").exists()


def test_utf8_with_bom_and_commas(world) -> None:  # type: ignore[no-untyped-def]
    data = "\ufeffnom,adresse,ville\nLa Cité Radieuse,280 boulevard Michelet,Marseille\n"
    run(world, "condominiums", data, encoding="utf-8")
    assert Condominium.objects.get(name="La Cité Radieuse").city == "Marseille"


def test_blank_lines_and_trailing_separators_are_tolerated(world) -> None:  # type: ignore[no-untyped-def]
    run(
        world,
        "condominiums",
        "nom;adresse;;\n\nLe Parc;1 allée du Parc;;\n;;;\nLe Jardin;2 allée du Parc\n",
    )
    assert Condominium.objects.filter(name__in=["Le Parc", "Le Jardin"]).count() == 2


# --- Refused files ------------------------------------------------------------------

LOT_HEADER = "copropriété;numéro;nature\n"
PERSON_HEADER = "nom;prénom;e-mails;copropriété;lots;conseil syndical\n"
DOSSIER_HEADER = "référence;copropriété;titre;type;statut;ouvert le\n"

REFUSED: list[tuple[str, str, str, str]] = [
    # (case, kind, file, an expected message)
    ("empty file", "lots", "", "Le fichier est vide."),
    ("blank file", "lots", " \n\n", "Le fichier est vide."),
    (
        "header only",
        "lots",
        LOT_HEADER,
        "Le fichier ne contient que la ligne d'en-tête, aucune donnée.",
    ),
    (
        "missing required column",
        "lots",
        "copropriété;numéro\nLes Tilleuls;30\n",
        "Ligne 1 : colonne obligatoire manquante : « nature ».",
    ),
    (
        "unknown column",
        "lots",
        "copropriété;numéro;nature;surface\nLes Tilleuls;30;Cave;12\n",
        "Ligne 1 : colonne inconnue « surface » (colonnes possibles : copropriété, numéro, "
        "nature, étage, bâtiment, escalier, tantièmes).",
    ),
    (
        "repeated column",
        "lots",
        "copropriété;numéro;nature;Numero\nLes Tilleuls;30;Cave;31\n",
        "Ligne 1 : la colonne « numéro » apparaît deux fois.",
    ),
    (
        "too few fields",
        "lots",
        LOT_HEADER + "Les Tilleuls;30;Cave\nLes Tilleuls;31\n",
        "Ligne 3 : 2 valeurs au lieu de 3 : vérifiez le séparateur (« ; » ou « , ») et les "
        "guillemets.",
    ),
    (
        "too many fields",
        "lots",
        LOT_HEADER + "Les Tilleuls;30;Cave;oups\n",
        "Ligne 2 : 4 valeurs au lieu de 3",
    ),
    (
        "unclosed quote",
        "lots",
        LOT_HEADER + 'Les Tilleuls;"30;Cave\nLes Tilleuls;31;Cave\n',
        "Ligne 2 : 2 valeurs au lieu de 3",
    ),
    (
        "unknown condominium",
        "lots",
        LOT_HEADER + "Les Tilleuls;30;Cave\nLes Platanes;1;Cave\n",
        "Ligne 3 : la copropriété « Les Platanes » n'existe pas dans le cabinet.",
    ),
    (
        "existing lot",
        "lots",
        LOT_HEADER + "Les Tilleuls;12;Cave\n",
        "Ligne 2 : le lot 12 existe déjà dans la copropriété Les Tilleuls.",
    ),
    (
        "lot twice in the file",
        "lots",
        LOT_HEADER + "Les Tilleuls;30;Cave\nLes Tilleuls;30;Cave\n",
        "Ligne 3 : le lot 30 de la copropriété Les Tilleuls figure déjà à la ligne 2.",
    ),
    (
        "unknown lot nature",
        "lots",
        LOT_HEADER + "Les Tilleuls;30;Grenier\n",
        "Ligne 2 : nature de lot inconnue : « Grenier » (valeurs possibles : Appartement, Cave, "
        "Parking, Commerce, Bureau, Autre).",
    ),
    (
        "bad shares",
        "lots",
        "copropriété;numéro;nature;tantièmes\nLes Tilleuls;30;Cave;12,5\n",
        "Ligne 2 : les tantièmes « 12,5 » doivent être un nombre entier positif.",
    ),
    (
        "empty required value",
        "lots",
        LOT_HEADER + ";30;Cave\n",
        "Ligne 2 : la colonne « copropriété » est vide.",
    ),
    (
        "value too long",
        "lots",
        LOT_HEADER + f"Les Tilleuls;{'9' * 21};Cave\n",
        "Ligne 2 : « numéro » dépasse 20 caractères.",
    ),
    (
        "existing condominium",
        "condominiums",
        "nom;adresse\nLES TILLEULS;1 rue\n",
        "Ligne 2 : la copropriété « LES TILLEULS » existe déjà dans le cabinet.",
    ),
    (
        "condominium twice",
        "condominiums",
        "nom;adresse\nLe Parc;1 rue\nLe  parc;2 rue\n",
        "Ligne 3 : la copropriété « Le  parc » figure déjà à la ligne 2.",
    ),
    (
        "bad postal code",
        "condominiums",
        "nom;adresse;code postal\nLe Parc;1 rue;6900A\n",
        "Ligne 2 : le code postal « 6900A » doit compter cinq chiffres.",
    ),
    (
        "unknown company kind",
        "companies",
        "nom;type\nDurand;Plombier\n",
        "Ligne 2 : type d'entreprise inconnu : « Plombier » (valeurs possibles : Prestataire, "
        "Assureur, Expert, Autre).",
    ),
    (
        "bad company e-mail",
        "companies",
        "nom;type;e-mail\nDurand;Prestataire;durand@\n",
        "Ligne 2 : l'adresse e-mail « durand@ » n'est pas valide.",
    ),
    (
        "bad domain",
        "companies",
        "nom;type;domaines\nDurand;Prestataire;durand\n",
        "Ligne 2 : « durand » n'est pas un nom de domaine valide.",
    ),
    (
        "domain twice",
        "companies",
        "nom;type;domaines\nDurand;Prestataire;durand.fr\nDurand Fils;Prestataire;durand.fr\n",
        "Ligne 3 : le domaine durand.fr est déjà celui de « Durand » (ligne 2).",
    ),
    (
        "bad phone",
        "companies",
        "nom;type;téléphone\nDurand;Prestataire;appeler le matin\n",
        "Ligne 2 : le numéro de téléphone « appeler le matin » n'est pas valide.",
    ),
    (
        "unknown lot of a person",
        "persons",
        PERSON_HEADER + "Martin;Sophie;s@exemple.fr;Les Tilleuls;12|27;\n",
        "Ligne 2 : le lot 27 n'existe pas dans la copropriété Les Tilleuls.",
    ),
    (
        "lots without condominium",
        "persons",
        PERSON_HEADER + "Martin;Sophie;s@exemple.fr;;12;\n",
        "Ligne 2 : indiquez la copropriété des lots ou du siège au conseil syndical.",
    ),
    (
        "invalid e-mail",
        "persons",
        PERSON_HEADER + "Martin;Sophie;sophie.martin@exemple.fr|sophie martin;;;\n",
        "Ligne 2 : l'adresse e-mail « sophie martin » n'est pas valide.",
    ),
    (
        "e-mail twice in the file",
        "persons",
        PERSON_HEADER + "Martin;Sophie;s@exemple.fr;;;\nMartin;Paul;p@exemple.fr,S@Exemple.fr;;;\n",
        "Ligne 3 : l'adresse s@exemple.fr figure déjà à la ligne 2.",
    ),
    (
        "e-mail of an existing person",
        "persons",
        PERSON_HEADER + "Partie;Paul;owner-party@exemple.fr;;;\n",
        "Ligne 2 : l'adresse owner-party@exemple.fr appartient déjà à",
    ),
    (
        "unknown council role",
        "persons",
        PERSON_HEADER + "Martin;Sophie;;Les Tilleuls;;Trésorière\n",
        "Ligne 2 : rôle au conseil inconnu : « Trésorière »",
    ),
    (
        "unknown dossier type",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Inondation;;01/02/2025\n",
        "Ligne 2 : type de dossier inconnu : « Inondation » (valeurs possibles : Dégât des eaux "
        "/ fuite, Travaux, ",
    ),
    (
        "unknown status",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Dégât des eaux;Égaré;01/02/2025\n",
        "Ligne 2 : statut inconnu : « Égaré »",
    ),
    (
        "status of another type",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Dégât des eaux;Mise en demeure;01/02/2025\n",
        "Ligne 2 : le statut « Mise en demeure » ne s'applique pas à un dossier « Dégât des eaux "
        "/ fuite » (statuts possibles : Déclaré, Recherche de fuite, Expertise, Réparations, "
        "Indemnisation).",
    ),
    (
        "closed dossier",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Dégât des eaux;Clos;01/02/2025\n",
        "Ligne 2 : le dossier est clos : l'import ne reprend que les dossiers en cours.",
    ),
    (
        "unknown audience",
        "dossiers",
        "référence;copropriété;titre;type;ouvert le;visibilité\n"
        "DOS-1;Les Tilleuls;Fuite;Travaux;01/02/2025;Public\n",
        "Ligne 2 : visibilité inconnue : « Public »",
    ),
    (
        "existing reference",
        "dossiers",
        DOSSIER_HEADER + "{existing};Les Tilleuls;Fuite;Travaux;;01/02/2025\n",
        "Ligne 2 : la référence {existing} existe déjà dans le cabinet.",
    ),
    (
        "reference twice in the file",
        "dossiers",
        DOSSIER_HEADER
        + "2025/117;Les Tilleuls;A;Travaux;;01/02/2025\n2025/117;Les Tilleuls;B;Travaux;;"
        "01/02/2025\n",
        "Ligne 3 : la référence 2025/117 figure déjà à la ligne 2.",
    ),
    (
        "bad date format",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Travaux;;1er février 2025\n",
        "Ligne 2 : la date « 1er février 2025 » n'est pas au format JJ/MM/AAAA ou AAAA-MM-JJ.",
    ),
    (
        "two-digit year",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Travaux;;01/02/25\n",
        "Ligne 2 : la date « 01/02/25 » n'est pas au format JJ/MM/AAAA ou AAAA-MM-JJ.",
    ),
    (
        "impossible date",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Travaux;;31/02/2025\n",
        "Ligne 2 : la date « 31/02/2025 » n'existe pas.",
    ),
    (
        "future date",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Travaux;;2999-01-01\n",
        "Ligne 2 : la date d'ouverture 01/01/2999 est dans le futur.",
    ),
    (
        "missing date",
        "dossiers",
        DOSSIER_HEADER + "DOS-1;Les Tilleuls;Fuite;Travaux;;\n",
        "Ligne 2 : la colonne « ouvert le » est vide.",
    ),
    (
        "unknown party lot",
        "dossiers",
        "référence;copropriété;titre;type;ouvert le;lots\n"
        "DOS-1;Les Tilleuls;Fuite;Travaux;01/02/2025;12|3\n",
        "Ligne 2 : le lot 3 n'existe pas dans la copropriété Les Tilleuls.",
    ),
    (
        "unknown party person",
        "dossiers",
        "référence;copropriété;titre;type;ouvert le;personnes\n"
        "DOS-1;Les Tilleuls;Fuite;Travaux;01/02/2025;inconnu@exemple.fr\n",
        "Ligne 2 : aucune personne du cabinet n'a l'adresse inconnu@exemple.fr.",
    ),
    (
        "unknown party company",
        "dossiers",
        "référence;copropriété;titre;type;ouvert le;entreprises\n"
        "DOS-1;Les Tilleuls;Fuite;Travaux;01/02/2025;Plomberie Inconnue\n",
        "Ligne 2 : l'entreprise « Plomberie Inconnue » n'existe pas dans le cabinet.",
    ),
    (
        "manager who is not staff",
        "dossiers",
        "référence;copropriété;titre;type;ouvert le;gestionnaire\n"
        "DOS-1;Les Tilleuls;Fuite;Travaux;01/02/2025;owner-party@exemple.fr\n",
        "Ligne 2 : le gestionnaire owner-party@exemple.fr n'est pas un membre du cabinet.",
    ),
]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_refused_files_change_nothing(world, kind: str, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    # The world's e-mails are its logins; make them contact addresses too.
    for role, person in world.persons.items():
        PersonEmail.objects.create(
            person=person, agency=person.agency, address=f"{role.replace('_', '-')}@exemple.fr"
        )
    text = text.replace("{existing}", world.dossier.reference)
    expected = expected.replace("{existing}", world.dossier.reference)
    messages = refused(world, kind, text)
    assert any(message.startswith(expected) for message in messages), messages


def test_every_problem_is_reported_and_valid_rows_are_not_written(world) -> None:  # type: ignore[no-untyped-def]
    messages = refused(
        world,
        "lots",
        LOT_HEADER
        + "Les Tilleuls;30;Cave\n"
        + "Les Platanes;1;Grenier\n"
        + "Les Tilleuls;31;Cave\n"
        + "Les Tilleuls;32\n",
    )
    assert messages == [
        "Ligne 3 : la copropriété « Les Platanes » n'existe pas dans le cabinet.",
        "Ligne 3 : nature de lot inconnue : « Grenier » (valeurs possibles : Appartement, Cave, "
        "Parking, Commerce, Bureau, Autre).",
        "Ligne 5 : 2 valeurs au lieu de 3 : vérifiez le séparateur (« ; » ou « , ») et les "
        "guillemets.",
    ]
    assert not Lot.objects.filter(number__in=["30", "31"]).exists()


def test_too_many_problems_are_cut(world) -> None:  # type: ignore[no-untyped-def]
    text = LOT_HEADER + "".join(f"Nulle Part;{n};Cave\n" for n in range(250))
    messages = refused(world, "lots", text)
    assert len(messages) == 201
    assert messages[-1] == "… et 50 autres erreurs."


def test_unreadable_bytes(world) -> None:  # type: ignore[no-untyped-def]
    before = counts()
    with pytest.raises(CsvImportError) as caught:
        csv_import(
            viewer=manager_viewer(world),
            actor=None,
            agency=world.agency,
            kind="condominiums",
            data=b"nom;adresse\n\x81\x8d;\x90\n",
        )
    assert caught.value.messages == [
        "Le fichier est illisible : enregistrez-le en CSV UTF-8 ou en CSV Windows-1252."
    ]
    assert counts() == before


def test_a_write_error_rolls_everything_back(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A service refusing a row while writing (a race) still leaves nothing behind."""
    from django.core.exceptions import ValidationError

    from lanterne.dossiers import services

    real_open = services.dossier_open
    calls = []

    def flaky_open(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["reference"])
        if len(calls) == 2:
            raise ValidationError("La référence DOS-2 existe déjà.")
        return real_open(**kwargs)

    monkeypatch.setattr(services, "dossier_open", flaky_open)
    messages = refused(
        world,
        "dossiers",
        DOSSIER_HEADER
        + "DOS-1;Les Tilleuls;A;Travaux;;01/02/2025\nDOS-2;Les Tilleuls;B;Travaux;;01/02/2025\n",
    )
    assert messages == ["Ligne 3 : La référence DOS-2 existe déjà."]


# --- The tenant boundary and the permission -----------------------------------------


def test_another_agency_is_neither_read_nor_written(world) -> None:  # type: ignore[no-untyped-def]
    """Names, e-mails and references of another agency are not duplicates — and
    its condominiums, lots and companies cannot be pointed at."""
    other = world.other_agency
    far = CondominiumFactory(agency=other, name="Le Château")
    LotFactory(condominium=far, number="1")
    CompanyFactory(agency=other, name="Plomberie Voisine")
    CompanyDomainFactory(company__agency=other, domain="voisine.fr")
    PersonFactory(agency=other, email="partage@exemple.fr")
    DossierFactory(condominium=far, reference="DOS-1041")
    other_before = {
        "condominiums": other.condominiums.count(),
        "persons": other.persons.count(),
        "dossiers": other.dossiers.count(),
        "companies": other.companies.count(),
    }

    run(world, "condominiums", "nom;adresse\nLe Château;1 rue du Château\n")
    run(world, "companies", "nom;type;domaines\nPlomberie Voisine;Prestataire;voisine.fr\n")
    run(world, "persons", "nom;e-mails\nPartage;partage@exemple.fr\n")
    run(world, "dossiers", DOSSIER_HEADER + "DOS-1041;Les Tilleuls;Fuite;Travaux;;01/02/2025\n")
    assert Dossier.objects.get(agency=world.agency, reference="DOS-1041")
    assert PersonEmail.objects.filter(address="partage@exemple.fr").count() == 2

    messages = refused(
        world,
        "dossiers",
        "référence;copropriété;titre;type;ouvert le;entreprises\n"
        "DOS-9;Les Tilleuls;Fuite;Travaux;01/02/2025;Plomberie Voisine SA\n",
    )
    assert messages == [
        "Ligne 2 : l'entreprise « Plomberie Voisine SA » n'existe pas dans le cabinet."
    ]
    assert other_before == {
        "condominiums": other.condominiums.count(),
        "persons": other.persons.count(),
        "dossiers": other.dossiers.count(),
        "companies": other.companies.count(),
    }


def test_only_the_agencys_managers_may_import(world) -> None:  # type: ignore[no-untyped-def]
    assistant = StaffFactory(agency=world.agency, staff_role=StaffRole.ASSISTANT)
    data = b"nom;adresse\nLe Parc;1 rue\n"
    for viewer in (
        Viewer.for_user(assistant.user),
        Viewer.for_user(world.users["council_chair"]),
        Viewer.for_user(world.users["staff_other_agency"]),
        Viewer.anonymous(),
    ):
        with pytest.raises(PermissionDenied):
            csv_import(
                viewer=viewer, actor=None, agency=world.agency, kind="condominiums", data=data
            )
    assert not Condominium.objects.filter(name="Le Parc").exists()


def test_system_viewer_is_staff_and_manager_of_one_agency(world) -> None:  # type: ignore[no-untyped-def]
    viewer = Viewer.system(world.agency.pk)
    assert viewer.is_manager_of(world.agency.pk)
    assert viewer.is_staff_of(world.agency.pk)
    assert not viewer.is_staff_of(world.other_agency.pk)


# --- The command --------------------------------------------------------------------


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "import.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_command_imports_into_the_named_agency(world, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "nom;adresse\nLe Parc;1 allée du Parc\nLe Jardin;2 allée\n")
    call_command("import-csv", "condominiums", path, "--agency", "Cabinet Lumière")
    out = capsys.readouterr().out
    assert "Import réussi dans « Cabinet Lumière » : 2 copropriétés." in out
    assert set(
        Condominium.objects.filter(name__in=["Le Parc", "Le Jardin"]).values_list(
            "agency", flat=True
        )
    ) == {world.agency.pk}
    summary = AuditLog.objects.get(object_type="condominiums.agency")
    assert summary.actor is None


def test_command_needs_the_agency_when_there_are_several(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "nom;adresse\nLe Parc;1 allée du Parc\n")
    with pytest.raises(CommandError, match="Plusieurs cabinets existent : précisez --agency"):
        call_command("import-csv", "condominiums", path)
    with pytest.raises(CommandError, match="Aucun cabinet ne s'appelle « Cabinet Fantôme »"):
        call_command("import-csv", "condominiums", path, "--agency", "Cabinet Fantôme")
    assert not Condominium.objects.filter(name="Le Parc").exists()


def test_command_uses_the_only_agency(tmp_path, capsys) -> None:
    agency = AgencyFactory(name="Cabinet Seul")
    path = write(tmp_path, "nom;adresse\nLe Parc;1 allée du Parc\n", encoding="cp1252")
    call_command("import-csv", "condominiums", path)
    assert Condominium.objects.get(name="Le Parc").agency == agency
    assert "1 copropriété" in capsys.readouterr().out


def test_command_without_agency(tmp_path) -> None:
    path = write(tmp_path, "nom;adresse\nLe Parc;1 allée du Parc\n")
    with pytest.raises(CommandError, match="Aucun cabinet n'existe encore"):
        call_command("import-csv", "condominiums", path)


def test_command_reports_problems_and_fails(world, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, LOT_HEADER + "Les Tilleuls;30;Cave\nLes Tilleuls;27;Grenier\n")
    before = counts()
    with pytest.raises(CommandError, match="Import refusé : rien n'a été enregistré."):
        call_command("import-csv", "lots", path, "--agency", "Cabinet Lumière")
    assert "Ligne 3 : nature de lot inconnue : « Grenier »" in capsys.readouterr().err
    assert counts() == before


def test_command_unreadable_file(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="Impossible de lire le fichier"):
        call_command(
            "import-csv", "lots", str(tmp_path / "absent.csv"), "--agency", "Cabinet Lumière"
        )


def test_command_exits_non_zero_on_errors(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Run as `lanterne import-csv`, a refused file is a non-zero exit."""
    from django.core.management import ManagementUtility

    path = write(tmp_path, LOT_HEADER + "Les Platanes;1;Cave\n")
    utility = ManagementUtility(
        ["lanterne", "import-csv", "lots", path, "--agency", "Cabinet Lumière"]
    )
    with pytest.raises(SystemExit) as exited:
        utility.execute()
    assert exited.value.code == 1


# --- The page -----------------------------------------------------------------------

URL = "/cabinet/import/"


def upload(text: str, encoding: str = "utf-8", name: str = "import.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def test_url_name() -> None:
    assert reverse("condominiums:import") == URL


def test_page_for_a_manager(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("staff")
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Importer les données du cabinet (CSV)" in body
    assert 'enctype="multipart/form-data"' in body
    assert "Dossiers en cours" in body
    assert f'href="{URL}"' in body  # the navigation link
    # One agency: no agency field.
    assert 'name="agency"' not in body


def test_page_imports_and_says_so(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("staff")
    response = client.post(
        URL,
        {"kind": "lots", "file": upload(LOT_HEADER + "Les Tilleuls;30;Cave\nLe Belvédère;4;Box\n")},
        follow=True,
    )
    assert response.status_code == 200
    assert "Import réussi : 2 lots." in response.content.decode()
    assert Lot.objects.get(condominium=world.other_condominium, number="4").kind == "parking"


def test_page_lists_problems_with_400_and_changes_nothing(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("staff")
    before = counts()
    response = client.post(
        URL,
        {
            "kind": "persons",
            "file": upload(PERSON_HEADER + "Martin;Sophie;s@exemple.fr;Les Tilleuls;27;\n"),
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Import refusé, rien n'a été enregistré : 1 erreur à corriger." in body
    assert "Ligne 2 : le lot 27 n&#x27;existe pas dans la copropriété Les Tilleuls." in body
    assert counts() == before


def test_page_refuses_a_large_file(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("staff")
    big = SimpleUploadedFile("big.csv", b"x" * (MAX_IMPORT_SIZE + 1), content_type="text/csv")
    response = client.post(URL, {"kind": "lots", "file": big})
    assert response.status_code == 400
    assert "Le fichier dépasse 5 Mo : découpez-le en plusieurs fichiers." in (
        response.content.decode()
    )


def test_page_needs_a_file_and_a_known_kind(world, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for("staff").post(URL, {"kind": "owners", "file": upload("x")})
    assert response.status_code == 400
    assert Condominium.objects.count() == 2


def test_page_offers_model_files(world, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for("staff").get(URL, {"modele": "dossiers"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "lanterne-dossiers.csv" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    assert text.startswith("référence;copropriété;titre;type;statut;ouvert le")


@pytest.mark.parametrize("role", ["owner_party", "council_chair", "staff_other_agency"])
def test_page_is_forbidden_to_others(world, client_for, role: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(role)
    if role == "staff_other_agency":
        # A manager elsewhere may import there, never here.
        response = client.post(URL, {"kind": "condominiums", "file": upload("nom;adresse\nX;Y\n")})
        assert response.status_code == 302
        assert Condominium.objects.get(name="X").agency == world.other_agency
        return
    assert client.get(URL).status_code == 403
    response = client.post(URL, {"kind": "condominiums", "file": upload("nom;adresse\nX;Y\n")})
    assert response.status_code == 403
    assert not Condominium.objects.filter(name="X").exists()


def test_page_is_forbidden_to_an_assistant(world, client_for) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    assistant = StaffFactory(
        agency=world.agency,
        staff_role=StaffRole.ASSISTANT,
        user=UserFactory(email="assistante@exemple.fr"),
    )
    client = Client()
    client.force_login(assistant.user)
    assert client.get(URL).status_code == 403
    home = client.get(reverse("condominiums:persons")).content.decode()
    assert f'href="{URL}"' not in home


def test_page_for_a_manager_of_two_agencies(world, client_for) -> None:  # type: ignore[no-untyped-def]
    """The agency is asked for, among those the person manages only."""
    user = world.users["staff"]
    StaffFactory(agency=world.other_agency, staff_role=StaffRole.MANAGER, user=user)
    third = AgencyFactory(name="Cabinet Tiers")
    client = client_for("staff")
    body = client.get(URL).content.decode()
    assert 'name="agency"' in body
    assert "Cabinet Voisin" in body
    assert third.name not in body
    response = client.post(
        URL,
        {
            "agency": world.other_agency.pk,
            "kind": "condominiums",
            "file": upload("nom;adresse\nLe Moulin;1 chemin\n"),
        },
    )
    assert response.status_code == 302
    assert Condominium.objects.get(name="Le Moulin").agency == world.other_agency
    response = client.post(
        URL,
        {"agency": third.pk, "kind": "condominiums", "file": upload("nom;adresse\nLa Tour;1\n")},
    )
    assert response.status_code == 400
    assert not Condominium.objects.filter(name="La Tour").exists()


def test_kinds_are_in_import_order() -> None:
    assert list(ImportKind.values) == IMPORT_ORDER


def test_a_bom_file_is_not_read_as_windows_1252(world) -> None:  # type: ignore[no-untyped-def]
    before = counts()
    with pytest.raises(CsvImportError) as caught:
        csv_import(
            viewer=manager_viewer(world),
            actor=None,
            agency=world.agency,
            kind="condominiums",
            data=b"\xef\xbb\xbfnom;adresse\nL\xe9 Parc;1 rue\n",
        )
    assert caught.value.messages == [
        "Le fichier est illisible : enregistrez-le en CSV UTF-8 ou en CSV Windows-1252."
    ]
    assert counts() == before


def test_separator_only_lines_before_the_header(world) -> None:  # type: ignore[no-untyped-def]
    run(world, "condominiums", ";;;\n,,\nnom,adresse\nLe Parc,1 rue\n")
    assert Condominium.objects.filter(name="Le Parc").exists()


def test_command_imports_dossiers_with_the_system_viewer(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path, DOSSIER_HEADER + "2025/117;Les Tilleuls;Ravalement;Travaux;;15/01/2025\n"
    )
    call_command("import-csv", "dossiers", path, "--agency", "Cabinet Lumière")
    dossier = Dossier.objects.get(reference="2025/117")
    assert (dossier.agency, dossier.status, dossier.audience) == (
        world.agency,
        DossierStatus.QUOTES,
        Audience.OWNERS,
    )
