from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from .errors import json_error

logger = logging.getLogger(__name__)


@require_safe
def up(request: HttpRequest) -> JsonResponse:
    """Liveness plus database: any Authorization header is ignored, as the guide's
    "Test Connection" step sends one."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: database unavailable", exc_info=True)
        return json_error("Database unavailable", "database_unavailable", 503)
    return JsonResponse({"status": "ok"})


def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    return json_error("Not found", "not_found", 404)
