"""The `lanterne` console script: Django's management commands, like manage.py."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a management command (`lanterne migrate`, `lanterne create-agency`, …)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lanterne.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
