# Lanterne: `make demo` serves a demo agency, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_ENV := LANTERNE_MODE=demo LANTERNE_DATA_DIR=$(CURDIR)/var/demo

.PHONY: install demo test lint browser-deps lock clean messages

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

demo: install
	$(DEMO_ENV) $(BIN)/lanterne migrate --verbosity 0
	$(DEMO_ENV) $(BIN)/lanterne load-demo
	$(DEMO_ENV) $(BIN)/lanterne runserver --noreload 127.0.0.1:8000

# The browser tests drive Debian's chromium, installed from Debian's packages.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

test: install browser-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy lanterne

# Recompile the English catalog after editing lanterne/locale/en/LC_MESSAGES/django.po.
messages: install
	cd lanterne && ../$(BIN)/django-admin compilemessages --locale en

# Refresh the pinned versions after changing pyproject.toml.
lock:
	rm -rf /tmp/lanterne-lock && $(PYTHON) -m venv /tmp/lanterne-lock
	/tmp/lanterne-lock/bin/pip install --quiet --upgrade pip
	/tmp/lanterne-lock/bin/pip install --quiet -e '.[test]'
	{ echo "# Pinned versions of every dependency (direct and transitive), used as pip constraints."; \
	  echo "# Regenerate with: make lock"; \
	  /tmp/lanterne-lock/bin/pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache
