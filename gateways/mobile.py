"""App phones: the "SMS Gateway for Android" app (capcom6/android-sms-gateway) speaking its own
private-server API to us (gateways/mobile_views.py, written down in docs/gateway-protocol.md).

An operator creates an app gateway as any other (``create_gateway --app``); its token is the
app's registration token. Registering gives the device an id and a token of its own, stored
hashed; rolling or revoking the gateway clears them, so the device's next call gets 401 and
its event stream closes. Jobs go through the same dispatch as the agent's (gateways.dispatch),
with one difference: the app fetches jobs instead of accepting them one by one, so the fetch
is the hand-over (messaging.lifecycle).
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.services import smsgate_login_issue
from core.crypto import keyed_hash, new_prefixed_secret
from core.times import parse_zoned_time
from messaging.jobs import Job
from messaging.lifecycle import message_app_report
from messaging.models import AppState, Message, MessageStatus
from messaging.services import ReceivedSms

from . import dispatch
from .models import Gateway, GatewayEventType, GatewayKind
from .selectors import gateway_phones_changed
from .services import gateway_by_secret, gateway_event_record, gateway_get_by_token, gateway_inbound_sms, gateway_seen

DEVICE_TOKEN_PURPOSE = "gateway_device_token"
# The Go server's cap on one GET /message answer (and so on a PATCH of their states).
MAX_MESSAGES_PER_FETCH = 100
SIGNING_KEY_PURPOSE = "app_webhook_signing_key"
# The presence marker of an app phone seen through its polling, with no event stream open.
POLLING = "polling"
# How far an inbound webhook's X-Timestamp may be from our clock (replays older than this fail).
WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS = 300
# Apps from this version on know the "Cancelling" state; older ones read it as Pending and
# would send the message (docs: smsgate-mobile-api.md).
CANCELLING_SINCE = (1, 67)
_USER_AGENT = re.compile(r"me\.capcom\.smsgateway/(\d+)\.(\d+)")


class RegistrationSpent(PermissionError):
    """The registration token already paired a device: pairing another needs a new token."""


@dataclass(frozen=True)
class DeviceRegistration:
    gateway: Gateway
    device_id: str
    raw_token: str
    # For SMS Gate's client API (Basic), as SMS Gate's server gives an app; an empty password
    # for a shared-pool phone, which acts for no one account.
    login: str
    password: str


def app_sims_from_report(sim_cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The app's checked ``simCards`` (gateways/mobile_schemas.py) as our SIM report
    (``[{"slot", "carrier", "number"}]``, as the agent reports them)."""
    sims = []
    for card in sim_cards:
        sim: dict[str, Any] = {"slot": card["slotIndex"]}
        for key, field in (("carrierName", "carrier"), ("phoneNumber", "number")):
            if value := card.get(key):
                sim[field] = value[:64]
        sims.append(sim)
    return sims


@transaction.atomic
def app_device_register(
    *, registration_token: str, name: str, sim_cards: list[dict[str, Any]], app_version: str = ""
) -> DeviceRegistration | None:
    """Bind the app's device to the gateway whose token it presents (None: no such app
    gateway). A registration token pairs one device: whoever saw it (the pairing page, a
    screenshot) could otherwise register later and take the phone's jobs, OTP texts included.
    Another device (a reinstalled app) needs a new token: "Roll the token" in the admin,
    which also ends the earlier device's token and event stream. Raises ``RegistrationSpent``."""
    gateway = gateway_get_by_token(raw_token=registration_token)
    if gateway is None or gateway.kind != GatewayKind.APP:
        return None
    device_name, sims = name.strip()[:100], app_sims_from_report(sim_cards)
    gateway = Gateway.objects.select_for_update().get(pk=gateway.pk)
    if gateway.device_id:
        raise RegistrationSpent()
    token = new_prefixed_secret(prefix=Gateway.DEVICE_TOKEN_PREFIX, purpose=DEVICE_TOKEN_PURPOSE)
    gateway.device_id = secrets.token_hex(10)
    gateway.device_token_prefix, gateway.device_token_hash = token.lookup, token.hash
    gateway.device_model, gateway.sims, gateway.app_version = device_name, sims, app_version[:50]
    login, password = gateway.name, ""
    if gateway.account_id is not None:
        # As SMS Gate's server does: the app shows its user a login for the client API, here
        # acting for the phone's account.
        issued = smsgate_login_issue(account=gateway.account, name=f"app phone {gateway.name}")
        gateway.smsgate_login = issued.credential
        login, password = issued.credential.login, issued.password
    gateway.save(
        update_fields=[
            "device_id",
            "device_token_prefix",
            "device_token_hash",
            "device_model",
            "sims",
            "app_version",
            "smsgate_login",
        ]
    )
    detail = f"{device_name}, app {app_version or 'unknown'}"
    gateway_event_record(gateway_id=gateway.pk, event=GatewayEventType.REGISTERED, detail=detail)
    return DeviceRegistration(gateway, gateway.device_id, token.raw, login, password)


def app_gateway_by_device_token(*, raw_token: str) -> Gateway | None:
    """The unrevoked app gateway whose device holds ``raw_token``, or None."""
    return gateway_by_secret(
        raw_token,
        prefix=Gateway.DEVICE_TOKEN_PREFIX,
        purpose=DEVICE_TOKEN_PURPOSE,
        field="device_token",
        kind=GatewayKind.APP,
    )


def app_device_update(
    *, gateway: Gateway, device_id: str | None, sim_cards: list[dict[str, Any]] | None, app_version: str = ""
) -> None:
    """The app's PATCH /device, sent on every start: its SIMs may have changed."""
    if device_id != gateway.device_id:
        raise PermissionError("this token belongs to another device")
    updates: dict[str, Any] = {"app_version": app_version[:50]} if app_version else {}
    if sim_cards is not None:
        updates["sims"] = app_sims_from_report(sim_cards)
    if updates:
        Gateway.objects.filter(pk=gateway.pk).update(**updates)
        if "sims" in updates:
            gateway_phones_changed()  # the carriers it can serve


def app_device_polled(*, gateway_id: int) -> None:
    """An app phone called us: alive. Without an open event stream, it counts as online for
    the online window after each call (its polling), like a phone heard from."""
    now = timezone.now()
    if Gateway.objects.filter(pk=gateway_id, is_connected=True).update(last_seen_at=now):
        return
    if Gateway.objects.filter(pk=gateway_id, is_connected=False, enabled=True).update(
        is_connected=True, connection_id=POLLING, connected_at=now, last_seen_at=now
    ):
        gateway_phones_changed()
        gateway_event_record(gateway_id=gateway_id, event=GatewayEventType.CONNECTED, detail="polling", at=now)
        dispatch.dispatch_assign_pending()


def app_stream_alive(*, gateway_id: int, connection_id: str, device_token_hash: str) -> bool:
    """An app phone's event stream at its keepalive: seen (it stays online) while the device's
    token is still the one it opened the stream with and the stream is the phone's latest;
    False once rolled, revoked or replaced, or superseded by a newer stream (the stream then
    closes, even where no signal reached it: a token holder cannot keep any number open)."""
    if not app_stream_current(gateway_id=gateway_id, connection_id=connection_id, device_token_hash=device_token_hash):
        return False
    gateway_seen(gateway_id=gateway_id, connection_id=connection_id)
    return True


def app_stream_current(*, gateway_id: int, connection_id: str, device_token_hash: str) -> bool:
    """Whether a stream opened with ``device_token_hash`` is still the phone's, untouched."""
    valid = Gateway.objects.filter(
        pk=gateway_id, device_token_hash=device_token_hash, revoked_at__isnull=True, connection_id=connection_id
    )
    return bool(device_token_hash) and valid.exists()


def app_knows_cancelling(user_agent: str) -> bool:
    match = _USER_AGENT.search(user_agent or "")
    return match is not None and (int(match[1]), int(match[2])) >= CANCELLING_SINCE


@dataclass(frozen=True)
class AppJob:
    """A job as the app fetches it: with its state, and the slot of the SIM that sends it."""

    job: Job
    state: str
    sim_slot: int | None = None

    def text(self) -> str:
        # A cancellation needs only the id: it shows the text as operators see it (an OTP's
        # code masked), never the sealed one.
        return self.job.body if self.state == AppState.CANCELLING else self.job.text()


def app_jobs_fetch(*, gateway: Gateway, knows_cancelling: bool) -> tuple[list[AppJob], float | None]:
    """The app's GET /message: jobs it fetched before and never acknowledged (an answer lost
    on the way), cancellations it must act on, then new jobs within its pace, which become
    its own. Also, when its pace holds jobs back, in how many seconds to fetch again."""
    held = Message.objects.filter(gateway_id=gateway.pk, status=MessageStatus.QUEUED, handed_over_at__isnull=False)
    jobs: list[AppJob] = []
    if knows_cancelling:
        cancelling = held.filter(cancel_requested_at__isnull=False).order_by("handed_over_at")
        # What operators see (an OTP's code masked): the app only needs the id to cancel.
        jobs += [AppJob(Job.of(m), AppState.CANCELLING) for m in cancelling[:MAX_MESSAGES_PER_FETCH]]
    # Fetched, never acknowledged: if that answer was lost the app does not know the job, and
    # sends it now; if it does know it, it reports its state again. Either way, sent once.
    unacknowledged = held.filter(phone_state="", cancel_requested_at__isnull=True).order_by("handed_over_at")
    for message in unacknowledged[: MAX_MESSAGES_PER_FETCH - len(jobs)]:
        job = Job.of(message)
        jobs.append(AppJob(job, AppState.PENDING, job.sim_slot(gateway.sims, dispatch.sim_slot_for)))
    retry_in = None
    if len(jobs) < MAX_MESSAGES_PER_FETCH:
        taken = dispatch.dispatch_take_jobs(gateway_id=gateway.pk, token_hash=gateway.token_hash, hand_over=True)
        jobs += [AppJob(job, AppState.PENDING, job.sim_slot(taken.sims, dispatch.sim_slot_for)) for job in taken.jobs]
        retry_in = taken.retry_in
    return jobs, retry_in


def _report_time(states: object, state: str) -> datetime | None:
    value = states.get(state) if isinstance(states, dict) else None
    return parse_app_time(value) if isinstance(value, str) else None


def app_messages_report(*, gateway: Gateway, reports: list[dict[str, Any]]) -> int:
    """The app's PATCH /message, checked (gateways/mobile_schemas.py ``MessageState``).
    Unknown ids, and messages that are not this phone's, are ignored. Returns how many changed
    something."""
    changed = 0
    for report in reports:
        errors = [recipient["error"] for recipient in report.get("recipients", []) if recipient.get("error")]
        state = report["state"]
        changed += message_app_report(
            gateway_id=gateway.pk,
            message_id=report["id"][:64],
            state=state,
            error=errors[0] if errors else None,
            at=_report_time(report.get("states"), state),
        )
    return changed


def app_signing_key(gateway: Gateway) -> str:
    """The key the device signs its webhooks with. Derived from the device's token hash and
    our secret, not stored: a new device (or a roll) gets a new key."""
    return keyed_hash(SIGNING_KEY_PURPOSE, f"{gateway.pk}:{gateway.device_token_hash}")[:32]


def app_settings(gateway: Gateway) -> dict[str, Any]:
    """The app's GET /settings: its own pacing matches ours (the server paces hand-overs; the
    app's limit keeps a phone that fetched a backlog within Android's), and the key that
    signs the SMS it forwards."""
    return {
        "messages": {"limit_period": "PerMinute", "limit_value": gateway.rate_per_minute, "processing_order": "FIFO"},
        "webhooks": {"signing_key": app_signing_key(gateway)},
    }


def parse_app_time(value: str) -> datetime | None:
    """A time the app wrote: ISO 8601 with an offset; old Android builds write offsets such as
    ``+5:00`` or ``+-5:00``. None when it is not a time."""
    return parse_zoned_time(re.sub(r"([+-])-?(\d):?(\d\d)$", r"\g<1>0\2:\3", value.strip()))


def app_webhook_verify(*, gateway: Gateway, body: bytes, timestamp: str, signature: str) -> bool:
    """The app signs ``body + timestamp`` with HMAC-SHA256 under our signing key (hex). Headers
    are anyone's to send: a timestamp is 1 to 12 ASCII digits ("²" passes ``isdigit`` and fails
    ``int``), a signature is ASCII (``compare_digest`` refuses other text with a TypeError)."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature.isascii():
        return False
    if abs(time.time() - int(timestamp)) > WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS:
        return False
    expected = hmac.new(app_signing_key(gateway).encode(), body + timestamp.encode(), "sha256").hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def app_gateway_by_device_id(device_id: str) -> Gateway | None:
    if not device_id or len(device_id) > 32:
        return None
    return Gateway.objects.filter(device_id=device_id, kind=GatewayKind.APP, revoked_at__isnull=True).first()


def app_sms_received(*, gateway: Gateway, event_id: str, sms: dict[str, Any]) -> bool:
    """An ``sms:received`` event the app forwarded, signature and payload checked
    (gateways/mobile_schemas.py ``SmsReceived``): stored once, by the event's id (the same on
    every retry). False when the phone is disabled."""
    sim_number, received_at = sms.get("simNumber"), sms.get("receivedAt")
    received = ReceivedSms(
        device_sms_id=event_id[:64],
        sender=(sms.get("sender") or sms["phoneNumber"])[:32],
        text=sms["message"],
        sim_slot=sim_number - 1 if type(sim_number) is int and 1 <= sim_number <= 8 else None,
        received_at=parse_app_time(received_at) if received_at else None,
    )
    return gateway_inbound_sms(gateway_id=gateway.pk, received=received)
