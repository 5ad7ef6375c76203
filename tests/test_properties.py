"""Property-based: arbitrary JSON values and strings thrown at every /api/v1 endpoint, the app
phones' API (/api/mobile/v1) and every WebSocket frame type. Whatever comes in, the API
answers JSON with a status below 500, the socket keeps serving, and another account's data
does not change."""

from __future__ import annotations

import base64
import hmac
import json
import string
import time

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.services import account_get_or_create, api_key_generate
from gateways.mobile import app_signing_key
from gateways.models import Gateway, GatewayKind
from gateways.services import gateway_create
from messaging.lifecycle import message_create
from messaging.models import InboundSms, Message
from otp.models import Otp
from tests.conftest import ALL_PERMISSIONS, GUIDE_NUMBER
from tests.fake_app import FakeApp, django_transport
from tests.gateways.conftest import connect_phone

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Every code point, unpaired surrogates and NUL included (st.text() leaves surrogates out).
any_text = st.text(st.characters(exclude_categories=()))
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
# Bodies shaped like the endpoints' own: each known field valid or arbitrary, so that hostile
# values reach the code past the first check (a text with a surrogate, to a valid number).
field_names = st.sampled_from(
    ["to", "message", "phone_number", "code", "id", "from", "text", "send_at", "validity", "priority"]
)
numbers = st.sampled_from([GUIDE_NUMBER, "+959451234567", "+447911123456"])
fields = {
    "to": numbers | json_values,
    "phone_number": numbers | json_values,
    "message": any_text | json_values,
    "code": st.from_regex(r"[0-9]{6}", fullmatch=True) | any_text | json_values,
}
bodies = json_values | st.fixed_dictionaries({}, optional=fields)
# sms/bulk's: a list of bodies shaped like sms/send's, or anything
bodies |= st.fixed_dictionaries({"messages": st.lists(bodies, max_size=4) | json_values})
bodies |= st.dictionaries(field_names, json_values, max_size=4)
path_text = st.text(alphabet=string.printable + "é\u00b2\u0663\ud7ff", max_size=40)


def other_accounts_data(account_id: int) -> tuple:
    """What belongs to the other account: every row and every status."""
    return (
        sorted(Message.objects.filter(account_id=account_id).values_list("pk", "status", "body")),
        sorted(Otp.objects.filter(account_id=account_id).values_list("pk", "status", "attempts")),
        InboundSms.objects.filter(account_id=account_id).count(),
    )


@pytest.fixture
def world(client_for, make_gateway):
    """Our key, an online phone, and another account with a message, an OTP and an inbound SMS."""
    other = account_get_or_create(name="bystander")
    other_phone = make_gateway(account=other, name="bystander-phone")
    message_create(account=other, to=GUIDE_NUMBER, text="theirs", gateway_id=other_phone.pk)
    other_key = api_key_generate(name="theirs", permissions=ALL_PERMISSIONS, account=other).raw_key
    client_for(other_key).post("/api/v1/otp/send", {"phone_number": GUIDE_NUMBER}, format="json")
    InboundSms.objects.create(
        account=other,
        gateway=other_phone,
        device_sms_id="1",
        sender="+1",
        body="x",
        received_at=Message.objects.first().created_at,
    )
    make_gateway(name="our-phone")
    return other


def assert_sane(response) -> None:
    assert response.status_code < 500, response.content[:300]
    if response.status_code != 204:
        assert response["Content-Type"] == "application/json"
        json.loads(response.content)


@EXAMPLES
@given(
    path=st.sampled_from(["/api/v1/sms/send", "/api/v1/sms/bulk", "/api/v1/otp/send", "/api/v1/otp/verify"]),
    body=bodies,
)
# Known breakers, always tried besides the random ones (each answered 500 once).
@example(path="/api/v1/sms/send", body={"to": GUIDE_NUMBER, "message": "\ud83d hi"})
@example(path="/api/v1/sms/send", body={"to": GUIDE_NUMBER, "message": "nul \x00"})
@example(path="/api/v1/otp/verify", body={"phone_number": GUIDE_NUMBER, "code": "\ud83d12345"})
@example(path="/api/v1/otp/send", body={"phone_number": GUIDE_NUMBER + "\x00"})
def test_any_json_body_gets_a_json_answer_below_500(api_client, world, path, body):
    before = other_accounts_data(world.pk)
    # ASCII JSON: unpaired surrogates and NULs arrive as escapes, in a body that is valid JSON.
    assert_sane(api_client.generic("POST", path, json.dumps(body), content_type="application/json"))
    assert other_accounts_data(world.pk) == before


LIST_PARAMETERS = ["limit", "since", "until", "cursor", "status", "to"]


@EXAMPLES
@given(message_id=path_text, query=st.dictionaries(st.sampled_from(LIST_PARAMETERS), path_text))
def test_any_status_path_or_inbox_query_gets_a_json_answer_below_500(api_client, world, message_id, query):
    before = other_accounts_data(world.pk)
    path_id = message_id.replace("/", "_").replace("?", "_")
    assert_sane(api_client.get("/api/v1/sms/status/" + path_id))
    assert_sane(api_client.get("/api/v1/sms/inbox", query))
    assert_sane(api_client.get("/api/v1/sms", query))
    assert_sane(api_client.post(f"/api/v1/sms/{path_id or 'x'}/cancel"))
    assert other_accounts_data(world.pk) == before


# SMS Gate's client API (smsgate/): bodies shaped like its Message, and anything.
smsgate_fields = {
    "id": any_text | json_values,
    "message": any_text | json_values,
    "textMessage": st.fixed_dictionaries({}, optional={"text": any_text | json_values}) | json_values,
    "dataMessage": json_values,
    "phoneNumbers": st.lists(numbers | any_text, max_size=4) | json_values,
    "ttl": st.integers() | json_values,
    "validUntil": any_text | json_values,
    "scheduleAt": any_text | json_values,
    "priority": st.integers() | json_values,
    "simNumber": st.integers() | json_values,
    "isEncrypted": st.booleans() | json_values,
}
smsgate_bodies = json_values | st.fixed_dictionaries({}, optional=smsgate_fields)
SMSGATE_QUERY = ["limit", "offset", "from", "to", "sort", "state", "deviceId", "includeContent"]


@pytest.fixture
def smsgate_client(world):
    from accounts.services import smsgate_login_issue

    issued = smsgate_login_issue(account=account_get_or_create(), name="property")
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(
        f"{issued.credential.login}:{issued.password}".encode()
    ).decode("ascii")
    return client


def assert_smsgate_sane(response) -> None:
    """Below 500 (or 501, for what is not offered: docs/smsgate-clients.md), JSON, and SMS
    Gate's error shape for an error."""
    if response.status_code == 501:
        assert response.json()["message"].endswith("not offered by this server yet"), response.content
        return
    assert_sane(response)
    if response.status_code >= 400:
        assert set(response.json()) == {"message"}, response.content[:300]


@EXAMPLES
@given(body=smsgate_bodies, message_id=path_text, query=st.dictionaries(st.sampled_from(SMSGATE_QUERY), path_text))
@example(body={"phoneNumbers": [GUIDE_NUMBER], "textMessage": {"text": "\ud83d hi"}}, message_id="x", query={})
@example(body={"phoneNumbers": [GUIDE_NUMBER], "message": "nul \x00", "id": "a/b"}, message_id="%00", query={})
def test_any_smsgate_request_gets_its_json_answer_below_500(smsgate_client, world, body, message_id, query):
    before = other_accounts_data(world.pk)
    base = "/api/3rdparty/v1"
    path_id = message_id.replace("/", "_").replace("?", "_").replace("#", "_") or "x"
    posted = smsgate_client.generic("POST", f"{base}/messages", json.dumps(body), content_type="application/json")
    assert_smsgate_sane(posted)
    assert_smsgate_sane(smsgate_client.get(f"{base}/messages", query))
    assert_smsgate_sane(smsgate_client.get(f"{base}/messages/{path_id}"))
    assert_smsgate_sane(smsgate_client.delete(f"{base}/message/{path_id}"))
    for method, path in [("PATCH", "settings"), ("PUT", "settings"), ("POST", "webhooks"), ("POST", "auth/token")]:
        sent = smsgate_client.generic(method, f"{base}/{path}", json.dumps(body), content_type="application/json")
        assert_smsgate_sane(sent)
    assert_smsgate_sane(smsgate_client.delete(f"{base}/webhooks/{path_id}"))
    assert other_accounts_data(world.pk) == before


@EXAMPLES
@given(header=st.text(max_size=60) | st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()))
def test_any_authorization_header_on_smsgate_gets_401_or_429(world, header):
    try:
        header.encode("latin-1")
    except UnicodeEncodeError:
        return  # HTTP cannot carry it
    response = Client().get("/api/3rdparty/v1/messages", HTTP_AUTHORIZATION=header)
    assert response.status_code in (401, 429), (header, response.status_code)
    assert set(response.json()) == {"message"}


frame_types = st.sampled_from(["hello", "heartbeat", "accept", "sent", "delivered", "failed", "inbound", "dance"])
frames = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    frame_types,
    st.dictionaries(
        field_names | st.sampled_from(["message_id", "received_at", "at", "error"]), json_values, max_size=5
    ),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(frames | json_values, min_size=1, max_size=6))
def test_any_frame_leaves_the_socket_serving_and_others_untouched(world, sent):
    phone = gateway_create(name=f"fuzz-{Gateway.objects.count()}")
    before = other_accounts_data(world.pk)

    async def scenario():
        socket = await connect_phone(phone.raw_token)
        for frame in sent:
            await socket.ws.send_to(text_data=json.dumps(frame))
        # Still serving: a well-formed report is acknowledged after whatever came before.
        await socket.send({"type": "inbound", "id": "probe", "from": "+959987654321", "text": "probe"})
        while True:
            frame = await socket.recv()
            if frame.get("type") == "ack" and frame.get("id") == "probe":
                break
        await socket.close()

    async_to_sync(scenario)()
    assert other_accounts_data(world.pk) == before


# The SMS Gateway for Android app's API: bodies shaped like the app's own, each field valid or
# arbitrary; inbound events signed with the device's real key, so they get past the signature.
def maybe(valid):
    return valid | json_values


app_states = st.sampled_from(["Pending", "Processed", "Sent", "Delivered", "Failed", "Cancelled", "Cancelling"])
recipients = st.lists(st.fixed_dictionaries({}, optional={"phoneNumber": json_values, "error": json_values}))
patch_items = st.fixed_dictionaries(
    {"id": maybe(st.just("msg_" + "0" * 32)), "state": maybe(app_states)},
    optional={"recipients": maybe(recipients), "states": maybe(st.dictionaries(app_states, maybe(any_text)))},
)
sim_card = st.fixed_dictionaries(
    {"slotIndex": maybe(st.integers(-2, 9))}, optional={"carrierName": json_values, "phoneNumber": json_values}
)
sim_cards = maybe(st.lists(sim_card, max_size=3))
payload = st.fixed_dictionaries(
    {},
    optional={
        "message": maybe(any_text),
        "sender": maybe(any_text),
        "simNumber": json_values,
        "receivedAt": maybe(any_text),
    },
)
event = st.fixed_dictionaries(
    {"id": maybe(any_text), "event": maybe(st.sampled_from(["sms:received", "system:ping"]))},
    optional={"payload": maybe(payload)},
)
app_requests = st.one_of(
    st.tuples(st.just("PATCH"), st.just("/message"), maybe(st.lists(patch_items, max_size=4))),
    st.tuples(
        st.just("POST"),
        st.just("/device"),
        st.fixed_dictionaries({}, optional={"name": maybe(any_text), "simCards": sim_cards}),
    ),
    st.tuples(
        st.just("PATCH"),
        st.just("/device"),
        st.fixed_dictionaries({}, optional={"id": json_values, "simCards": sim_cards}),
    ),
    st.tuples(st.just("POST"), st.just("/inbound"), event),
)
BAD_TIME = [{"id": "msg_" + "0" * 32, "state": "Sent", "states": {"Sent": "\ud83d"}}]
BAD_SMS = {"id": "e", "event": "sms:received", "payload": {"message": "\x00", "sender": "+1\ud83d", "simNumber": True}}
HUGE_SIM = {"id": "e", "event": "sms:received", "payload": {"message": "x", "sender": "+1", "simNumber": 2**40}}


@EXAMPLES
@given(request=app_requests)
@example(request=("PATCH", "/message", BAD_TIME))
@example(request=("POST", "/inbound", BAD_SMS))
@example(request=("POST", "/inbound", HUGE_SIM))
def test_any_app_request_gets_a_json_answer_below_500(world, request):
    created = gateway_create(name=f"app-{Gateway.objects.count()}", kind=GatewayKind.APP)
    app = FakeApp(django_transport(Client()))
    assert app.register(created.raw_token).status == 201
    before = other_accounts_data(world.pk)
    method, path, body = request
    if path == "/inbound":
        raw, stamp = json.dumps(body).encode(), str(int(time.time()))
        key = app_signing_key(Gateway.objects.get(pk=created.gateway.pk))
        signature = hmac.new(key.encode(), raw + stamp.encode(), "sha256").hexdigest()
        headers = {"X-Timestamp": stamp, "X-Signature": signature}
        answer = app.call("POST", f"/inbound/{app.device_id}", raw=raw, token="", headers=headers)
    else:
        answer = app.call(method, path, body)
    assert answer.status < 500, answer.raw[:300]
    if answer.status != 204:
        assert answer.content_type == "application/json"
        json.loads(answer.raw)
    assert other_accounts_data(world.pk) == before
