"""Run inside a test installation (`python -m tests.tasks.installation_script
…` with its environment): stores mail and enqueues tasks the way Lanterne's
sources do, and prints what it did as JSON on its last line.

    store MESSAGES          store MESSAGES distinct messages, print their raw ids
    enqueue-ingest IDS...   enqueue their processing in overlapping batches
    enqueue-failing REASON  enqueue `failing.always_fails`, print the task id"""

from __future__ import annotations

import json
import sys
from email.message import EmailMessage
from email.utils import format_datetime

import django

AGENCY_NAME = "Cabinet Lumière"
AGENCY_DOMAIN = "cabinet-lumiere.fr"
# Each raw message is enqueued in two batches, the second shifted by half a
# batch: two workers meet the same messages at the same time.
BATCH = 10


def message_bytes(number: int) -> bytes:
    """A distinct, ordinary French message from a contractor."""
    import datetime as dt

    message = EmailMessage()
    message["From"] = f"Artisan {number} <artisan{number}@plomberie-martin.example>"
    message["To"] = f"gestion@{AGENCY_DOMAIN}"
    message["Subject"] = f"Devis n° {number} : fuite dans l’escalier B"
    message["Message-ID"] = f"<devis-{number}@plomberie-martin.example>"
    message["Date"] = format_datetime(
        dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=number)
    )
    message.set_content(
        f"Bonjour,\n\nVeuillez trouver notre devis n° {number} pour la reprise de la "
        "fuite au 3e étage.\n\nCordialement,\nJean Martin\n"
    )
    return message.as_bytes()


def store(count: int) -> dict[str, object]:
    from lanterne.condominiums.models import Agency
    from lanterne.mail.services import mail_receive

    agency, _created = Agency.objects.get_or_create(
        name=AGENCY_NAME, defaults={"mail_domain": AGENCY_DOMAIN}
    )
    raw_ids = [
        mail_receive(agency=agency, data=message_bytes(number)).raw.pk for number in range(count)
    ]
    return {"raw_ids": raw_ids}


def enqueue_ingest(raw_ids: list[int]) -> dict[str, object]:
    from lanterne.mail.tasks import raw_messages_ingest_enqueue

    batches = [raw_ids[start : start + BATCH] for start in range(0, len(raw_ids), BATCH)]
    half = BATCH // 2
    batches += [raw_ids[start : start + BATCH] for start in range(half, len(raw_ids), BATCH)]
    for batch in batches:
        raw_messages_ingest_enqueue(batch)
    return {"batches": len(batches)}


def enqueue_failing(reason: str) -> dict[str, object]:
    from .failing import always_fails

    return {"task_id": always_fails.enqueue(reason).id}


def main(arguments: list[str]) -> None:
    django.setup()
    command, *rest = arguments
    if command == "store":
        result = store(int(rest[0]))
    elif command == "enqueue-ingest":
        result = enqueue_ingest([int(item) for item in rest])
    elif command == "enqueue-failing":
        result = enqueue_failing(rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
