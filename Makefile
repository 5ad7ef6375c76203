# MySMSAPio: `make run` serves the gateway, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3005
HOST ?= 0.0.0.0
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: help install install-dev run prod-local migrate test test-embedded test-production lint format bench screenshots clean

help:
	@echo "make run              create .venv, install the server's packages (requirements.txt), migrate,"
	@echo "                      serve on $(HOST):$(PORT) in embedded mode (SQLite in var/; PORT=8000 make run)"
	@echo "make test             the whole suite (installs the dev set too): embedded mode (SQLite), then"
	@echo "                      production mode (real PostgreSQL and Redis started by the harness)"
	@echo "make test-embedded    only the embedded-mode run"
	@echo "make test-production  only the production-mode run"
	@echo "make prod-local       a local REHEARSAL of production, not a production server: durable"
	@echo "                      PostgreSQL and Redis from pip, two web nodes (HTTP by granian on 3005 and"
	@echo "                      3006, phones by daphne on 3105 and 3106), a Celery worker and beat; says"
	@echo "                      ready when every /ready is 200; Ctrl-C stops all. Data in var/prod-local."
	@echo "                      Choose: make prod-local ARGS='--ports 3015 3016 --host 192.168.1.20'"
	@echo "make lint             ruff check and format check"
	@echo "make screenshots      the README's admin screenshots (docs/img), taken by the browser tests"
	@echo "make bench            benchmarks: the API against a reference app, dispatch latency, idle phones (durable PostgreSQL, Redis)"

# Two stamps: the server needs requirements.txt alone; tests, lint and benchmarks add the dev set.
$(INSTALLED): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(INSTALLED_DEV): $(INSTALLED) requirements-dev.txt tests/js/package-lock.json
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# SMS Gate's npm client, for its end-to-end test (tests/js): where npm is (.ci/run installs it).
	if command -v npm >/dev/null; then npm ci --prefix tests/js --silent --no-audit --no-fund; \
	else echo "warning: no npm: the npm client's test will be skipped (fails under CI)" >&2; fi
	touch $@

install: $(INSTALLED)

install-dev: $(INSTALLED_DEV)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	exec $(BIN)/daphne -b $(HOST) -p $(PORT) mysmsapio.asgi:application

prod-local: install-dev
	exec $(BIN)/python -m devtools.prod_local $(ARGS)

test: test-embedded test-production

test-embedded: install-dev
	$(BIN)/python -m pytest

test-production: install-dev
	$(BIN)/python -m devtools.test_production

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	$(BIN)/python bench/api_send.py
	$(BIN)/python bench/dispatch.py

screenshots: install-dev
	SCREENSHOT_DIR=docs/img $(BIN)/python -m pytest -q tests/live/test_admin_browser.py

clean:
	rm -rf $(VENV) var
