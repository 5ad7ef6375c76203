"""otp's hand-written SQL: the send and verify paths' statements, on its own tables only.

Compiling them through the ORM cost more CPU than the rest of a verification; they run
prepared (core/db.py). Statuses come from the enums; tests/test_queries.py holds each column
list to its model.
"""

from __future__ import annotations

from django.db import models

from .models import Otp, OtpStatus, PhoneVerification

OTP_TABLE = Otp._meta.db_table
VERIFICATION_TABLE = PhoneVerification._meta.db_table
ACTIVE, REPLACED = OtpStatus.ACTIVE.value, OtpStatus.REPLACED.value


def _names(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


# --- The send path ---------------------------------------------------------------------------

VERIFICATION_CREATE = f"""
INSERT INTO {VERIFICATION_TABLE} (account_id, phone_number, is_test, consecutive_failures, locked_until, updated_at)
VALUES (%s, %s, %s, 0, NULL, %s) ON CONFLICT (account_id, phone_number, is_test) DO NOTHING
"""
RECENT_SENDS = f"""
SELECT created_at FROM {OTP_TABLE} WHERE account_id = %s AND phone_number = %s AND is_test = %s AND created_at > %s
ORDER BY created_at LIMIT %s
"""
REPLACE_LIVE = f"""
UPDATE {OTP_TABLE} SET status = '{REPLACED}'
WHERE account_id = %s AND phone_number = %s AND is_test = %s AND status = '{ACTIVE}'
"""
OTP_INSERT_COLUMNS = [
    "account_id",
    "api_key_id",
    "phone_number",
    "code_hash",
    "status",
    "attempts",
    "message_id",
    "created_at",
    "expires_at",
    "verified_at",
    "is_test",
]
OTP_INSERT = f"""
INSERT INTO {OTP_TABLE} ({_names(OTP_INSERT_COLUMNS)})
VALUES ({", ".join(["%s"] * len(OTP_INSERT_COLUMNS))}) RETURNING id
"""

# --- The verify path (the row lock serialises verifies of one number; SQLite serialises
# whole transactions instead, IMMEDIATE, and has no FOR UPDATE) --------------------------------

VERIFICATION_COLUMNS = ["id", "consecutive_failures", "locked_until"]
VERIFICATION = f"""
SELECT {_names(VERIFICATION_COLUMNS)} FROM {VERIFICATION_TABLE}
WHERE account_id = %s AND phone_number = %s AND is_test = %s
"""
VERIFICATION_EXISTS = f"SELECT 1 FROM {VERIFICATION_TABLE} WHERE account_id = %s AND phone_number = %s AND is_test = %s"
LIVE_OTP_COLUMNS = ["id", "code_hash", "status", "attempts", "expires_at"]
LIVE_OTP = f"""
SELECT {_names(LIVE_OTP_COLUMNS)} FROM {OTP_TABLE}
WHERE account_id = %s AND phone_number = %s AND is_test = %s AND status = '{ACTIVE}'
"""

COLUMN_LISTS: list[tuple[type[models.Model], list[str]]] = [
    (Otp, OTP_INSERT_COLUMNS),
    (PhoneVerification, VERIFICATION_COLUMNS),
    (Otp, LIVE_OTP_COLUMNS),
]
