"""Settings for the test suite: Lanterne's own settings in test mode, with a
throw-away data folder, mails kept in memory and a fast password hasher."""

import os
import tempfile

os.environ.setdefault("LANTERNE_MODE", "test")
os.environ.setdefault("LANTERNE_DATA_DIR", tempfile.mkdtemp(prefix="lanterne-test-"))

from lanterne.settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Argon2 stays the production default (tests/accounts checks it); hashing with
# it for every test user would only slow the suite down.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Staff log in with force_login throughout the suite; tests/accounts turns
# the second step on where it is what they test.
STAFF_2FA = False
