"""`lanterne receive-mail`: run the SMTP (or LMTP) receiver until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.mail.sources.smtp import mail_receiver_start


class Command(BaseCommand):
    help = (
        "Receive the agencies' mail over SMTP (or LMTP with --lmtp) on a local port: "
        "each message is stored before it is acknowledged, then parsed. "
        "Stop with Ctrl-C or SIGTERM."
    )
    # `stop_event` (a threading.Event) lets a caller other than a terminal stop
    # the command: `call_command("receive-mail", port=…, stop_event=event)`.
    stealth_options = ("stop_event",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="Port to listen on")
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)"
        )
        parser.add_argument(
            "--lmtp", action="store_true", help="Speak LMTP (RFC 2033) instead of SMTP"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop_event: threading.Event = options.get("stop_event") or threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda _signum, _frame: stop_event.set())
        if options["verbosity"] < 2:
            # aiosmtpd logs every command of every session at INFO ("mail.log");
            # -v 2 shows the conversations.
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        protocol = "LMTP" if options["lmtp"] else "SMTP"
        try:
            controller = mail_receiver_start(
                port=options["port"], host=options["host"], lmtp=options["lmtp"]
            )
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {error}"
            ) from error
        self.stdout.write(f"Receiving mail over {protocol} on {options['host']}:{options['port']}.")
        self.stdout.flush()
        try:
            stop_event.wait()
        finally:
            self.stdout.write("Stopping: finishing the messages under way…")
            controller.stop()
            self.stdout.write("Stopped.")
