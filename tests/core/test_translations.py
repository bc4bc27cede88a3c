"""The English catalog: complete, compiled, in step with the code, and used.

French is the source language of the interface (every msgid is French);
lanterne/locale/en/LC_MESSAGES/django.po holds the English. After adding or
changing a translatable string, run `make messages`, translate the new entries
of the .po (empty or "fuzzy" ones), and run `make messages` again to compile.
"""

from __future__ import annotations

import ast
import contextlib
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

LANTERNE_DIR = Path(settings.BASE_DIR)
PO_PATH = LANTERNE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
HOW_TO_FIX = (
    "run `make messages`, translate the new entries of "
    "lanterne/locale/en/LC_MESSAGES/django.po, then run `make messages` again"
)


@pytest.fixture(autouse=True)
def _restore_language():  # type: ignore[no-untyped-def]
    """Requests activate a language on the test's thread; don't leak English."""
    yield
    translation.deactivate()


def gettext_tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: GNU gettext is needed (apt-get install gettext)"
    return path


# --- A tiny .po reader -----------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)


LINE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header and obsolete (#~) entries left out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None

    def finish() -> None:
        if entry is not None and (entry.msgid or entry.msgctxt is not None):
            entries.append(entry)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            finish()
            entry, target = None, None
            continue
        if line.startswith("#"):
            if line.startswith("#,"):
                entry = entry or Entry()
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        entry = entry or Entry()
        match = LINE.match(line)
        if match:
            keyword, index, text = match.groups()
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                entry.msgstr[target[1]] = ""
            else:
                target = (keyword, 0)
                setattr(entry, keyword, "")
            line = text
        elif not line.startswith('"') or target is None:
            raise ValueError(f"{path}:{number}: cannot read {raw!r}")
        value = ast.literal_eval(line)
        if target[0] == "msgstr":
            entry.msgstr[target[1]] += value
        else:
            setattr(entry, target[0], getattr(entry, target[0]) + value)
    finish()
    return entries


@pytest.fixture(scope="module")
def catalog() -> list[Entry]:
    assert PO_PATH.exists(), f"{PO_PATH} is missing: {HOW_TO_FIX}"
    return read_po(PO_PATH)


# --- (a) Complete -----------------------------------------------------------------


def test_the_catalog_is_complete(catalog: list[Entry]) -> None:
    assert len(catalog) > 400
    fuzzy = [entry.msgid for entry in catalog if "fuzzy" in entry.flags]
    untranslated = [
        entry.msgid
        for entry in catalog
        if not entry.msgstr or not all(text.strip() for text in entry.msgstr.values())
    ]
    assert not fuzzy, f"Fuzzy entries ({HOW_TO_FIX}): {fuzzy}"
    assert not untranslated, f"Untranslated entries ({HOW_TO_FIX}): {untranslated}"
    plurals = [entry for entry in catalog if entry.msgid_plural is not None]
    assert plurals and all(sorted(entry.msgstr) == [0, 1] for entry in plurals)


def test_the_catalog_is_valid_english_po() -> None:
    header = PO_PATH.read_text(encoding="utf-8")
    assert '"Language: en\\n"' in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    # --check: the header, and the same placeholders in msgid and msgstr.
    result = subprocess.run(
        [gettext_tool("msgfmt"), "--check", "--statistics", "-o", "/dev/null", str(PO_PATH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr and "untranslated" not in result.stderr, result.stderr


# --- (b) Compiled -----------------------------------------------------------------


def test_the_mo_file_is_compiled_from_the_po_file(tmp_path: Path) -> None:
    assert MO_PATH.exists(), f"{MO_PATH} is missing: run `make messages`"
    fresh = tmp_path / "django.mo"
    subprocess.run(
        [gettext_tool("msgfmt"), "--check", "-o", str(fresh), str(PO_PATH)],
        check=True,
        capture_output=True,
    )
    with MO_PATH.open("rb") as committed, fresh.open("rb") as compiled:
        committed_catalog = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
        compiled_catalog = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
    assert committed_catalog == compiled_catalog, (
        "django.mo is older than django.po: run `make messages`"
    )


# --- (c) In step with the code ------------------------------------------------------


def test_every_translatable_string_is_in_the_catalog(catalog: list[Entry], tmp_path: Path) -> None:
    """Extract the msgids again, the way `make messages` does, from a copy of
    lanterne/ with an empty locale folder, and compare them with the catalog's."""
    gettext_tool("xgettext")
    copy = tmp_path / "lanterne"
    shutil.copytree(
        LANTERNE_DIR, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "*.pyc")
    )
    (copy / "locale").mkdir()
    with override_settings(LOCALE_PATHS=[]), contextlib.chdir(copy):
        call_command(
            "makemessages",
            locale=["en"],
            ignore_patterns=["migrations/*"],
            no_obsolete=True,
            verbosity=0,
        )
    extracted = {entry.key for entry in read_po(copy / "locale/en/LC_MESSAGES/django.po")}
    in_catalog = {entry.key for entry in catalog}
    missing = sorted(key[1] for key in extracted - in_catalog)
    stale = sorted(key[1] for key in in_catalog - extracted)
    assert not missing, f"Strings missing from the English catalog ({HOW_TO_FIX}): {missing}"
    assert not stale, f"Entries no longer in the code ({HOW_TO_FIX}): {stale}"


# --- (d) Used -----------------------------------------------------------------------


class TextCollector(HTMLParser):
    """The text a person reads or hears: text nodes and labelling attributes."""

    ATTRIBUTES = {"aria-label", "title", "placeholder", "alt"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if name in self.ATTRIBUTES and value:
                self.texts.add(" ".join(value.split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skip:
            self.texts.add(text)


def page_texts(html: str) -> set[str]:
    collector = TextCollector()
    collector.feed(html)
    return collector.texts


def french_labels(catalog: list[Entry]) -> set[str]:
    """The French source strings that English replaces."""
    labels: set[str] = set()
    for entry in catalog:
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        labels.update(text for text in sources if text not in entry.msgstr.values())
    return labels


def get_english(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    return response.content.decode()


def test_pages_are_in_french_without_a_language_preference(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(reverse("accounts:login"))
    body = response.content.decode()
    assert response.headers["Content-Language"] == "fr"
    assert '<html lang="fr">' in body
    assert "Se connecter" in body and "Mot de passe oublié ?" in body
    assert "Log in" not in body


def test_the_login_page_in_english(world, catalog: list[Entry]) -> None:  # type: ignore[no-untyped-def]
    client = Client(headers={"accept-language": "en"})
    body = get_english(client, reverse("accounts:login"))
    assert '<html lang="en">' in body
    for text in ("Log in", "Email address", "Password", "Forgotten your password?"):
        assert text in body
    assert not page_texts(body) & french_labels(catalog)


def test_owner_pages_in_english_after_choosing_english(  # type: ignore[no-untyped-def]
    world, client_for, catalog: list[Entry]
) -> None:
    client = client_for("owner_party")
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    french = french_labels(catalog)

    home = get_english(client, reverse("home"))
    for text in ("Home", "My cases", "Condominiums", "Log out", "Water damage / leak", "Reported"):
        assert text in home
    leftovers = page_texts(home) & french
    assert not leftovers, f"French left on the home page: {leftovers}"

    dossier = get_english(client, reverse("dossiers:detail", args=[world.dossier.pk]))
    for text in ("Timeline", "About the case", "Opened on", "Units", "Log out"):
        assert text in dossier
    for text in ("Chronologie", "Ouvert le", "Se déconnecter", "Déclaré", "Dégât des eaux"):
        assert text not in dossier
    leftovers = page_texts(dossier) & french
    assert not leftovers, f"French left on the dossier page: {leftovers}"

    # The choice sticks: a fresh client with the same cookies stays in English.
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_staff_dossier_page_in_english(world, client_for, catalog: list[Entry]) -> None:  # type: ignore[no-untyped-def]
    """Staff see the forms and every choice list: all of it in English."""
    client = client_for("staff")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    dossier = get_english(client, reverse("dossiers:detail", args=[world.dossier.pk]))
    # The forms come when their panel opens: each from its own address.
    forms = "".join(
        get_english(client, reverse(f"dossiers:{name}", args=[world.dossier.pk]))
        for name in ("note_create", "task_create", "decision_create", "document_create")
    ) + get_english(client, reverse("dossiers:status_change", args=[world.dossier.pk]))
    for text in ("Add to the case", "Change the status", "Open the form"):
        assert text in dossier
    assert "Property manager" in forms and "Agency only" in forms
    for page, name in ((dossier, "dossier page"), (forms, "dossier's forms")):
        leftovers = page_texts(page) & french_labels(catalog)
        assert not leftovers, f"French left on the staff {name}: {leftovers}"
