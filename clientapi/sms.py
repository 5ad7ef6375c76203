"""The client API's SMS routes: send, status, bulk, cancel, list and inbox."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import HasApiPermission
from accounts.models import ApiKey, Permission
from core.api import ApiAnswer, ApiView, api_time, json_object
from core.errors import NotFound, RateLimited, ValidationFailed
from core.pagination import page_read
from core.ratelimit import RateLimitResult
from gateways.selectors import gateway_names, gateway_pick_for_message
from messaging.lifecycle import message_wants_phone
from messaging.models import is_message_id
from messaging.selectors import (
    MessageState,
    inbound_sms_page,
    message_get_by_idempotency_key,
    message_page,
    message_state_get,
)
from messaging.services import (
    IDEMPOTENCY_KEY_PATTERN,
    ValidatedSms,
    idempotency_key_validate,
    message_cancel_by_client,
    message_replay,
    message_send,
    message_send_bulk,
    sms_budget_take,
)

from .operations import MESSAGE_ID, MESSAGE_LINKS, RATE_LIMIT_HEADERS, READ_ERRORS, WRITE_ERRORS, operation
from .schemas import (
    InboxItem,
    InboxPage,
    SmsAccepted,
    SmsBulkAccepted,
    SmsBulkInput,
    SmsInboxQuery,
    SmsListItem,
    SmsListQuery,
    SmsPage,
    SmsSendInput,
    SmsStatus,
)


def _phone_for(api_key: ApiKey, sms: ValidatedSms) -> int | None:
    """The phone a new message goes to now, or None: it waits as pending."""
    if not message_wants_phone(send_at=sms.send_at, is_test=api_key.is_test):
        return None
    return gateway_pick_for_message(account_id=api_key.account_id, carrier=sms.carrier)


def _refuse_over_budget(budget: RateLimitResult, message: str) -> None:
    exc = RateLimited(message, retry_after=budget.retry_after)
    exc.response_headers = budget.headers()
    raise exc


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
        if not budget.allowed:
            limit = settings.SMS_RATE_LIMIT_PER_MINUTE
            _refuse_over_budget(budget, f"Rate limit exceeded. Maximum {limit} SMS per minute for this API key")
        headers = budget.headers()
    try:
        sms = ValidatedSms.of(**SmsSendInput.check(read_body()))
    except Exception as exc:
        exc.response_headers = headers  # a counted request carries its budget's headers, whatever its answer
        raise
    if earlier is not None:
        message, created = message_replay(message=earlier, to=sms.to, text=sms.text), False
    else:
        message, created = message_send(
            api_key=api_key, sms=sms, gateway_id=_phone_for(api_key, sms), idempotency_key=idempotency_key
        )
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return ApiAnswer(SmsAccepted.answer(success=True, message_id=message.pk, status=message.status), 202, headers)


IDEMPOTENCY_KEY = {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}


class SendSmsPermissionApi(ApiView):
    """A route of the ``send_sms`` permission: sending, and reading back what was sent."""

    permission_classes = [HasApiPermission.for_(Permission.SEND_SMS)]


class SmsSendApi(SendSmsPermissionApi):
    """Send an SMS."""

    @operation(
        "smsSend",
        body=SmsSendInput,
        answers={202: SmsAccepted},
        errors=WRITE_ERRORS,
        headers={"Idempotency-Key": IDEMPOTENCY_KEY},
        answer_headers=RATE_LIMIT_HEADERS,
        links=MESSAGE_LINKS,
    )
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
    return SmsStatus.answer(**message.body())


class SmsStatusApi(SendSmsPermissionApi):
    """A message's status."""

    @operation("smsStatus", path=MESSAGE_ID, answers={200: SmsStatus}, errors=(401, 403, 404, 503))
    def get(self, request: Request, message_id: str) -> Response:
        return Response(sms_status_answer(request.auth, message_id=message_id))


class SmsBulkApi(SendSmsPermissionApi):
    """Beyond the guide: up to 1,000 messages in one request, a result for each. Each item is
    checked as ``sms/send`` checks it (a bad one gets its own error, the others go on), and
    counted against the key's per-minute limit: a batch that does not fit is refused whole."""

    @operation(
        "smsBulk",
        body=SmsBulkInput,
        answers={202: SmsBulkAccepted},
        errors=WRITE_ERRORS,
        answer_headers=RATE_LIMIT_HEADERS,
    )
    def post(self, request: Request) -> Response:
        api_key: ApiKey = request.auth
        items = SmsBulkInput.check(json_object(request))["messages"]
        # Counted before the items are checked: a batch that does not fit costs no more work.
        budget = sms_budget_take(api_key=api_key, cost=len(items))
        if not budget.allowed:
            limit = settings.SMS_RATE_LIMIT_PER_MINUTE
            _refuse_over_budget(
                budget,
                f"Rate limit exceeded: this batch needs {len(items)} of the {limit} SMS per minute for this API key, "
                f"{budget.remaining} remain",
            )
        checked = [_bulk_item(item) for item in items]
        results = message_send_bulk(
            api_key=api_key,
            items=[sms if isinstance(sms, ValidationFailed) else (sms, _phone_for(api_key, sms)) for sms in checked],
        )
        accepted = sum(1 for result in results if "message_id" in result)
        body = SmsBulkAccepted.answer(
            success=accepted > 0, accepted=accepted, rejected=len(results) - accepted, results=results
        )
        return Response(body, status=202, headers=budget.headers())


def _bulk_item(item: object) -> ValidatedSms | ValidationFailed:
    try:
        if not isinstance(item, dict):
            raise ValidationFailed("Each item must be an object with to and message", code="invalid_item")
        return ValidatedSms.of(**SmsSendInput.check(item))
    except ValidationFailed as exc:
        return exc


class SmsCancelApi(SendSmsPermissionApi):
    """Beyond the guide: cancel a message no phone has taken yet."""

    @operation("smsCancel", path=MESSAGE_ID, answers={200: SmsStatus}, errors=(401, 403, 404, 409, 503))
    def post(self, request: Request, message_id: str) -> Response:
        message_cancel_by_client(api_key=request.auth, message_id=message_id)
        return Response(sms_status_answer(request.auth, message_id=message_id))


class SmsListApi(SendSmsPermissionApi):
    """Beyond the guide: the account's messages, newest first, filtered, in pages."""

    @operation("smsList", query=SmsListQuery, answers={200: SmsPage}, errors=READ_ERRORS)
    def get(self, request: Request) -> Response:
        filters = SmsListQuery.check(request.query_params)
        read = partial(message_page, account_id=request.auth.account_id, is_test=request.auth.is_test)
        items, next_cursor = page_read(read, filters, key=lambda m: (m.created_at, m.pk))
        messages = [
            SmsListItem.answer(**MessageState.of(m).body(), to=m.to, created_at=api_time(m.created_at)) for m in items
        ]
        return Response(SmsPage.answer(messages=messages, next_cursor=next_cursor))


def _nothing(**filters: Any) -> list:
    return []


class SmsInboxApi(ApiView):
    """SMS received by the account's gateway phones, newest first, in pages."""

    permission_classes = [HasApiPermission.for_(Permission.RECEIVE_SMS)]

    @operation("smsInbox", query=SmsInboxQuery, answers={200: InboxPage}, errors=READ_ERRORS)
    def get(self, request: Request) -> Response:
        filters = SmsInboxQuery.check(request.query_params)
        # SMS that phones received are live data: a test-mode key's inbox is empty.
        read = _nothing if request.auth.is_test else partial(inbound_sms_page, account_id=request.auth.account_id)
        items, next_cursor = page_read(read, filters, key=lambda sms: (sms.received_at, sms.id))
        names = gateway_names(gateway_ids={sms.gateway_id for sms in items if sms.gateway_id is not None})
        messages = [
            InboxItem.answer(
                **{
                    "id": sms.id,
                    "from": sms.sender,
                    "text": sms.body,
                    "received_at": api_time(sms.received_at),
                    "gateway": names.get(sms.gateway_id),
                    "sim_slot": sms.sim_slot,
                }
            )
            for sms in items
        ]
        return Response(InboxPage.answer(messages=messages, next_cursor=next_cursor))
