"""The automatic file stage of the mail pipeline: decide, for one parsed and
threaded message, which dossier it goes into and why — or that it waits in
the triage inbox with ranked suggestions (issue 4, items 2, 5, 6).

`message_autofile` tries, in this order, and stops at the first that decides:

1. **A forward by staff** to the agency's own mailbox (`forwarding`): the
   original it carries (attached, or rebuilt from an inline forward) is taken
   in as a message of its own and filed on its own evidence — or where the
   manager pointed by forwarding it with a dossier reference — and the
   wrapper joins the original's conversation and follows it, internal. The
   timeline thus shows the original's sender, date, text and attachments. A
   forward that cannot be read is filed like any other message.
2. **A bounce** is linked to the message that bounced (`Message.bounce_of`,
   found by the Message-ID the parser read in it; when the bounce comes
   first, the message links it on arrival) and joins its conversation; it
   is filed into that message's dossier, with method "thread".
3. **References** Lanterne controls (`references.reference_matches`): one
   certain dossier → "reference". Several different certain dossiers, or a
   subject tag alone from a sender who does not take part in that dossier →
   triage, with those dossiers suggested first (an uncertain tag files only
   when the conversation already is in that very dossier).
4. **The conversation**: another message of the same `Thread` is in a
   dossier → "thread". Two dossiers → triage, both suggested.
5. **Rules** staff wrote (`filing.rules_apply`): a dossier → "rule", with
   the rule's audience; "not dossier-related" → so marked; a condominium
   alone narrows the suggestions to it. A rule's audience without a dossier
   applies wherever this stage files the message.
6. **Learned suggestions** (`suggest.message_suggestions`): the best one at
   or above `AUTO_FILE_THRESHOLD` → "suggestion", with its score and reason.
7. Otherwise **triage**: the ranked suggestions (at most three: the
   reference and conversation candidates first, then the learned ones) are
   stored in `Message.suggestions` for the triage inbox and
   `export-messages`, so that neither recomputes them.

Machine mail (auto-replies, bounces, bulk — `filing.is_machine_mail`) and
Lanterne's own notifications are *quiet*: filed only by a bounce link, a
certain reference, the conversation or a rule, always internal (`message_file`
enforces it), never by a learned suggestion (their text says nothing about a
dossier), never changing a dossier's status, and `FilingOutcome.quiet` tells
the notification stage (issue 5) to stay silent about them. Decisions for
those that nothing files:

- *Bulk mail* (newsletters, mass mailings) outside any conversation is
  marked "not dossier-related" (method "rule", with a reason saying it was
  this stage): a manager would otherwise clear the same newsletters from
  triage every week. A staff rule or a reference still files one that
  matters; a manager can still file it by hand.
- *Lanterne's notifications* coming back (a copy in a Sent folder) are
  marked "not dossier-related" at once: they repeat an event the dossier's
  timeline already shows.
- *Auto-replies and bounces* that nothing links wait in triage (without
  learned suggestions): an out-of-office may say who replaces a contractor,
  a bounce that an address is wrong — staff should see them, and there are
  few of them.

What the stage never does: move a message that is already in a dossier or
was said to concern none (by a person or otherwise) — running it again is
harmless, and re-filing is a person's decision; file across agencies (every
candidate is of the message's agency, and `message_file` refuses the rest);
write the filing fields itself (`filing.message_file` and
`filing.message_mark_not_dossier_related` do, with the audit log).

Cost: a constant number of queries per message (about ten for a message
that goes to triage; filing adds those of `message_file`), whatever the size
of the agency's mail, its conversations or its dossiers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from lanterne.condominiums.models import Agency
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer

from .choices import Direction
from .filing import (
    active_rules,
    is_machine_mail,
    message_file,
    message_mark_not_dossier_related,
    rules_apply,
)
from .forwarding import forwarded_originals, ingest_original, is_staff_forward, staff_addresses
from .models import FilingMethod, MailRule, Message
from .references import ReferenceChannel, ReferenceMatch, reference_matches
from .suggest_text import PreparedText
from .threads import _threads_merge

__all__ = ["TRIAGE_SUGGESTIONS", "FilingOutcome", "message_autofile", "messages_autofile"]

logger = logging.getLogger(__name__)

# Suggestions kept for the triage inbox.
TRIAGE_SUGGESTIONS = 3
# Learned suggestions asked for when a rule narrows them to one condominium:
# enough that the condominium's dossiers are among them.
NARROWED_CANDIDATES = 20
# Forwards of forwards are followed this deep, no further.
MAX_FORWARD_DEPTH = 3
# The batch file stage scores the learned suggestions of consecutive
# messages together, by runs of up to this many (cheaper per message the
# longer the run). A run grows while none of its suggestions is sure
# enough to file, and starts small again after one was: a filing may change
# the model, and what was scored for the rest of the run is then scored again.
SUGGESTION_RUN_MIN = 4
SUGGESTION_RUN_MAX = 64

# The filing state `message_autofile` reloads before deciding anything.
_STATE_FIELDS = (
    "dossier_id",
    "not_dossier_related",
    "filing_method",
    "filing_score",
    "filing_reason",
    "thread_id",
    "suggestions",
    "bounce_of_id",
    "forwarded_message_id",
)


@dataclass(frozen=True)
class FilingOutcome:
    """What the file stage did with one message.

    `method` is NONE when the message waits in triage (its suggestions are
    then in `Message.suggestions`). `quiet` marks machine mail and Lanterne's
    own notifications: whatever happened, nobody is to be notified and no
    dossier reopened because of it. `original` is, for a forward by staff,
    the original message filed in its place."""

    method: FilingMethod
    dossier: Dossier | None
    reason: str
    quiet: bool = False
    not_dossier_related: bool = False
    score: float | None = None
    original: Message | None = None


@dataclass(frozen=True)
class _Candidate:
    """A dossier to suggest in triage, and why."""

    dossier: Dossier
    score: float | None  # a learned probability; None for references and conversations
    reason: str

    def stored(self) -> dict[str, Any]:
        return {
            "dossier_id": self.dossier.pk,
            "reference": self.dossier.reference,
            "score": self.score,
            "reason": self.reason,
        }


def _describe(message: Message) -> str:
    """« subject » (sender), as `filing` writes it in reasons."""
    subject = " ".join(message.subject.split())[:120] or "(sans objet)"
    sender = message.from_name or message.from_address or "expéditeur inconnu"
    return f"« {subject} » ({sender})"


def _is_quiet(message: Message) -> bool:
    return is_machine_mail(message) or message.is_lanterne_notification


def message_autofile(message: Message, *, envelope_recipients: Iterable[str] = ()) -> FilingOutcome:
    """File `message` automatically if something says where with enough
    certainty, else leave it in triage with its ranked suggestions stored;
    see the module's docstring for the order and the rules.

    `message` must be parsed and threaded (the thread stage ran).
    `envelope_recipients` are the RCPT TO addresses of its delivery, when
    known: a reply address with a dossier token may be only there (Bcc).

    Idempotent: a message already in a dossier, or said to concern none, is
    left as it is and its current filing returned; a message in triage is
    decided again (its suggestions refreshed). Runs in one transaction; a
    forward that cannot be read never fails it (the wrapper is filed as an
    ordinary message), but a failure of the database does."""
    return _autofile(message, envelope_recipients=tuple(envelope_recipients), depth=0)


@transaction.atomic
def _autofile(message: Message, *, envelope_recipients: Sequence[str], depth: int) -> FilingOutcome:
    _state_reload(message)
    quiet = _is_quiet(message)
    if message.direction == Direction.OUTBOUND:
        _bounces_attach(message)
    if message.dossier_id is not None or message.not_dossier_related:
        return _settled(message, quiet=quiet)
    agency = message.agency
    stage = _Stage(message=message, agency=agency, quiet=quiet)

    if message.is_lanterne_notification:
        return stage.mark_unrelated(
            "Notification envoyée par Lanterne : elle reprend un événement que la "
            "chronologie du dossier montre déjà."
        )
    if not quiet and depth < MAX_FORWARD_DEPTH:
        outcome = _forward_file(stage, envelope_recipients=envelope_recipients, depth=depth)
        if outcome is not None:
            return outcome
    if message.is_bounce:
        outcome = _bounce_file(stage)
        if outcome is not None:
            return outcome

    rule = rules_apply(message)
    if rule is not None and rule.dossier_id is None:
        stage.audience = rule.audience or None

    # References.
    matches = reference_matches(agency, message, envelope_recipients=envelope_recipients)
    certain = _distinct(match for match in matches if match.certain)
    if len(certain) == 1:
        match = certain[0]
        return stage.file(match.dossier, FilingMethod.REFERENCE, _reference_reason(match))
    if len(certain) > 1:
        references = ", ".join(match.dossier.reference for match in certain)
        for match in certain:
            stage.suggest(
                match.dossier,
                None,
                f"Le courriel porte une référence de ce dossier ({references} : "
                "plusieurs dossiers désignés).",
            )
        return stage.triage(
            f"Les références du courriel désignent plusieurs dossiers : {references}."
        )
    uncertain = _distinct(match for match in matches if not match.certain)

    # The conversation.
    thread_dossiers, mate = _thread_state(message)
    if len(thread_dossiers) == 1 and mate is not None:
        dossier = thread_dossiers[0]
        if not uncertain or any(match.dossier.pk == dossier.pk for match in uncertain):
            return stage.file(
                dossier, FilingMethod.THREAD, f"Même conversation que {_describe(mate)}"
            )
    for match in uncertain:
        stage.suggest(
            match.dossier,
            None,
            f"L'objet porte la référence {match.evidence}, mais l'expéditeur ne participe "
            "pas à ce dossier : à vérifier.",
        )
    for dossier in thread_dossiers:
        stage.suggest(
            dossier, None, "Un autre courriel de la même conversation est dans ce dossier."
        )
    if uncertain:
        return stage.triage(
            "Référence dans l'objet d'un expéditeur qui ne participe pas au dossier : à vérifier."
        )
    if len(thread_dossiers) > 1:
        return stage.triage("La conversation est classée dans plusieurs dossiers.")

    # Rules.
    narrowing: MailRule | None = None
    if rule is not None:
        if rule.not_dossier_related:
            return stage.mark_unrelated(f"Règle « {rule.name} » : sans rapport avec un dossier.")
        target = rule.dossier if rule.dossier_id is not None else None
        if target is not None and target.agency_id == agency.pk:
            stage.audience = rule.audience or None
            return stage.file(target, FilingMethod.RULE, f"Règle « {rule.name} ».")
        if rule.condominium_id is not None:
            narrowing = rule

    if quiet:
        if message.is_bulk:
            return stage.mark_unrelated(
                "Envoi en nombre (lettre d'information, publicité) qu'aucune conversation, "
                "référence ni règle ne rattache à un dossier."
            )
        return stage.triage("Courriel automatique qu'aucune conversation ni référence ne rattache.")

    # Learned suggestions.
    condominium_id = narrowing.condominium_id if narrowing is not None else None
    for suggestion in _learned(message, condominium_id=condominium_id):
        stage.suggest(suggestion.dossier, suggestion.score, suggestion.reason)
    best = stage.best_learned()
    if best is not None and best.score is not None and _is_sure(best.score):
        return stage.file(best.dossier, FilingMethod.SUGGESTION, best.reason, score=best.score)
    if narrowing is not None:
        return stage.triage(
            f"Règle « {narrowing.name} » : suggestions limitées à sa copropriété, "
            "aucune assez sûre."
        )
    return stage.triage("Aucune référence, conversation, règle ni suggestion assez sûre.")


# ---------------------------------------------------------------------------
# The decision being made


class _Stage:
    """One message being decided: files it, marks it, or leaves it in triage
    with the candidates gathered on the way."""

    def __init__(self, *, message: Message, agency: Agency, quiet: bool) -> None:
        self.message = message
        self.agency = agency
        self.quiet = quiet
        self.viewer = Viewer.system(agency.pk)
        self.audience: str | None = None
        self.candidates: list[_Candidate] = []

    def suggest(self, dossier: Dossier, score: float | None, reason: str) -> None:
        """Add a triage candidate (never one of another agency; each dossier once)."""
        if dossier.agency_id != self.agency.pk:
            return
        if any(item.dossier.pk == dossier.pk for item in self.candidates):
            return
        self.candidates.append(_Candidate(dossier=dossier, score=score, reason=reason))

    def best_learned(self) -> _Candidate | None:
        return next((item for item in self.candidates if item.score is not None), None)

    def suggestions_store(self, items: list[dict[str, Any]]) -> None:
        if self.message.suggestions != items:
            Message.objects.filter(pk=self.message.pk).update(suggestions=items)
            self.message.suggestions = items

    def file(
        self, dossier: Dossier, method: FilingMethod, reason: str, *, score: float | None = None
    ) -> FilingOutcome:
        message_file(
            viewer=self.viewer,
            actor=None,
            message=self.message,
            dossier=dossier,
            method=method,
            score=score,
            reason=reason,
            audience=self.audience,
        )
        self.suggestions_store([])
        return FilingOutcome(
            method=method, dossier=dossier, reason=reason, quiet=self.quiet, score=score
        )

    def mark_unrelated(self, reason: str) -> FilingOutcome:
        message_mark_not_dossier_related(
            viewer=self.viewer,
            actor=None,
            message=self.message,
            method=FilingMethod.RULE,
            reason=reason,
        )
        self.suggestions_store([])
        return FilingOutcome(
            method=FilingMethod.RULE,
            dossier=None,
            reason=reason,
            quiet=self.quiet,
            not_dossier_related=True,
        )

    def triage(self, reason: str) -> FilingOutcome:
        self.suggestions_store([item.stored() for item in self.candidates[:TRIAGE_SUGGESTIONS]])
        return FilingOutcome(
            method=FilingMethod.NONE, dossier=None, reason=reason, quiet=self.quiet
        )


def _state_reload(message: Message) -> None:
    """Reload what earlier runs, staff or the thread stage may have changed
    since `message` was read (one query)."""
    _states_reload([message])


def _settled(message: Message, *, quiet: bool) -> FilingOutcome:
    """The filing a message already has."""
    dossier = (
        Dossier.objects.filter(pk=message.dossier_id).first()
        if message.dossier_id is not None
        else None
    )
    return FilingOutcome(
        method=FilingMethod(message.filing_method),
        dossier=dossier,
        reason=message.filing_reason,
        quiet=quiet,
        not_dossier_related=message.not_dossier_related,
        score=message.filing_score,
    )


def _distinct(matches: Iterable[ReferenceMatch]) -> list[ReferenceMatch]:
    """The first match of each dossier, in order."""
    seen: set[int] = set()
    kept: list[ReferenceMatch] = []
    for match in matches:
        if match.dossier.pk not in seen:
            seen.add(match.dossier.pk)
            kept.append(match)
    return kept


def _reference_reason(match: ReferenceMatch) -> str:
    reference = match.dossier.reference
    if match.channel == ReferenceChannel.MESSAGE_ID:
        return f"Réponse à un courriel envoyé depuis le dossier {reference} (identifiant signé)."
    if match.channel == ReferenceChannel.REPLY_ADDRESS:
        return f"Envoyé à l'adresse de réponse du dossier {reference} (adresse signée)."
    return (
        f"L'objet porte la référence {match.evidence} et l'expéditeur participe au dossier "
        f"{reference}."
    )


# ---------------------------------------------------------------------------
# Conversations


def _thread_state(message: Message) -> tuple[list[Dossier], Message | None]:
    """The dossiers the rest of the message's conversation is in (at most
    two: one is a decision, two a conflict), and, when there is one, its
    latest message there (for the reason). Two queries at most."""
    if message.thread_id is None:
        return [], None
    filed = Message.objects.filter(
        agency_id=message.agency_id, thread_id=message.thread_id, dossier__isnull=False
    ).exclude(pk=message.pk)
    dossier_ids = list(filed.order_by().values_list("dossier_id", flat=True).distinct()[:2])
    if not dossier_ids:
        return [], None
    if len(dossier_ids) > 1:
        found = Dossier.objects.in_bulk(dossier_ids)
        return [found[pk] for pk in dossier_ids if pk in found], None
    mate = (
        filed.select_related("dossier")
        .only("pk", "subject", "from_name", "from_address", "dossier")
        .order_by("-date", "-pk")
        .first()
    )
    if mate is None or mate.dossier is None:
        return [], None
    return [mate.dossier], mate


def _threads_join(message: Message, other: Message) -> None:
    """Make `message` and `other` one conversation (the thread stage's own
    merge: messages and Message-ID links move to the older thread), so that
    filing either later files both."""
    if other.thread_id is None or other.thread_id == message.thread_id:
        return
    if message.thread_id is None:
        Message.objects.filter(pk=message.pk).update(thread_id=other.thread_id)
        message.thread_id = other.thread_id
        return
    keeper = _threads_merge(
        agency_id=message.agency_id, thread_ids={message.thread_id, other.thread_id}
    )
    if keeper is not None:
        message.thread_id = other.thread_id = keeper.pk


# ---------------------------------------------------------------------------
# Bounces


def _bounce_file(stage: _Stage) -> FilingOutcome | None:
    """Link a bounce to the message that bounced (same agency, by the
    Message-ID read in the bounce) and put it in that message's
    conversation; file it into that message's dossier when it has one.
    Otherwise the conversation stage decides (the thread may be filed)."""
    message = stage.message
    bounced: Message | None = None
    if message.bounce_of_id is not None:
        bounced = Message.objects.filter(pk=message.bounce_of_id).select_related("dossier").first()
    elif message.bounced_message_id:
        bounced = (
            Message.objects.filter(
                agency_id=message.agency_id, message_id=message.bounced_message_id
            )
            .exclude(pk=message.pk)
            .select_related("dossier")
            .first()
        )
        if bounced is not None:
            Message.objects.filter(pk=message.pk).update(bounce_of=bounced)
            message.bounce_of_id = bounced.pk
    if bounced is None:
        return None
    _threads_join(message, bounced)
    if bounced.dossier is None:
        return None
    return stage.file(
        bounced.dossier,
        FilingMethod.THREAD,
        f"Échec de remise de {_describe(bounced)} : classé avec ce courriel.",
    )


def _bounces_attach(message: Message) -> None:
    """Bounces that arrived before the message that bounced (a Sent folder
    imported after the inbox): link them to it now and put them in its
    conversation, so they follow it into its dossier. One query when there
    are none; only sent mail can bounce."""
    waiting = list(
        Message.objects.filter(
            agency_id=message.agency_id,
            is_bounce=True,
            bounced_message_id=message.message_id,
            bounce_of__isnull=True,
        )
        # Implies the condition of the partial index `message_bounced_id`.
        .exclude(bounced_message_id="")
        .exclude(pk=message.pk)
        .only("pk", "thread_id", "agency_id")
    )
    if not waiting:
        return
    Message.objects.filter(pk__in=[bounce.pk for bounce in waiting]).update(bounce_of=message)
    for bounce in waiting:
        _threads_join(message, bounce)


# ---------------------------------------------------------------------------
# Forwards by staff


def _forward_file(
    stage: _Stage, *, envelope_recipients: Sequence[str], depth: int
) -> FilingOutcome | None:
    """File the original a staff member forwarded in place of the forward,
    and the forward with it (see the module's docstring). None when
    `stage.message` is no such forward, or carries no original that can be
    read: the caller then files it as an ordinary message."""
    wrapper, agency = stage.message, stage.agency
    if wrapper.forwarded_message_id is not None:
        original = Message.objects.filter(pk=wrapper.forwarded_message_id).first()
        if original is None:
            return None
    else:
        if not is_staff_forward(wrapper, agency):
            return None
        try:
            # A savepoint: whatever a broken forward did is undone, and the
            # wrapper goes on as an ordinary message.
            with transaction.atomic():
                originals = [
                    ingest_original(agency=agency, data=data, forwarded_by=wrapper)
                    for data in forwarded_originals(wrapper)
                ]
        except Exception:  # noqa: BLE001 — a broken forward must not lose the mail
            logger.exception("Reading the original forwarded in message %s failed", wrapper.pk)
            return None
        kept = [
            item
            for item in originals
            if item is not None and item.pk != wrapper.pk and item.agency_id == agency.pk
        ]
        if not kept:
            return None
        # The manager may have said where it goes: forwarded with a dossier's
        # reference (a tag in the subject, the dossier's reply address).
        pointed = _distinct(
            match
            for match in reference_matches(agency, wrapper, envelope_recipients=envelope_recipients)
            if match.certain
        )
        for item in kept:
            if len(pointed) == 1:
                _original_file_as_pointed(stage, item, pointed[0])
            else:
                _autofile(item, envelope_recipients=(), depth=depth + 1)
        original = kept[0]
        Message.objects.filter(pk=wrapper.pk).update(forwarded_message=original)
        wrapper.forwarded_message_id = original.pk
    _state_reload(original)
    # A forward sent within a conversation filed in another dossier than the
    # original's stays out of the original's conversation: joining them
    # would put one conversation in two dossiers.
    if not _thread_filed_elsewhere(wrapper, original):
        _threads_join(wrapper, original)
    sender = wrapper.from_name or wrapper.from_address
    if original.dossier_id is not None:
        stage.file(
            Dossier.objects.get(pk=original.dossier_id),
            FilingMethod.THREAD,
            f"Transfert par {sender} de {_describe(original)} : classé avec l'original.",
        )
        # As stored: the wrapper may have followed the original already, as
        # its conversation, when the thread stage had joined them.
        _state_reload(wrapper)
        settled = _settled(wrapper, quiet=False)
        return FilingOutcome(
            method=settled.method,
            dossier=settled.dossier,
            reason=settled.reason,
            original=original,
        )
    if original.not_dossier_related:
        outcome = stage.mark_unrelated(
            f"Transfert par {sender} de {_describe(original)}, sans rapport avec un dossier."
        )
        return FilingOutcome(
            method=outcome.method,
            dossier=None,
            reason=outcome.reason,
            not_dossier_related=True,
            original=original,
        )
    stage.suggestions_store(list(original.suggestions or []))
    return FilingOutcome(
        method=FilingMethod.NONE,
        dossier=None,
        reason=f"Transfert par {sender} de {_describe(original)}, qui attend d'être classé.",
        original=original,
    )


def _original_file_as_pointed(stage: _Stage, original: Message, match: ReferenceMatch) -> None:
    """File a forwarded original into the dossier the forwarding manager
    named — unless it already is in a dossier or was said to concern none."""
    _state_reload(original)
    if original.dossier_id is not None or original.not_dossier_related:
        return
    sender = stage.message.from_name or stage.message.from_address
    message_file(
        viewer=stage.viewer,
        actor=None,
        message=original,
        dossier=match.dossier,
        method=FilingMethod.REFERENCE,
        reason=(f"Transféré par {sender} avec la référence du dossier {match.dossier.reference}."),
    )
    if original.suggestions:
        Message.objects.filter(pk=original.pk).update(suggestions=[])


def _thread_filed_elsewhere(wrapper: Message, original: Message) -> bool:
    """Whether the wrapper's conversation holds mail filed in a dossier other
    than the original's (joining them would put one conversation in two
    dossiers)."""
    if wrapper.thread_id is None or wrapper.thread_id == original.thread_id:
        return False
    others = Message.objects.filter(
        agency_id=wrapper.agency_id, thread_id=wrapper.thread_id, dossier__isnull=False
    ).exclude(pk=wrapper.pk)
    if original.dossier_id is not None:
        others = others.exclude(dossier_id=original.dossier_id)
    return others.exists()


# ---------------------------------------------------------------------------
# Learned suggestions


# The model (`lanterne.mail.suggest`) is imported inside the functions that
# use it, not at the top: it loads scikit-learn, which machine mail, filing by
# reference and every process that only reads mail do not need.


def _is_sure(score: float) -> bool:
    """Whether a learned score is high enough to file without a person."""
    from .suggest import AUTO_FILE_THRESHOLD

    return score >= AUTO_FILE_THRESHOLD


def _learned(message: Message, *, condominium_id: int | None) -> list[Any]:
    """The learned suggestions for `message`, best first, narrowed to one
    condominium when a rule says so."""
    from .suggest import message_suggestions

    if condominium_id is None:
        return list(message_suggestions(message, limit=TRIAGE_SUGGESTIONS))
    return [
        suggestion
        for suggestion in message_suggestions(message, limit=NARROWED_CANDIDATES)
        if suggestion.dossier.condominium_id == condominium_id
    ][:TRIAGE_SUGGESTIONS]


# ---------------------------------------------------------------------------
# A batch of new messages (bulk imports)


def messages_autofile(
    messages: Sequence[Message], *, texts: Mapping[int, PreparedText] | None = None
) -> None:
    """`message_autofile` for a batch of messages just parsed and threaded
    (a bulk import), in order, with the outcome `message_autofile` would give
    each — for a few queries per batch rather than about ten per message.

    Most mail of a history import goes to triage: no reference, no filed
    conversation, no rule, no sure suggestion. What could decide otherwise
    is checked for the whole batch at once (the agency's rules and dossier
    references, the conversations already filed, the bounces waiting for a
    message, in one query each) and without a query per message (signed
    tokens, forwards, machine mail); a message any of them might concern goes
    through `message_autofile` itself. The others get their learned
    suggestions, scored together by runs of consecutive messages
    (`SuggestionSession.many`: each gets what it would get alone) and stored
    in one statement for the batch; one whose best suggestion is sure enough
    to file goes through `message_autofile`.

    After a message was filed here, the filing state of the rest of the
    batch is read again before going on: filing a message files the rest of
    its conversation (`message_file`), and the model may learn from it, so
    the rest of its run is scored again.

    `texts`: the messages' texts as the suggestions read them, prepared
    ahead by pk (by the parse workers of an import; `suggest_text`)."""
    if not messages:
        return
    from .references import may_carry_token, subject_reference_pattern

    agency = messages[0].agency
    rules = active_rules(agency.pk)
    staff = staff_addresses(agency)
    references = subject_reference_pattern(
        Dossier.objects.filter(agency=agency).values_list("reference", flat=True)
    )
    filed_threads = set(
        Message.objects.filter(
            agency=agency,
            thread_id__in={m.thread_id for m in messages if m.thread_id is not None},
            dossier__isnull=False,
        ).values_list("thread_id", flat=True)
    )
    outbound_ids = [m.message_id for m in messages if m.direction == Direction.OUTBOUND]
    awaited = (
        set(
            Message.objects.filter(
                agency=agency, bounced_message_id__in=outbound_ids, bounce_of__isnull=True
            ).values_list("bounced_message_id", flat=True)
        )
        if outbound_ids
        else set()
    )

    def needs_whole_stage(message: Message) -> bool:
        return bool(
            _is_quiet(message)
            or message.dossier_id is not None
            or message.not_dossier_related
            or message.forwarded_message_id is not None
            or message.bounce_of_id is not None
            or message.message_id in awaited
            or message.thread_id in filed_threads
            or is_staff_forward(message, agency, staff=staff)
            or may_carry_token(agency, message)
            or (references is not None and references.search(message.subject or ""))
            or rules_apply(message, rules=rules) is not None
        )

    suggested: list[Message] = []
    stale = False
    run_size = SUGGESTION_RUN_MIN
    index = 0
    with contextlib.ExitStack() as held:
        session: Any = None

        def whole_stage(message: Message) -> None:
            nonlocal session, stale
            # The whole stage may file, which may update the model: the
            # session (holding the model) is closed first.
            held.close()
            session = None
            outcome = message_autofile(message)
            if outcome.dossier is not None or outcome.not_dossier_related:
                stale = True
                if message.thread_id is not None and outcome.dossier is not None:
                    filed_threads.add(message.thread_id)

        while index < len(messages):
            if stale:
                _states_reload(messages[index:])
                stale = False
            if needs_whole_stage(messages[index]):
                whole_stage(messages[index])
                index += 1
                continue
            # The messages from here that only need their learned
            # suggestions, scored together (`SuggestionSession.many`).
            run = [messages[index]]
            for following in messages[index + 1 : index + run_size]:
                if needs_whole_stage(following):
                    break
                run.append(following)
            if session is None:
                session = held.enter_context(_suggestion_session(agency.pk))
            filed = False
            for message, suggestions in zip(
                run, session.many(run, TRIAGE_SUGGESTIONS, texts=texts), strict=True
            ):
                index += 1
                stage = _Stage(message=message, agency=agency, quiet=False)
                for suggestion in suggestions:
                    stage.suggest(suggestion.dossier, suggestion.score, suggestion.reason)
                best = stage.best_learned()
                if best is not None and best.score is not None and _is_sure(best.score):
                    # Filed: the model may have learned from it (its
                    # conversation), so the rest of the run is scored again.
                    whole_stage(message)
                    filed = True
                    break
                items = [item.stored() for item in stage.candidates[:TRIAGE_SUGGESTIONS]]
                if items != message.suggestions:
                    message.suggestions = items
                    suggested.append(message)
            run_size = SUGGESTION_RUN_MIN if filed else min(2 * run_size, SUGGESTION_RUN_MAX)
    if suggested:
        _suggestions_store(suggested)


def _suggestions_store(messages: Sequence[Message]) -> None:
    """Write the triage suggestions of `messages` (their `suggestions`), in
    one statement run once per message (`executemany`): a fifth of what
    `bulk_update` costs, which builds one CASE WHEN expression over the
    batch — on an import that leaves most mail in triage, that expression
    was most of what the file stage cost besides the suggestions."""
    field = Message._meta.get_field("suggestions")
    key = Message._meta.pk
    assert field.column is not None and key is not None and key.column is not None
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(Message._meta.db_table)} SET {quote(field.column)} = %s"  # noqa: S608
        f" WHERE {quote(key.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (field.get_db_prep_save(message.suggestions, connection), message.pk)
                for message in messages
            ],
        )


def _suggestion_session(agency_id: int) -> Any:
    from .suggest import suggestion_session

    return suggestion_session(agency_id)


def _states_reload(messages: Sequence[Message]) -> None:
    """`_state_reload` for several messages, in one query."""
    states = {
        row["pk"]: row
        for row in Message.objects.filter(pk__in=[m.pk for m in messages]).values(
            "pk", *_STATE_FIELDS
        )
    }
    for message in messages:
        for name, value in states.get(message.pk, {}).items():
            if name != "pk":
                setattr(message, name, value)
