"""SMS Gate's client API: thin views over the same services as ``/api/v1`` (messaging's send,
state and cancel; the phone chosen as for any send). Errors are SMS Gate's ``{"message": ...}``."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.services import (
    SMSGATE_REFRESH_SCOPE,
    IssuedTokens,
    smsgate_settings_public,
    smsgate_token_refresh,
    smsgate_token_revoke,
    smsgate_tokens_issue,
)
from core import ratelimit
from core.api import ApiAnswer, ApiView, json_object
from core.errors import NotOffered, RateLimited, ValidationFailed, api_exception_handler
from core.health import readiness
from core.operations import operation as core_operation
from core.phone_signals import EXPORT, gateway_signal
from gateways.models import Gateway, GatewayKind
from gateways.selectors import gateway_list_online, gateway_pick_for_message, gateway_seen_since_exists
from gateways.services import gateway_revoke
from messaging.lifecycle import message_wants_phone
from messaging.models import MessagePriority, new_message_id
from messaging.phone import carrier_for_number
from messaging.selectors import inbound_sms_for_client, message_group_get, message_group_page
from messaging.services import GroupRecipient, message_group_cancel, message_group_send
from webhooks.services import WebhookRefused, smsgate_webhook_delete, smsgate_webhook_register, smsgate_webhooks

from .auth import Caller, SmsGateBasicAuthentication, SmsGateBearerAuthentication
from .schemas import (
    ERRORS,
    MESSAGE_ID_PATTERN,
    Accepted,
    Device,
    Health,
    InboxMessage,
    InboxQuery,
    InboxRefresh,
    ListQuery,
    MessageState,
    SendMessage,
    SendQuery,
    Settings,
    SettingsAnswer,
    SmsGateError,
    TokenPair,
    TokenRequest,
    Webhook,
    WebhookRegistration,
    content_text,
    is_message_id,
    recipient_numbers,
)
from .services import smsgate_settings_write
from .states import device_id, state_body, wire_time

API_VERSION = "mysmsapio"

# Every operation of this API answers its errors in SMS Gate's shape.
operation = functools.partial(core_operation, error=SmsGateError, error_texts=ERRORS)
ID = {"type": "string", "pattern": MESSAGE_ID_PATTERN}
# Every authenticated operation may answer 429: an address or login that failed too often is locked out.
SEND_ERRORS = (400, 401, 403, 409, 413, 415, 429, 503)
WRITE_ERRORS = (400, 401, 403, 413, 415, 429, 503)
LIST_ERRORS = (401, 403, 429, 503)
READ_ERRORS = (400, 401, 403, 429, 503)
ONE_ERRORS = (401, 403, 404, 429, 503)


def list_of(schema: type) -> dict[str, Any]:
    return {"type": "array", "items": schema.json_schema()}


def smsgate_error(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Our error answer in SMS Gate's shape: ``{"message": text}``; any input it cannot use is
    a 400 there (422 here)."""
    return (400 if status == 422 else status), {"message": body.get("error", "")}


def smsgate_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Our errors, in SMS Gate's shape, with the same headers."""
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        detail = exc.detail if isinstance(exc, drf_exceptions.AuthenticationFailed) else "authentication required"
        return Response({"message": str(detail)}, status=401, headers={"WWW-Authenticate": 'Basic realm="sms-gate"'})
    response = api_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" in response.data:
        response.status_code, response.data = smsgate_error(response.status_code, response.data)
    return response


class SmsGateView(ApiView):
    authentication_classes = [SmsGateBasicAuthentication, SmsGateBearerAuthentication]
    # The scope each method needs (SMS Gate's names); a Basic login has them all.
    scopes: dict[str, str] = {}

    def get_exception_handler(self):
        return smsgate_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not isinstance(request.auth, Caller):
            raise drf_exceptions.NotAuthenticated()
        scope = self.scopes.get(request.method)
        if scope and not request.auth.may(scope):
            raise drf_exceptions.PermissionDenied(f"scope required: {scope}")
        # An id in the path of no form we give or take (messages, devices, webhooks, tokens)
        # names nothing, and never reaches the database (PostgreSQL refuses a NUL in a text).
        if not all(is_message_id(value) for value in kwargs.values()):
            raise drf_exceptions.NotFound()

    @property
    def account(self):
        return self.request.auth.login.account


def _state_url(request: Request, message_id: str) -> str:
    return request.build_absolute_uri(f"{request.path.rstrip('/')}/{message_id}")


def smsgate_send_answer(
    caller: Caller, data: dict[str, Any], query: Mapping[str, str], state_url: Callable[[str], str]
) -> ApiAnswer:
    """``POST /messages``'s answer; also served by the lean edge (mysmsapio/edge.py). Checked
    first, counted against the login's budget (one per recipient), then stored: one row per
    recipient, each on the phone chosen as for any send (else pending)."""
    options = SendQuery.check(query)
    body = SendMessage.check(data)
    text = content_text(body)
    numbers = recipient_numbers(body)
    encrypted = body.get("isEncrypted", False)
    pinned_to = None
    if device := body.get("deviceId"):
        phone = _account_phone(caller.login.account, device)
        if phone is None:
            raise ValidationFailed("deviceId is not a device of this account", code="invalid_device")
        pinned_to = phone.pk
    if hours := options.get("deviceActiveWithin"):
        # SMS Gate's filter of candidate phones; ours takes only phones online now, stricter
        # still, so the filter's one effect is its refusal when no phone qualifies.
        since = timezone.now() - timedelta(hours=hours)
        if not gateway_seen_since_exists(account_id=caller.login.account.pk, since=since):
            raise ValidationFailed(f"no device was active within {hours} hours", code="no_active_device")
    if "ttl" in body and "validUntil" in body:
        raise ValidationFailed("ttl and validUntil cannot both be set", code="invalid_request")
    now = timezone.now()
    send_at = body.get("scheduleAt")
    expires_at = body.get("validUntil") or (now + timedelta(seconds=body["ttl"]) if "ttl" in body else None)
    if send_at is not None and (send_at <= now or (expires_at is not None and send_at > expires_at)):
        raise ValidationFailed("scheduleAt must be in the future and not after validUntil", code="invalid_request")
    budget = ratelimit.take(
        f"sms:smsgate:{caller.login.pk}",
        cost=len(numbers),
        limit=settings.SMS_RATE_LIMIT_PER_MINUTE,
        window_seconds=60,
    )
    if not budget.allowed:
        raise RateLimited(
            f"rate limit exceeded: at most {settings.SMS_RATE_LIMIT_PER_MINUTE} SMS per minute",
            retry_after=budget.retry_after,
        )
    wants_phone = message_wants_phone(send_at=send_at, is_test=False, now=now)
    recipients = []
    for number in numbers:
        carrier = "" if encrypted else carrier_for_number(number)
        phone = pinned_to
        if phone is None and wants_phone:
            phone = gateway_pick_for_message(account_id=caller.login.account.pk, carrier=carrier)
        recipients.append(GroupRecipient(number, carrier, phone))
    message_id = body.get("id") or new_message_id()
    rows = message_group_send(
        account=caller.login.account,
        group_id=message_id,
        recipients=recipients,
        text=text,
        priority=MessagePriority.HIGH if body.get("priority", 0) > 0 else MessagePriority.NORMAL,
        send_at=send_at,
        expires_at=expires_at,
        id_from_server="id" not in body,
        encrypted=encrypted,
        pinned=pinned_to is not None,
        sim_number=body.get("simNumber"),
    )
    return ApiAnswer(state_body(message_id, rows), 202, {"Location": state_url(message_id)})


class MessagesApi(SmsGateView):
    """Send a text to one or more numbers; list the account's messages."""

    scopes = {"POST": "messages:send", "GET": "messages:list"}

    @operation("smsgateSend", body=SendMessage, query=SendQuery, answers={202: MessageState}, errors=SEND_ERRORS)
    def post(self, request: Request) -> Response:
        state_url = functools.partial(_state_url, request)
        return smsgate_send_answer(request.auth, json_object(request), request.query_params, state_url).response()

    @operation("smsgateList", query=ListQuery, answers={200: list_of(MessageState)}, errors=READ_ERRORS)
    def get(self, request: Request) -> Response:
        query = ListQuery.check(request.query_params)
        gateway_id = None
        if device := query.get("deviceId"):
            phone = _account_phone(self.account, device)
            gateway_id = phone.pk if phone is not None else -1
        groups, total = message_group_page(
            account_id=self.account.pk,
            limit=query.get("limit", 50),
            offset=query.get("offset", 0),
            since=query.get("from"),
            until=query.get("to"),
            oldest_first=query.get("sort") == "created_at",
            state=query.get("state"),
            gateway_id=gateway_id,
        )
        with_content = query.get("includeContent", "false").lower() == "true"
        items = [state_body(rows[0].group_id or rows[0].pk, rows, with_content=with_content) for rows in groups]
        return Response(items, headers={"X-Total-Count": str(total)})


class MessageApi(SmsGateView):
    """One message's state; cancel it (what no phone has taken yet)."""

    scopes = {"GET": "messages:read", "DELETE": "messages:cancel"}

    @operation("smsgateState", path={"message_id": ID}, answers={200: MessageState}, errors=ONE_ERRORS)
    def get(self, request: Request, message_id: str) -> Response:
        rows = message_group_get(account_id=self.account.pk, message_id=message_id)
        if not rows:
            raise drf_exceptions.NotFound()
        return Response(state_body(message_id, rows, device_id=_device_of(rows)))

    @operation("smsgateCancel", path={"message_id": ID}, answers={200: MessageState}, errors=ONE_ERRORS)
    def delete(self, request: Request, message_id: str) -> Response:
        rows = message_group_cancel(account_id=self.account.pk, message_id=message_id)
        return Response(state_body(message_id, rows, device_id=_device_of(rows)))


def _device_of(rows: list) -> str:
    """The device id of the phone the message went to (the first recipient's), or ""."""
    gateway = rows[0].gateway if rows[0].gateway_id else None  # joined by message_group_get
    return device_id(gateway) if gateway is not None else ""


class DevicesApi(SmsGateView):
    """The account's phones (not the shared pool's: they are no one account's)."""

    scopes = {"GET": "devices:list"}

    @operation("smsgateDevices", answers={200: list_of(Device)}, errors=LIST_ERRORS)
    def get(self, request: Request) -> Response:
        online = set(gateway_list_online().values_list("pk", flat=True))
        phones = _account_phones(self.account).order_by("pk")
        devices = []
        for phone in phones:
            seen = phone.last_seen_at or phone.created_at
            devices.append(
                {
                    "id": device_id(phone),
                    "name": phone.name,
                    "createdAt": wire_time(phone.created_at),
                    "updatedAt": wire_time(seen),
                    "lastSeen": wire_time(seen),
                    "online": phone.pk in online,
                }
            )
        return Response(devices)


class DeviceApi(SmsGateView):
    """Remove one of the account's phones: its token is revoked and its connections end."""

    scopes = {"DELETE": "devices:delete"}

    @operation("smsgateDeviceRemove", path={"device": ID}, answers={204: None}, errors=ONE_ERRORS)
    def delete(self, request: Request, device: str) -> Response:
        phone = _account_phone(self.account, device)
        if phone is None:
            raise drf_exceptions.NotFound()
        gateway_revoke(gateway=phone)
        return Response(status=204)


def _account_phones(account):
    return Gateway.objects.filter(account=account, revoked_at__isnull=True)


def _account_phone(account, device: str) -> Gateway | None:
    """The account's phone that SMS Gate's clients call ``device``, or None."""
    return _account_phones(account).filter(**_device_lookup(device)).first()


def _device_lookup(device: str) -> dict[str, Any]:
    """``device_id()``'s inverse: an app phone's device id, or ``agent-<id>``."""
    number = device.removeprefix("agent-")
    if device.startswith("agent-") and number.isascii() and number.isdigit() and len(number) < 12:
        return {"pk": int(number), "device_id": ""}
    return {"device_id": device[:32]} if device else {"pk": -1}


class HealthApi(ApiView):
    """No credentials needed, as on SMS Gate's server: whether this node can take messages
    (our /ready's checks, in SMS Gate's shape)."""

    authentication_classes: list = []
    permission_classes: list = []

    def get_exception_handler(self):
        return smsgate_exception_handler

    @operation("smsgateHealth", answers={200: Health, 503: Health}, errors=())
    def get(self, request: Request, **kwargs: Any) -> Response:
        found = readiness()
        checks = {
            name: {"status": "pass" if check.ok else "fail", "description": str(check.detail)}
            for name, check in found.items()
        }
        # Without its database a node can take nothing: fail (503). Without Redis or a worker it
        # still takes messages (they wait in the database): warn.
        status = "pass" if all(check.ok for check in found.values()) else "warn"
        if not found["database"].ok:
            status = "fail"
        body = {"status": status, "version": API_VERSION, "releaseId": 1, "checks": checks}
        return Response(body, status=503 if status == "fail" else 200)


def _token_pair(issued: IssuedTokens) -> dict[str, Any]:
    """SMS Gate's server and docs spell the keys in snake_case, its Python library 4.3.3 reads
    camelCase: both, so that either works."""
    expires_at = wire_time(issued.access.expires_at)
    return {
        "id": issued.access.jti,
        "token_type": "Bearer",
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_at": expires_at,
        "tokenType": "Bearer",
        "accessToken": issued.access_token,
        "refreshToken": issued.refresh_token,
        "expiresAt": expires_at,
    }


class TokensApi(SmsGateView):
    """Issue a bearer token with the scopes asked for (``ttl`` capped by SMSGATE_TOKEN_TTL_SECONDS)."""

    scopes = {"POST": "tokens:manage"}

    @operation("smsgateTokenIssue", body=TokenRequest, answers={201: TokenPair}, errors=WRITE_ERRORS)
    def post(self, request: Request) -> Response:
        body = TokenRequest.check(json_object(request))
        issued = smsgate_tokens_issue(credential=request.auth.login, scopes=body["scopes"], ttl_seconds=body.get("ttl"))
        return Response(_token_pair(issued), status=201)


class TokenRefreshApi(SmsGateView):
    """A new pair for a refresh token (sent as the Bearer); the refresh token is spent."""

    scopes = {"POST": SMSGATE_REFRESH_SCOPE}

    @operation("smsgateTokenRefresh", answers={201: TokenPair}, errors=LIST_ERRORS)
    def post(self, request: Request) -> Response:
        issued = smsgate_token_refresh(refresh=request.auth.token)
        if issued is None:
            raise drf_exceptions.AuthenticationFailed("invalid, expired or revoked token")
        return Response(_token_pair(issued), status=201)


class TokenApi(SmsGateView):
    """Revoke a token of this login by its id (and the refresh token issued with it)."""

    scopes = {"DELETE": "tokens:manage"}

    @operation("smsgateTokenRevoke", path={"jti": ID}, answers={204: None}, errors=ONE_ERRORS)
    def delete(self, request: Request, jti: str) -> Response:
        smsgate_token_revoke(credential=request.auth.login, jti=jti[:32])
        return Response(status=204)


def _webhook_body(endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.client_id,
        "url": endpoint.url,
        "event": endpoint.events[0] if endpoint.events else "",
        "deviceId": endpoint.device_filter or None,
    }


class WebhooksApi(SmsGateView):
    """The account's SMS Gate-style webhooks: delivered by this server (for agent and app
    phones alike) in SMS Gate's envelope, signed with the settings' ``webhooks.signing_key``."""

    scopes = {"GET": "webhooks:list", "POST": "webhooks:write"}

    @operation("smsgateWebhooks", answers={200: list_of(Webhook)}, errors=LIST_ERRORS)
    def get(self, request: Request) -> Response:
        return Response([_webhook_body(endpoint) for endpoint in smsgate_webhooks(account_id=self.account.pk)])

    @operation("smsgateWebhookAdd", body=WebhookRegistration, answers={201: Webhook}, errors=WRITE_ERRORS)
    def post(self, request: Request) -> Response:
        body = WebhookRegistration.check(json_object(request))
        device = body.get("deviceId") or ""
        if device and _account_phone(self.account, device) is None:
            raise ValidationFailed("deviceId is not a device of this account", code="invalid_device")
        try:
            endpoint = smsgate_webhook_register(
                account_id=self.account.pk,
                client_id=body.get("id") or secrets.token_urlsafe(16)[:21],
                url=body["url"],
                event=body["event"],
                device_filter=device,
            )
        except WebhookRefused as exc:
            raise ValidationFailed(str(exc), code="invalid_webhook") from None
        return Response(_webhook_body(endpoint), status=201)


class WebhookApi(SmsGateView):
    """Delete one of the account's SMS Gate-style webhooks by its id (204 whether or not it was
    there, as SMS Gate answers)."""

    scopes = {"DELETE": "webhooks:delete"}

    @operation("smsgateWebhookDelete", path={"webhook_id": ID}, answers={204: None}, errors=ONE_ERRORS)
    def delete(self, request: Request, webhook_id: str) -> Response:
        smsgate_webhook_delete(account_id=self.account.pk, client_id=webhook_id[:36])
        return Response(status=204)


class SettingsApi(SmsGateView):
    """The account's settings as SMS Gate's clients keep them (docs/smsgate-clients.md)."""

    scopes = {"GET": "settings:read", "PUT": "settings:write", "PATCH": "settings:write"}

    @operation("smsgateSettings", answers={200: SettingsAnswer}, errors=LIST_ERRORS)
    def get(self, request: Request) -> Response:
        return Response(smsgate_settings_public(account_id=self.account.pk))

    @operation("smsgateSettingsReplace", body=Settings, answers={200: SettingsAnswer}, errors=WRITE_ERRORS)
    def put(self, request: Request) -> Response:
        return Response(smsgate_settings_write(account_id=self.account.pk, body=request.data, replace=True))

    @operation("smsgateSettingsUpdate", body=Settings, answers={200: SettingsAnswer}, errors=WRITE_ERRORS)
    def patch(self, request: Request) -> Response:
        return Response(smsgate_settings_write(account_id=self.account.pk, body=request.data, replace=False))


class InboxRefreshApi(SmsGateView):
    """Ask the account's app phones (or one) to send again what they received in a time range:
    it arrives as received SMS, stored once each, and reaches the account's webhooks. Our own
    agent forwards every SMS as it comes, so it has nothing to send again."""

    scopes = {"POST": "inbox:refresh"}

    @operation("smsgateInboxRefresh", body=InboxRefresh, answers={202: Accepted}, errors=WRITE_ERRORS)
    def post(self, request: Request) -> Response:
        body = InboxRefresh.check(json_object(request))
        if body["since"] > body["until"]:
            raise ValidationFailed("since must not be after until", code="invalid_request")
        phones = _account_phones(self.account).filter(kind=GatewayKind.APP).exclude(device_id="")
        if device := body.get("deviceId"):
            phones = phones.filter(**_device_lookup(device))
            if not phones.exists():
                raise ValidationFailed("deviceId is not an app phone of this account", code="invalid_device")
        since, until = wire_time(body["since"]), wire_time(body["until"])
        for gateway_id in phones.values_list("pk", flat=True):
            gateway_signal(gateway_id=gateway_id, event=EXPORT, since=since, until=until)
        headers = {"Deprecation": "true"} if "export" in request.path else {}
        return Response({}, status=202, headers=headers)


@extend_schema(exclude=True)
class InboxExportApi(InboxRefreshApi):
    """The same at SMS Gate's deprecated paths (the npm client 3.0.0 posts to ``/inbox/export``)."""


class InboxApi(SmsGateView):
    """The SMS the account's phones received, newest first (SMS Gate's own server answers 501:
    it keeps none; we keep them, as ``GET /api/v1/sms/inbox`` reads them)."""

    scopes = {"GET": "inbox:list"}

    @operation("smsgateInbox", query=InboxQuery, answers={200: list_of(InboxMessage)}, errors=READ_ERRORS)
    def get(self, request: Request) -> Response:
        query = InboxQuery.check(request.query_params)
        if query.get("type", "SMS") != "SMS":
            return Response([], headers={"X-Total-Count": "0"})
        rows = inbound_sms_for_client(
            account_id=self.account.pk, since=query.get("from"), until=query.get("to"), gateway=None
        )
        if device := query.get("deviceId"):
            phone = _account_phone(self.account, device)
            rows = rows.filter(gateway_id=phone.pk if phone else -1)
        offset, limit = query.get("offset", 0), query.get("limit", 50)
        items = [
            {
                "id": str(sms.pk),
                "type": "SMS",
                "sender": sms.sender,
                "contentPreview": sms.body,
                "createdAt": wire_time(sms.received_at),
                "simNumber": sms.sim_slot + 1 if sms.sim_slot is not None else None,
            }
            for sms in rows[offset : offset + limit]
        ]
        return Response(items, headers={"X-Total-Count": str(rows.count())})


class LogsApi(SmsGateView):
    scopes = {"GET": "logs:read"}

    @operation("smsgateLogs", answers={}, errors=(401, 403, 429, 501))
    def get(self, request: Request) -> Response:
        raise NotOffered("device logs are not kept by this server (not offered)")
