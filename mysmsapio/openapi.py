"""The public API as an OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``.

Kept by hand: the views are thin functions over services, not serializers a generator could
read. What keeps it honest is the fuzzer: ``tests/live/test_openapi_fuzz.py`` runs Schemathesis
against the real server in production mode, checking every operation's answers (status codes,
bodies, content types) against this document.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


RATE_LIMIT_HEADERS = {
    name: {"schema": {"type": "integer"}, "description": text}
    for name, text in [
        ("X-RateLimit-Limit", "SMS per minute for this key"),
        ("X-RateLimit-Remaining", "what is left of it this minute"),
        ("X-RateLimit-Reset", "when the minute ends (Unix seconds)"),
    ]
}

ERRORS = {
    "400": _error("Malformed JSON, a body that is not a JSON object, or a bad Idempotency-Key"),
    "401": _error("Missing, invalid, revoked or expired API key"),
    "403": _error("The key lacks this endpoint's permission"),
    "404": _error("No such message for this account"),
    "405": _error("Method not allowed"),
    "413": _error("Request body too large"),
    "415": _error("Not a JSON body"),
    "422": _error("A field is missing or invalid; the text says which"),
    "429": {
        **_error("Rate limited; retry after Retry-After seconds"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
    "503": _error("The database or the rate limiter is briefly unavailable; retry"),
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: ERRORS[code] for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


TIME = {"type": ["string", "null"], "format": "date-time"}
SEND_OPTIONS = {
    "send_at": {"type": "string", "format": "date-time", "description": "Beyond the guide: not before (30 days)"},
    "validity": {"type": "integer", "minimum": 60, "maximum": 2592000, "description": "Beyond the guide: seconds"},
    "priority": {"type": "string", "enum": ["normal", "high"], "description": "Beyond the guide"},
}
MESSAGE_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document() -> dict[str, Any]:
    status_schema = _ref("MessageStatus")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MySMSAPio",
            "version": "1",
            "description": "Send SMS and OTPs through your own Android phones. The integration guide's endpoints "
            "exactly, and what is marked 'beyond the guide'. Authenticate with `Authorization: Bearer api_live_...`; "
            "a test-mode key (`api_test_...`) works on every endpoint, and its messages never reach a phone "
            "(docs/test-mode.md).",
        },
        "servers": [{"url": settings.PUBLIC_URL or "/"}],
        "security": [{"apiKey": []}],
        "paths": {
            "/api/v1/sms/send": {
                "post": {
                    "operationId": "smsSend",
                    "summary": "Send an SMS",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                        }
                    ],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["to", "message"],
                            "properties": {
                                "to": {"type": "string", "description": "E.164 or local number"},
                                "message": {"type": "string", "minLength": 1, "maxLength": settings.SMS_MAX_LENGTH},
                                **SEND_OPTIONS,
                            },
                        }
                    ),
                    "responses": {
                        "202": {
                            **_json(_ref("Accepted"), "Stored; a phone will send it", RATE_LIMIT_HEADERS),
                            "links": {
                                "status": {
                                    "operationId": "smsStatus",
                                    "parameters": {"message_id": "$response.body#/message_id"},
                                }
                            },
                        },
                        **_errors("400", "401", "403", "413", "415", "422", "429", "503"),
                    },
                }
            },
            "/api/v1/sms/status/{message_id}": {
                "get": {
                    "operationId": "smsStatus",
                    "summary": "A message's status",
                    "parameters": [MESSAGE_ID],
                    "responses": {"200": _json(status_schema, "The message"), **_errors("401", "403", "404", "503")},
                }
            },
            "/api/v1/sms/inbox": {
                "get": {
                    "operationId": "smsInbox",
                    "summary": "SMS the account's phones received, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _json(_ref("InboxPage"), "A page"), **_errors("401", "403", "422", "503")},
                }
            },
            "/api/v1/otp/send": {
                "post": {
                    "operationId": "otpSend",
                    "summary": "Send a one-time code",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["phone_number"],
                            "properties": {"phone_number": {"type": "string"}},
                        }
                    ),
                    "responses": {
                        "200": _json(_ref("OtpSent"), "Sent"),
                        **_errors("400", "401", "403", "413", "415", "422", "429", "503"),
                    },
                }
            },
            "/api/v1/otp/verify": {
                "post": {
                    "operationId": "otpVerify",
                    "summary": "Verify a one-time code",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["phone_number", "code"],
                            "properties": {"phone_number": {"type": "string"}, "code": {"type": "string"}},
                        }
                    ),
                    "responses": {
                        "200": _json(_ref("OtpVerified"), "Verified (once)"),
                        **_errors("400", "401", "403", "413", "415", "422", "429", "503"),
                    },
                }
            },
            "/api/v1/sms": {
                "get": {
                    "operationId": "smsList",
                    "summary": "Beyond the guide: the account's messages, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["queued", "pending", "sent", "delivered", "failed"]},
                        },
                        {"name": "to", "in": "query", "schema": {"type": "string"}},
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _json(_ref("MessagePage"), "A page"), **_errors("401", "403", "422", "503")},
                }
            },
            "/api/v1/sms/bulk": {
                "post": {
                    "operationId": "smsBulk",
                    "summary": "Beyond the guide: up to 1,000 messages at once",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["messages"],
                            "properties": {
                                "messages": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 1000,
                                    "items": {
                                        "type": "object",
                                        "required": ["to", "message"],
                                        "properties": {
                                            "to": {"type": "string"},
                                            "message": {"type": "string"},
                                            **SEND_OPTIONS,
                                        },
                                    },
                                }
                            },
                        }
                    ),
                    "responses": {
                        "202": _json(_ref("BulkResult"), "A result per item", RATE_LIMIT_HEADERS),
                        **_errors("400", "401", "403", "413", "415", "422", "429", "503"),
                    },
                }
            },
            "/api/v1/sms/{message_id}/cancel": {
                "post": {
                    "operationId": "smsCancel",
                    "summary": "Beyond the guide: cancel a message no phone took yet",
                    "parameters": [MESSAGE_ID],
                    "responses": {
                        "200": _json(status_schema, "Cancelled: failed, 'Cancelled by the client'"),
                        "409": _error("A phone already took it"),
                        **_errors("401", "403", "404", "503"),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "api_live_... (or api_test_... in test mode)",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "code"],
                    "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
                },
                "Accepted": {
                    "type": "object",
                    "required": ["success", "message_id", "status"],
                    "properties": {
                        "success": {"const": True},
                        "message_id": {"type": "string", "pattern": "^msg_[0-9a-f]{32}$"},
                        "status": {"enum": ["queued", "pending"]},
                    },
                },
                "MessageStatus": {
                    "type": "object",
                    "required": ["message_id", "status", "sent_at", "delivered_at", "failed_at", "error_message"],
                    "properties": {
                        "message_id": {"type": "string"},
                        "status": {"enum": ["queued", "pending", "sent", "delivered", "failed"]},
                        "sent_at": TIME,
                        "delivered_at": TIME,
                        "failed_at": TIME,
                        "error_message": {"type": ["string", "null"]},
                    },
                },
                "InboxPage": {
                    "type": "object",
                    "required": ["messages", "next_cursor"],
                    "properties": {
                        "messages": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "from", "text", "received_at", "gateway", "sim_slot"],
                                "properties": {
                                    "id": {"type": "integer"},
                                    "from": {"type": "string"},
                                    "text": {"type": "string"},
                                    "received_at": TIME,
                                    "gateway": {"type": ["string", "null"]},
                                    "sim_slot": {"type": ["integer", "null"]},
                                },
                            },
                        },
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "MessagePage": {
                    "type": "object",
                    "required": ["messages", "next_cursor"],
                    "properties": {
                        "messages": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    _ref("MessageStatus"),
                                    {
                                        "type": "object",
                                        "required": ["to", "created_at"],
                                        "properties": {"to": {"type": "string"}, "created_at": TIME},
                                    },
                                ]
                            },
                        },
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "OtpSent": {
                    "type": "object",
                    "required": ["success", "message", "expires_in"],
                    "properties": {
                        "success": {"const": True},
                        "message": {"type": "string"},
                        "expires_in": {"type": "integer"},
                    },
                },
                "OtpVerified": {
                    "type": "object",
                    "required": ["success", "message"],
                    "properties": {"success": {"const": True}, "message": {"type": "string"}},
                },
                "BulkResult": {
                    "type": "object",
                    "required": ["success", "accepted", "rejected", "results"],
                    "properties": {
                        "success": {"type": "boolean"},
                        "accepted": {"type": "integer"},
                        "rejected": {"type": "integer"},
                        "results": {
                            "type": "array",
                            "items": {
                                "oneOf": [
                                    {
                                        "type": "object",
                                        "required": ["index", "message_id", "status"],
                                        "properties": {
                                            "index": {"type": "integer"},
                                            "message_id": {"type": "string"},
                                            "status": {"enum": ["queued", "pending"]},
                                        },
                                    },
                                    {
                                        "type": "object",
                                        "required": ["index", "error", "code"],
                                        "properties": {
                                            "index": {"type": "integer"},
                                            "error": {"type": "string"},
                                            "code": {"type": "string"},
                                        },
                                    },
                                ]
                            },
                        },
                    },
                },
            },
        },
    }
