# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export DEBUG ?= 1

.PHONY: run test lint messages lock clean

$(VENV)/.installed-dev: requirements-dev.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

# The site on the embedded default: SQLite, files under var/, a worker on the filesystem broker.
run: $(VENV)/.installed-dev
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving on http://127.0.0.1:8000 (Ctrl-C stops the site and its worker)"
	$(PY) manage.py run_embedded 127.0.0.1:8000

# Tests. With DATABASE_URL (PostgreSQL) and REDIS_URL set, the integration tests run too;
# without them they are skipped with a reason (and fail instead when CI is set).
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

# The Japanese catalogue: collect the strings marked for translation into
# locale/ja/LC_MESSAGES/django.po (translate the new ones there), then compile django.mo,
# which is committed so that running the site needs no gettext. Needs gettext's tools.
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=node_modules --ignore=tests
messages: $(VENV)/.installed-dev
	$(PY) manage.py makemessages -l ja --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages -l ja $(MESSAGES_IGNORE)

# Re-pin the lock files from pyproject.toml (needs the registry).
lock:
	rm -rf /tmp/modelhub-lock && $(PYTHON) -m venv /tmp/modelhub-lock
	/tmp/modelhub-lock/bin/pip install --quiet $$($(PYTHON) scripts/pyproject_deps.py)
	/tmp/modelhub-lock/bin/pip freeze > requirements.lock
	/tmp/modelhub-lock/bin/pip install --quiet $$($(PYTHON) scripts/pyproject_deps.py dev)
	/tmp/modelhub-lock/bin/pip freeze > requirements-dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
