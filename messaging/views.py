from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from django.utils.dateparse import parse_datetime
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import HasApiPermission
from accounts.models import ApiKey, Permission
from mysmsapio.api import ApiAnswer, ApiView, json_object
from mysmsapio.errors import NotFound, ValidationFailed

from .models import is_message_id
from .selectors import inbound_sms_page, message_state_get
from .services import message_send


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


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
        message = message_state_get(account_id=api_key.account_id, message_id=message_id)
    if message is None:
        raise NotFound("Message not found", code="message_not_found")
    return {
        "message_id": message.message_id,
        "status": message.status,
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "failed_at": _iso(message.failed_at),
        "error_message": message.error_message,
    }


class SmsStatusApi(ApiView):
    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def get(self, request: Request, message_id: str) -> Response:
        return Response(sms_status_answer(request.auth, message_id=message_id))


class SmsInboxApi(ApiView):
    """SMS received by the account's gateway phones, newest first, in pages."""

    permission_classes = [HasApiPermission.for_(Permission.RECEIVE_SMS)]
    MAX_LIMIT = 200

    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = self._limit(params.get("limit", "50"))
        since = self._time(params.get("since"), "since") if params.get("since") else None
        before = self._cursor(params["cursor"]) if params.get("cursor") else None
        page = inbound_sms_page(account_id=request.auth.account_id, limit=limit + 1, since=since, before=before)
        items, more = page[:limit], len(page) > limit
        next_cursor = None
        if more:
            last = items[-1]
            raw = f"{last.received_at.isoformat()}|{last.id}".encode()
            next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return Response(
            {
                "messages": [
                    {
                        "id": sms.id,
                        "from": sms.sender,
                        "text": sms.body,
                        "received_at": _iso(sms.received_at),
                        "gateway": sms.gateway_name,
                        "sim_slot": sms.sim_slot,
                    }
                    for sms in items
                ],
                "next_cursor": next_cursor,
            }
        )

    def _limit(self, value: str) -> int:
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= self.MAX_LIMIT:
            raise ValidationFailed(f"limit must be an integer from 1 to {self.MAX_LIMIT}", code="invalid_limit")
        return int(value)

    @staticmethod
    def _time(value: str, name: str):
        try:
            parsed = parse_datetime(value)
        except ValueError:  # well-formed but impossible: month 13, year 0, a 99-hour offset
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValidationFailed(
                f"{name} must be an ISO 8601 time with a zone, e.g. 2025-10-22T10:30:00Z", code=f"invalid_{name}"
            )
        return parsed

    def _cursor(self, value: str) -> tuple:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            at, pk = raw.rsplit("|", 1)
            return self._time(at, "cursor"), int(pk)
        except (binascii.Error, UnicodeDecodeError, ValueError, ValidationFailed):
            raise ValidationFailed("Invalid cursor", code="invalid_cursor") from None
