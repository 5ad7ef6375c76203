"""messaging's hand-written SQL: the statements of its hot paths, on its own tables only.

Each one runs for every message (or every status poll), and compiling it through the ORM cost
more CPU than the database spent running it (bench/api_send.py, bench/lifecycle.py); they run
prepared (core/db.py). Statuses come from the enums, tables and columns from the models, and
``COLUMN_LISTS`` lets tests/test_queries.py hold every hand-written column list to the model.
"""

from __future__ import annotations

from django.db import models

from .models import InboundSms, Message, MessageEvent, MessageStatus

MESSAGE = Message._meta.db_table
EVENT = MessageEvent._meta.db_table
INBOUND = InboundSms._meta.db_table
QUEUED, SENT, DELIVERED = MessageStatus.QUEUED.value, MessageStatus.SENT.value, MessageStatus.DELIVERED.value


def _names(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def _placeholders(columns: list[str]) -> str:
    return ", ".join(["%s"] * len(columns))


# --- Birth: the send path's one statement -------------------------------------------------

MESSAGE_INSERT_COLUMNS = [
    "id",
    "account_id",
    "api_key_id",
    "to",
    "body",
    "sealed_body",
    "encoding",
    "segments",
    "priority",
    "status",
    "gateway_id",
    "carrier",
    "created_at",
    "queued_at",
    "expires_at",
    "idempotency_key",
    "idempotency_scope",
    "group_id",
    "group_position",
    "send_at",
    "is_test",
    "is_encrypted",
    "pinned",
    "sim_number",
]
# Columns the INSERT leaves to the database's default, with the value the row then holds.
MESSAGE_INSERT_DEFAULTS = {"phone_state": ""}
MESSAGE_INSERT = (
    f"INSERT INTO {MESSAGE} ({_names(MESSAGE_INSERT_COLUMNS)}) VALUES ({_placeholders(MESSAGE_INSERT_COLUMNS)})"
)

# --- Events ----------------------------------------------------------------------------------

EVENT_COLUMNS = ["message_id", "gateway_id", "created_at", "event", "detail"]
EVENT_INSERT = f"INSERT INTO {EVENT} ({_names(EVENT_COLUMNS)}) VALUES ({_placeholders(EVENT_COLUMNS)})"
# A report that changes no state (the radio sent it): its event, if the message is this phone's.
EVENT_INSERT_IF_PHONES = f"""
INSERT INTO {EVENT} ({_names(EVENT_COLUMNS)})
SELECT id, gateway_id, %s, %s, '' FROM {MESSAGE} WHERE id = %s AND gateway_id = %s
"""

# --- The phone's side: push, claim, reports ----------------------------------------------------

PUSHED = f"""
UPDATE {MESSAGE} SET pushed_at = %s
WHERE id = %s AND gateway_id = %s AND status = '{QUEUED}' AND pushed_at IS NULL RETURNING id
"""
HANDED_OVER = f"""
UPDATE {MESSAGE} SET pushed_at = %s, handed_over_at = %s WHERE id = %s AND gateway_id = %s AND status = '{QUEUED}'
"""
CLAIM = f"""
UPDATE {MESSAGE} SET status = '{SENT}', sent_at = %s, sealed_body = NULL
WHERE id = %s AND gateway_id = %s AND status = '{QUEUED}' AND expires_at > %s RETURNING id
"""
CLAIMED_BEFORE = f"SELECT 1 FROM {MESSAGE} WHERE id = %s AND gateway_id = %s AND sent_at IS NOT NULL"
DELIVERED_UPDATE = f"""
UPDATE {MESSAGE} SET status = '{DELIVERED}', delivered_at = %s
WHERE id = %s AND gateway_id = %s AND status = '{SENT}' RETURNING id
"""

# --- A phone's waiting work, for the push path (gateways.dispatch asks messaging.selectors) ------

# The parts pushed to a phone within its pacing window, and the oldest of those pushes.
PUSH_WINDOW = (
    f"SELECT COALESCE(SUM(segments), 0), MIN(pushed_at) FROM {MESSAGE} WHERE gateway_id = %s AND pushed_at > %s"
)
JOB_COLUMNS = [
    "id",
    "to",
    "body",
    "sealed_body",
    "segments",
    "priority",
    "carrier",
    "expires_at",
    "created_at",
    "is_encrypted",
    "sim_number",
]
JOBS_WAITING = f"""
SELECT {_names(JOB_COLUMNS)} FROM {MESSAGE}
WHERE gateway_id = %s AND status = '{QUEUED}' AND pushed_at IS NULL AND expires_at > %s
ORDER BY priority DESC, created_at LIMIT %s
"""

# --- Reads of the client API ----------------------------------------------------------------

# The status poll: the API's most frequent read.
STATE_COLUMNS = ["id", "status", "sent_at", "delivered_at", "failed_at", "error_message"]
STATE = f"SELECT {_names(STATE_COLUMNS)} FROM {MESSAGE} WHERE id = %s AND account_id = %s AND is_test = %s"

# The inbox: four fixed statements (with or without ``since``, with or without a cursor), each
# walking the (account, received_at DESC, id DESC) index.
INBOX_COLUMNS = ["id", "sender", "body", "received_at", "gateway_id", "sim_slot"]
_INBOX = """
SELECT {columns} FROM {inbound}
WHERE account_id = %s{since}{before}
ORDER BY received_at DESC, id DESC LIMIT %s
"""
INBOX_PAGES = {
    (has_since, has_before): _INBOX.format(
        columns=_names(INBOX_COLUMNS),
        inbound=INBOUND,
        since=" AND received_at >= %s" if has_since else "",
        before=" AND (received_at < %s OR (received_at = %s AND id < %s))" if has_before else "",
    )
    for has_since in (False, True)
    for has_before in (False, True)
}

# Every hand-written column list, with its model: tests/test_queries.py holds them to it.
COLUMN_LISTS: list[tuple[type[models.Model], list[str]]] = [
    (Message, MESSAGE_INSERT_COLUMNS),
    (Message, list(MESSAGE_INSERT_DEFAULTS)),
    (MessageEvent, EVENT_COLUMNS),
    (Message, JOB_COLUMNS),
    (Message, STATE_COLUMNS),
    (InboundSms, INBOX_COLUMNS),
]
