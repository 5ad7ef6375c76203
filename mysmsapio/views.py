from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.errors import error_body, json_error, require_safe_json
from core.health import check_database, readiness
from core.operations import plain_operation
from core.schema import Answer, Field

from .openapi import openapi_document

logger = logging.getLogger(__name__)


class Up(Answer):
    """The node and its database answer."""

    status = Field({"type": "string", "const": "ok"})


class HealthError(Answer):
    """The database (or, for readiness, another part) is out of reach."""

    error = Field({"type": "string"})
    code = Field({"type": "string"})


_CHECKS = Field(
    {"type": "object", "additionalProperties": {"type": "string"}, "description": "each check's finding, by name"}
)


class Ready(Answer):
    """Every check passes."""

    status = Field({"type": "string", "const": "ready"})
    checks = _CHECKS


class NotReady(Answer):
    """A check fails: ``error`` names the failing ones (retry after Retry-After seconds)."""

    error = Field({"type": "string"})
    code = Field({"type": "string", "const": "not_ready"})
    checks = _CHECKS


@plain_operation("/up", "up", answers={200: Up, 503: HealthError})
@require_safe_json
def up(request: HttpRequest) -> JsonResponse:
    """Liveness plus database. Any Authorization header is ignored, as the guide's "Test
    Connection" step sends one."""
    database = check_database()
    if not database.ok:
        logger.warning("Health check: database %s", database.detail)
        return json_error("Database unavailable", "database_unavailable", 503)
    return JsonResponse(Up.answer(status="ok"))


@plain_operation("/ready", "ready", answers={200: Ready, 503: NotReady})
@require_safe_json
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness for load balancers and orchestrators: 200 when every check passes, else 503
    naming the failing ones. No secrets, no authentication: it says only what works."""
    checks = readiness()
    body = {name: check.detail for name, check in checks.items()}
    failing = [name for name, check in checks.items() if not check.ok]
    if failing:
        response = JsonResponse(
            NotReady.answer(**error_body(f"Not ready: {', '.join(failing)}", "not_ready"), checks=body), status=503
        )
        response["Retry-After"] = "5"
        # Not ready (yet: a worker's first heartbeat comes seconds after a start) is what this
        # probe is for, not an error of the server's: one INFO line, and Django's own ERROR
        # line for a 5xx skipped (django.utils.log.log_response honours the mark).
        logger.info("Not ready: %s", ", ".join(failing))
        response._has_been_logged = True
        return response
    return JsonResponse(Ready.answer(status="ready", checks=body))


@require_safe_json
def openapi_json(request: HttpRequest) -> JsonResponse:
    """The public API's OpenAPI 3.1 document (mysmsapio/openapi.py); no key needed."""
    return JsonResponse(openapi_document(), json_dumps_params={"ensure_ascii": False})


@require_safe_json
def api_docs(request: HttpRequest) -> HttpResponse:
    """Interactive docs of the API: Swagger UI, served from this server's own static files."""
    return render(request, "mysmsapio/api_docs.html")


def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    return json_error("Not found", "not_found", 404)
