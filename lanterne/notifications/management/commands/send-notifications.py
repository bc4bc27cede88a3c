"""`lanterne send-notifications`: send the immediate notifications still pending."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lanterne.notifications.services import NotificationSendError, notifications_send


class Command(BaseCommand):
    help = (
        "Send the immediate notification mails still waiting (left by a crash or a mail "
        "server that was down). Safe to run twice, or from cron every few minutes."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = notifications_send()
        except NotificationSendError as error:
            raise CommandError(f"The mail server could not be reached: {error}") from error
        self.stdout.write(
            f"{report.sent} notifications sent, {report.dropped} dropped, "
            f"{report.failed} failed ({report.retried} to retry)."
        )
        for failure in report.errors:
            self.stderr.write(failure)
