from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC

from django.utils.dateparse import parse_datetime
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import HasApiPermission
from accounts.models import ApiKey, Permission
from core.api import ApiAnswer, ApiView, api_time, json_object
from core.errors import NotFound, ValidationFailed

from .models import MessageStatus, is_message_id
from .selectors import MessageState, inbound_sms_page, message_page, message_state_get
from .services import message_cancel_by_client, message_send, message_send_bulk


def sms_send_answer(api_key: ApiKey, read_body: Callable[[], dict], *, idempotency_key: str | None) -> ApiAnswer:
    """``POST sms/send``'s answer; also served by the lean edge (mysmsapio/edge.py)."""
    outcome = message_send(api_key=api_key, read_body=read_body, idempotency_key=idempotency_key)
    message = outcome.message
    headers = outcome.rate_limit.headers() if outcome.rate_limit is not None else {}
    if not outcome.created:
        headers["Idempotent-Replayed"] = "true"
    return ApiAnswer({"success": True, "message_id": message.pk, "status": message.status}, 202, headers)


class SmsSendApi(ApiView):
    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def post(self, request: Request) -> Response:
        return sms_send_answer(
            request.auth, lambda: json_object(request), idempotency_key=request.META.get("HTTP_IDEMPOTENCY_KEY")
        ).response()


def sms_status_answer(api_key: ApiKey, *, message_id: str) -> dict:
    """``GET sms/status/<id>``'s body; also served by the lean edge (mysmsapio/edge.py)."""
    message = None
    if is_message_id(message_id):  # no query for what cannot be an id (a NUL, a 10 KB path)
        message = message_state_get(account_id=api_key.account_id, message_id=message_id, is_test=api_key.is_test)
    if message is None:
        raise NotFound("Message not found", code="message_not_found")
    return message.body()


class SmsStatusApi(ApiView):
    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def get(self, request: Request, message_id: str) -> Response:
        return Response(sms_status_answer(request.auth, message_id=message_id))


class SmsBulkApi(ApiView):
    """Beyond the guide: up to 1,000 messages in one request, a result for each."""

    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def post(self, request: Request) -> Response:
        outcome = message_send_bulk(api_key=request.auth, read_body=lambda: json_object(request))
        body = {
            "success": outcome.accepted > 0,
            "accepted": outcome.accepted,
            "rejected": len(outcome.results) - outcome.accepted,
            "results": outcome.results,
        }
        return Response(body, status=202, headers=outcome.rate_limit.headers())


class SmsCancelApi(ApiView):
    """Beyond the guide: cancel a message no phone has taken yet."""

    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def post(self, request: Request, message_id: str) -> Response:
        message_cancel_by_client(api_key=request.auth, message_id=message_id)
        return Response(sms_status_answer(request.auth, message_id=message_id))


class SmsListApi(ApiView):
    """Beyond the guide: the account's messages, newest first, filtered, in pages."""

    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]
    MAX_LIMIT = 200

    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = _limit(params.get("limit", "50"), self.MAX_LIMIT)
        status = params.get("status") or None
        if status is not None and status not in MessageStatus.values:
            raise ValidationFailed(f"status must be one of {', '.join(MessageStatus.values)}", code="invalid_status")
        times = {name: _time(params[name], name) for name in ("since", "until") if params.get(name)}
        before = _message_cursor(params["cursor"]) if params.get("cursor") else None
        page = message_page(account_id=request.auth.account_id, limit=limit + 1, status=status,
                            to=params.get("to") or None, before=before, is_test=request.auth.is_test,
                            **times)  # fmt: skip
        items, more = page[:limit], len(page) > limit
        next_cursor = None
        if more:
            next_cursor = _next_cursor(items[-1].created_at, items[-1].pk)
        messages = [{**MessageState.of(m).body(), "to": m.to, "created_at": api_time(m.created_at)} for m in items]
        return Response({"messages": messages, "next_cursor": next_cursor})


def _message_cursor(value: str) -> tuple:
    try:
        at, pk = _cursor_parts(value)
        if not is_message_id(pk):
            raise ValueError(pk)
        return _time(at, "cursor"), pk
    except (binascii.Error, UnicodeDecodeError, ValueError, ValidationFailed):
        raise ValidationFailed("Invalid cursor", code="invalid_cursor") from None


class SmsInboxApi(ApiView):
    """SMS received by the account's gateway phones, newest first, in pages."""

    permission_classes = [HasApiPermission.for_(Permission.RECEIVE_SMS)]
    MAX_LIMIT = 200

    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = _limit(params.get("limit", "50"), self.MAX_LIMIT)
        since = _time(params.get("since"), "since") if params.get("since") else None
        before = self._cursor(params["cursor"]) if params.get("cursor") else None
        # SMS that phones received are live data: a test-mode key's inbox is empty.
        page = [] if request.auth.is_test else inbound_sms_page(
            account_id=request.auth.account_id, limit=limit + 1, since=since, before=before
        )  # fmt: skip
        items, more = page[:limit], len(page) > limit
        next_cursor = None
        if more:
            next_cursor = _next_cursor(items[-1].received_at, items[-1].id)
        return Response(
            {
                "messages": [
                    {
                        "id": sms.id,
                        "from": sms.sender,
                        "text": sms.body,
                        "received_at": api_time(sms.received_at),
                        "gateway": sms.gateway_name,
                        "sim_slot": sms.sim_slot,
                    }
                    for sms in items
                ],
                "next_cursor": next_cursor,
            }
        )

    def _cursor(self, value: str) -> tuple:
        try:
            at, pk = _cursor_parts(value)
            return _time(at, "cursor"), int(pk)
        except (binascii.Error, UnicodeDecodeError, ValueError, ValidationFailed):
            raise ValidationFailed("Invalid cursor", code="invalid_cursor") from None


def _limit(value: str, maximum: int) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= maximum:
        raise ValidationFailed(f"limit must be an integer from 1 to {maximum}", code="invalid_limit")
    return int(value)


def _time(value: str, name: str):
    try:
        parsed = parse_datetime(value)
        # In UTC: PostgreSQL refuses offsets past 15:59 that Python accepts (up to 23:59).
        parsed = parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo is not None else None
    except (ValueError, OverflowError):  # impossible (month 13, year 0), or past year 1 or 9999 in UTC
        parsed = None
    if parsed is None:
        raise ValidationFailed(
            f"{name} must be an ISO 8601 time with a zone, e.g. 2025-10-22T10:30:00Z", code=f"invalid_{name}"
        )
    return parsed


def _cursor_parts(value: str) -> list[str]:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().rsplit("|", 1)


def _next_cursor(at, pk) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{pk}".encode()).decode().rstrip("=")
