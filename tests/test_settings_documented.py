"""Every environment variable the settings read is documented in .env.example and the README."""

from __future__ import annotations

import re
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
