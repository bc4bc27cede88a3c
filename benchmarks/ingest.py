"""Ingestion benchmark: how fast a history import goes, end to end, and how
much memory it takes.

    .venv/bin/python -m benchmarks.ingest [--messages 10000] [--backends sqlite,postgresql]
        [--with-dossiers] [--filing-cost]

1. A corpus of realistic French mail (`benchmarks.mailcorpus`) is generated
   once into a cache folder (`benchmarks/.cache/` by default) and reused.
2. Baselines on one core, without Lanterne's pipeline: the standard library
   parsing and decoding every message (`email` with `policy.compat32`, every
   leaf part decoded, text parts turned into `str`), and Lanterne's own parse
   stage alone (`parse_message`, no database, no disk).
3. For each backend (a SQLite file in a fresh data folder; a PostgreSQL
   database created for the run and dropped after it), the real pipeline end
   to end — raw bytes stored and fsync'ed, parsed, attachments stored,
   threaded, rows committed:
   - `command`: `lanterne import-mail DIR` run as a process, as a migration
     runs it (with its default parse workers). Its memory (resident set of
     the command and its workers) is sampled after 1k, 5k and 10k messages.
   - `service`: `mail_import()` called in a process of its own, parsing in
     that process (`--service-jobs 0`); memory (RSS, and the Python heap
     with `--tracemalloc`, which slows the run) after 1k, 5k and 10k.
   Every run is checked afterwards: one Message per message, none left
   unparsed.
4. With `--with-dossiers`, each installation is the demo agency
   (`lanterne load-demo`: three condominiums, eleven dossiers, their mail
   history filed, the suggestion model it trains) rather than an empty
   one, and the corpus is imported into it: the file stage then ranks every
   message against open dossiers (learned suggestions), as in a real
   agency. With `--filing-cost`, each `service` run is paired with one on a
   fresh installation where the file stage is left out, and the file
   stage's cost is printed as the share of the import rate it takes
   (issue 4 allows 20 %).

Figures are printed as a table and, with `--json FILE`, written as JSON. The
machine's description (CPU, memory, versions, load) is printed first: the
figures mean nothing without it. See docs/benchmarks.md for recorded results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from benchmarks.installations import DatabaseReader, with_database

REPOSITORY = Path(__file__).resolve().parents[1]
CACHE = REPOSITORY / "benchmarks" / ".cache"
AGENCY = "Cabinet Lumière"
# The demo agency (`lanterne load-demo`, `--with-dossiers`), loaded as of a
# fixed date so that every run imports into the same data.
DEMO_AGENCY = "Cabinet Lumière Gestion"
DEMO_TODAY = "2026-11-27"
CHECKPOINTS = (1_000, 5_000, 10_000)
# Bump when the generator changes, so that an old cached corpus is not reused.
CORPUS_VERSION = 2


# --- The corpus ---------------------------------------------------------------------


@dataclass
class Corpus:
    """The generated messages on disk."""

    path: Path
    messages: int
    bytes: int
    with_pdf: int
    with_logo: int

    def files(self) -> Iterator[Path]:
        return iter(sorted(self.path.glob("*.eml")))


def corpus_ensure(cache: Path, *, messages: int, seed: int) -> Corpus:
    """The corpus of `messages` messages for `seed`, generated on first use."""
    from benchmarks.mailcorpus import CorpusGenerator

    folder = cache / f"corpus-v{CORPUS_VERSION}-{seed}-{messages}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        return Corpus(path=folder / "mail", **json.loads(manifest.read_text()))
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "mail").mkdir(parents=True)
    generator = CorpusGenerator(seed)
    total = with_pdf = with_logo = 0
    started = time.monotonic()
    for index in range(messages):
        data = generator.message(index)
        (folder / "mail" / f"{index:06d}.eml").write_bytes(data)
        total += len(data)
        with_pdf += b"application/pdf" in data
        with_logo += b"Content-Type: image/png" in data
        if (index + 1) % 1000 == 0:
            print(f"  generated {index + 1} messages ({time.monotonic() - started:.0f} s)")
    description = {
        "messages": messages,
        "bytes": total,
        "with_pdf": with_pdf,
        "with_logo": with_logo,
    }
    # Written last: a corpus without its manifest is an interrupted one.
    manifest.write_text(json.dumps(description))
    return Corpus(path=folder / "mail", **description)


# --- Measures -----------------------------------------------------------------------


@dataclass
class Checkpoint:
    """Memory after some number of messages."""

    messages: int
    seconds: float
    rss_mb: float  # resident set now (the command: with its parse workers)
    peak_rss_mb: float | None = None  # ru_maxrss so far (one process)
    python_heap_mb: float | None = None  # tracemalloc: allocated now
    python_heap_peak_mb: float | None = None


@dataclass
class Result:
    """One measured run."""

    name: str
    messages: int
    seconds: float
    cpu_seconds: float | None = None  # user + system, workers included
    main_cpu_seconds: float | None = None  # the importing process alone (service runs)
    peak_rss_mb: float | None = None  # ru_maxrss of the largest process
    checkpoints: list[Checkpoint] = field(default_factory=list)
    load_before: float | None = None
    load_after: float | None = None
    notes: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _load() -> float:
    return os.getloadavg()[0]


def _rss_mb(pid: int) -> float:
    """The resident set of a process, in MB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The parent pid is the 2nd field after the command name in parentheses.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baselines(corpus: Corpus, *, sample: int) -> list[Result]:
    """The standard library's parse + decode, and Lanterne's parse stage
    alone, on one core, over the first `sample` messages (files read from the
    page cache: they were read once before timing)."""
    from lanterne.mail.parsing import parse_message

    files = list(corpus.files())[:sample]
    # Read once before timing (the page cache is warm for every measure), and
    # set apart the messages without a PDF: most of the stdlib's time goes
    # into the base64 lines of the attachments.
    without_pdf = [path for path in files if b"application/pdf" not in path.read_bytes()]

    def stdlib_parse_decode(data: bytes) -> None:
        message = BytesParser(policy=policy.compat32).parsebytes(data)
        for part in message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True)
            if part.get_content_maintype() == "text" and isinstance(payload, bytes):
                payload.decode(part.get_content_charset() or "ascii", "replace")

    def stdlib_parse(data: bytes) -> None:
        BytesParser(policy=policy.compat32).parsebytes(data)

    results = []
    for name, function, paths in (
        ("stdlib email: parse + decode every part (compat32)", stdlib_parse_decode, files),
        ("stdlib email: parse only (compat32)", stdlib_parse, files),
        ("stdlib email: parse + decode, messages without a PDF", stdlib_parse_decode, without_pdf),
        ("Lanterne parse_message alone (no database, no disk)", parse_message, files),
        ("Lanterne parse_message alone, messages without a PDF", parse_message, without_pdf),
    ):
        load = _load()
        started, cpu = time.perf_counter(), time.process_time()
        for path in paths:
            function(path.read_bytes())
        results.append(
            Result(
                name=name,
                messages=len(paths),
                seconds=time.perf_counter() - started,
                cpu_seconds=time.process_time() - cpu,
                load_before=load,
                load_after=_load(),
            )
        )
        print(_line(results[-1]))
    return results


# --- An installation: data folder, database, the `lanterne` command -------------------


@dataclass
class Installation(DatabaseReader):
    """A fresh data folder and database, and the `lanterne` command on them."""

    data_dir: Path
    database_url: str | None  # None: SQLite in the data folder
    agency: str = AGENCY
    # Mail in the database before the import (the demo's own), and its last id.
    messages_before: int = 0
    last_message_before: int = 0

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LANTERNE_")
            and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            LANTERNE_MODE="demo",
            LANTERNE_DATA_DIR=str(self.data_dir),
            LANTERNE_LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="lanterne.settings",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "lanterne.cli", *arguments]

    def run(self, *arguments: str) -> str:
        done = subprocess.run(  # noqa: S603 — our own command
            self.command(*arguments),
            env=self.environment(),
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"lanterne {' '.join(arguments)}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def prepare(self, *, with_dossiers: bool = False) -> None:
        """Create the database and the agency the corpus is imported into:
        an empty one, or the demo agency with its dossiers and filed mail
        (same mail domain as the corpus's)."""
        self.run("migrate", "--verbosity", "0")
        if with_dossiers:
            self.run("load-demo", "--today", DEMO_TODAY)
            self.agency = DEMO_AGENCY
            self.messages_before = self.count("SELECT COUNT(*) FROM mail_message")
            self.last_message_before = self.count("SELECT MAX(id) FROM mail_message")
            return
        self.run(
            "create-agency",
            "--name", AGENCY,
            "--mail-domain", "cabinet-lumiere.fr",
            "--shared-mailbox", "gestion@cabinet-lumiere.fr",
            "--email", "camille.roche@cabinet-lumiere.fr",
            "--password", "Tilleuls-ete-2026",
        )  # fmt: skip

    def verify(self, expected: int) -> str:
        """Check the import: one Message per message, every raw one parsed
        (besides the demo's own mail, with `--with-dossiers`)."""
        before = self.messages_before
        messages = self.count("SELECT COUNT(*) FROM mail_message") - before
        parsed = self.count("SELECT COUNT(*) FROM mail_rawmessage WHERE state = 'parsed'")
        states = dict(self.query("SELECT state, COUNT(*) FROM mail_rawmessage GROUP BY state"))
        attachments = self.count("SELECT COUNT(*) FROM mail_attachment")
        logos = self.count("SELECT COUNT(*) FROM mail_attachment WHERE is_signature_logo")
        if messages != expected or parsed - before < expected:
            raise RuntimeError(f"incomplete import: {messages} messages, raw states {states}")
        text = f"{messages} messages, {attachments} attachments ({logos} signature logos)"
        if before:
            # What the file stage made of the imported mail, in an agency
            # with dossiers: mostly triage, with ranked suggestions.
            new = f"FROM mail_message WHERE id > {self.last_message_before}"
            methods = dict(self.query(f"SELECT filing_method, COUNT(*) {new} GROUP BY 1"))  # noqa: S608
            suggested = self.count(f"SELECT COUNT(*) {new} AND suggestions <> '[]'")  # noqa: S608
            text += f"; filing methods {methods}, {suggested} with suggestions"
        return text


def installation(
    work: Path, backend: str, postgres_url: str
) -> tuple[Installation, Callable[[], None]]:
    """A fresh installation for one run, and how to remove it."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"ingest-{backend}-", dir=work))
    if backend == "sqlite":
        return Installation(data_dir, None), lambda: shutil.rmtree(data_dir, ignore_errors=True)
    import psycopg
    from psycopg import sql

    name = f"lanterne_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def remove() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        shutil.rmtree(data_dir, ignore_errors=True)

    return Installation(data_dir, with_database(postgres_url, name)), remove


# --- The runs -----------------------------------------------------------------------


def run_command(
    corpus: Corpus, lanterne: Installation, *, backend: str, jobs: int | None
) -> Result:
    """`lanterne import-mail DIR`, timed from start to exit, its memory
    sampled as it goes."""
    arguments = ["import-mail", str(corpus.path), "--agency", lanterne.agency]
    if jobs is not None:
        arguments += ["--jobs", str(jobs)]
    load = _load()
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 — our own command
        lanterne.command(*arguments),
        env=lanterne.environment(),
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    checkpoints: list[Checkpoint] = []
    stop = threading.Event()

    def sample() -> None:
        targets = [c for c in CHECKPOINTS if c <= corpus.messages]
        while targets and not stop.wait(0.25):
            done = lanterne.count("SELECT COUNT(*) FROM mail_message")
            while targets and done >= targets[0]:
                pids = [process.pid, *_children(process.pid)]
                checkpoints.append(
                    Checkpoint(
                        messages=targets.pop(0),
                        seconds=round(time.perf_counter() - started, 1),
                        rss_mb=round(sum(_rss_mb(pid) for pid in pids), 1),
                    )
                )

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"import-mail failed:\n{output}")
    name = f"{backend}: lanterne import-mail" + (f" --jobs {jobs}" if jobs is not None else "")
    if lanterne.agency != AGENCY:
        name += ", into the demo agency (dossiers)"
    return Result(
        name=name,
        messages=corpus.messages,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        checkpoints=checkpoints,
        load_before=load,
        load_after=_load(),
        notes=lanterne.verify(corpus.messages),
    )


def run_service(
    corpus: Corpus,
    lanterne: Installation,
    *,
    backend: str,
    jobs: int,
    trace: bool,
    filing: bool = True,
) -> Result:
    """`mail_import()` in a process of its own (see `_service_child`);
    without its file stage when not `filing`."""
    arguments = [
        sys.executable, "-m", "benchmarks.ingest", "--child-service", str(corpus.path),
        "--child-jobs", str(jobs), "--child-messages", str(corpus.messages),
        "--child-agency", lanterne.agency,
    ]  # fmt: skip
    if trace:
        arguments.append("--tracemalloc")
    if not filing:
        arguments.append("--child-no-filing")
    load = _load()
    done = subprocess.run(  # noqa: S603 — this script, in a child process
        arguments,
        env=lanterne.environment(),
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"service run failed:\n{done.stdout}{done.stderr}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    checkpoints = [Checkpoint(**item) for item in measured.pop("checkpoints")]
    label = f"{backend}: mail_import() in-process, parse workers: {jobs}"
    if lanterne.agency != AGENCY:
        label += ", into the demo agency (dossiers)"
    if not filing:
        label += ", WITHOUT the file stage"
    if trace:
        label += ", tracemalloc on"
    return Result(
        name=label,
        checkpoints=checkpoints,
        load_before=load,
        load_after=_load(),
        notes=lanterne.verify(corpus.messages),
        **measured,
    )


def _service_child(
    path: Path, *, jobs: int, messages: int, trace: bool, agency_name: str, filing: bool
) -> None:
    """The body of a `service` run, in the child process (Django set up from
    the environment the parent prepared): prints one JSON line. Without
    `filing`, the import's file stage is replaced by nothing: the rate the
    file stage's cost is measured against."""
    import tracemalloc

    import django

    django.setup()
    from lanterne.condominiums.models import Agency
    from lanterne.mail import importing
    from lanterne.mail.importing import ImportSummary, mail_import

    if not filing:
        importing.messages_autofile = lambda messages, **options: None  # type: ignore[assignment]
        importing._suggestions_preload = lambda: None  # the file stage's module, not needed
    agency = Agency.objects.get(name=agency_name)
    checkpoints: list[dict[str, Any]] = []
    targets = [c for c in CHECKPOINTS if c <= messages]
    if trace:
        tracemalloc.start()
    started = time.perf_counter()

    class Observer:
        def advanced(self, summary: ImportSummary) -> None:
            if targets and summary.messages >= targets[0]:
                point: dict[str, Any] = {
                    "messages": targets.pop(0),
                    "seconds": round(time.perf_counter() - started, 1),
                    "rss_mb": round(_rss_mb(os.getpid()), 1),
                    "peak_rss_mb": round(_maxrss_mb(), 1),
                }
                if trace:
                    current, peak = tracemalloc.get_traced_memory()
                    point["python_heap_mb"] = round(current / 2**20, 1)
                    point["python_heap_peak_mb"] = round(peak / 2**20, 1)
                checkpoints.append(point)

        def problem(self, location: str, reason: str) -> None:
            print(f"{location}: {reason}", file=sys.stderr)

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    summary = mail_import(agency=agency, paths=[path], observer=Observer(), parse_processes=jobs)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "messages": summary.messages,
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime
                + usage.ru_stime
                - cpu.ru_utime
                - cpu.ru_stime
                + children.ru_utime
                + children.ru_stime,
                "main_cpu_seconds": usage.ru_utime + usage.ru_stime - cpu.ru_utime - cpu.ru_stime,
                "peak_rss_mb": round(_maxrss_mb(), 1),
                "checkpoints": checkpoints,
            }
        )
    )


# --- Output -------------------------------------------------------------------------


def _line(result: Result) -> str:
    cpu = ""
    if result.cpu_seconds is not None:
        cpu = f", CPU {1000 * result.cpu_seconds / result.messages:.1f} ms/msg"
    if result.main_cpu_seconds is not None:
        cpu += f" ({1000 * result.main_cpu_seconds / result.messages:.1f} in the importing process)"
    return (
        f"{result.name}: {result.messages} messages in {result.seconds:.1f} s = "
        f"{result.rate:.0f} msg/s{cpu} (load {result.load_before:.1f} → {result.load_after:.1f})"
    )


def _report(result: Result) -> None:
    print(_line(result))
    if result.peak_rss_mb is not None:
        print(f"    peak RSS (largest process): {result.peak_rss_mb} MB")
    for point in result.checkpoints:
        text = f"    after {point.messages:>6} messages ({point.seconds} s): RSS {point.rss_mb} MB"
        if point.peak_rss_mb is not None:
            text += f", peak {point.peak_rss_mb} MB"
        if point.python_heap_mb is not None:
            text += f", Python heap {point.python_heap_mb} MB (peak {point.python_heap_peak_mb} MB)"
        print(text)
    if result.notes:
        print(f"    checked: {result.notes}")


def _filing_cost_report(without: Result, with_filing: Result) -> None:
    """The file stage's cost: the share of the import rate it takes (issue 4
    allows 20 %), and its CPU time per message in the importing process."""
    share = 1 - with_filing.rate / without.rate
    verdict = "within" if share <= 0.20 else "OVER"
    print(
        f"    file stage: {with_filing.rate:.0f} msg/s against {without.rate:.0f} without it, "
        f"{100 * share:.1f} % of the rate ({verdict} the 20 % allowed)"
    )
    if with_filing.main_cpu_seconds is not None and without.main_cpu_seconds is not None:
        extra = (with_filing.main_cpu_seconds - without.main_cpu_seconds) / with_filing.messages
        print(f"    file stage: {1000 * extra:.2f} ms of CPU per message in the importing process")


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    description = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": model.group(1) if model else platform.processor(),
        "cores": str(os.cpu_count()),
        "memory": f"{int(memory.group(1)) / 2**20:.1f} GiB" if memory else "?",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }
    try:
        import django

        description["django"] = django.get_version()
    except ImportError:
        pass
    return description


def machine_and_corpus(cache: Path, *, messages: int, seed: int) -> tuple[dict[str, str], Corpus]:
    """Print the machine's description, then make sure of the corpus (made
    once, cached) and print what it holds: how every run of these scripts
    starts. Returns both."""
    description = machine()
    for key, value in description.items():
        print(f"{key}: {value}")
    print(f"corpus: {messages} messages, seed {seed}, cache {cache}")
    corpus = corpus_ensure(cache, messages=messages, seed=seed)
    print(
        f"  {corpus.messages} messages, {corpus.bytes / 2**20:.0f} MiB, "
        f"{corpus.bytes / corpus.messages / 1024:.1f} KiB on average; "
        f"{corpus.with_pdf} with a PDF, {corpus.with_logo} with an inline logo"
    )
    return description, corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache", type=Path, default=CACHE, help="Where the corpus is kept")
    parser.add_argument("--work", type=Path, help="Where data folders go (default: a temp dir)")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="sqlite, postgresql, both, or '' (baselines only)",
    )
    parser.add_argument("--modes", default="command,service", help="command, service or both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCHMARK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="A PostgreSQL server where databases may be created (its maintenance database)",
    )
    parser.add_argument("--jobs", type=int, help="import-mail --jobs (default: its own default)")
    parser.add_argument("--service-jobs", type=int, default=0, help="parse workers in service runs")
    parser.add_argument("--tracemalloc", action="store_true", help="trace the Python heap (slower)")
    parser.add_argument(
        "--with-dossiers",
        action="store_true",
        help="import into the demo agency (dossiers, filed mail, a suggestion model)",
    )
    parser.add_argument(
        "--filing-cost",
        action="store_true",
        help="pair each service run with one without the file stage, and print its cost",
    )
    parser.add_argument("--baseline-sample", type=int, default=10_000)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write the results there")
    parser.add_argument("--child-service", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-jobs", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-messages", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-agency", default=AGENCY, help=argparse.SUPPRESS)
    parser.add_argument("--child-no-filing", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_service:
        _service_child(
            options.child_service,
            jobs=options.child_jobs,
            messages=options.child_messages,
            trace=options.tracemalloc,
            agency_name=options.child_agency,
            filing=not options.child_no_filing,
        )
        return

    description, corpus = machine_and_corpus(
        options.cache, messages=options.messages, seed=options.seed
    )
    results: list[Result] = []
    if not options.skip_baselines:
        print("baselines (one core):")
        results += baselines(corpus, sample=options.baseline_sample)
    work = options.work or Path(tempfile.mkdtemp(prefix="lanterne-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    modes = [mode for mode in options.modes.split(",") if mode]
    for backend in [backend for backend in options.backends.split(",") if backend]:
        for mode in modes:
            # With --filing-cost, a service run goes first without the file
            # stage, then with it, each on a fresh installation.
            runs = [False, True] if options.filing_cost and mode == "service" else [True]
            paired: list[Result] = []
            for filing in runs:
                lanterne, remove = installation(work, backend, options.postgres_url)
                try:
                    lanterne.prepare(with_dossiers=options.with_dossiers)
                    if mode == "command":
                        result = run_command(corpus, lanterne, backend=backend, jobs=options.jobs)
                    else:
                        result = run_service(
                            corpus,
                            lanterne,
                            backend=backend,
                            jobs=options.service_jobs,
                            trace=options.tracemalloc,
                            filing=filing,
                        )
                finally:
                    remove()
                _report(result)
                results.append(result)
                paired.append(result)
            if len(paired) == 2:
                _filing_cost_report(*paired)
    if options.work is None:
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "machine": description,
                    "corpus": {
                        "messages": corpus.messages,
                        "bytes": corpus.bytes,
                        "with_pdf": corpus.with_pdf,
                        "with_logo": corpus.with_logo,
                        "seed": options.seed,
                    },
                    "results": [asdict(result) | {"rate": result.rate} for result in results],
                },
                indent=2,
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
