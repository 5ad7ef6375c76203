"""How each view declares its operation for the OpenAPI document: the input and answer
schemas it checks and builds (clientapi/schemas.py), the errors it can answer, and the headers
and links around them. drf-spectacular generates the document from these
(mysmsapio/openapi.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from core.schema import Schema

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


def operation(
    operation_id: str,
    *,
    answers: dict[int, type[Schema]],
    errors: tuple[int, ...],
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
    path: dict[str, dict[str, Any]] | None = None,
    answer_headers: dict[str, str] | None = None,
    links: dict[str, dict[str, Any]] | None = None,
) -> Callable:
    """Declare a view method's operation (``extend_schema`` plus what drf-spectacular cannot
    say: the answer's headers and links, read by mysmsapio/openapi.py). Its summary is the
    first sentence of the view's docstring."""
    parameters = [
        OpenApiParameter(name, type=spec["schema"], location=OpenApiParameter.QUERY, required=spec["required"])
        for spec in (query.parameters() if query else [])
        for name in [spec["name"]]
    ]
    parameters += [
        OpenApiParameter(name, type=schema, location=OpenApiParameter.HEADER, required=False)
        for name, schema in (headers or {}).items()
    ]
    parameters += [
        OpenApiParameter(name, type=schema, location=OpenApiParameter.PATH, required=True)
        for name, schema in (path or {}).items()
    ]
    responses: dict[int, Any] = {code: schema for code, schema in answers.items()}
    responses.update({code: OpenApiResponse(Error, description=ERRORS[code]) for code in errors})
    declare = extend_schema(operation_id=operation_id, request=body, responses=responses, parameters=parameters)

    def decorate(method: Callable) -> Callable:
        method.answer_headers = answer_headers or {}
        method.links = links or {}
        return declare(method)

    return decorate
