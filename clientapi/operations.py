"""What the client API's operations declare alike (core/operations.py): its error texts, the
rate limit headers, a message id in a path and the links from a sent message."""

from __future__ import annotations

import functools

from core.operations import operation as core_operation

from .schemas import Error

ERRORS = {
    400: "Malformed JSON, a body that is not a JSON object, or a bad Idempotency-Key",
    401: "Missing, invalid, revoked or expired API key",
    403: "The key lacks this endpoint's permission",
    404: "No such message for this account",
    405: "Method not allowed",
    409: "The message can no longer be cancelled: a phone already took it",
    413: "Request body too large",
    415: "Not a JSON body",
    422: "A field is missing or invalid; the text says which",
    429: "Rate limited; retry after Retry-After seconds",
    503: "The database or the rate limiter is briefly unavailable; retry",
}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "SMS per minute for this key",
    "X-RateLimit-Remaining": "what is left of it this minute",
    "X-RateLimit-Reset": "when the minute ends (Unix seconds)",
}
# A message id as the API gives them out; anything else names no message (404).
MESSAGE_ID = {"message_id": {"type": "string", "pattern": "^msg_[0-9a-f]{32}$"}}
MESSAGE_LINKS = {
    "status": {"operationId": "smsStatus", "parameters": {"message_id": "$response.body#/message_id"}},
    "cancel": {"operationId": "smsCancel", "parameters": {"message_id": "$response.body#/message_id"}},
}


# The errors of an operation that takes a JSON body, and of one that reads with a query.
WRITE_ERRORS = (400, 401, 403, 413, 415, 422, 429, 503)
READ_ERRORS = (401, 403, 422, 503)


# Every operation of this API answers its errors in the guide's shape.
operation = functools.partial(core_operation, error=Error, error_texts=ERRORS)
