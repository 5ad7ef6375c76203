"""Only the test harness trades PostgreSQL's durability for speed (issue 9): what make
prod-local, the benchmarks and docker-compose run keeps every commit on disk."""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml

from devtools.services import Postgres
from devtools.topology import Topology

ROOT = Path(__file__).resolve().parents[1]
UNSAFE = {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}


def test_postgres_is_durable_unless_told_otherwise(tmp_path):
    assert not UNSAFE & set(Postgres(tmp_path).server_settings())
    assert set(Postgres(tmp_path, durable=False).server_settings()) >= UNSAFE


def test_the_topology_is_durable_by_default_and_only_the_test_harness_says_otherwise():
    assert inspect.signature(Topology).parameters["durable"].default is True
    callers = [*ROOT.glob("devtools/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("tests/**/*.py")]
    non_durable = {
        path.relative_to(ROOT).as_posix()
        for path in callers
        if "durable=False)" in path.read_text() and path.name != "test_durability.py"
    }
    assert non_durable == {"devtools/test_production.py", "tests/topology/conftest.py"}


def test_docker_compose_runs_postgres_with_its_defaults():
    postgres = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["postgres"]
    assert "command" not in postgres
    assert not any(setting in str(postgres) for setting in UNSAFE)
