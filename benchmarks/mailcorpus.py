"""A realistic, reproducible corpus of a French syndic's mail, for benchmarks.

Every message is built from a seeded random generator, so the same seed always
gives the same bytes. What the messages look like, and why:

- French prose about condominium life (leaks, quotes, general meetings, calls
  for funds), with the replies and forwards of a real mailbox: "RE:"/"TR:"
  subjects, In-Reply-To/References, and the quoted history of the previous
  messages of the thread in both the Gmail style ("Le … a écrit :" and "> "
  lines) and the Outlook style ("De : … Envoyé : … Objet : …").
- Mostly multipart/alternative with an HTML part written the way mail clients
  write it (Outlook's Word HTML with its style sheet, Gmail's `gmail_quote`
  blockquotes), quoted-printable or base64, UTF-8 or Windows-1252.
- One message in four carries a PDF (a minimal valid PDF padded with an
  incompressible stream to a size between 15 and 120 KB, log-uniformly, like
  a generated quote or invoice; 50 KB on average), which with the text and
  HTML of the others brings the corpus to about 30 KB a message; a few reuse
  the same document (the regulations forwarded again), which the raw store
  keeps once.
- Contractors sign their HTML mail with their logo (a valid PNG, the same
  bytes in every mail of that contractor, as an inline `cid:` image), which
  is what the pipeline's signature-logo detection looks for.
- Received and DKIM-Signature headers, as delivered mail has them.
"""

from __future__ import annotations

import random
import struct
import zlib
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

# The generator is the stdlib's: bytes as a mail client writes them (CRLF
# line endings, folded headers, encoded words for non-ASCII header values).
_POLICY = policy.SMTP.clone(max_line_length=78)

AGENCY_DOMAIN = "cabinet-lumiere.fr"
_PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Correspondent:
    """Someone who writes to the agency, or someone of the agency."""

    name: str
    address: str
    signature: str
    kind: str  # "contractor", "owner", "council" or "staff"
    style: str  # "outlook" or "gmail": how their mail client writes


_CONTRACTORS = [
    ("Plomberie Martin", "plomberie-martin.fr", "Jean Martin", "Gérant"),
    ("Ascenseurs du Rhône", "ascenseurs-rhone.fr", "Sophie Lambert", "Chargée de clientèle"),
    ("Chauffage Dauphiné Services", "cds-chauffage.fr", "Karim Haddad", "Technicien"),
    ("Façades Lyonnaises", "facades-lyon.fr", "Claire Dubois", "Conductrice de travaux"),
    ("Net'Immeuble Propreté", "netimmeuble.fr", "Paulo Ferreira", "Responsable de secteur"),
    ("Serrurerie Croix-Rousse", "serrurerie-xrousse.fr", "Luc Bernard", "Artisan serrurier"),
    ("Mutuelle Assurances Habitat", "mah-assurances.fr", "Nadia Benali", "Gestionnaire sinistres"),
    ("Cabinet Expertises Bâtiment", "ceb-expertise.fr", "Henri Morel", "Expert"),
    ("Toitures Saône", "toitures-saone.fr", "Yann Le Goff", "Chef d'équipe"),
    ("Élec Confluence", "elec-confluence.fr", "Mehdi Amrani", "Électricien"),
]
_FIRST_NAMES = [
    "Marie", "Pierre", "Isabelle", "François", "Nathalie", "Philippe", "Catherine",
    "Michel", "Sylvie", "Alain", "Christine", "Éric", "Valérie", "Thierry", "Céline",
    "Stéphane", "Hélène", "Olivier", "Anne", "Laurent", "Aurélie", "Julien", "Chloé",
]  # fmt: skip
_LAST_NAMES = [
    "Girard", "Rousseau", "Fontaine", "Chevalier", "Lefèvre", "Mercier", "Blanc",
    "Guérin", "Faure", "Boyer", "Garnier", "Perrin", "Roux", "Fournier", "Morin",
    "Gauthier", "Lemaire", "Brun", "Barbier", "Arnaud", "Noël", "Picard", "Renaud",
]  # fmt: skip
_PERSONAL_DOMAINS = ["gmail.com", "orange.fr", "free.fr", "wanadoo.fr", "laposte.net", "sfr.fr"]
_STAFF = [("Camille Roche", "Gestionnaire de copropriété"), ("Antoine Vidal", "Assistant")]
_CONDOMINIUMS = [
    ("Résidence Les Tilleuls", "12 rue des Tilleuls, 69003 Lyon"),
    ("Le Belvédère", "4 montée de la Grande-Côte, 69001 Lyon"),
    ("Les Terrasses du Parc", "87 avenue Jean-Jaurès, 69007 Lyon"),
    ("Villa Saint-Clair", "2 quai Clemenceau, 69300 Caluire"),
]

_SUBJECTS = [
    "Fuite d'eau au plafond du lot {lot}",
    "Devis remplacement de la porte de garage – {condo}",
    "Convocation à l'assemblée générale du {day}",
    "Appel de fonds du {quarter} trimestre",
    "Panne de l'ascenseur bâtiment {building}",
    "Déclaration de sinistre dégât des eaux – lot {lot}",
    "Contrat d'entretien de la chaudière collective",
    "Planning des travaux de ravalement",
    "Nuisances sonores au {floor} étage",
    "Relance : charges impayées lot {lot}",
    "Intervention prévue le {day} – {condo}",
    "Compte rendu de la visite du conseil syndical",
    "Facture n° {invoice} – {condo}",
    "Demande de badge pour le parking",
    "Infiltration en toiture, bâtiment {building}",
]
_SENTENCES = [
    "Suite à notre échange téléphonique de ce matin, je vous confirme notre passage.",
    "Nous avons constaté une fuite importante au niveau de la colonne d'eau chaude.",
    "Le locataire du lot concerné signale des traces d'humidité au plafond de la salle de bains.",
    "Vous trouverez ci-joint notre devis détaillé pour le remplacement des équipements.",
    "Le conseil syndical souhaite obtenir deux devis comparatifs avant toute décision.",
    "L'intervention nécessite l'accès aux parties privatives du troisième étage.",
    "Merci de bien vouloir prévenir les occupants par voie d'affichage dans le hall.",
    "Les travaux pourront débuter dès réception du bon de commande signé.",
    "Conformément au contrat d'entretien, la visite annuelle aura lieu la semaine prochaine.",
    "Le montant des travaux sera réparti selon les tantièmes de charges générales.",
    "Je me permets de vous relancer concernant le règlement de la facture en attente.",
    "L'expert mandaté par l'assurance passera constater les dommages mardi à 14 h.",
    "Pourriez-vous me transmettre le procès-verbal de la dernière assemblée générale ?",
    "La porte du local vélos ne ferme plus correctement depuis plusieurs jours.",
    "Nous vous informons que la coupure d'eau est prévue de 9 h à 12 h.",
    "Le gardien nous a signalé des infiltrations dans le parking au deuxième sous-sol.",
    "Je reste à votre disposition pour tout renseignement complémentaire.",
    "La résolution concernant le ravalement a été adoptée à la majorité de l'article 25.",
    "Les copropriétaires seront convoqués par lettre recommandée avec accusé de réception.",
    "Le devis inclut la dépose de l'ancienne installation et l'évacuation des gravats.",
    "Nous attendons l'accord du syndic pour commander les pièces auprès du fabricant.",
    "Le délai de livraison des pièces est estimé à trois semaines environ.",
    "Une recherche de fuite non destructive sera réalisée par caméra thermique.",
    "Le rapport d'intervention vous sera adressé dans les quarante-huit heures.",
    "Il conviendrait de faire vérifier l'étanchéité de la terrasse avant l'hiver.",
    "Les nuisances se répètent chaque soir après 22 h malgré plusieurs rappels.",
    "Le règlement de copropriété interdit l'entreposage d'objets dans les parties communes.",
    "Je vous remercie de votre réactivité dans le traitement de ce dossier.",
    "La garantie décennale de l'entreprise couvre ce type de désordre.",
    "Nous proposons un créneau d'intervention jeudi entre 8 h 30 et 10 h.",
    "Le fonds de travaux prévu par la loi ALUR pourra financer une partie de l'opération.",
    "Le chauffage collectif sera remis en route à partir du 15 octobre.",
    "Les badges supplémentaires sont facturés 25 euros pièce au copropriétaire demandeur.",
    "Merci de nous indiquer les coordonnées de l'occupant afin de fixer un rendez-vous.",
    "La déclaration de sinistre a bien été enregistrée sous la référence indiquée.",
    "Une seconde relance sera adressée par courrier recommandé à défaut de paiement.",
]
_GREETINGS = ["Bonjour,", "Bonjour Madame,", "Bonjour Monsieur,", "Madame, Monsieur,"]
_CLOSINGS = [
    "Cordialement,",
    "Bien cordialement,",
    "Bonne journée,",
    "Dans l'attente de votre retour, je vous prie d'agréer mes salutations distinguées.",
]
_DISCLAIMER = (
    "Ce message et toutes les pièces jointes sont confidentiels et établis à l'intention "
    "exclusive de ses destinataires. Toute utilisation ou diffusion non autorisée est "
    "interdite. Si vous avez reçu ce message par erreur, merci de le détruire et d'en "
    "avertir immédiatement l'expéditeur. Pensez à l'environnement avant d'imprimer ce courriel."
)
_MAILERS = {
    "outlook": "Microsoft Outlook 16.0",
    "gmail": "",
}
_FRENCH_DAYS = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]
_FRENCH_MONTHS = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
]  # fmt: skip

# Word's HTML: a style sheet Outlook puts in every mail it writes.
_OUTLOOK_HEAD = """<html xmlns:v="urn:schemas-microsoft-com:vml"
xmlns:o="urn:schemas-microsoft-com:office:office"
xmlns:w="urn:schemas-microsoft-com:office:word"
xmlns:m="http://schemas.microsoft.com/office/2004/12/omml"
xmlns="http://www.w3.org/TR/REC-html40">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<meta name="Generator" content="Microsoft Word 15 (filtered medium)">
<style><!--
/* Font Definitions */
@font-face {{font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}}
@font-face {{font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}}
/* Style Definitions */
p.MsoNormal, li.MsoNormal, div.MsoNormal
	{{margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;
	mso-fareast-language:EN-US;}}
a:link, span.MsoHyperlink {{mso-style-priority:99; color:#0563C1; text-decoration:underline;}}
span.EmailStyle17
	{{mso-style-type:personal-compose; font-family:"Calibri",sans-serif; color:windowtext;}}
.MsoChpDefault
	{{mso-style-type:export-only; font-family:"Calibri",sans-serif; mso-fareast-language:EN-US;}}
@page WordSection1 {{size:612.0pt 792.0pt; margin:70.85pt 70.85pt 70.85pt 70.85pt;}}
div.WordSection1 {{page:WordSection1;}}
--></style><!--[if gte mso 9]><xml>
<o:shapedefaults v:ext="edit" spidmax="1026" />
</xml><![endif]--><!--[if gte mso 9]><xml>
<o:shapelayout v:ext="edit">
<o:idmap v:ext="edit" data="1" />
</o:shapelayout></xml><![endif]-->
</head>
<body lang="FR" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">
<div class="WordSection1">
"""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _french_date(moment: datetime) -> str:
    return (
        f"{_FRENCH_DAYS[moment.weekday()]} {moment.day} {_FRENCH_MONTHS[moment.month - 1]} "
        f"{moment.year} à {moment:%H:%M}"
    )


def png_image(rng: random.Random, *, width: int, height: int) -> bytes:
    """A valid RGB PNG of noisy pixels (a logo's worth of compressed bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    palette = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(6)]
    rows = bytearray()
    for _y in range(height):
        rows.append(0)  # filter type: none
        for _x in range(width):
            rows += palette[rng.randrange(len(palette))]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def pdf_document(rng: random.Random, *, title: str, lines: list[str], size: int) -> bytes:
    """A minimal valid PDF (one page of text) padded to about `size` bytes
    with an incompressible embedded-file stream, as scans and generated
    quotes weigh."""
    text_ops = ["BT", "/F1 12 Tf", "72 760 Td", "14 TL"]
    for line in [title, "", *lines]:
        safe = line.encode("latin-1", "replace").decode("latin-1")
        safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({safe}) '")
    text_ops.append("ET")
    content = "\n".join(text_ops).encode("latin-1")
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    padding = rng.randbytes(max(0, size - 1200))
    objects.append(
        b"<< /Type /EmbeddedFile /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream"
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass
class _Thread:
    """A conversation: its subject, its messages so far (for quoting)."""

    subject: str
    condominium: tuple[str, str]
    message_ids: list[str] = field(default_factory=list)
    history: list[tuple[Correspondent, datetime, list[str]]] = field(default_factory=list)


class CorpusGenerator:
    """Builds the messages one at a time; `message(i)` depends only on the
    seed and on the messages before it (threads carry over)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        rng = self.rng
        self.contractors = [
            Correspondent(
                name=f"{person} – {company}",
                address=f"{person.split()[0].lower()}@{domain}",
                signature=f"{person}\n{title}\n{company}\nTél. 04 7{rng.randrange(10)} "
                f"{rng.randrange(10, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)}\n"
                f"www.{domain}",
                kind="contractor",
                style=rng.choice(["outlook", "outlook", "gmail"]),
            )
            for company, domain, person, title in _CONTRACTORS
        ]
        # Each contractor's logo: the same bytes in every mail it signs.
        self.logos = {
            c.address: png_image(rng, width=rng.randrange(90, 180), height=rng.randrange(30, 60))
            for c in self.contractors
        }
        self.owners = []
        for index in range(120):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            local = f"{first}.{last}".lower().replace("é", "e").replace("è", "e")
            local = local.replace("ë", "e").replace("ç", "c") + (str(index) if index > 40 else "")
            self.owners.append(
                Correspondent(
                    name=f"{first} {last}",
                    address=f"{local}@{rng.choice(_PERSONAL_DOMAINS)}",
                    signature=f"{first} {last}\nCopropriétaire, lot {rng.randrange(1, 80)}",
                    kind="council" if index < 10 else "owner",
                    style=rng.choice(["gmail", "gmail", "outlook"]),
                )
            )
        self.staff = [
            Correspondent(
                name=name,
                address=f"{name.split()[0].lower()}.{name.split()[1].lower()}@{AGENCY_DOMAIN}",
                signature=f"{name}\n{title}\nCabinet Lumière – Syndic de copropriété\n"
                "18 rue de la République, 69002 Lyon\nTél. 04 78 00 12 34",
                kind="staff",
                style="outlook",
            )
            for name, title in _STAFF
        ]
        self.shared_documents = [
            pdf_document(
                rng,
                title="Règlement de copropriété",
                lines=[f"Article {n}" for n in range(1, 30)],
                size=rng.randrange(120_000, 280_000),
            )
            for _ in range(3)
        ]
        self.threads: list[_Thread] = []
        self.moment = datetime(2019, 1, 7, 8, 30, tzinfo=UTC)

    # --- Text ---------------------------------------------------------------------

    def _paragraphs(self) -> list[str]:
        rng = self.rng
        return [
            " ".join(rng.sample(_SENTENCES, rng.randrange(2, 5)))
            for _ in range(rng.randrange(3, 8))
        ]

    def _subject(self, condominium: tuple[str, str]) -> str:
        rng = self.rng
        return rng.choice(_SUBJECTS).format(
            lot=rng.randrange(1, 80),
            condo=condominium[0],
            day=f"{rng.randrange(1, 29)} {rng.choice(['mars', 'juin', 'octobre', 'décembre'])}",
            quarter=rng.choice(["1er", "2e", "3e", "4e"]),
            building=rng.choice("ABCD"),
            floor=rng.choice(["2e", "3e", "4e", "5e"]),
            invoice=f"{rng.randrange(2019, 2026)}-{rng.randrange(1, 9999):04d}",
        )

    @staticmethod
    def _text_body(
        greeting: str, paragraphs: list[str], closing: str, sender: Correspondent
    ) -> str:
        lines = [greeting, ""]
        for paragraph in paragraphs:
            lines += [paragraph, ""]
        lines += [closing, "", "-- ", sender.signature]
        if sender.kind in ("contractor", "staff"):
            lines += ["", _DISCLAIMER]
        return "\n".join(lines)

    @staticmethod
    def _quote_text(history: list[tuple[Correspondent, datetime, list[str]]], subject: str) -> str:
        """The quoted history below a reply, newest first, each level quoted once more."""
        blocks = []
        for depth, (author, moment, paragraphs) in enumerate(reversed(history), start=1):
            body = "\n\n".join(paragraphs) + "\n\n" + author.signature
            if author.style == "gmail":
                header = f"Le {_french_date(moment)}, {author.name} <{author.address}> a écrit :"
                prefix = "> " * depth
                quoted = "\n".join(
                    prefix + line if line else prefix.rstrip() for line in body.split("\n")
                )
                blocks.append(f"{header}\n{quoted}")
            else:
                blocks.append(
                    "-----Message d'origine-----\n"
                    f"De : {author.name} <{author.address}>\n"
                    f"Envoyé : {_french_date(moment)}\n"
                    f"À : Cabinet Lumière <gestion@{AGENCY_DOMAIN}>\n"
                    f"Objet : {subject}\n\n{body}"
                )
        return "\n\n".join(blocks)

    def _html_body(
        self,
        *,
        sender: Correspondent,
        greeting: str,
        paragraphs: list[str],
        closing: str,
        history: list[tuple[Correspondent, datetime, list[str]]],
        charset: str,
        logo_cid: str | None,
    ) -> str:
        signature = "<br>\n".join(_escape(line) for line in sender.signature.split("\n"))
        logo = f'<br><img src="cid:{logo_cid}" alt="logo" width="120">' if logo_cid else ""
        if sender.style == "outlook":
            para = "\n".join(
                f'<p class="MsoNormal">{_escape(p)}<o:p></o:p></p>\n'
                '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
                for p in [greeting, *paragraphs, closing]
            )
            quoted = ""
            for author, moment, old in reversed(history):
                quoted += (
                    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm '
                    '0cm 0cm"><p class="MsoNormal"><b>De&nbsp;:</b> '
                    f"{_escape(author.name)} &lt;{author.address}&gt;<br><b>Envoyé&nbsp;:</b> "
                    f"{_french_date(moment)}<br><b>À&nbsp;:</b> Cabinet Lumière<o:p></o:p></p>"
                    "</div>\n"
                    + "\n".join(f'<p class="MsoNormal">{_escape(p)}<o:p></o:p></p>' for p in old)
                )
            disclaimer = (
                f'<p class="MsoNormal"><span style="font-size:8.0pt;color:gray">'
                f"{_escape(_DISCLAIMER)}</span></p>"
                if sender.kind in ("contractor", "staff")
                else ""
            )
            return (
                _OUTLOOK_HEAD.format(charset=charset)
                + para
                + f'\n<p class="MsoNormal"><span style="color:#1F3864">{signature}</span>{logo}'
                "<o:p></o:p></p>\n" + disclaimer + quoted + "\n</div>\n</body>\n</html>\n"
            )
        body = "".join(f"<div>{_escape(p)}</div><div><br></div>" for p in [greeting, *paragraphs])
        body += f"<div>{_escape(closing)}</div><div><br></div>"
        body += (
            '<div><div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">'
            f"{signature}{logo}</div></div>"
        )
        quoted = ""
        for author, moment, old in history:
            inner = "".join(f"<div>{_escape(p)}</div><div><br></div>" for p in old)
            quoted = (
                '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
                f'Le {_french_date(moment)}, {_escape(author.name)} &lt;<a href="mailto:'
                f'{author.address}">{author.address}</a>&gt; a écrit&nbsp;:<br></div>'
                '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
                'border-left:1px solid rgb(204,204,204);padding-left:1ex">'
                f'<div dir="ltr">{inner}{quoted}</div></blockquote></div>'
            )
        return f'<div dir="ltr">{body}</div><br>{quoted}\n'

    # --- Messages -----------------------------------------------------------------

    def _received(self, moment: datetime, sender: Correspondent) -> list[str]:
        rng = self.rng
        domain = sender.address.rpartition("@")[2]
        relay = f"mail-{rng.randrange(1, 60)}.{domain}"
        address = ".".join(str(rng.randrange(1, 223)) for _ in range(4))
        stamp = format_datetime(moment + timedelta(seconds=rng.randrange(1, 20)))
        return [
            f"from mx1.{AGENCY_DOMAIN} (localhost [127.0.0.1]) by mail.{AGENCY_DOMAIN} "
            f"(Postfix) with ESMTP id {rng.getrandbits(40):X} "
            f"for <gestion@{AGENCY_DOMAIN}>; {stamp}",
            f"from {relay} ({relay} [{address}]) by mx1.{AGENCY_DOMAIN} (Postfix) with ESMTPS "
            f"id {rng.getrandbits(40):X} for <gestion@{AGENCY_DOMAIN}>; {stamp}",
        ]

    def message(self, index: int) -> bytes:
        """The bytes of message number `index` (call in order: threads carry over)."""
        rng = self.rng
        self.moment += timedelta(minutes=rng.randrange(5, 600))
        moment = self.moment
        # A reply in an existing thread one time in two.
        thread: _Thread | None = None
        if self.threads and rng.random() < 0.5:
            thread = rng.choice(self.threads[-40:])
        if thread is None:
            condominium = rng.choice(_CONDOMINIUMS)
            thread = _Thread(subject=self._subject(condominium), condominium=condominium)
            self.threads.append(thread)
        pool = rng.random()
        if pool < 0.4:
            sender = rng.choice(self.contractors)
        elif pool < 0.75:
            sender = rng.choice(self.owners)
        else:
            sender = rng.choice(self.staff)
        recipient = (
            rng.choice(self.contractors + self.owners)
            if sender.kind == "staff"
            else Correspondent("Cabinet Lumière", f"gestion@{AGENCY_DOMAIN}", "", "staff", "")
        )
        domain = sender.address.rpartition("@")[2]
        message_id = f"{rng.getrandbits(64):016x}.{index}@{domain}"
        greeting, closing = rng.choice(_GREETINGS), rng.choice(_CLOSINGS)
        paragraphs = self._paragraphs()
        history = thread.history[-6:]
        charset = "windows-1252" if sender.style == "outlook" and rng.random() < 0.2 else "utf-8"

        text = self._text_body(greeting, paragraphs, closing, sender)
        if history:
            text += "\n\n" + self._quote_text(history, thread.subject)
        has_html = rng.random() < 0.85
        logo_cid = None
        if has_html and sender.kind == "contractor" and rng.random() < 0.7:
            logo_cid = f"image001.png@01D{rng.getrandbits(32):08X}"

        message = EmailMessage(policy=_POLICY)
        for line in self._received(moment, sender):
            message["Received"] = line
        if sender.kind == "contractor":
            # A 2048-bit RSA signature, folded at whitespace as signers fold it.
            encoded = b64encode(rng.randbytes(256)).decode()
            signature = " ".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
            message["DKIM-Signature"] = (
                f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=mail; "
                f"h=from:to:subject:date:message-id; bh={b64encode(rng.randbytes(32)).decode()}; "
                f"b={signature}"
            )
        message["From"] = formataddr((sender.name, sender.address))
        message["To"] = formataddr((recipient.name, recipient.address))
        if rng.random() < 0.3:
            council = rng.sample(self.owners[:10], 2)
            message["Cc"] = ", ".join(formataddr((c.name, c.address)) for c in council)
        prefix = "" if not thread.message_ids else rng.choice(["RE: ", "Re: ", "TR: "])
        message["Subject"] = prefix + thread.subject
        message["Date"] = format_datetime(moment.astimezone(_PARIS))
        message["Message-ID"] = f"<{message_id}>"
        if thread.message_ids:
            message["In-Reply-To"] = f"<{thread.message_ids[-1]}>"
            message["References"] = " ".join(f"<{m}>" for m in thread.message_ids[-8:])
        if _MAILERS.get(sender.style):
            message["X-Mailer"] = _MAILERS[sender.style]
        message["Content-Language"] = "fr-FR"

        cte = "quoted-printable" if rng.random() < 0.8 else "base64"
        message.set_content(text, charset=charset, cte=cte)
        if has_html:
            html = self._html_body(
                sender=sender,
                greeting=greeting,
                paragraphs=paragraphs,
                closing=closing,
                history=history,
                charset=charset,
                logo_cid=logo_cid,
            )
            message.add_alternative(html, subtype="html", charset=charset, cte=cte)
            if logo_cid is not None:
                html_part = message.get_payload()[1]  # type: ignore[index]
                html_part.add_related(
                    self.logos[sender.address],
                    maintype="image",
                    subtype="png",
                    cid=f"<{logo_cid}>",
                    filename="image001.png",
                )
        if rng.random() < 0.25:
            if rng.random() < 0.1:
                document = rng.choice(self.shared_documents)
                filename = "Règlement de copropriété.pdf"
            else:
                size = int(15_000 * (8 ** rng.random()))  # log-uniform, 15 to 120 KB
                number = f"{moment.year}-{index:05d}"
                filename = rng.choice(
                    [f"Devis {number}.pdf", f"Facture_{number}.pdf", f"PV constat {number}.pdf"]
                )
                document = pdf_document(rng, title=filename[:-4], lines=paragraphs[:3], size=size)
            message.add_attachment(
                document, maintype="application", subtype="pdf", filename=filename
            )

        thread.message_ids.append(message_id)
        thread.history.append((sender, moment, paragraphs))
        return message.as_bytes()
