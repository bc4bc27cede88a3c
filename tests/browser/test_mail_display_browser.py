"""Mail in the timeline, in a real browser (Debian's chromium): what only a
browser can tell — folded parts open on a click, the sandboxed HTML version
shows its inline images through the policy-checked URL and runs nothing.
The rest of the display is in tests/mail/test_display.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from lanterne.dossiers import policy
from lanterne.mail import publication
from lanterne.mail.models import Message

from ..mail.test_display import QUOTED, filed_reply
from .conftest import login

pytestmark = pytest.mark.django_db


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_co_owner_reads_a_mail_in_the_browser(world, page: Page) -> None:  # type: ignore[no-untyped-def]
    """Folded parts open on a click; the HTML version shows its inline image
    through the policy-checked URL; and even HTML the sanitiser would have
    let through by mistake runs nothing in the sandboxed frame."""
    message = filed_reply(world)
    # Outside the staff, the HTML version (which cannot be masked) is shown
    # only once staff unmasked the mail.
    publication.message_unmask(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        message=message,
        reason="Le plombier accepte que ses coordonnées soient montrées",
    )
    # A sanitiser bug, simulated: a script and an event handler stored as if
    # they had survived. The frame's sandbox and CSP must still stop them.
    Message.objects.filter(pk=message.pk).update(
        html=message.html
        + '<script>parent.document.title="pirate";</script>'
        + '<img src="/inexistante.png" onerror="parent.document.title=\'pirate\'">'
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, world.users["owner_party"].email)
    page.goto(reverse("dossiers:detail", args=[world.dossier.pk]))
    mail = page.locator(f"#courriel-{message.pk}")
    expect(mail.get_by_text("Nous passerons jeudi 5 mars")).to_be_visible()
    history = mail.get_by_text(QUOTED)
    expect(history).to_be_hidden()
    mail.get_by_text("Historique cité").click()
    expect(history).to_be_visible()

    mail.get_by_text("Version mise en forme", exact=True).click()
    frame = page.frame_locator(f"#courriel-{message.pk} iframe")
    photo = frame.get_by_alt_text("Photo de la fuite")
    expect(photo).to_be_visible()
    expect(frame.get_by_text("Voir le devis en ligne")).to_be_visible()
    page.wait_for_function(
        """(pk) => {
            const frame = document.querySelector(`#courriel-${pk} iframe`);
            const image = frame.contentDocument.querySelector('img[alt="Photo de la fuite"]');
            return image && image.complete && image.naturalWidth === 40;
        }""",
        arg=message.pk,
    )
    page.wait_for_timeout(300)
    assert page.title() != "pirate"
    assert dialogs == []
