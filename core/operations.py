"""How a view method declares its operation for the OpenAPI document: the input and answer
schemas it checks and builds (core/schema.py), the errors it can answer, and the headers and
links around them. drf-spectacular generates the document from these (mysmsapio/openapi.py);
each API names its own error shape and texts (clientapi/operations.py, smsgate/schemas.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from .schema import Schema


def operation(
    operation_id: str,
    *,
    answers: dict[int, type[Schema] | None],
    errors: tuple[int, ...],
    error: type[Schema],
    error_texts: Mapping[int, str],
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    headers: dict[str, dict[str, Any]] | None = None,
    path: dict[str, dict[str, Any]] | None = None,
    answer_headers: dict[str, str] | None = None,
    links: dict[str, dict[str, Any]] | None = None,
) -> Callable:
    """Declare a view method's operation (``extend_schema`` plus what drf-spectacular cannot
    say: the answer's headers and links, read by mysmsapio/openapi.py). Its summary is the
    first sentence of the view's docstring. An answer of ``None`` has no body."""
    parameters = [
        OpenApiParameter(spec["name"], type=spec["schema"], location=OpenApiParameter.QUERY, required=spec["required"])
        for spec in (query.parameters() if query else [])
    ]
    parameters += [
        OpenApiParameter(name, type=schema, location=OpenApiParameter.HEADER, required=False)
        for name, schema in (headers or {}).items()
    ]
    parameters += [
        OpenApiParameter(name, type=schema, location=OpenApiParameter.PATH, required=True)
        for name, schema in (path or {}).items()
    ]
    responses: dict[int, Any] = dict(answers)
    responses.update({code: OpenApiResponse(error, description=error_texts[code]) for code in errors})
    declare = extend_schema(operation_id=operation_id, request=body, responses=responses, parameters=parameters)

    def decorate(method: Callable) -> Callable:
        method.answer_headers = answer_headers or {}
        method.links = links or {}
        return declare(method)

    return decorate


# Operations of plain Django views (health, readiness, metrics: no DRF below them, so that a
# probe stays cheap), by path; mysmsapio/openapi.py adds them to the document.
PLAIN_OPERATIONS: dict[str, dict[str, Any]] = {}


def plain_operation(
    path: str, operation_id: str, *, answers: dict[int, type[Schema] | str], tag: str = "health"
) -> Callable:
    """Declare a plain view's GET for the document: each answer a declared schema (JSON) or a
    media type (a text body). Its summary and description are the view's docstring."""

    def decorate(view: Callable) -> Callable:
        text = " ".join((view.__doc__ or "").split())
        responses = {}
        for code, answer in answers.items():
            if isinstance(answer, str):
                responses[str(code)] = {"description": "", "content": {answer: {"schema": {"type": "string"}}}}
            else:
                schema = answer.json_schema()
                content = {"application/json": {"schema": schema}}
                responses[str(code)] = {"description": schema.get("description", ""), "content": content}
        PLAIN_OPERATIONS[path] = {
            "get": {
                "operationId": operation_id,
                "summary": text.split(". ", 1)[0].rstrip("."),
                "description": text,
                "tags": [tag],
                "security": [],
                "responses": responses,
            }
        }
        return view

    return decorate
