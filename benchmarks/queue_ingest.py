"""Queue ingestion benchmark: how fast `lanterne worker` processes stored mail
from the Redis queue, with one worker and with two, and the speed-up.

    .venv/bin/python -m benchmarks.queue_ingest [--messages 10000] [--workers 1,2]
        [--backends sqlite,postgresql] [--batch 50] [--redis-url redis://127.0.0.1:6379/12]

1. The corpus of `benchmarks.ingest` (realistic French mail, generated once
   into `benchmarks/.cache/` and reused).
2. For each database backend and each number of workers, a fresh
   installation (a SQLite file in a new data folder, or a PostgreSQL
   database created for the run and dropped after it) with
   `LANTERNE_TASKS_BACKEND=redis`:
   - every message is stored as a source stores it (`mail_receive`: bytes
     fsync'ed, raw message and delivery committed), then its processing is
     enqueued on Redis in batches of `--batch` raw ids, as
     `raw_messages_ingest` tasks — neither is timed;
   - `lanterne worker --processes N` runs until every message is processed
     (parsed, threaded, filed, indexed), then is stopped; with `--drain`,
     until the queue is empty, the reading of attachments' text that the
     processing queued (`documents.tasks`) included. Timed two ways: the
     wall time of the command (worker start-up included), and the
     processing window, from the first message processed to the last
     (`processed_at`).
   - every run is checked: one Message per message, every raw one parsed,
     nothing quarantined, no task failed.
3. The speed-up of N workers over one, on the processing window.

The machine's description (CPU, cores, load) is printed first: two workers
cannot go faster than the cores left free for them. The Redis database given
by `--redis-url` (12 by default) is emptied of RQ's keys (`rq:*`) before
and after each run. See docs/benchmarks.md for recorded results."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.ingest import (
    AGENCY,
    CACHE,
    Corpus,
    Installation,
    installation,
    machine_and_corpus,
)

REDIS_URL = "redis://127.0.0.1:6379/12"


@dataclass
class QueueInstallation(Installation):
    """An installation whose tasks go to Redis."""

    redis_url: str = REDIS_URL

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(LANTERNE_TASKS_BACKEND="redis", LANTERNE_REDIS_URL=self.redis_url)
        return env


@dataclass
class QueueResult:
    """One run: N workers on one database backend."""

    backend: str
    workers: int
    messages: int
    wall_seconds: float
    window_seconds: float
    load_before: float
    load_after: float
    notes: str

    @property
    def rate(self) -> float:
        return self.messages / self.window_seconds

    @property
    def wall_rate(self) -> float:
        return self.messages / self.wall_seconds


def _rq_keys_delete(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match="rq:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _store_and_enqueue(
    corpus: Corpus, lanterne: QueueInstallation, *, batch: int
) -> dict[str, Any]:
    """Store the corpus and enqueue its processing, in a child process (this
    script with `--child-store`) pointed at the installation."""
    done = subprocess.run(  # noqa: S603 — this script, in a child process
        [
            sys.executable,
            "-m",
            "benchmarks.queue_ingest",
            "--child-store",
            str(corpus.path),
            "--child-messages",
            str(corpus.messages),
            "--batch",
            str(batch),
        ],
        env=lanterne.environment(),
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"storing the corpus failed:\n{done.stdout}{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _child_store(path: Path, *, messages: int, batch: int) -> None:
    """In the installation's environment: store `messages` corpus files as a
    source does, then enqueue their processing in batches."""
    import django

    django.setup()
    from django.db import transaction

    from lanterne.condominiums.models import Agency
    from lanterne.mail.services import mail_receive
    from lanterne.mail.tasks import raw_messages_ingest

    agency = Agency.objects.get(name=AGENCY)
    files = sorted(path.glob("*.eml"))[:messages]
    started = time.monotonic()
    raw_ids: list[int] = []
    for start in range(0, len(files), 200):
        with transaction.atomic():
            raw_ids += [
                mail_receive(agency=agency, data=file.read_bytes()).raw.pk
                for file in files[start : start + 200]
            ]
    stored = time.monotonic()
    for start in range(0, len(raw_ids), batch):
        raw_messages_ingest.enqueue(raw_ids[start : start + batch])
    enqueued = time.monotonic()
    print(
        json.dumps(
            {
                "stored": len(raw_ids),
                "store_seconds": stored - started,
                "enqueue_seconds": enqueued - stored,
                "tasks": -(-len(raw_ids) // batch),
            }
        )
    )


def _processing_window(lanterne: Installation) -> float:
    """Seconds from the first message processed to the last."""
    [(first, last)] = lanterne.query(
        "SELECT MIN(processed_at), MAX(processed_at) FROM mail_rawmessage"
    )
    if isinstance(first, str):  # SQLite returns text
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    seconds: float = (last - first).total_seconds()
    return seconds


def _verify(lanterne: Installation, expected: int) -> str:
    messages = lanterne.count("SELECT COUNT(*) FROM mail_message")
    distinct = lanterne.count("SELECT COUNT(DISTINCT raw_id) FROM mail_message")
    states = dict(lanterne.query("SELECT state, COUNT(*) FROM mail_rawmessage GROUP BY state"))
    stored = states.get("stored", 0) + states.get("quarantined", 0)
    if distinct != messages or stored or sum(states.values()) != expected:
        raise RuntimeError(f"incomplete processing: {messages} messages, raw states {states}")
    return f"{messages} messages, raw states {states}"


def run(
    corpus: Corpus,
    *,
    work: Path,
    backend: str,
    workers: int,
    batch: int,
    postgres_url: str,
    redis_url: str,
    drain: bool,
) -> QueueResult:
    plain, remove = installation(work, backend, postgres_url)
    lanterne = QueueInstallation(plain.data_dir, plain.database_url, redis_url=redis_url)
    _rq_keys_delete(redis_url)
    try:
        lanterne.prepare()
        stored = _store_and_enqueue(corpus, lanterne, batch=batch)
        print(
            f"  {backend}, {workers} worker(s): stored {stored['stored']} messages in "
            f"{stored['store_seconds']:.1f} s, enqueued {stored['tasks']} tasks in "
            f"{stored['enqueue_seconds']:.1f} s"
        )
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        _work(lanterne, workers=workers, drain=drain)
        wall = time.monotonic() - started
        load_after = os.getloadavg()[0]
        window = _processing_window(lanterne)
        notes = _verify(lanterne, corpus.messages)
        failed = _failed_jobs(redis_url)
        if failed:
            raise RuntimeError(f"{failed} tasks failed")
    finally:
        _rq_keys_delete(redis_url)
        remove()
    return QueueResult(
        backend=backend,
        workers=workers,
        messages=corpus.messages,
        wall_seconds=wall,
        window_seconds=window,
        load_before=load_before,
        load_after=load_after,
        notes=notes,
    )


def _work(lanterne: QueueInstallation, *, workers: int, drain: bool) -> None:
    """Run `lanterne worker --processes N` until every raw message is
    processed, then stop it (SIGTERM: each worker finishes its task); with
    `drain`, until the queue is empty (`--burst`), the work the processing
    queued itself included (the text of attachments, read by
    `documents.tasks`)."""
    arguments = ["worker", "--processes", str(workers), "--verbosity", "0"]
    if drain:
        lanterne.run(*arguments, "--burst")
        return
    process = subprocess.Popen(  # noqa: S603 — our own command
        lanterne.command(*arguments),
        env=lanterne.environment(),
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.DEVNULL,
    )
    try:
        while process.poll() is None:
            left = lanterne.count("SELECT COUNT(*) FROM mail_rawmessage WHERE state = 'stored'")
            if not left:
                break
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=600)


def _failed_jobs(redis_url: str) -> int:
    import redis
    from rq.registry import FailedJobRegistry

    client = redis.Redis.from_url(redis_url)
    try:
        return len(FailedJobRegistry("default", connection=client))
    finally:
        client.close()


def _line(result: QueueResult) -> str:
    return (
        f"{result.backend}, {result.workers} worker(s): {result.messages} messages in "
        f"{result.window_seconds:.1f} s = {result.rate:.0f} msg/s "
        f"(wall {result.wall_seconds:.1f} s with start-up = {result.wall_rate:.0f} msg/s; "
        f"load {result.load_before:.1f} → {result.load_after:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache", type=Path, default=CACHE, help="Where the corpus is kept")
    parser.add_argument("--work", type=Path, help="Where data folders go (default: a temp dir)")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="sqlite, postgresql or both"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--batch", type=int, default=50, help="raw messages per task")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCHMARK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="A PostgreSQL server where databases may be created (its maintenance database)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCHMARK_REDIS_URL", REDIS_URL),
        help="The Redis database the runs queue on (its rq:* keys are deleted)",
    )
    parser.add_argument(
        "--drain",
        action="store_true",
        help="time until the queue is empty, the text extraction the processing queued included "
        "(by default the workers are stopped once every message is processed)",
    )
    parser.add_argument("--json", type=Path, help="Also write the results there")
    parser.add_argument("--child-store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-messages", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_store:
        _child_store(options.child_store, messages=options.child_messages, batch=options.batch)
        return

    description, corpus = machine_and_corpus(
        options.cache, messages=options.messages, seed=options.seed
    )
    print(f"queue: Redis at {options.redis_url}, {options.batch} raw messages per task")
    work = options.work or Path(tempfile.mkdtemp(prefix="lanterne-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    counts = [int(count) for count in options.workers.split(",") if count]
    results: list[QueueResult] = []
    for backend in [backend for backend in options.backends.split(",") if backend]:
        by_count: dict[int, QueueResult] = {}
        for workers in counts:
            result = run(
                corpus,
                work=work,
                backend=backend,
                workers=workers,
                batch=options.batch,
                postgres_url=options.postgres_url,
                redis_url=options.redis_url,
                drain=options.drain,
            )
            print(_line(result))
            print(f"    checked: {result.notes}")
            by_count[workers] = result
            results.append(result)
        if 1 in by_count:
            for workers, result in sorted(by_count.items()):
                if workers > 1:
                    print(
                        f"  {backend}: {workers} workers go {result.rate / by_count[1].rate:.2f}× "
                        f"as fast as one ({result.rate:.0f} against {by_count[1].rate:.0f} msg/s)"
                    )
    if options.work is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "machine": description,
                    "results": [
                        {**vars(result), "rate": result.rate, "wall_rate": result.wall_rate}
                        for result in results
                    ],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
