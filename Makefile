# MySMSAPio: `make run` serves the gateway, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3005
HOST ?= 0.0.0.0
INSTALLED := $(VENV)/.installed

.PHONY: help install run prod-local migrate test test-embedded test-production lint format bench screenshots clean

help:
	@echo "make run              create .venv, install, migrate, serve on $(HOST):$(PORT) (embedded mode)"
	@echo "make prod-local       a local rehearsal of production on loopback: durable PostgreSQL, Redis, web nodes"
	@echo "                      (HTTP on 3005 and 3006 by granian, phones on a daphne port each), a Celery worker"
	@echo "                      and beat (Ctrl-C stops all; data in var/prod-local; ARGS='--ports 3015 3016 --root DIR')"
	@echo "make test             the whole suite: embedded mode (SQLite), then production mode"
	@echo "                      (real PostgreSQL and Redis started by the harness)"
	@echo "make test-embedded    only the embedded-mode run"
	@echo "make test-production  only the production-mode run"
	@echo "make lint             ruff check and format check"
	@echo "make screenshots      the README's admin screenshots (docs/img), taken by the browser tests"
	@echo "make bench            benchmarks: the API against a reference app, dispatch latency, idle phones (durable PostgreSQL, Redis)"

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	exec $(BIN)/daphne -b $(HOST) -p $(PORT) mysmsapio.asgi:application

prod-local: install
	exec $(BIN)/python -m devtools.prod_local $(ARGS)

test: test-embedded test-production

test-embedded: install
	$(BIN)/python -m pytest

test-production: install
	$(BIN)/python -m devtools.test_production

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/api_send.py
	$(BIN)/python bench/dispatch.py

screenshots: install
	SCREENSHOT_DIR=docs/img $(BIN)/python -m pytest -q tests/live/test_admin_browser.py

clean:
	rm -rf $(VENV) var
