"""Shared pieces of the public API views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import ApiError


def api_time(value: datetime | None) -> str | None:
    """A time as the API writes it everywhere: UTC, to the second, ``Z`` (the guide's form)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class ApiView(APIView):
    """The public API's views: DRF's, answering JSON whatever the client accepts.

    DRF's content negotiation parses the Accept header on every request to choose among
    renderers, and we have one (the contract is JSON, errors included): skip it."""

    _renderer = JSONRenderer()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "OPTIONS":
            # Asks only which methods exist (a browser's CORS preflight carries no key): no
            # authentication, and nothing about the API's internals in the answer.
            request.accepted_renderer, request.accepted_media_type = self._renderer, self._renderer.media_type
            return
        super().initial(request, *args, **kwargs)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(status=204)  # DRF adds Allow; the API middleware adds CORS if enabled

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[JSONRenderer, str]:
        return self._renderer, self._renderer.media_type


class ApiAnswer(NamedTuple):
    """An endpoint's answer, for DRF's view and for the lean edge (mysmsapio/edge.py) alike."""

    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = {}

    def response(self) -> Response:
        return Response(self.body, status=self.status, headers=self.headers)


class BadRequestBody(ApiError, code="invalid_body", message="Request body must be a JSON object"):
    """A body that is not JSON, or JSON that is not an object."""


def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object. An empty body declared as JSON is
    malformed JSON (an empty body without a content type is ``{}``)."""
    if request.stream is None and request.content_type.split(";")[0].strip().lower() == "application/json":
        raise ParseError()
    data = request.data
    if not isinstance(data, dict):
        raise BadRequestBody()
    return data
