"""Keyed hashes and sealing for every secret the server keeps.

Secrets (API keys, gateway tokens, OTP codes) are stored only as HMAC-SHA256 under
``settings.HASH_SECRET``, which lives in the environment, never in the database: a stolen
database alone cannot be used to test guesses offline.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import string
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

BASE62 = string.ascii_letters + string.digits
_BASE62_CHARACTERS = frozenset(BASE62)


@functools.lru_cache(maxsize=16)
def _purpose_key(secret: str, purpose: str) -> bytes:
    # Derived once per purpose (every request hashes a key): keyed by the secret too, so a
    # changed HASH_SECRET never meets an old derivation.
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value``, domain-separated by ``purpose`` so hashes never cross uses."""
    return hmac.new(_purpose_key(settings.HASH_SECRET, purpose), value.encode(), hashlib.sha256).hexdigest()


def hashes_match(expected: str, candidate: str) -> bool:
    return hmac.compare_digest(expected.encode(), candidate.encode())


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


@dataclass(frozen=True)
class PrefixedSecret:
    """A new secret such as ``api_live_...`` or ``gw_live_...``: ``raw`` is shown once;
    ``lookup`` (the first characters after the prefix, safe to show) finds the row, and
    ``hash`` is all that is stored of the rest."""

    raw: str
    lookup: str
    hash: str


LOOKUP_LENGTH = 8


def new_prefixed_secret(*, prefix: str, purpose: str, body_length: int = 40) -> PrefixedSecret:
    body = random_base62(body_length)
    raw = f"{prefix}{body}"
    return PrefixedSecret(raw=raw, lookup=body[:LOOKUP_LENGTH], hash=keyed_hash(purpose, raw))


def secret_lookup(raw: str, *, prefix: str, min_body_length: int = 32) -> str | None:
    """The lookup part of a presented secret, or None when it is not of the right form."""
    body = raw[len(prefix) :] if raw.startswith(prefix) else ""
    if len(body) < min_body_length or not _BASE62_CHARACTERS.issuperset(body):
        return None
    return body[:LOOKUP_LENGTH]


def _seal_key() -> bytes:
    return hmac.new(settings.HASH_SECRET.encode(), b"seal", hashlib.sha256).digest()


def seal(plaintext: str, *, context: str) -> str:
    """Encrypt text that must be recovered later (an OTP's SMS body until it is handed to a
    phone). AES-GCM with ``context`` as associated data, so a sealed value cannot be moved to
    another row."""
    nonce = os.urandom(12)
    sealed = AESGCM(_seal_key()).encrypt(nonce, plaintext.encode(), context.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(token: str, *, context: str) -> str:
    raw = base64.b64decode(token)
    return AESGCM(_seal_key()).decrypt(raw[:12], raw[12:], context.encode()).decode()


def signing_key(purpose: str) -> bytes:
    """A key for signing (an HMAC-based token), derived from HASH_SECRET for ``purpose`` alone."""
    return _purpose_key(settings.HASH_SECRET, f"signing:{purpose}")
