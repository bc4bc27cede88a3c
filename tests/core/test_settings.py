"""The settings read from the environment, and the `lanterne` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LANTERNE = Path(sys.executable).with_name("lanterne")


def run_lanterne(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LANTERNE_", "DJANGO_"))}
    base.pop("DATABASE_URL", None)
    base.update({"LANTERNE_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [str(LANTERNE), *args], capture_output=True, text=True, env=base, check=False, timeout=120
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = run_lanterne("check", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "LANTERNE_SECRET_KEY is required" in result.stderr


def test_production_starts_with_a_secret_key_and_debug_off(tmp_path: Path) -> None:
    result = run_lanterne(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.DATA_DIR)",
        tmp_path=tmp_path,
        LANTERNE_SECRET_KEY="x" * 50,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["False", str((tmp_path / "data").resolve())]


def test_demo_keeps_all_state_in_the_data_folder(tmp_path: Path) -> None:
    result = run_lanterne("migrate", "--verbosity", "0", tmp_path=tmp_path, LANTERNE_MODE="demo")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "lanterne.sqlite3").exists()


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    result = run_lanterne(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])",
        tmp_path=tmp_path,
        LANTERNE_MODE="demo",
        DATABASE_URL="postgres://u@db.example:5432/lanterne",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "django.db.backends.postgresql"


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, "django.core.mail.backends.filebased.EmailBackend"),
        ({"LANTERNE_SMTP_HOST": "smtp.example"}, "django.core.mail.backends.smtp.EmailBackend"),
        (
            {"LANTERNE_MAILGUN_API_KEY": "key-1", "LANTERNE_MAILGUN_SENDER_DOMAIN": "mg.example"},
            "anymail.backends.mailgun.EmailBackend",
        ),
    ],
)
def test_outgoing_mail_goes_through_smtp_or_a_provider(
    tmp_path: Path, env: dict[str, str], backend: str
) -> None:
    result = run_lanterne(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, settings.ANYMAIL.get('MAILGUN_SENDER_DOMAIN', '-'))",
        tmp_path=tmp_path,
        LANTERNE_MODE="demo",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        backend,
        env.get("LANTERNE_MAILGUN_SENDER_DOMAIN", "-"),
    ]


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    result = run_lanterne("check", tmp_path=tmp_path, LANTERNE_MODE="prod")
    assert result.returncode != 0
    assert "LANTERNE_MODE must be" in result.stderr


@pytest.mark.parametrize("command", ["create-agency", "import-csv", "load-demo", "migrate"])
def test_the_console_script_lists_lanternes_commands(tmp_path: Path, command: str) -> None:
    result = run_lanterne("help", tmp_path=tmp_path, LANTERNE_MODE="demo")
    assert result.returncode == 0, result.stderr
    assert command in result.stdout.split()
