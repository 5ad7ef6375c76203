"""Schemathesis against the real server (production pass: granian, PostgreSQL, Redis) and the
document the server itself generates at /api/v1/openapi.json: every operation, schema-valid
and schema-violating requests alike, with all of Schemathesis's checks (no 5xx, answers as
documented, valid data accepted, invalid data rejected), and the links followed.

Two things the document cannot say by JSON Schema keywords are said here:
- What a value of each custom format looks like (``e164``: a number libphonenumber finds
  possible; a cursor the server gave out), so that valid data is generated as valid.
- Which refusals of schema-valid data depend on the server's state rather than the request's
  form: a wrong or never-sent OTP code, a rate limit reached, an Idempotency-Key reused for
  another body, a message a phone already took. Schemathesis's ``positive_data_acceptance``
  is replaced by ``valid_data_accepted_unless_state_refuses``, which allows exactly those,
  by their machine codes; any other refusal of valid data fails the run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core.pagination import cursor_encode

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not settings.REDIS_URL, reason="runs in the production pass (make test-production)"),
]

POSSIBLE_NUMBERS = ["+959123456789", "+959451234567", "+14155550123", "+447911123456", "+4915112345678"]
_now = datetime.now(UTC).replace(tzinfo=None)
_times = st.datetimes(min_value=_now, max_value=_now + timedelta(days=29), timezones=st.just(UTC))
schemathesis.openapi.format("e164", st.sampled_from(POSSIBLE_NUMBERS))
schemathesis.openapi.format("otp-code", st.from_regex(r"\A[0-9]{6}\Z"))
# Any zoned time is valid for since/until; send_at must also be at most 30 days ahead.
schemathesis.openapi.format("date-time", _times.map(lambda moment: moment.isoformat()))
schemathesis.openapi.format(
    "message-cursor",
    st.builds(
        lambda at, digits: cursor_encode(at, f"msg_{digits}"),
        _times,
        st.text("0123456789abcdef", min_size=32, max_size=32),
    ),
)
schemathesis.openapi.format("inbox-cursor", st.builds(cursor_encode, _times, st.integers(1, 2**63 - 1)))

# operationId: the machine codes of refusals that depend on the server's state, not on the form.
STATE_REFUSALS = {
    "smsSend": {"idempotency_key_reused", "rate_limited"},
    "smsBulk": {"rate_limited"},
    "otpSend": {"rate_limited"},
    "otpVerify": {"invalid_otp", "rate_limited"},
    "smsCancel": {"not_cancellable"},
}


@schemathesis.check
def valid_data_accepted_unless_state_refuses(ctx, response, case) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if 200 <= response.status_code < 300 or response.status_code in (401, 403, 404):
        return None
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    if code in STATE_REFUSALS.get(case.operation.definition.raw.get("operationId"), ()):
        return None
    raise AssertionError(f"Valid data refused: {response.status_code} {response.content[:300]!r}")


REPLACED = [positive_data_acceptance]
# The same examples on every run, so that CI is repeatable; FUZZ_RANDOM=1 explores new ones.
RANDOM = bool(os.environ.get("FUZZ_RANDOM"))
EXAMPLES = hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not RANDOM
)


@pytest.fixture
def test_key(transactional_db) -> str:
    """A test-mode key: OTPs are sent without a phone (docs/test-mode.md), so that every
    operation can succeed in a server with no phone connected."""
    from accounts.services import api_key_generate

    return api_key_generate(
        name="fuzz", permissions=["send_sms", "receive_sms", "send_otp", "verify_otp"], test=True
    ).raw_key


@pytest.fixture
def api_schema(web_server, test_key):
    loaded = schemathesis.openapi.from_url(f"{web_server.url}/api/v1/openapi.json").include(path_regex="^/api/v1/")
    loaded.config.update(base_url=web_server.url)

    @loaded.auth()
    class TestKey:
        def get(self, case, context) -> str:
            return test_key

        def set(self, case, data: str, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    loaded.config.checks.update(excluded_check_names=[check.__name__ for check in REPLACED])
    return loaded


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_every_operation_answers_as_documented(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 8
    nothing_to_violate = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @EXAMPLES
        def check(case) -> None:
            case.call_and_validate(excluded_checks=REPLACED)

        try:
            check()
        except Unsatisfiable:
            nothing_to_violate.append(operation.definition.raw["operationId"])
    # Every operation has something a client can get wrong, but for the inbox and the list,
    # whose every parameter is optional and may be empty (checked by the positive run).
    assert set(nothing_to_violate) <= ({"smsInbox", "smsList"} if mode == GenerationMode.NEGATIVE else set())


def test_the_links_hold_a_sent_message_can_be_looked_up_and_cancelled(api_schema):
    workflow = api_schema.as_state_machine()
    steps = hypothesis_settings(EXAMPLES, max_examples=10, stateful_step_count=4)
    workflow.run(settings=steps)


@pytest.fixture
def smsgate_schema(web_server, transactional_db):
    """SMS Gate's client API in the same document, called with Basic credentials."""
    from accounts.services import account_get_or_create, smsgate_login_issue

    issued = smsgate_login_issue(account=account_get_or_create(name="fuzz"), name="fuzz")
    # GET /logs is a documented 501 (not offered), which Schemathesis counts as a server error.
    loaded = (
        schemathesis.openapi.from_url(f"{web_server.url}/api/v1/openapi.json")
        .include(path_regex="^/api/3rdparty/v1/")
        .exclude(operation_id="smsgateLogs")
    )
    loaded.config.update(base_url=web_server.url)

    @loaded.auth()
    class Basic:
        def get(self, case, context) -> str:
            return base64.b64encode(f"{issued.credential.login}:{issued.password}".encode()).decode()

        def set(self, case, data: str, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Basic {data}"}

    loaded.config.checks.update(excluded_check_names=[check.__name__ for check in SMSGATE_NOT_CHECKED])
    return loaded


# A send's numbers are E.164 unless the message is encrypted (then any ciphertext), which no
# JSON Schema keyword of the document can say: valid-looking data may be refused with 400, and
# SMS Gate's errors carry no machine code to tell such a refusal from others.
SMSGATE_NOT_CHECKED = [positive_data_acceptance, valid_data_accepted_unless_state_refuses]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_smsgates_client_api_answers_as_documented(smsgate_schema, mode):
    operations = [result.ok() for result in smsgate_schema.get_all_operations()]
    assert len(operations) == 18
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(EXAMPLES, max_examples=10)
        def check(case) -> None:
            case.call_and_validate(excluded_checks=SMSGATE_NOT_CHECKED)

        with contextlib.suppress(Unsatisfiable):  # an operation with nothing to get wrong
            check()
