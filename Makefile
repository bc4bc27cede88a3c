# Lanterne: `make demo` serves a demo agency, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_ENV := LANTERNE_MODE=demo LANTERNE_DATA_DIR=$(CURDIR)/var/demo

.PHONY: install demo test lint system-deps runtime-deps lock clean messages

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

# The demo serves the web pages on DEMO_HTTP_PORT and runs Lanterne's SMTP
# receiver on DEMO_SMTP_PORT (tools/demo-serve.sh prints a command that sends
# it a mail); `make demo DEMO_HTTP_PORT=8001 DEMO_SMTP_PORT=2526` when taken.
DEMO_HTTP_PORT ?= 8000
DEMO_SMTP_PORT ?= 2525
DEMO_SITE := LANTERNE_SITE_URL=http://127.0.0.1:$(DEMO_HTTP_PORT)

demo: install runtime-deps
	$(DEMO_ENV) $(BIN)/lanterne migrate --verbosity 0
	$(DEMO_ENV) $(DEMO_SITE) $(BIN)/lanterne load-demo
	$(DEMO_ENV) $(DEMO_SITE) DEMO_HTTP_PORT=$(DEMO_HTTP_PORT) DEMO_SMTP_PORT=$(DEMO_SMTP_PORT) \
	  sh tools/demo-serve.sh $(BIN)/lanterne

# The tests talk to real programs from Debian's packages: chromium (browser
# tests), Dovecot (a real IMAP server) and swaks (a real SMTP client). The
# dossier PDF export (WeasyPrint) needs Pango and a font, at run time too.
RUNTIME_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
SYSTEM_PACKAGES := chromium dovecot-imapd swaks $(RUNTIME_PACKAGES)
system-deps:
	@missing=""; \
	for bin in chromium dovecot swaks; do command -v $$bin >/dev/null 2>&1 || missing=yes; done; \
	ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || missing=yes; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages for the tests: $(SYSTEM_PACKAGES)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); \
	fi

runtime-deps:
	@if ! ldconfig -p | grep -q 'libpangoft2-1.0.so.0'; then \
	  echo "Installing Debian packages for the PDF export: $(RUNTIME_PACKAGES)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(RUNTIME_PACKAGES); \
	fi

test: install system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy lanterne

# The English catalog: extract the French msgids of lanterne/ (only: makemessages
# scans the current folder) into lanterne/locale/en/LC_MESSAGES/django.po, then
# compile it. Translate the new entries (empty or "fuzzy") and run it again.
messages: install
	cd lanterne && $(DEMO_ENV) ../$(BIN)/lanterne makemessages --locale en --no-obsolete --ignore 'migrations/*'
	cd lanterne && $(DEMO_ENV) ../$(BIN)/lanterne compilemessages --locale en

# Refresh the pinned versions after changing pyproject.toml (the `bench`
# extra included: the load test's locust is pinned too).
lock:
	rm -rf /tmp/lanterne-lock && $(PYTHON) -m venv /tmp/lanterne-lock
	/tmp/lanterne-lock/bin/pip install --quiet --upgrade pip
	/tmp/lanterne-lock/bin/pip install --quiet -e '.[test,bench]'
	{ echo "# Pinned versions of every dependency (direct and transitive), used as pip constraints."; \
	  echo "# Regenerate with: make lock"; \
	  /tmp/lanterne-lock/bin/pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache
