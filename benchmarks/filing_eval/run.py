"""The filing evaluation: how well Lanterne files a year of a syndic's mail.

    .venv/bin/python -m benchmarks.filing_eval [--messages 3000] [--seed 2026]
        [--train-months 8] [--backend sqlite|postgresql] [--json FILE]

1. A labeled corpus is generated (`corpus.py`): one agency, five
   condominiums, contractors working in several of them, co-owners, a year of
   dossiers opened and closed, and their mail, each message with the dossier
   it belongs to or none.
2. A throw-away installation is made — a SQLite database in a temporary data
   folder, or a PostgreSQL database created for the run and dropped after
   it — and migrated. The agency, its condominiums, lots, co-owners,
   companies and staff rules are created; dossiers are opened and closed as
   the year goes.
3. The **training months** (the first eight by default) are the agency's
   history: every message goes through the real pipeline (raw store, parse,
   threads) and is then filed by hand into its labeled dossier, or marked
   "not dossier-related" — what an agency migrating its history does.
4. The **test months** go through the real pipeline and the automatic file
   stage, `lanterne.mail.autofile.message_autofile`. Then the simulated
   manager does what a manager does: a message left in triage is filed by
   hand into its labeled dossier (or marked not dossier-related); a message
   filed into the wrong dossier is moved. Each of these feeds the model
   (`suggester_invalidate`), so later messages benefit. The model is only
   ever scored on messages it was not trained on.
5. It prints, per filing method and overall: the precision of automatic
   filing, the share of dossier mail filed with no human action, and the
   share of the rest whose right dossier is among the three suggestions of
   the triage inbox — then the same per kind of message, and the precision
   the learned suggestions would have at other thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.installations import with_database

from .corpus import KINDS, Corpus, DossierSpec, MessageSpec, generate

REPOSITORY = Path(__file__).resolve().parents[2]

# Targets of issue 4.
PRECISION_TARGET = 0.99
AUTOMATIC_SHARE_TARGET = 0.85
TOP3_TARGET = 0.95


# --- What happened to each message -----------------------------------------------


@dataclass
class Outcome:
    """One test message: its label, and what the file stage did."""

    index: int
    kind: str
    label: str | None
    method: str  # the FilingMethod value, "none" in triage
    dossier: str | None  # where the stage filed it
    set_aside: bool  # marked "not dossier-related" automatically
    score: float | None
    suggestions: list[str]  # the triage inbox's suggestions, best first
    machine: bool
    # The learned suggester's best dossier and score, for messages the
    # earlier stages did not decide (None otherwise): for the threshold table.
    learned_top: str | None = None
    learned_score: float | None = None
    learned_reason: str = ""

    @property
    def automatic(self) -> bool:
        return self.dossier is not None

    @property
    def correct(self) -> bool:
        return self.dossier == self.label


@dataclass
class Report:
    """The figures of one run."""

    messages: int
    training_messages: int
    test_messages: int
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    # Cost: the whole pipeline per test message, the learned suggestions
    # its file stage asked for, a full fit of the model at the end, one
    # suggestion.
    file_stage_seconds: float = 0.0
    suggestion_calls: int = 0
    suggestion_seconds: float = 0.0
    fit_messages: int = 0
    fit_seconds: float = 0.0
    suggestion_ms: float = 0.0

    # -- the three figures of the issue --

    def automatic(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.automatic]

    def precision(self, outcomes: list[Outcome] | None = None) -> float | None:
        filed = [o for o in (outcomes if outcomes is not None else self.automatic()) if o.automatic]
        return sum(o.correct for o in filed) / len(filed) if filed else None

    def dossier_mail(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.label is not None]

    def automatic_share(self) -> float | None:
        mail = self.dossier_mail()
        return sum(o.automatic and o.correct for o in mail) / len(mail) if mail else None

    def rest(self) -> list[Outcome]:
        """Dossier mail a person had to handle: left in triage, or filed
        wrongly."""
        return [o for o in self.dossier_mail() if not (o.automatic and o.correct)]

    def top3_share(self) -> float | None:
        rest = [o for o in self.rest() if not o.automatic]
        return sum(o.label in o.suggestions[:3] for o in rest) / len(rest) if rest else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "training_messages": self.training_messages,
            "test_messages": self.test_messages,
            "seconds": round(self.seconds, 1),
            "precision": self.precision(),
            "automatic_share": self.automatic_share(),
            "top3_share": self.top3_share(),
            "environment": self.environment,
            "cost": {
                "pipeline_ms_per_message": 1000
                * self.file_stage_seconds
                / max(1, self.test_messages),
                "suggestion_calls": self.suggestion_calls,
                "suggestion_ms_per_call": 1000
                * self.suggestion_seconds
                / max(1, self.suggestion_calls),
                "fit_messages": self.fit_messages,
                "fit_seconds": self.fit_seconds,
                "warm_suggestion_ms": self.suggestion_ms,
            },
            "outcomes": [asdict(o) for o in self.outcomes],
        }


# --- The world in the database ---------------------------------------------------


class _World:
    """The corpus's agency, condominiums, contacts and dossiers, created in
    the database through Lanterne's models and services."""

    def __init__(self, corpus: Corpus) -> None:
        from lanterne.condominiums.choices import CouncilRole, LotKind, StaffRole
        from lanterne.condominiums.models import (
            Agency,
            Company,
            CompanyDomain,
            Condominium,
            CouncilMembership,
            Lot,
            Ownership,
            Person,
            PersonEmail,
        )
        from lanterne.dossiers.policy import Viewer

        from .corpus import AGENCY_DOMAIN, AGENCY_NAME, SHARED_MAILBOX

        self.corpus = corpus
        self.agency = Agency.objects.create(
            name=AGENCY_NAME, mail_domain=AGENCY_DOMAIN, shared_mailbox=SHARED_MAILBOX
        )
        self.viewer = Viewer.system(self.agency.pk)
        self.persons: dict[str, Any] = {}
        for contact in corpus.staff:
            person = Person.objects.create(
                agency=self.agency,
                first_name=contact.first_name,
                last_name=contact.last_name,
                staff_role=StaffRole.MANAGER,
            )
            PersonEmail.objects.create(
                person=person, agency=self.agency, address=contact.address, is_primary=True
            )
            self.persons[contact.key] = person
        self.condominiums = {}
        self.lots: dict[tuple[str, str], Any] = {}
        for spec in corpus.condominiums:
            condominium = Condominium.objects.create(
                agency=self.agency,
                name=spec.name,
                address=spec.address,
                postal_code=spec.postal_code,
                city=spec.city,
                nicknames="\n".join(spec.nicknames),
            )
            self.condominiums[spec.key] = condominium
            lots = Lot.objects.bulk_create(
                Lot(condominium=condominium, number=str(n), kind=LotKind.FLAT, shares=100)
                for n in range(1, spec.lots + 1)
            )
            for lot in lots:
                self.lots[(spec.key, lot.number)] = lot
        self.companies = {}
        for spec in corpus.companies:
            company = Company.objects.create(
                agency=self.agency, name=spec.name, kind=spec.kind, address=spec.address
            )
            CompanyDomain.objects.create(company=company, domain=spec.domain)
            self.companies[spec.key] = company
        for contact in corpus.company_contacts:
            person = Person.objects.create(
                agency=self.agency,
                first_name=contact.first_name,
                last_name=contact.last_name,
                company=self.companies[contact.company or ""],
            )
            PersonEmail.objects.create(
                person=person, agency=self.agency, address=contact.address, is_primary=True
            )
            self.persons[contact.key] = person
        for owner in corpus.owners:
            person = Person.objects.create(
                agency=self.agency,
                first_name=owner.contact.first_name,
                last_name=owner.contact.last_name,
            )
            PersonEmail.objects.create(
                person=person, agency=self.agency, address=owner.contact.address, is_primary=True
            )
            self.persons[owner.contact.key] = person
            for number in owner.lots:
                Ownership.objects.create(person=person, lot=self.lots[(owner.condominium, number)])
            if owner.council:
                CouncilMembership.objects.create(
                    person=person,
                    condominium=self.condominiums[owner.condominium],
                    role=CouncilRole.CHAIR if owner.council == "chair" else CouncilRole.MEMBER,
                )
        self.dossiers: dict[str, Any] = {}

    def dossier_open(self, spec: DossierSpec) -> None:
        from lanterne.dossiers.choices import DEFAULT_AUDIENCE
        from lanterne.dossiers.services import dossier_open

        self.dossiers[spec.reference] = dossier_open(
            viewer=self.viewer,
            actor=None,
            condominium=self.condominiums[spec.condominium],
            title=spec.title,
            type=spec.type,
            audience=DEFAULT_AUDIENCE[spec.type],
            description=spec.description,
            manager=self.persons[self.corpus.staff[0].key],
            party_lots=[self.lots[(spec.condominium, n)] for n in spec.party_lots],
            party_persons=[self.persons[key] for key in spec.party_persons],
            party_companies=[self.companies[key] for key in spec.party_companies],
            reference=spec.reference,
            opened_on=spec.opened,
        )

    def dossier_close(self, spec: DossierSpec, moment: datetime) -> None:
        from lanterne.dossiers.choices import DossierStatus
        from lanterne.dossiers.services import dossier_change_status

        dossier = self.dossiers[spec.reference]
        dossier.refresh_from_db()
        dossier_change_status(
            viewer=self.viewer,
            actor=None,
            dossier=dossier,
            status=DossierStatus.CLOSED,
            occurred_at=moment,
        )

    def rules_create(self) -> None:
        from lanterne.mail.filing import mail_rule_next_position, mail_rule_save
        from lanterne.mail.models import MailRule

        for spec in self.corpus.rules:
            mail_rule_save(
                viewer=self.viewer,
                actor=None,
                rule=MailRule(
                    agency=self.agency,
                    name=spec.name,
                    sender_domain=spec.sender_domain,
                    subject_contains=spec.subject_contains,
                    dossier=self.dossiers.get(spec.dossier) if spec.dossier else None,
                    not_dossier_related=spec.not_dossier_related,
                    position=mail_rule_next_position(agency_id=self.agency.pk),
                ),
            )


class _LiveReferences:
    """The references Lanterne puts in the mail it sends, for the corpus's
    dossiers as they are in the database (`lanterne.mail.references`)."""

    def __init__(self, world: _World) -> None:
        self.world = world

    def message_id(self, reference: str, unique: str) -> str:
        from lanterne.mail.references import dossier_message_id

        return dossier_message_id(self.world.dossiers[reference], unique=unique)

    def reply_address(self, reference: str) -> str:
        from lanterne.mail.references import dossier_reply_address

        return dossier_reply_address(self.world.dossiers[reference])

    def subject_with_tag(self, reference: str, subject: str) -> str:
        from lanterne.mail.references import subject_with_tag

        return subject_with_tag(self.world.dossiers[reference], subject)


# --- The run -----------------------------------------------------------------------


def _receive_and_file(agency: Any, data: bytes) -> Any:
    """One message through Lanterne's whole pipeline, as every mail source
    runs it (`mail_receive_and_process`: stored, parsed, threaded, then the
    automatic file stage, `autofile.message_autofile`): the one place the
    evaluation files mail automatically. The message, or None when it was
    not parsed (a duplicate, quarantined)."""
    from lanterne.mail.models import Message
    from lanterne.mail.services import mail_receive_and_process

    from .corpus import SHARED_MAILBOX

    result = mail_receive_and_process(agency=agency, data=data, envelope_to=[SHARED_MAILBOX])
    return Message.objects.filter(raw=result.raw).first()


def _receive_history(agency: Any, data: bytes) -> Any:
    """One message of the agency's history: stored, parsed and threaded, as
    `lanterne import-mail` does, and left for the manager to file."""
    from lanterne.mail.models import Message
    from lanterne.mail.services import mail_receive, raw_message_process

    from .corpus import SHARED_MAILBOX

    result = mail_receive(agency=agency, data=data, envelope_to=[SHARED_MAILBOX])
    raw_message_process(result.raw, data=data)
    return Message.objects.filter(raw=result.raw).first()


def evaluate(
    corpus: Corpus,
    *,
    train_months: int,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """File the corpus through Lanterne (see the module's docstring) in the
    current database, and say how well. The database must hold no agency of
    the corpus's name."""
    from lanterne.mail import suggest
    from lanterne.mail.filing import message_file, message_mark_not_dossier_related
    from lanterne.mail.models import FilingMethod
    from lanterne.mail.suggest import suggester_invalidate

    started = time.perf_counter()
    world = _World(corpus)
    references = _LiveReferences(world)
    report = Report(messages=len(corpus.messages), training_messages=0, test_messages=0, seconds=0)

    def manager_files(message: Any, label: str | None) -> None:
        """What the simulated manager does with a message: file it into its
        dossier by hand, or say it concerns none — and the model learns."""
        message.refresh_from_db()
        if label is None:
            message_mark_not_dossier_related(
                viewer=world.viewer, actor=None, message=message, reason="Classement manuel"
            )
        else:
            message_file(
                viewer=world.viewer,
                actor=None,
                message=message,
                dossier=world.dossiers[label],
                method=FilingMethod.MANUAL,
                reason="Classé à la main",
            )
        suggester_invalidate(world.agency.pk)

    # The learned suggestions the file stage asks for, timed: the stage looks
    # the function up in its module at each call.
    untimed = suggest.message_suggestions

    def timed(*args: Any, **kwargs: Any) -> Any:
        call_started = time.perf_counter()
        try:
            return untimed(*args, **kwargs)
        finally:
            report.suggestion_calls += 1
            report.suggestion_seconds += time.perf_counter() - call_started

    suggest.message_suggestions = timed  # type: ignore[assignment]
    try:
        _replay(
            corpus,
            world,
            references,
            report,
            train_months=train_months,
            progress=progress,
            manager_files=manager_files,
            learned_suggestions=untimed,
        )
    finally:
        suggest.message_suggestions = untimed  # type: ignore[assignment]
    report.seconds = time.perf_counter() - started
    _measure_model(report, world)
    return report


def _replay(
    corpus: Corpus,
    world: _World,
    references: _LiveReferences,
    report: Report,
    *,
    train_months: int,
    progress: Callable[[str], None] | None,
    manager_files: Callable[[Any, str | None], None],
    learned_suggestions: Callable[..., Any],
) -> None:
    """The year, event by event (see `evaluate`)."""
    from lanterne.mail.models import FilingMethod

    started = time.perf_counter()
    rules_made = False
    done = 0
    for moment, what, thing in corpus.events():
        if what == "open":
            assert isinstance(thing, DossierSpec)
            world.dossier_open(thing)
            continue
        if what == "close":
            assert isinstance(thing, DossierSpec)
            world.dossier_close(thing, moment)
            continue
        assert isinstance(thing, MessageSpec)
        # Staff wrote their rules once the dossiers they name existed.
        if not rules_made and all(
            not rule.dossier or rule.dossier in world.dossiers for rule in corpus.rules
        ):
            world.rules_create()
            rules_made = True
        spec = thing
        data = spec.render(references)
        done += 1
        if progress and done % 250 == 0:
            progress(f"  {done} messages ({time.perf_counter() - started:.0f} s)")
        if corpus.month_of(spec.at) < train_months:
            message = _receive_history(world.agency, data)
            if message is not None:
                report.training_messages += 1
                manager_files(message, spec.label)
            continue
        stage_started = time.perf_counter()
        message = _receive_and_file(world.agency, data)
        report.file_stage_seconds += time.perf_counter() - stage_started
        if message is None:
            continue  # quarantined or a duplicate: nothing to file
        report.test_messages += 1
        filed = message.dossier.reference if message.dossier_id else None
        machine = message.is_auto_reply or message.is_bounce or message.is_bulk
        record = Outcome(
            index=spec.index,
            kind=spec.kind,
            label=spec.label,
            method=str(message.filing_method),
            dossier=filed,
            set_aside=bool(message.not_dossier_related),
            score=message.filing_score,
            suggestions=[item.get("reference", "") for item in (message.suggestions or []) if item],
            machine=bool(machine),
        )
        if not machine and message.filing_method in (FilingMethod.SUGGESTION, FilingMethod.NONE):
            learned = learned_suggestions(message, limit=1)
            if learned:
                record.learned_top = learned[0].dossier.reference
                record.learned_score = learned[0].score
                record.learned_reason = learned[0].reason
        report.outcomes.append(record)
        # The manager handles what the stage left in triage or got wrong.
        if spec.label is None:
            handled = bool(message.not_dossier_related)
        else:
            handled = record.automatic and record.correct
        if not handled:
            manager_files(message, spec.label)


def _measure_model(report: Report, world: _World) -> None:
    """A full fit on everything filed by the end of the year, and the cost of
    one suggestion with the fitted model (mean of 200)."""
    from lanterne.mail import suggest
    from lanterne.mail.models import Message

    suggest._cache.clear()
    sample = list(Message.objects.filter(agency=world.agency).order_by("-pk")[:200])
    if not sample:
        return
    started = time.perf_counter()
    model = suggest._cache.model(world.agency.pk)
    report.fit_seconds = time.perf_counter() - started
    report.fit_messages = len(model.known) if model is not None else 0
    suggest.message_suggestions(sample[0])
    started = time.perf_counter()
    for message in sample:
        suggest.message_suggestions(message)
    report.suggestion_ms = 1000 * (time.perf_counter() - started) / len(sample)


# --- Output -----------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return ""
    return "target met" if value >= target else "TARGET NOT MET"


def report_print(report: Report, *, out: Any = sys.stdout) -> None:
    """The figures, as tables a person reads."""

    def line(text: str = "") -> None:
        print(text, file=out)

    line(
        f"{report.messages} messages: {report.training_messages} in the training months, "
        f"{report.test_messages} evaluated ({report.seconds:.0f} s)"
    )
    line()
    line("Automatic filing, per method (test months):")
    line(f"  {'method':<12} {'filed':>6} {'right':>6} {'precision':>10}")
    by_method: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in report.automatic():
        by_method[outcome.method].append(outcome)
    for method in sorted(by_method):
        items = by_method[method]
        line(
            f"  {method:<12} {len(items):>6} {sum(o.correct for o in items):>6} "
            f"{_percent(report.precision(items)):>10}"
        )
    automatic = report.automatic()
    line(
        f"  {'all':<12} {len(automatic):>6} {sum(o.correct for o in automatic):>6} "
        f"{_percent(report.precision()):>10}"
    )
    aside = [o for o in report.outcomes if o.set_aside and not o.automatic]
    if aside:
        line(
            f"  set aside as not dossier-related automatically: {len(aside)}, "
            f"of which {sum(o.label is None for o in aside)} rightly"
        )
    line()
    precision, share, top3 = report.precision(), report.automatic_share(), report.top3_share()
    mail = report.dossier_mail()
    rest = [o for o in report.rest() if not o.automatic]
    line("Overall:")
    line(
        f"  precision of automatic filing            {_percent(precision):>8}   "
        f"(target ≥ {PRECISION_TARGET:.0%}) {_verdict(precision, PRECISION_TARGET)}"
    )
    line(
        f"  dossier mail filed with no human action  {_percent(share):>8}   "
        f"({sum(o.automatic and o.correct for o in mail)} of {len(mail)}; "
        f"target ≥ {AUTOMATIC_SHARE_TARGET:.0%}) {_verdict(share, AUTOMATIC_SHARE_TARGET)}"
    )
    line(
        f"  the rest: right dossier in the top 3     {_percent(top3):>8}   "
        f"({sum(o.label in o.suggestions[:3] for o in rest)} of {len(rest)} left in triage; "
        f"target ≥ {TOP3_TARGET:.0%}) {_verdict(top3, TOP3_TARGET)}"
    )
    wrong = [o for o in report.automatic() if not o.correct]
    if wrong:
        line(f"  filed into the wrong dossier: {len(wrong)}")
    line()
    line("Per kind of message (test months):")
    line(
        f"  {'kind':<22} {'count':>6} {'auto right':>11} {'auto wrong':>11} "
        f"{'triage':>7} {'top 3':>7}"
    )
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in report.outcomes:
        by_kind[outcome.kind].append(outcome)
    for kind in sorted(by_kind, key=lambda k: -len(by_kind[k])):
        items = by_kind[kind]
        triage = [o for o in items if not o.automatic and not o.set_aside]
        labelled = [o for o in triage if o.label is not None]
        line(
            f"  {kind:<22} {len(items):>6} {sum(o.automatic and o.correct for o in items):>11} "
            f"{sum(o.automatic and not o.correct for o in items):>11} {len(triage):>7} "
            f"{sum(o.label in o.suggestions[:3] for o in labelled):>4}/{len(labelled):<3}"
        )
    line()
    line("Learned suggestions alone, on the mail they were asked about (best dossier):")
    line(f"  {'threshold':>9} {'filed':>6} {'precision':>10} {'of dossier mail asked':>22}")
    asked = [o for o in report.outcomes if o.learned_score is not None]
    asked_dossier = [o for o in asked if o.label is not None]
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97):
        over = [o for o in asked if (o.learned_score or 0) >= threshold]
        right = sum(o.learned_top == o.label for o in over)
        line(
            f"  {threshold:>9.2f} {len(over):>6} "
            f"{_percent(right / len(over) if over else None):>10} "
            f"{_percent(right / len(asked_dossier) if asked_dossier else None):>22}"
        )
    line()
    line("Cost:")
    line(
        f"  whole pipeline (stored, parsed, threaded, filed): "
        f"{1000 * report.file_stage_seconds / max(1, report.test_messages):.1f} ms "
        f"per test message, of which learned suggestions "
        f"{1000 * report.suggestion_seconds / max(1, report.test_messages):.1f} ms "
        f"({report.suggestion_calls} calls, "
        f"{1000 * report.suggestion_seconds / max(1, report.suggestion_calls):.1f} ms each, "
        "model updates included)"
    )
    if report.fit_messages:
        line(
            f"  full fit on {report.fit_messages} filed messages: {report.fit_seconds:.1f} s; "
            f"one suggestion with the fitted model: {report.suggestion_ms:.2f} ms"
        )
    if wrong:
        line()
        line("Filed into the wrong dossier:")
        for outcome in wrong[:30]:
            line(
                f"  #{outcome.index} {outcome.kind}: {outcome.method} → {outcome.dossier} "
                f"(right: {outcome.label or 'none'}, score {outcome.score})"
            )


# --- A throw-away installation ----------------------------------------------------


def _environment(backend: str) -> dict[str, str]:
    """What the run measured on (the machine is for docs/benchmarks.md)."""
    import platform

    import django
    import numpy
    import sklearn

    return {
        "backend": backend,
        "python": platform.python_version(),
        "django": django.get_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "machine": platform.machine(),
        "system": platform.platform(),
        "cpus": str(os.cpu_count()),
        "load": f"{os.getloadavg()[0]:.1f}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.filing_eval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=3000, help="corpus size (default 3000)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--months", type=int, default=12, help="months of mail (default 12)")
    parser.add_argument(
        "--train-months", type=int, default=8, help="months of history filed by hand (default 8)"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server's maintenance database",
    )
    parser.add_argument("--json", help="write the figures and every outcome to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="keep SQLite's synchronous=FULL (slower; the figures are the same)",
    )
    parser.add_argument("--write-corpus", help="also write the corpus (.eml and labels.csv) here")
    args = parser.parse_args(argv)

    corpus = generate(args.seed, messages=args.messages, months=args.months)
    print(
        f"Corpus: seed {args.seed}, {len(corpus.messages)} messages, {len(corpus.dossiers)} "
        f"dossiers, {len(corpus.condominiums)} condominiums; kinds: "
        + ", ".join(f"{k} {n}" for k, n in Counter(m.kind for m in corpus.messages).most_common())
    )
    if args.write_corpus:
        from .corpus import corpus_write

        corpus_write(corpus, args.write_corpus)
        print(f"Corpus written to {args.write_corpus} (placeholder references)")

    data_dir = Path(tempfile.mkdtemp(prefix="filing-eval-"))
    database_name = None
    os.environ.update(
        LANTERNE_MODE="demo",
        LANTERNE_DATA_DIR=str(data_dir),
        LANTERNE_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="lanterne.settings",
    )
    os.environ.pop("DATABASE_URL", None)
    if args.backend == "postgresql":
        import psycopg
        from psycopg import sql

        database_name = f"lanterne_filing_eval_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name)))
        os.environ["DATABASE_URL"] = with_database(args.postgres_url, database_name)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if args.backend == "sqlite" and not args.durable:
            # This run measures filing, not durability: SQLite need not wait
            # for the disk at every commit (Lanterne's setting is FULL).
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=OFF")
        report = evaluate(corpus, train_months=args.train_months, progress=print)
        report.environment = _environment(args.backend)
        print()
        report_print(report)
        if args.json:
            Path(args.json).write_text(json.dumps(report.as_dict(), indent=1, default=str))
        return 0
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            shutil.rmtree(data_dir, ignore_errors=True)
            if database_name is not None:
                import psycopg
                from psycopg import sql

                with psycopg.connect(args.postgres_url, autocommit=True) as connection:
                    connection.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(database_name)
                        )
                    )
        else:
            print(f"Kept: {data_dir}" + (f", database {database_name}" if database_name else ""))


__all__ = ["KINDS", "Outcome", "Report", "evaluate", "main", "report_print"]
