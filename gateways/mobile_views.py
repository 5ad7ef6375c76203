"""The SMS Gateway for Android app's private-server API, at /api/mobile/v1 (the event stream,
``GET /events``, is gateways/app_events.py, on the phone nodes). Thin views over
gateways/mobile.py: each checks its input against its declaration (gateways/mobile_schemas.py)
and answers in the shapes the app reads (docs/gateway-protocol.md).

The app treats any status but 2xx as a failure, and 401 alone as "register again"; errors
are the API's JSON error shape all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView, json_object
from core.errors import ApiError, NotFound, NotOffered, ValidationFailed
from core.phone_signals import gateway_wake_later
from messaging.models import MessagePriority

from . import mobile
from .mobile_schemas import (
    MESSAGE_STATES,
    AppSettings,
    DeviceRegistration,
    DeviceUpdate,
    InboundEvent,
    MessagesQuery,
    Registered,
    WebhookTarget,
    sms_received_payload,
)
from .models import Gateway

SMS_RECEIVED_WEBHOOK_ID = "mysmsapio-sms-received"


class DeviceUnauthorized(ApiError, status=401, code="invalid_device_token", message="Invalid or missing device token"):
    """No device token, or not one of ours (the app registers again on 401)."""


class RegistrationRefused(
    ApiError,
    status=409,
    code="registration_token_spent",
    message="This token already paired a device: roll the gateway's token in the admin to pair another",
):
    """A registration token pairs one device."""


class DeviceForbidden(ApiError, status=403, code="wrong_device"):
    """A device token acting on another device's id."""


class DeviceRequestInvalid(ApiError, code="invalid_request"):
    """400, as the app's own server answers a request it cannot use."""


def app_time(value: datetime) -> str:
    """The app parses exactly three fractional digits (or none), and an offset."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _bearer(request: Request) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _user_agent_version(request: Request) -> str:
    agent = request.META.get("HTTP_USER_AGENT", "")
    return agent.split("/", 1)[1][:50] if agent.startswith("me.capcom.smsgateway/") else ""


class MobileApiView(ApiView):
    """A view of the app's API: the device's own token authenticates it (``self.device``)."""

    authentication_classes: list = []
    permission_classes: list = []
    device_required = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.device: Gateway | None = None
        if request.method == "OPTIONS":
            return
        token = _bearer(request)
        self.device = mobile.app_gateway_by_device_token(raw_token=token) if token else None
        if self.device is None and self.device_required:
            raise DeviceUnauthorized()
        if self.device is not None:
            mobile.app_device_polled(gateway_id=self.device.pk)

    def handle_exception(self, exc: Exception) -> Response:
        if type(exc) is ValidationFailed:  # a declared check failed: 400, as the app's own server
            exc = DeviceRequestInvalid(exc.message)
        return super().handle_exception(exc)


class DeviceApi(MobileApiView):
    device_required = False  # POST registers (with the registration token); GET answers anyone

    def post(self, request: Request) -> Response:
        body = DeviceRegistration.check(json_object(request))
        try:
            registration = mobile.app_device_register(
                registration_token=_bearer(request),
                name=body["name"],
                sim_cards=body.get("simCards", []),
                app_version=_user_agent_version(request),
            )
        except mobile.RegistrationSpent:
            raise RegistrationRefused() from None
        if registration is None:
            raise DeviceUnauthorized("Invalid registration token: create an app gateway and use its token")
        mobile.app_device_polled(gateway_id=registration.gateway.pk)
        # The app shows ``login`` and ``password``: SMS Gate's client API's Basic credentials.
        answer = Registered.answer(
            id=registration.device_id,
            token=registration.raw_token,
            login=registration.login,
            password=registration.password,
        )
        return Response(answer, status=201)

    def patch(self, request: Request) -> Response:
        if self.device is None:
            raise DeviceUnauthorized()  # the only answer that makes the app register again
        body = DeviceUpdate.check(json_object(request))
        try:
            mobile.app_device_update(
                gateway=self.device,
                device_id=body.get("id"),
                sim_cards=body.get("simCards"),
                app_version=_user_agent_version(request),
            )
        except PermissionError as exc:
            raise DeviceForbidden(str(exc)) from None
        return Response(status=204)

    def get(self, request: Request) -> Response:
        body: dict[str, Any] = {"externalIp": request.META.get("REMOTE_ADDR", "")}
        if self.device is not None:
            body["device"] = {"id": self.device.device_id, "name": self.device.device_model}
        return Response(body)


def _message_item(fetched: mobile.AppJob) -> dict[str, Any]:
    job = fetched.job
    item: dict[str, Any] = {
        "id": job.message_id,
        "textMessage": {"text": fetched.text()},
        "phoneNumbers": [job.to],
        "withDeliveryReport": True,
        "isEncrypted": job.encrypted,  # the app decrypts with its own passphrase
        "validUntil": app_time(job.expires_at),
        "state": fetched.state,
        "createdAt": app_time(job.created_at),
    }
    if fetched.sim_slot is not None:
        item["simNumber"] = fetched.sim_slot + 1  # the app numbers SIMs from 1 (slot + 1)
    if job.priority >= MessagePriority.OTP:
        item["priority"] = 100  # first in the app's queue; our own pacing already applies
    return item


class MessagesApi(MobileApiView):
    def get(self, request: Request) -> Response:
        order = MessagesQuery.check(request.query_params).get("order", "fifo")
        knows_cancelling = mobile.app_knows_cancelling(request.META.get("HTTP_USER_AGENT", ""))
        jobs, retry_in = mobile.app_jobs_fetch(gateway=self.device, knows_cancelling=knows_cancelling)
        if retry_in is not None:
            # Its pace holds jobs back: its event stream tells it to fetch again then.
            gateway_wake_later(gateway_id=self.device.pk, seconds=retry_in)
        items = [_message_item(job) for job in jobs]
        return Response(items if order == "fifo" else items[::-1])

    def patch(self, request: Request) -> Response:
        mobile.app_messages_report(gateway=self.device, reports=MESSAGE_STATES.check(request.data))
        return Response(status=204)


class SettingsApi(MobileApiView):
    def get(self, request: Request) -> Response:
        return Response(AppSettings.answer(**mobile.app_settings(self.device)))


def public_base_url(request: Request) -> str:
    return settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


class WebhooksApi(MobileApiView):
    def get(self, request: Request) -> Response:
        url = f"{public_base_url(request)}/api/mobile/v1/inbound/{self.device.device_id}"
        device_id = self.device.device_id
        return Response(
            [WebhookTarget.answer(id=SMS_RECEIVED_WEBHOOK_ID, deviceId=device_id, url=url, event="sms:received")]
        )


class UserCodeApi(MobileApiView):
    device_required = False

    def get(self, request: Request) -> Response:
        raise NotOffered("Register with the gateway's token; codes and passwords are not used here")


class UserPasswordApi(MobileApiView):
    def patch(self, request: Request) -> Response:
        raise NotOffered("Register with the gateway's token; codes and passwords are not used here")


class EventsElsewhereApi(MobileApiView):
    """Reached only when a proxy sends the event stream to a web node (WSGI cannot hold it)."""

    device_required = False

    def get(self, request: Request) -> Response:
        raise NotFound(
            "The event stream is served by the phone nodes: route /api/mobile/v1/events to them",
            code="events_elsewhere",
        )


class InboundWebhookApi(MobileApiView):
    """Where the app forwards the SMS its phone receives (the URL that GET /webhooks lists),
    signed with the key GET /settings gave it."""

    device_required = False

    def post(self, request: Request, device_id: str) -> Response:
        gateway = mobile.app_gateway_by_device_id(device_id)
        body = request.body
        signed = gateway is not None and mobile.app_webhook_verify(
            gateway=gateway,
            body=body,
            timestamp=request.META.get("HTTP_X_TIMESTAMP", ""),
            signature=request.META.get("HTTP_X_SIGNATURE", ""),
        )
        if not signed:
            raise DeviceUnauthorized("Invalid signature or timestamp", code="invalid_signature")
        event = InboundEvent.check(json_object(request))
        if event.get("event") != "sms:received":
            return Response(status=204)  # acknowledged; we act on received SMS only
        sms = sms_received_payload(event.get("payload"))
        if not mobile.app_sms_received(gateway=gateway, event_id=event["id"], sms=sms):
            raise DeviceForbidden("This gateway is disabled: its SMS are not accepted")
        return Response(status=204)
