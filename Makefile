# Two commands on a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_NOW ?= 2026-03-20T12:00:00+09:00
HOST ?= 127.0.0.1:8000
# Two test processes per core: the browser, live-server and worker tests spend much of their time
# waiting, and with one per core half of a 2-core machine stayed idle (the suite took 7.4 against 3.9 min).
# At most 8: each takes its own Redis database for the cache, below the configured one (conftest.py).
PYTEST_ARGS ?= -n $(shell $(PYTHON) -c "import os; print(min(8, 2 * (os.cpu_count() or 1)))")

.PHONY: install run test test-fast screenshots lint format bench messages clean

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_campaign
	PORTAL_NOW=$(DEMO_NOW) $(PY) manage.py demo_data
	@echo "Serving the portal at http://$(HOST)/ (admin: http://$(HOST)/admin/), demo clock $(DEMO_NOW)"
	PORTAL_NOW=$(DEMO_NOW) DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST)

test: install
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The browser tests again, saving what they see to docs/screenshots/ (needs Chromium).
screenshots: install
	PORTAL_SCREENSHOTS=1 $(VENV)/bin/pytest $(PYTEST_ARGS) -m browser

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/score.py
	$(PY) bench/import.py --rows 1000000
	$(PY) bench/load.py

messages: install
	$(PY) manage.py makemessages -l ja -l en --ignore=.venv --ignore=bench --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
