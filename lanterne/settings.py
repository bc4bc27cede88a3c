"""Lanterne's settings, read from the environment.

Every variable is documented in `.env.example`. The embedded default keeps all
state (SQLite database, stored files, raw mail) under one data folder,
`LANTERNE_DATA_DIR`; PostgreSQL is used when `DATABASE_URL` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def env_str(name: str, default: str = "") -> str:
    """A string variable, stripped."""
    return os.environ.get(name, default).strip()


def env_bool(name: str, *, default: bool = False) -> bool:
    """A boolean variable: 1/true/yes/on (any case) is true."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list variable."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent

# --- Mode -------------------------------------------------------------------
# LANTERNE_MODE is "production" (the default), "demo" or "test". Demo and test
# may run without a secret key; production may not.
MODE = env_str("LANTERNE_MODE", "production")
if MODE not in {"production", "demo", "test"}:
    raise ImproperlyConfigured(f"LANTERNE_MODE must be production, demo or test, not {MODE!r}")

DEBUG = env_bool("LANTERNE_DEBUG", default=False)

SECRET_KEY = env_str("LANTERNE_SECRET_KEY")
if not SECRET_KEY:
    if MODE == "production":
        raise ImproperlyConfigured(
            "LANTERNE_SECRET_KEY is required (set LANTERNE_MODE=demo to try Lanterne without one)."
        )
    SECRET_KEY = f"lanterne-insecure-{MODE}-key-never-use-in-production"
# Former secret keys, still accepted for signatures and stored secrets while
# a new key is rolled out (see lanterne.core.secrets and `rotate-secrets`).
SECRET_KEY_FALLBACKS = env_list("LANTERNE_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("LANTERNE_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("LANTERNE_CSRF_TRUSTED_ORIGINS")

# Public address of the site, used in links sent by e-mail (invitations, resets).
SITE_URL = env_str("LANTERNE_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Data folder --------------------------------------------------------------
DATA_DIR = Path(env_str("LANTERNE_DATA_DIR", "var")).resolve()
FILES_DIR = DATA_DIR / "files"
# The data folder is created on first use, so that a fresh checkout just runs.
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "static").mkdir(exist_ok=True)

# --- Applications -------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "anymail",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # For its static files: the API's documentation serves Swagger UI from
    # them rather than from a CDN (lanterne/api/endpoints.py).
    "ninja",
    # Background work (the "Background work" section below): the queue table
    # of the database backend, and RQ's worker commands.
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "lanterne.accounts",
    "lanterne.condominiums",
    "lanterne.dossiers",
    "lanterne.documents",
    "lanterne.audit",
    "lanterne.core",
    "lanterne.mail",
    "lanterne.notifications",
    "lanterne.reminders",
    "lanterne.api",
    "lanterne.exports",
    "lanterne.privacy",
    "lanterne.search",
]

MIDDLEWARE = [
    # First: every later middleware, django-axes and the access log see the
    # client's address (LANTERNE_TRUSTED_PROXIES).
    "lanterne.core.middleware.ForwardedClientMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "lanterne.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lanterne.accounts.middleware.FirstRunMiddleware",
    "lanterne.accounts.middleware.SessionExpiryMiddleware",
    "lanterne.accounts.middleware.StaffTwoFactorMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lanterne.urls"
WSGI_APPLICATION = "lanterne.wsgi.application"
ASGI_APPLICATION = "lanterne.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lanterne.accounts.context_processors.viewer",
            ],
            # `{% url %}` in every template, faster: lanterne/core/addresses.py.
            "builtins": ["lanterne.core.addresses"],
        },
    },
    # The templates rendered once per row of a long page (a dossier's
    # timeline entries), in `<app>/jinja2/`: lanterne/core/jinja.py says why.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "lanterne.core.jinja.environment"},
    },
]
# Form widgets through Django's own Jinja2 templates: the same markup, in a
# fraction of the time (a staff dossier page renders five forms).
FORM_RENDERER = "django.forms.renderers.Jinja2"

# --- Database -----------------------------------------------------------------
# SQLite in the data folder by default; PostgreSQL (or any dj-database-url URL)
# when DATABASE_URL is set.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Memory for each sort or bitmap of a query, set per connection. At
        # PostgreSQL's default 4 MB, the bitmap of a common word's matches
        # (240,000 of a million mails) turns lossy, and every row of the
        # pages it covers is read again to check its words: a search in one
        # condominium took 118 ms instead of 53 (docs/benchmarks.md). The
        # URL's own `options` come after, and win.
        database_options = DATABASES["default"].setdefault("OPTIONS", {})
        database_options["options"] = (
            f"-c work_mem=16MB {database_options.get('options', '')}".strip()
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "lanterne.sqlite3"),
            "OPTIONS": {
                # WAL lets readers proceed while the pipeline writes. FULL
                # syncs every commit: a message acknowledged to its source
                # (SMTP 250, IMAP progress) must survive a power cut, row
                # included, not only its bytes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# An invitation link is valid this many days.
INVITATION_VALID_DAYS = int(env_str("LANTERNE_INVITATION_VALID_DAYS", "14"))
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day

# Staff confirm each login with a code from an authenticator app (TOTP) or a
# backup code (lanterne.accounts.otp). Off in the demo, whose staff log in
# with a password only.
STAFF_2FA = env_bool("LANTERNE_STAFF_2FA", default=MODE != "demo")
OTP_TOTP_ISSUER = "Lanterne"
# Login throttling (django-axes, lanterne.accounts.throttling): after
# LANTERNE_LOGIN_FAILURE_LIMIT wrong passwords or second-step codes for one
# e-mail from one IP address, that pair is refused for
# LANTERNE_LOGIN_COOLOFF_MINUTES. A full login (both steps) resets the count.
AXES_FAILURE_LIMIT = int(env_str("LANTERNE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = int(env_str("LANTERNE_LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "lanterne.accounts.throttling.login_username"
AXES_LOCKOUT_CALLABLE = "lanterne.accounts.throttling.lockout_response"
# Reset by lanterne.accounts.throttling once the second step passes too: a
# right password must not wipe the count of wrong codes.
AXES_RESET_ON_SUCCESS = False
# Attempts during the cool-off are refused unchecked and do not extend it, so
# the time the lockout page gives holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Only failed attempts are kept, not a log of every login.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "csrfmiddlewaretoken"]

SESSION_COOKIE_AGE = int(env_str("LANTERNE_SESSION_AGE", str(60 * 60 * 12)))
# Staff sessions also end after this many minutes without a request (0: never);
# LANTERNE_SESSION_AGE counts from the login (lanterne.accounts.middleware).
SESSION_IDLE_MINUTES = int(env_str("LANTERNE_SESSION_IDLE_MINUTES", "60"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
HTTPS = env_bool("LANTERNE_HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent with every response (lanterne.core.middleware) unless it has its own
# (a mail's HTML version, files: stricter, sandboxing). No inline script, no
# eval, nothing from another origin: even markup that slipped into a page runs
# nothing. Lanterne's pages keep to it (no inline script, handler or style).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
if HTTPS:
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    # The TLS-terminating proxy must set this header, overwriting what the
    # client sent (docs/deployment.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies in front of the web processes (a TLS-terminating nginx, a
# load balancer): how many of them append the address they were reached from
# to X-Forwarded-For. 0, the default: none is trusted and the socket's address
# is the client's, so that a client cannot choose, by sending the header, the
# address its failed logins are counted against (django-axes) or logged
# under. With N, the client is the Nth address from the right, the one the
# outermost of those N proxies wrote (lanterne.core.middleware).
TRUSTED_PROXIES = int(env_str("LANTERNE_TRUSTED_PROXIES") or "0")

# --- Internationalisation ------------------------------------------------------
# The interface speaks French; source strings are written in French and
# English is provided by the catalog in lanterne/locale/en.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("Anglais"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True

# --- Static and stored files -------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The project-wide stylesheet lives in lanterne/static, which belongs to no app:
# without this, neither the finders nor `collectstatic` would see it.
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where documents and mail are kept: LANTERNE_STORAGE=local (the data folder,
# the default) or s3: one bucket of an S3-compatible object store (AWS,
# MinIO, other providers through LANTERNE_S3_ENDPOINT_URL), documents under
# files/, raw mail and attachment blobs under mail/ (lanterne.core.storage).
# The objects stay private; without LANTERNE_S3_ACCESS_KEY_ID and
# LANTERNE_S3_SECRET_ACCESS_KEY, boto3's default chain finds the credentials
# (AWS_* variables, ~/.aws, the machine's role).
STORAGE = env_str("LANTERNE_STORAGE", "local")
if STORAGE == "local":
    _FILE_STORAGES: dict[str, dict[str, object]] = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": FILES_DIR, "base_url": None},
        },
        "mail": {
            "BACKEND": "lanterne.mail.storage.DurableFileSystemStorage",
            "OPTIONS": {"location": DATA_DIR / "mail", "base_url": None},
        },
    }
elif STORAGE == "s3":
    S3_BUCKET = env_str("LANTERNE_S3_BUCKET")
    if not S3_BUCKET:
        raise ImproperlyConfigured(
            "LANTERNE_STORAGE=s3 needs LANTERNE_S3_BUCKET (the bucket's name)."
        )
    S3_ENDPOINT_URL = env_str("LANTERNE_S3_ENDPOINT_URL") or None
    if S3_ENDPOINT_URL and not S3_ENDPOINT_URL.startswith(("https://", "http://")):
        raise ImproperlyConfigured(
            "LANTERNE_S3_ENDPOINT_URL must start with https:// (or http://), "
            f"not {S3_ENDPOINT_URL!r}"
        )
    _s3_key = env_str("LANTERNE_S3_ACCESS_KEY_ID") or None
    _s3_secret = env_str("LANTERNE_S3_SECRET_ACCESS_KEY") or None
    if (_s3_key is None) != (_s3_secret is None):
        raise ImproperlyConfigured(
            "Set both LANTERNE_S3_ACCESS_KEY_ID and LANTERNE_S3_SECRET_ACCESS_KEY, or neither "
            "(boto3's default chain then finds the credentials)."
        )
    _s3 = {
        "bucket_name": S3_BUCKET,
        "endpoint_url": S3_ENDPOINT_URL,
        "region_name": env_str("LANTERNE_S3_REGION") or None,
        "access_key": _s3_key,
        "secret_key": _s3_secret,
    }
    _FILE_STORAGES = {
        "default": {
            "BACKEND": "lanterne.core.storage.PrivateS3Storage",
            "OPTIONS": {**_s3, "location": "files"},
        },
        "mail": {
            "BACKEND": "lanterne.mail.storage.S3BlobStorage",
            "OPTIONS": {**_s3, "location": "mail"},
        },
    }
else:
    raise ImproperlyConfigured(f"LANTERNE_STORAGE must be local or s3, not {STORAGE!r}")
STORAGES = {
    # Documents are never served from a public URL: downloads go through the
    # access policy (lanterne.documents.views.document_download).
    "default": _FILE_STORAGES["default"],
    # The raw store of e-mail bytes and attachment blobs (lanterne.mail.storage).
    "mail": _FILE_STORAGES["mail"],
    "staticfiles": {
        "BACKEND": (
            # Hashed, compressed files need `collectstatic`, which production
            # deployments run; demo and tests serve the files as they are.
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if MODE == "production"
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}
WHITENOISE_USE_FINDERS = MODE != "production"
# IMAP servers on loopback or private addresses: refused in production (the
# connection test must not reach Lanterne's own network); allowed in demo and
# test mode, or with LANTERNE_IMAP_ALLOW_PRIVATE_HOSTS=1 for an agency whose
# mail server sits on its own network.
IMAP_ALLOW_PRIVATE_HOSTS = env_bool(
    "LANTERNE_IMAP_ALLOW_PRIVATE_HOSTS", default=MODE != "production"
)
# Largest e-mail accepted, in bytes; larger ones are refused with a record.
MAIL_MAX_BYTES = int(env_str("LANTERNE_MAIL_MAX_BYTES", str(50 * 1024 * 1024)))
# Largest document accepted by upload, in bytes.
DOCUMENT_MAX_BYTES = int(env_str("LANTERNE_DOCUMENT_MAX_BYTES", str(25 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Retention of documents and of erased persons' data (lanterne.privacy) ---------
# Years a document is kept, per kind (lanterne/documents/choices.py), counted from
# the end of its validity, else its date, else its upload — in a dossier, not
# before the dossier is closed; None: kept for the building's life (the
# syndicate's archives, loi du 10 juillet 1965 art. 18). Ten years for accounting
# and works papers (code de commerce L123-22; code civil art. 1792-4-1), five for
# contracts and lists of persons (code civil art. 2224). `lanterne apply-retention`
# deletes what is past it. LANTERNE_RETENTION_YEARS overrides kinds, e.g.
# "photo=5,letter=none". A kind missing here is kept.
RETENTION_YEARS: dict[str, int | None] = {
    "quote": 10, "invoice": 10, "report": 10, "photo": 10, "work_order": 10, "letter": 10,
    "bylaws": None, "summary_sheet": None, "maintenance_log": None, "diagnostic_dtg": None,
    "diagnostic_asbestos": None, "diagnostic_energy": None, "minutes": None,
    "insurance_contract": 5, "maintenance_contract": 5, "syndic_contract": 5,
    "owner_account": 10, "charges_statement": 10, "works_fund_share": 10,
    "call_for_funds": 10, "accounts": 10, "bank_statement": 10, "owners_list": 5,
    "syndic_credentials": 5, "legal_proceedings": None, "other": None,
}  # fmt: skip
for _item in env_list("LANTERNE_RETENTION_YEARS"):
    _kind, _sep, _years = (part.strip().lower() for part in _item.partition("="))
    if not (_years == "none" or _years.isdigit()):
        raise ImproperlyConfigured(f"LANTERNE_RETENTION_YEARS: {_item!r} is not KIND=YEARS|none")
    RETENTION_YEARS[_kind] = None if _years == "none" else int(_years)
# What an erased person leaves in the audit log and the agency's reminders is kept
# this many years after the erasure (evidence: code civil art. 2224), then purged.
ERASED_PERSON_RETENTION_YEARS = int(env_str("LANTERNE_ERASED_PERSON_RETENTION_YEARS", "5"))

# --- Outgoing mail ------------------------------------------------------------------
# SMTP when LANTERNE_SMTP_HOST is set; otherwise mails are written as files in
# the data folder (demo) or kept in memory (tests).
DEFAULT_FROM_EMAIL = env_str("LANTERNE_FROM_EMAIL", "Lanterne <no-reply@lanterne.localhost>")
SMTP_HOST = env_str("LANTERNE_SMTP_HOST")
# Sending through a provider's API instead of SMTP (django-anymail, Mailgun):
# LANTERNE_MAILGUN_API_KEY and the sending domain LANTERNE_MAILGUN_SENDER_DOMAIN.
# The mail keeps the headers Lanterne writes (Message-ID, Reply-To with the
# dossier's token, the tagged subject), so replies are filed as with SMTP.
MAILGUN_API_KEY = env_str("LANTERNE_MAILGUN_API_KEY")
if MAILGUN_API_KEY:
    EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
elif SMTP_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = SMTP_HOST
    EMAIL_PORT = int(env_str("LANTERNE_SMTP_PORT", "25"))
    EMAIL_HOST_USER = env_str("LANTERNE_SMTP_USER")
    EMAIL_HOST_PASSWORD = env_str("LANTERNE_SMTP_PASSWORD")
    EMAIL_USE_TLS = env_bool("LANTERNE_SMTP_STARTTLS", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "outbox"

# --- Inbound mail webhooks ----------------------------------------------------------
# A mail provider may receive the agencies' mail and POST each message to
# Lanterne (lanterne.mail.sources.webhook; Mailgun through django-anymail).
# Both variables are required, and without them the webhook URL
# (/webhooks/anymail/mailgun/inbound_mime/) is not mounted at all:
# LANTERNE_ANYMAIL_WEBHOOK_SECRET is the "user:password" the provider sends as
# HTTP basic auth; LANTERNE_MAILGUN_WEBHOOK_SIGNING_KEY is the key Mailgun signs
# each POST with (HMAC-SHA256 of its timestamp and token).
_webhook_secret = env_str("LANTERNE_ANYMAIL_WEBHOOK_SECRET")
_mailgun_signing_key = env_str("LANTERNE_MAILGUN_WEBHOOK_SIGNING_KEY")
if bool(_webhook_secret) != bool(_mailgun_signing_key):
    raise ImproperlyConfigured(
        "Inbound mail webhooks need both LANTERNE_ANYMAIL_WEBHOOK_SECRET and "
        "LANTERNE_MAILGUN_WEBHOOK_SIGNING_KEY (or neither)."
    )
if _webhook_secret and ":" not in _webhook_secret:
    raise ImproperlyConfigured("LANTERNE_ANYMAIL_WEBHOOK_SECRET must read user:password.")
MAIL_WEBHOOKS_ENABLED = bool(_webhook_secret and _mailgun_signing_key)
ANYMAIL = (
    {"WEBHOOK_SECRET": _webhook_secret, "MAILGUN_WEBHOOK_SIGNING_KEY": _mailgun_signing_key}
    if MAIL_WEBHOOKS_ENABLED
    else {}
)
if MAILGUN_API_KEY:
    ANYMAIL["MAILGUN_API_KEY"] = MAILGUN_API_KEY
    ANYMAIL["MAILGUN_SENDER_DOMAIN"] = env_str("LANTERNE_MAILGUN_SENDER_DOMAIN")

# --- Background work ---------------------------------------------------------------
# Work that need not delay a request or a mail source runs as tasks
# (lanterne/*/tasks.py, Django's Tasks framework through django-tasks):
# processing stored mail, sending notifications, indexing for search.
# LANTERNE_TASKS_BACKEND chooses where they run:
# - "immediate": as they are enqueued, in the process that enqueues them (after
#   its commit) — no worker to run; the default of the demo (`make demo` runs
#   no more processes than before) and of the tests;
# - "database": queued in Lanterne's own database (django-tasks-db), run by
#   `lanterne worker` — one machine, nothing more to install; the production
#   default: run `lanterne worker` next to the web server;
# - "redis": queued on Redis (django-tasks-rq, RQ) at LANTERNE_REDIS_URL, run
#   by `lanterne worker [--processes N]` on any number of machines.
TASKS_BACKEND = env_str(
    "LANTERNE_TASKS_BACKEND", "database" if MODE == "production" else "immediate"
)
REDIS_URL = env_str("LANTERNE_REDIS_URL", "redis://127.0.0.1:6379/0")
_TASK_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
    "redis": "django_tasks_rq.RQBackend",
}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"LANTERNE_TASKS_BACKEND must be immediate, database or redis, not {TASKS_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASKS_BACKEND]}}
# RQ's queue (read by the redis backend and `lanterne worker`). A task may run
# this long (seconds) before RQ stops it: a batch of large messages takes time.
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 30 * 60}}
RQ = {
    # Lanterne enqueues after its own commit (`transaction.on_commit`):
    # django-rq must not defer it once more.
    "COMMIT_MODE": "auto",
    # The job class of django-tasks-rq: it runs the Task and records its result.
    "JOB_CLASS": "django_tasks_rq.Job",
}

# --- Logging ----------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LANTERNE_LOG_LEVEL", "INFO")},
}
