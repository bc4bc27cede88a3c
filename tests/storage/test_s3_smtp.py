"""The SMTP receiver on object storage: a message is acknowledged (250) only
once its bytes are in the bucket; while the store is down the receiver
answers 451 and records nothing, so the sending server keeps the message and
retries (RFC 5321 §4.2.5). A real receiver, a real client (swaks), a real
S3-compatible server (moto), stopped and started again."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.installations import free_port
from lanterne.mail.choices import RawState
from lanterne.mail.models import Delivery, RawMessage
from lanterne.mail.sources.smtp import mail_receiver_start

from ..factories import AgencyFactory
from ..mail.test_smtp_receiver import french_message, swaks
from .conftest import HOST, S3Store

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_receiver_answers_451_while_the_store_is_down(
    failing_s3: S3Store, tmp_path: Path
) -> None:
    AgencyFactory.create(
        name="Cabinet Lumière",
        mail_domain="cabinet-lumiere.fr",
        shared_mailbox="gestion@cabinet-lumiere.fr",
    )
    receiver = mail_receiver_start(port=free_port(), host=HOST)
    try:
        failing_s3.server.stop()
        data = french_message()
        sent = swaks(receiver.port, to="gestion@cabinet-lumiere.fr", data=data, tmp_path=tmp_path)
        assert "<** 451 4.3.0" in sent.stdout
        assert "<-  250 2.0.0" not in sent.stdout
        assert not RawMessage.objects.exists()
        assert not Delivery.objects.exists()

        # The store is back: the sender's retry is stored, then acknowledged.
        failing_s3.server.start()
        failing_s3.server.create_bucket(failing_s3.bucket)
        again = swaks(receiver.port, to="gestion@cabinet-lumiere.fr", data=data, tmp_path=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert receiver.receiver.drain(timeout=30), "processing did not finish"
        raw = RawMessage.objects.get()
        assert raw.state == RawState.PARSED
        assert failing_s3.get(failing_s3.key("mail", raw.storage_name)) == data
    finally:
        receiver.stop()
