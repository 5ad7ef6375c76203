"""What the SMS Gateway for Android app sends us and what we answer it, declared once
(core/schema.py): the views check a request against these and hand the services checked
values; an answer is built from its declaration. The contract is the app's own
(docs/gateway-protocol.md, ``smsgate-mobile-api.md``): names are the app's, and a request we
cannot use answers 400, as the app's own server does.
"""

from __future__ import annotations

from typing import Any

from core.errors import ValidationFailed
from core.schema import Answer, Field, Schema, array_of_objects, choice, integer, text
from messaging.models import AppState

from .mobile import MAX_MESSAGES_PER_FETCH

MAX_SIM_CARDS = 8
_SLOT = "each SIM card needs a slotIndex from 0 to 7"
_STATE = "each message state needs a string id and state"


def _required_text(name: str, message: str) -> Field:
    """A non-empty string that must be there: absent or wrong, the same text."""
    return text(name, non_empty=True, required=True, message=message, missing=(message, "invalid_request"))


class SimCard(Schema):
    """A SIM card as the app reports it; it masks the carrier name and the number but for
    their last 4 characters."""

    slotIndex = integer(
        "slotIndex", 0, MAX_SIM_CARDS - 1, message=_SLOT, required=True, missing=(_SLOT, "invalid_request")
    )
    carrierName = text("carrierName")
    phoneNumber = text("phoneNumber")


_SIM_CARDS_LIST = f"simCards must be a list of at most {MAX_SIM_CARDS} SIM cards"
SIM_CARDS = array_of_objects(SimCard, "simCards", max_items=MAX_SIM_CARDS, message=_SIM_CARDS_LIST, item_message=_SLOT)


class DeviceRegistration(Schema):
    """POST /device: the app registers with the gateway's registration token."""

    name = _required_text("name", "name must be a non-empty string")
    simCards = SIM_CARDS
    pushToken = text("pushToken", description="Firebase push token: unused, the event stream wakes the app")


class DeviceUpdate(Schema):
    """PATCH /device, on every start of the app: its SIMs may have changed."""

    id = text("id", description="the device id we gave it at registration")
    simCards = SIM_CARDS
    pushToken = text("pushToken")


class MessagesQuery(Schema):
    """GET /message: the order of the jobs in the answer."""

    order = choice("order", ["fifo", "lifo"])


class Recipient(Schema):
    phoneNumber = text("phoneNumber")
    state = text("state")
    error = text("error")


def _state_times(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationFailed("states must be an object of state names and times", code="invalid_states")
    return {name: time for name, time in value.items() if isinstance(time, str)}


class MessageState(Schema):
    """One message's state as the app reports it (PATCH /message)."""

    id = text("id", required=True, message=_STATE, missing=(_STATE, "invalid_request"))
    state = choice("state", list(AppState.values), required=True, missing=(_STATE, "invalid_request"))
    recipients = array_of_objects(
        Recipient,
        "recipients",
        max_items=MAX_MESSAGES_PER_FETCH,
        message="recipients must be a list",
        item_message="each recipient must be an object",
    )
    states = Field({"type": "object", "additionalProperties": {"type": "string"}}, check=_state_times)


MESSAGE_STATES = array_of_objects(
    MessageState,
    "messages",
    max_items=MAX_MESSAGES_PER_FETCH,
    message=f"the body must be a JSON array of at most {MAX_MESSAGES_PER_FETCH} message states",
    item_message=_STATE,
)


class InboundEvent(Schema):
    """An event the app forwards to the URL GET /webhooks gave it, signed."""

    id = _required_text("id", "the event needs a string id")
    event = text("event")
    payload = Field({"type": "object"})  # its shape depends on the event: SmsReceived below


class SmsReceived(Schema):
    """The payload of an ``sms:received`` event."""

    message = text(
        "message",
        required=True,
        message="sms:received needs a payload with the message text",
        missing=("sms:received needs a payload with the message text", "invalid_request"),
    )
    sender = text("sender")
    phoneNumber = text("phoneNumber")
    simNumber = Field({"type": "integer"}, description="the SIM, from 1; out of range: unknown")
    receivedAt = text("receivedAt")


def sms_received_payload(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationFailed("sms:received needs a payload with the message text", code="invalid_request")
    checked = SmsReceived.check(payload)
    if not (checked.get("sender") or checked.get("phoneNumber")):
        raise ValidationFailed("sms:received needs the sender's phoneNumber", code="invalid_request")
    return checked


class Registered(Answer):
    """POST /device's answer: the device's own id and token, and a login and password for SMS
    Gate's client API, acting for the phone's account (no password for a shared-pool phone)."""

    id = Field({"type": "string"})
    token = Field({"type": "string"}, description="the device's Bearer token for this API: kept only as a keyed hash")
    login = Field({"type": "string"})
    password = Field({"type": "string"}, description="empty for a shared-pool phone, which acts for no account")


class WebhookTarget(Answer):
    """Where the app forwards what its phone receives (GET /webhooks lists one)."""

    id = Field({"type": "string"})
    deviceId = Field({"type": "string"})
    url = Field({"type": "string"})
    event = Field({"type": "string", "const": "sms:received"})


class AppSettings(Answer):
    """GET /settings: the app's own pacing, and the key that signs what it forwards."""

    messages = Field({"type": "object"})
    webhooks = Field({"type": "object"})
