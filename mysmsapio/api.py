"""Shared pieces of the public API views."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from .errors import ApiError


class BadRequestBody(ApiError):
    status_code = 400
    code = "invalid_body"
    default_message = "Request body must be a JSON object"


def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (``{}`` when the body is empty)."""
    data = request.data
    if not isinstance(data, dict):
        raise BadRequestBody()
    return data
