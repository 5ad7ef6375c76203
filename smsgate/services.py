"""SMS Gate's client API's own state: an account's settings as its clients read and write them
(``/settings``). Of these only ``webhooks.signing_key`` changes what this server does (it signs
the account's SMS Gate-style webhooks); the rest is kept and answered back, as SMS Gate's
server keeps it for its phones (docs/smsgate-clients.md)."""

from __future__ import annotations

from typing import Any

from accounts.services import smsgate_settings_store
from core.errors import ValidationFailed
from core.text import is_storable_text

# Writable keys per section (anything else is dropped, as SMS Gate's server does), and how each is checked.
_POSITIVE = "positive integer"
_BOOLEAN = "boolean"
_TEXT = "text"
SETTINGS_KEYS: dict[str, dict[str, Any]] = {
    "messages": {
        "send_interval_min": _POSITIVE,
        "send_interval_max": _POSITIVE,
        "limit_period": ["Disabled", "PerMinute", "Per30Minutes", "PerHour", "PerDay"],
        "limit_value": _POSITIVE,
        "sim_selection_mode": ["OSDefault", "RoundRobin", "Random"],
        "log_lifetime_days": _POSITIVE,
        "work_hours_enabled": _BOOLEAN,
        "work_hours_start": _TEXT,
        "work_hours_end": _TEXT,
    },
    "ping": {"interval_seconds": _POSITIVE},
    "logs": {"lifetime_days": _POSITIVE},
    "webhooks": {"internet_required": _BOOLEAN, "retry_count": _POSITIVE, "signing_key": _TEXT},
    "encryption": {"passphrase": _TEXT},
    "gateway": {"notification_channel": ["AUTO", "SSE_ONLY"]},
    "receiver": {"content_provider_enabled": _BOOLEAN},
}
# Written, never answered back. The passphrase is not kept at all: this server decrypts nothing.
WRITE_ONLY = {("webhooks", "signing_key"), ("encryption", "passphrase")}


def _checked(section: str, key: str, value: Any) -> Any:
    kind = SETTINGS_KEYS[section][key]
    if isinstance(kind, list):
        ok = value in kind
    elif kind == _POSITIVE:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    elif kind == _BOOLEAN:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str) and len(value) <= 256 and is_storable_text(value)
    if not ok:
        expected = f"one of {', '.join(kind)}" if isinstance(kind, list) else f"a {kind}"
        raise ValidationFailed(f"{section}.{key} must be {expected}", code="invalid_settings")
    return value


def _writable(body: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise ValidationFailed("settings must be a JSON object of sections", code="invalid_settings")
    written: dict[str, dict[str, Any]] = {}
    for section, values in body.items():
        if section not in SETTINGS_KEYS or values is None:
            continue
        if not isinstance(values, dict):
            raise ValidationFailed(f"{section} must be an object", code="invalid_settings")
        written[section] = {
            key: _checked(section, key, value)
            for key, value in values.items()
            if key in SETTINGS_KEYS[section] and value is not None
        }
    return written


def smsgate_settings_write(*, account_id: int, body: Any, replace: bool) -> dict[str, Any]:
    """PUT (``replace``) or PATCH (merged per key) the account's settings; the public view after."""
    written = _writable(body)

    def update(stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        public = {} if replace else stored
        for section, values in written.items():
            section_values = public.setdefault(section, {})
            section_values.update({key: value for key, value in values.items() if (section, key) not in WRITE_ONLY})
        return public

    key = written.get("webhooks", {}).get("signing_key")
    if key is not None:
        return smsgate_settings_store(account_id=account_id, update=update, signing_key=key)
    if replace:  # a PUT replaces the whole object, the key included
        return smsgate_settings_store(account_id=account_id, update=update, signing_key="")
    return smsgate_settings_store(account_id=account_id, update=update)
