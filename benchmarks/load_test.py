"""Load test: many co-owners browsing at once, against gunicorn, with locust.

    DATABASE_URL=postgres://… LANTERNE_DATA_DIR=… .venv/bin/python -m benchmarks.load_test
        [--users 100] [--spawn-rate 5] [--duration 3m] [--workers N] [--wait 1,3]
        [--password …] [--json FILE]

Needs locust: `.venv/bin/pip install -c requirements.lock -e '.[test,bench]'`.
Run it with the environment of the installation to load (its database, its
data folder), from the repository's root. It:

1. finds co-owner logins in the database (the scale data's `copro001…`,
   `lanterne generate-scale-data`; the demo's otherwise), checks their
   password (`--password`; by default the scale data's, or the demo's), and
   hands them to locust — distinct accounts while there are enough, reused
   in turn otherwise;
2. starts gunicorn with Lanterne's configuration (lanterne/gunicorn_conf.py)
   on a free port, `--workers` workers (2 × cores + 1 by default, the
   configuration's own default);
3. runs locust headless (benchmarks/locustfile.py: log in, home page, a
   dossier and its older pages, a download, the building's page, search)
   with `--users` co-owners started at `--spawn-rate` per second, for
   `--duration`;
4. samples, every second, the memory of each gunicorn worker: RSS, and PSS
   and USS (what the worker shares with the others counted in part, or not
   at all: with the app preloaded, RSS counts the shared code in every
   worker);
5. prints the throughput and the latency as the clients saw it (p50, p95,
   p99, max) for the whole run and for its steady state — from the moment
   the last co-owner has logged in: until then the logins' password hashing
   (Argon2, costly by design) competes with the browsing — overall and per
   page; the errors; the server's own time per route (gunicorn's access
   log); and the memory of each worker.

Locust runs on the same machine as gunicorn and takes CPU from it; the load
average is printed before and after. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.ingest import machine
from benchmarks.installations import free_port
from benchmarks.pages import database_description, django_setup

REPOSITORY = Path(__file__).resolve().parents[1]
ACCESS_LINE = re.compile(
    r'^\S+ - \[[^\]]+\] "(?P<method>\S+) (?P<path>\S+) [^"]+" '
    r'(?P<status>\d{3}) \S+ (?P<ms>\d+)ms "[^"]*" <(?P<pid>\d+)>$'
)
_ID = re.compile(r"/\d+/")


# --- Accounts ---------------------------------------------------------------------------


def accounts_find(count: int, password: str | None) -> list[dict[str, str]]:
    """Up to `count` co-owner logins whose password is `password` (by
    default the scale data's, else the demo's), in the order of their ids."""
    from lanterne.accounts.models import User
    from lanterne.condominiums.models import Agency
    from lanterne.core.demo import DEMO_PASSWORD
    from lanterne.core.scale import SCALE_AGENCY_NAME, SCALE_PASSWORD

    if password is None:
        scale = Agency.objects.filter(name=SCALE_AGENCY_NAME).exists()
        password = SCALE_PASSWORD if scale else DEMO_PASSWORD
    candidates = (
        User.objects.filter(
            is_active=True, persons__staff_role="", persons__ownerships__isnull=False
        )
        .distinct()
        .order_by("pk")[: count * 2]
    )
    accounts = []
    for user in candidates:
        if user.check_password(password):
            accounts.append({"email": user.email, "password": password})
        if len(accounts) == count:
            break
    if not accounts:
        sys.exit("No co-owner login with that password: pass --password, or generate data.")
    return accounts


# --- gunicorn and its workers' memory ------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _memory_mb(pid: int) -> dict[str, float] | None:
    """RSS, PSS and USS of a process, in MB (None once it is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = {
        match[1]: int(match[2]) / 1024
        for match in re.finditer(r"^(\w+):\s+(\d+) kB", rollup, re.MULTILINE)
    }
    return {
        "rss": fields.get("Rss", 0.0),
        "pss": fields.get("Pss", 0.0),
        "uss": fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0),
    }


@dataclass
class WorkerMemory:
    """One worker's memory over the run."""

    pid: int
    peak_rss: float = 0.0
    last: dict[str, float] = field(default_factory=dict)


class MemorySampler(threading.Thread):
    """Every second, the memory of each worker of the gunicorn master `pid`
    (workers replaced during the run, see max_requests, appear as new pids)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.workers: dict[int, WorkerMemory] = {}
        self.master: dict[str, float] = {}
        self.stopped = threading.Event()

    def sample(self) -> None:
        self.master = _memory_mb(self.pid) or self.master
        for child in _children(self.pid):
            memory = _memory_mb(child)
            if memory is None:
                continue
            worker = self.workers.setdefault(child, WorkerMemory(child))
            worker.peak_rss = max(worker.peak_rss, memory["rss"])
            worker.last = memory

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            self.sample()


def gunicorn_start(port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "LANTERNE_WEB_BIND": f"127.0.0.1:{port}",
        "LANTERNE_WEB_WORKERS": str(workers),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 — our own command
            [sys.executable, "-m", "gunicorn", "--config", "python:lanterne.gunicorn_conf"]
            + ["lanterne.wsgi"],
            cwd=REPOSITORY,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            sys.exit(f"gunicorn stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion/", timeout=5):  # noqa: S310
                break
        except OSError:
            if time.monotonic() > deadline:
                process.terminate()
                sys.exit(f"gunicorn did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    # Every worker up, not only the one that answered.
    while len(_children(process.pid)) < workers and time.monotonic() < deadline:
        time.sleep(0.2)
    return process


# --- The report ---------------------------------------------------------------------------


@dataclass
class Request:
    """One request as locust saw it (benchmarks/locustfile.py records them)."""

    ended: float
    name: str
    ms: float
    failed: bool


def requests_read(path: Path) -> list[Request]:
    records = []
    for line in path.read_text().splitlines():
        ended, name, ms, failed = line.split("\t")
        records.append(Request(float(ended), name, float(ms), failed == "1"))
    return sorted(records, key=lambda r: r.ended)


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * share)) - 1] if ordered else 0.0


@dataclass
class Figures:
    """Requests of a stretch of the run: how many, how fast, how many failed."""

    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, records: list[Request], seconds: float) -> Figures:
        times = [r.ms for r in records]
        return cls(
            requests=len(records),
            failures=sum(r.failed for r in records),
            seconds=seconds,
            p50_ms=statistics.median(times) if times else 0.0,
            p95_ms=_percentile(times, 0.95),
            p99_ms=_percentile(times, 0.99),
            max_ms=max(times, default=0.0),
        )

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label[:34]:<34} {self.requests:>8} {self.failures:>5} {self.per_second:>7.1f} "
            f"{self.p50_ms:>6.0f} {self.p95_ms:>6.0f} {self.p99_ms:>6.0f} {self.max_ms:>6.0f}"
        )


def server_times(log: Path) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Milliseconds per request from gunicorn's access log, by route (ids
    replaced by [id]), and the count of each status."""
    times: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.match(line)
        if match:
            route = match["method"] + " " + _ID.sub("/[id]/", match["path"])
            times.setdefault(route, []).append(float(match["ms"]))
            statuses[match["status"]] = statuses.get(match["status"], 0) + 1
    return times, statuses


def report(
    records: list[Request],
    log: Path,
    sampler: MemorySampler,
    *,
    users: int,
) -> dict[str, Any]:
    """Print the figures and return them. The steady state starts when the
    last co-owner has logged in: before, the logins' password hashing
    (Argon2, by design costly) competes with the browsing."""
    header = (
        f"{'':<34} {'requests':>8} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} "
        f"{'p99':>6} {'max':>6}  (ms, as the clients saw them)"
    )
    first = records[0].ended - records[0].ms / 1000 if records else 0.0
    last = records[-1].ended if records else 0.0
    logins = [r for r in records if r.name == "login"]
    steady_from = max((r.ended for r in logins), default=first)
    steady = [r for r in records if r.ended > steady_from]
    whole = Figures.of(records, last - first)
    browsing = Figures.of(steady, last - steady_from)
    print("\n" + header)
    print(whole.line("whole run"))
    print(Figures.of(logins, last - first).line(f"  logins ({len(logins)} of {users})"))
    print(browsing.line(f"steady state (after {steady_from - first:.0f} s)"))
    pages: dict[str, Figures] = {}
    for name in sorted({r.name for r in steady}):
        pages[name] = Figures.of([r for r in steady if r.name == name], last - steady_from)
        print(pages[name].line(f"  {name}"))

    times, statuses = server_times(log)
    print(f"\n{'route (gunicorn access log)':<40} {'requests':>8} {'p50':>6} {'p95':>6} {'max':>6}")
    for route, values in sorted(times.items(), key=lambda item: -len(item[1])):
        print(
            f"{route[:40]:<40} {len(values):>8} {statistics.median(values):>6.0f} "
            f"{_percentile(values, 0.95):>6.0f} {max(values):>6.0f}"
        )
    print(f"responses by status: {dict(sorted(statuses.items()))}")

    print(f"\n{'worker':>8} {'RSS peak':>9} {'RSS end':>8} {'PSS end':>8} {'USS end':>8}  (MB)")
    for worker in sorted(sampler.workers.values(), key=lambda w: w.pid):
        last_memory = worker.last
        print(
            f"{worker.pid:>8} {worker.peak_rss:>9.1f} {last_memory.get('rss', 0):>8.1f} "
            f"{last_memory.get('pss', 0):>8.1f} {last_memory.get('uss', 0):>8.1f}"
        )
    master = sampler.master
    print(
        f"{'master':>8} {'':>9} {master.get('rss', 0):>8.1f} {master.get('pss', 0):>8.1f} "
        f"{master.get('uss', 0):>8.1f}"
    )
    return {
        "whole_run": asdict(whole) | {"per_second": whole.per_second},
        "steady_state": asdict(browsing) | {"per_second": browsing.per_second},
        "steady_state_pages": {name: asdict(f) for name, f in pages.items()},
        "server_ms": {
            route: {
                "requests": len(values),
                "p50": statistics.median(values),
                "p95": _percentile(values, 0.95),
                "max": max(values),
            }
            for route, values in times.items()
        },
        "statuses": statuses,
        "workers_mb": {
            str(w.pid): {"peak_rss": w.peak_rss, **w.last} for w in sampler.workers.values()
        },
        "master_mb": master,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100, help="Co-owners browsing at once")
    parser.add_argument("--spawn-rate", type=float, default=5, help="Co-owners started per second")
    parser.add_argument("--duration", default="3m", help="How long (locust's -t: 90s, 5m)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn workers (default 2 × cores + 1)",
    )
    parser.add_argument("--wait", default="1,3", help="Pause between actions: min,max seconds")
    parser.add_argument("--password", help="The co-owners' password (default: scale or demo)")
    parser.add_argument("--keep", type=Path, help="Keep gunicorn's log and locust's files here")
    parser.add_argument("--json", type=argparse.FileType("w"), help="Write the figures here")
    args = parser.parse_args()

    django_setup(in_process=False)
    accounts = accounts_find(args.users, args.password)
    from django.db import connection

    description = machine()
    description["database"] = database_description()
    connection.close()
    work = args.keep or Path(tempfile.mkdtemp(prefix="lanterne-load-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "accounts.json").write_text(json.dumps(accounts))
    recorded = work / "requests.tsv"
    recorded.unlink(missing_ok=True)
    for key, value in description.items():
        print(f"{key:>14}: {value}")
    print(
        f"{'load test':>14}: {args.users} co-owners ({len(accounts)} distinct accounts), "
        f"{args.spawn_rate}/s started, {args.duration}, pauses of {args.wait} s, "
        f"{args.workers} gunicorn workers"
    )

    port = free_port()
    log = work / "gunicorn.log"
    server = gunicorn_start(port, args.workers, log)
    sampler = MemorySampler(server.pid)
    sampler.sample()
    idle = ", ".join(
        f"RSS {w.last['rss']:.0f} MB (PSS {w.last['pss']:.0f}, USS {w.last['uss']:.0f})"
        for w in sampler.workers.values()
    )
    print(f"{'idle workers':>14}: {idle}")
    sampler.start()
    load_before = os.getloadavg()[0]
    try:
        locust = subprocess.run(  # noqa: S603 — our own command
            [sys.executable, "-m", "locust", "-f", str(REPOSITORY / "benchmarks" / "locustfile.py")]
            + ["--headless", "--only-summary", "--host", f"http://127.0.0.1:{port}"]
            + ["-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration]
            + ["--stop-timeout", "10", "--csv", str(work / "locust"), "--loglevel", "WARNING"],
            cwd=REPOSITORY,
            env={
                **os.environ,
                "LANTERNE_LOAD_ACCOUNTS": str(work / "accounts.json"),
                "LANTERNE_LOAD_WAIT": args.wait,
                "LANTERNE_LOAD_RECORD": str(recorded),
            },
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        sampler.stopped.set()
        sampler.join()
        sampler.sample()
        load_after = os.getloadavg()[0]
        server.terminate()
        server.wait(timeout=60)
    (work / "locust.log").write_text(locust.stdout + locust.stderr)
    if not recorded.exists():
        sys.exit(f"locust failed ({locust.returncode}):\n{(locust.stdout + locust.stderr)[-3000:]}")
    figures = report(requests_read(recorded), log, sampler, users=args.users)
    steady = figures["steady_state"]
    whole = figures["whole_run"]
    print(
        f"\nsteady state: {steady['per_second']:.1f} requests/s, p50 {steady['p50_ms']:.0f} ms, "
        f"p95 {steady['p95_ms']:.0f} ms; errors: {whole['failures']} of {whole['requests']} "
        f"requests; load average {load_before:.2f} before, {load_after:.2f} after"
    )
    failures = Path(f"{work / 'locust'}_failures.csv")
    if whole["failures"] and failures.exists():
        print(f"\nfailures ({failures}):\n{failures.read_text()[:3000]}")
    print(f"gunicorn's log, locust's CSV and output: {work}")
    if args.json:
        json.dump(
            {
                "machine": description,
                "arguments": {k: v for k, v in vars(args).items() if k not in ("json", "keep")},
                "distinct_accounts": len(accounts),
                "load_before": load_before,
                "load_after": load_after,
                **figures,
            },
            args.json,
            indent=2,
            default=str,
        )


if __name__ == "__main__":
    main()
