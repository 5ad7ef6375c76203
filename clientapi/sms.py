"""The client API's SMS routes: send, status, bulk, cancel, list and inbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import HasApiPermission
from accounts.models import ApiKey, Permission
from core.api import ApiAnswer, ApiView, api_time, json_object
from core.errors import NotFound, RateLimited, ValidationFailed
from core.pagination import InvalidCursor, cursor_decode, page_of
from core.ratelimit import RateLimitResult
from core.times import parse_zoned_time
from gateways.selectors import gateway_names, gateway_pick_for_message
from messaging.models import MessageStatus, is_message_id
from messaging.selectors import (
    MessageState,
    inbound_sms_page,
    message_get_by_idempotency_key,
    message_page,
    message_state_get,
)
from messaging.services import (
    MAX_BULK_ITEMS,
    ValidatedSms,
    idempotency_key_validate,
    message_cancel_by_client,
    message_replay,
    message_send,
    message_send_bulk,
    sms_budget_take,
    sms_validate,
    sms_wants_phone,
)


def _phone_for(api_key: ApiKey, sms: ValidatedSms) -> int | None:
    """The phone a new message goes to now, or None: it waits as pending."""
    if not sms_wants_phone(sms=sms, is_test=api_key.is_test):
        return None
    return gateway_pick_for_message(account_id=api_key.account_id, carrier=sms.carrier)


def _refuse_over_budget(budget: RateLimitResult, message: str) -> None:
    if not budget.allowed:
        exc = RateLimited(message, retry_after=budget.retry_after)
        exc.response_headers = budget.headers()
        raise exc


@contextmanager
def _answers_carry(headers: dict[str, str]) -> Iterator[None]:
    """A counted request carries its budget's headers, whatever its answer."""
    try:
        yield
    except Exception as exc:
        exc.response_headers = headers
        raise


def sms_send_answer(api_key: ApiKey, read_body: Callable[[], dict], *, idempotency_key: str | None) -> ApiAnswer:
    """``POST sms/send``'s answer; also served by the lean edge (mysmsapio/edge.py).

    In order: a retry of a request that already created its message is answered without
    counting; every other call counts against the rate limit, malformed ones included (so the
    body is read only after counting); then the input is checked, a phone chosen and the
    message stored (its phone is woken after commit)."""
    idempotency_key = idempotency_key_validate(idempotency_key)
    earlier = None
    if idempotency_key:
        earlier = message_get_by_idempotency_key(api_key=api_key, idempotency_key=idempotency_key)
    headers: dict[str, str] = {}
    if earlier is None:
        budget = sms_budget_take(api_key=api_key)
        limit = settings.SMS_RATE_LIMIT_PER_MINUTE
        _refuse_over_budget(budget, f"Rate limit exceeded. Maximum {limit} SMS per minute for this API key")
        headers = budget.headers()
    with _answers_carry(headers):
        data = read_body()
        sms = sms_validate(to=data.get("to"), text=data.get("message"), options=data)
    if earlier is not None:
        message, created = message_replay(message=earlier, to=sms.to, text=sms.text), False
    else:
        message, created = message_send(
            api_key=api_key, sms=sms, gateway_id=_phone_for(api_key, sms), idempotency_key=idempotency_key
        )
    if not created:
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
    """Beyond the guide: up to 1,000 messages in one request, a result for each. Each item is
    checked as ``sms/send`` checks it (a bad one gets its own error, the others go on), and
    counted against the key's per-minute limit: a batch that does not fit is refused whole."""

    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]

    def post(self, request: Request) -> Response:
        api_key: ApiKey = request.auth
        items = json_object(request).get("messages")
        if not isinstance(items, list) or not items:
            raise ValidationFailed(
                "messages must be a non-empty list of {to, message} objects", code="invalid_messages"
            )
        if len(items) > MAX_BULK_ITEMS:
            raise ValidationFailed(f"At most {MAX_BULK_ITEMS} messages per request", code="too_many_messages")
        checked = [_bulk_item(item) for item in items]
        budget = sms_budget_take(api_key=api_key, cost=len(items))
        limit = settings.SMS_RATE_LIMIT_PER_MINUTE
        _refuse_over_budget(
            budget,
            f"Rate limit exceeded: this batch needs {len(items)} of the {limit} SMS per minute for this API key, "
            f"{budget.remaining} remain",
        )
        results = message_send_bulk(
            api_key=api_key,
            items=[sms if isinstance(sms, ValidationFailed) else (sms, _phone_for(api_key, sms)) for sms in checked],
        )
        accepted = sum(1 for result in results if "message_id" in result)
        body = {"success": accepted > 0, "accepted": accepted, "rejected": len(results) - accepted, "results": results}
        return Response(body, status=202, headers=budget.headers())


def _bulk_item(item: object) -> ValidatedSms | ValidationFailed:
    try:
        if not isinstance(item, dict):
            raise ValidationFailed("Each item must be an object with to and message", code="invalid_item")
        return sms_validate(to=item.get("to"), text=item.get("message"), options=item)
    except ValidationFailed as exc:
        return exc


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
        before = _cursor(params["cursor"], parse_id=_message_id) if params.get("cursor") else None
        rows = message_page(
            account_id=request.auth.account_id,
            limit=limit + 1,
            status=status,
            to=params.get("to") or None,
            before=before,
            is_test=request.auth.is_test,
            **times,
        )
        items, next_cursor = page_of(rows, limit=limit, key=lambda m: (m.created_at, m.pk))
        messages = [{**MessageState.of(m).body(), "to": m.to, "created_at": api_time(m.created_at)} for m in items]
        return Response({"messages": messages, "next_cursor": next_cursor})


class SmsInboxApi(ApiView):
    """SMS received by the account's gateway phones, newest first, in pages."""

    permission_classes = [HasApiPermission.for_(Permission.RECEIVE_SMS)]
    MAX_LIMIT = 200

    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = _limit(params.get("limit", "50"), self.MAX_LIMIT)
        since = _time(params["since"], "since") if params.get("since") else None
        before = _cursor(params["cursor"], parse_id=_row_id) if params.get("cursor") else None
        # SMS that phones received are live data: a test-mode key's inbox is empty.
        rows = []
        if not request.auth.is_test:
            rows = inbound_sms_page(account_id=request.auth.account_id, limit=limit + 1, since=since, before=before)
        items, next_cursor = page_of(rows, limit=limit, key=lambda sms: (sms.received_at, sms.id))
        names = gateway_names(gateway_ids={sms.gateway_id for sms in items if sms.gateway_id is not None})
        messages = [
            {
                "id": sms.id,
                "from": sms.sender,
                "text": sms.body,
                "received_at": api_time(sms.received_at),
                "gateway": names.get(sms.gateway_id),
                "sim_slot": sms.sim_slot,
            }
            for sms in items
        ]
        return Response({"messages": messages, "next_cursor": next_cursor})


def _limit(value: str, maximum: int) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= maximum:
        raise ValidationFailed(f"limit must be an integer from 1 to {maximum}", code="invalid_limit")
    return int(value)


def _time(value: str, name: str) -> datetime:
    parsed = parse_zoned_time(value)
    if parsed is None:
        raise ValidationFailed(
            f"{name} must be an ISO 8601 time with a zone, e.g. 2025-10-22T10:30:00Z", code=f"invalid_{name}"
        )
    return parsed


def _cursor(value: str, *, parse_id: Callable[[str], object]) -> tuple:
    try:
        return cursor_decode(value, parse_id=parse_id)
    except InvalidCursor:
        raise ValidationFailed("Invalid cursor", code="invalid_cursor") from None


def _message_id(text: str) -> str:
    if not is_message_id(text):
        raise ValueError(text)
    return text


MAX_ROW_ID = 2**63 - 1  # a bigint: a larger number is no row's, and SQLite overflows on it


def _row_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ROW_ID:
        raise ValueError(text)
    return int(text)
