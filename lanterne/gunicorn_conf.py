"""gunicorn's configuration for Lanterne's web processes.

    gunicorn --config python:lanterne.gunicorn_conf lanterne.wsgi

A module of the package (rather than a file beside it) so that an installed
Lanterne finds it by name, wherever the checkout or the wheel sits. Three
variables tune it; everything else is a choice made here, explained where it
is made (docs/deployment.md puts it behind a reverse proxy):

- `LANTERNE_WEB_BIND`: where to listen, `127.0.0.1:8000` by default — the
  reverse proxy on the same machine; `0.0.0.0:8000` behind a load balancer,
  `unix:/run/lanterne/web.sock` for a socket.
- `LANTERNE_WEB_WORKERS`: processes serving requests, 2 × cores + 1 by
  default.
- `LANTERNE_WEB_TIMEOUT`: seconds a request may take before its worker is
  killed and replaced, 60 by default.

(Empty counts as unset, as in `.env.example`.)

The web processes keep no state of their own: sessions, login throttling
(django-axes), the task queue and the stored files live in the database or
the configured storage, so any worker of any machine may serve any request.
"""

from __future__ import annotations

import gc
import os

# --- Workers --------------------------------------------------------------------------
bind = [os.environ.get("LANTERNE_WEB_BIND", "").strip() or "127.0.0.1:8000"]
# Synchronous workers, one request at a time each: Lanterne's requests are
# short database reads, and the reverse proxy in front buffers slow clients
# (uploads, downloads over a poor line), so a worker is never held by a
# client's connection. 2 × cores + 1, gunicorn's own rule of thumb, keeps the
# cores busy while some workers wait on PostgreSQL.
workers = int(os.environ.get("LANTERNE_WEB_WORKERS", "").strip() or 2 * (os.cpu_count() or 1) + 1)
worker_class = "sync"
# A request that takes longer has its worker killed and replaced. A dossier's
# PDF export of several thousand entries is the slowest page; raise it if
# exports of very large dossiers time out.
timeout = int(os.environ.get("LANTERNE_WEB_TIMEOUT", "").strip() or 60)
# On SIGTERM (systemd stop, a deploy), requests in progress get this long to
# finish.
graceful_timeout = 30
# A worker is replaced after this many requests (±jitter, so that they do not
# all restart at once): what a long-lived process accumulates — the learned
# suggestions' models of the agencies whose triage it served, fragmented
# memory after large exports — is given back without a restart of the service.
max_requests = 2000
max_requests_jitter = 200
# Workers tell the master they are alive by touching a file: on tmpfs, a slow
# disk cannot make a healthy worker look hung.
if os.path.isdir("/dev/shm"):  # noqa: S108 — a file of its own per worker, mode 0600
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# Loaded once in the master, then forked: the workers share the memory of the
# code (Django, the apps, WeasyPrint) until they write to it, start in a
# fraction of the time (cheap to recycle, see max_requests), and a broken
# configuration stops the service at start rather than crash-looping workers.
# What this costs: a new release needs a restart of the service (`systemctl
# restart`), not a HUP, since the master holds the old code; and nothing may
# open a connection while the app loads, or the workers would share it —
# Django opens its database connections lazily, on a request's first query.
preload_app = True

# gunicorn's control socket (`gunicornc`) defaults to one path per user, which
# two instances on one machine (the web service and a benchmark, two
# agencies) would fight over; systemd manages the service instead.
control_socket_disable = True
proc_name = "lanterne-web"

# --- Logs -----------------------------------------------------------------------------
# The access log to standard output, errors to standard error: systemd's
# journal (or the container's log) collects both.
accesslog = "-"
errorlog = "-"
# One line per request: the client's address (the proxy's unless
# LANTERNE_TRUSTED_PROXIES is set, see lanterne.core.middleware), the time,
# the method and path, the status, the bytes sent, the time taken in
# milliseconds, the user agent and the worker's pid. The path is logged
# without its query string, which holds what people search for.
access_log_format = '%(h)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s" %(p)s'


def when_ready(server: object) -> None:
    """Once the master has loaded the app, before it forks the workers: load
    the URLconf too, which imports every view and what they use (the API's
    schema, WeasyPrint, the search). Django does it on the first request
    otherwise — in each worker, again after each recycling, a second or so
    that the first co-owner to reach that worker waits, in memory the
    workers would not share."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 — a property that imports the views
    # What is loaded now lives as long as the process: out of the garbage
    # collector's sight. Otherwise each of its full passes (one every sixty
    # dossier pages or so) walks these 200,000 objects again — 130 to 290 ms
    # added to the request it falls on, 20 once frozen (docs/benchmarks.md) —
    # and writes to their pages, which the forked workers then stop sharing.
    gc.collect()
    gc.freeze()
