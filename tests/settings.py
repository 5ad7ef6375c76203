"""Test settings: the real settings, minus the embedded scheduler thread (tests call the
periodic tasks themselves) and with a fast password hasher."""

from mysmsapio.settings import *  # noqa: F403

EMBEDDED_SCHEDULER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REQUEST_LOG_FLUSH_SECONDS = 0  # tests flush the request log themselves
