"""Every environment variable the settings read is documented in .env.example and the README,
and settings that cannot work are refused at start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "mysmsapio" / "settings.py").read_text()
    names = set(re.findall(r'env\.(?:str|int|bool|list|float)\("([A-Z_]+)"', source))
    names |= set(re.findall(r'_secret\("([A-Z_]+)"\)', source))
    return names


def test_settings_read_the_variables_we_expect():
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HASH_SECRET"} <= variables_read_by_settings()


def test_every_variable_is_in_env_example():
    documented = set(re.findall(r"(?m)^([A-Z_]+)=", (ROOT / ".env.example").read_text()))
    assert variables_read_by_settings() <= documented


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"(?m)^\| `([A-Z_]+)` \|", readme))
    assert variables_read_by_settings() <= documented


def settings_error(**env: str) -> str:
    """What loading the settings in a fresh interpreter says about ``env`` (empty: loaded)."""
    production = {
        "DATABASE_URL": "postgres://u:p@127.0.0.1:9/x",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "SECRET_KEY": "k",
        "HASH_SECRET": "h",
    }
    script = "import django; django.setup()"
    environ = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "mysmsapio.settings", **production, **env}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True)
    return done.stderr.strip().splitlines()[-1] if done.returncode else ""


def test_phone_db_threads_must_leave_the_pool_a_connection():
    """Each of the phone server's database threads holds a pooled connection per call: as many
    threads as the pool has connections would leave its other work waiting for the pool."""
    assert settings_error(PHONE_DB_THREADS="9", DB_POOL_MAX_SIZE="10") == ""
    refused = "PHONE_DB_THREADS must be at least 1 and below DB_POOL_MAX_SIZE"
    assert settings_error(PHONE_DB_THREADS="10", DB_POOL_MAX_SIZE="10").endswith(refused)
    assert settings_error(PHONE_DB_THREADS="0").endswith(refused)
