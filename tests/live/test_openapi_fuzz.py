"""Schemathesis against the real server (production pass: granian, PostgreSQL, Redis): every
operation of the document the server itself serves at /api/v1/openapi.json, with a bounded
number of generated requests each, and the links (a sent message's status) followed. No 5xx,
and every answer (status, content type, body, headers) as the document says."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not settings.REDIS_URL, reason="runs in the production pass (make test-production)"),
]

# A schema-valid request may still be refused with a documented 422: that "+1 2" is no phone
# number, or a code was never sent, is the server's business, not the document's types.
SEMANTIC = [schemathesis.checks.positive_data_acceptance]
# The same examples on every run, so that CI is repeatable; FUZZ_RANDOM=1 explores new ones.
RANDOM = bool(os.environ.get("FUZZ_RANDOM"))
EXAMPLES = hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not RANDOM
)


@pytest.fixture
def api_schema(web_server, raw_key):
    loaded = schemathesis.openapi.from_url(f"{web_server.url}/api/v1/openapi.json")
    loaded.config.update(base_url=web_server.url, headers={"Authorization": f"Bearer {raw_key}"})
    loaded.config.checks.update(excluded_check_names=[check.__name__ for check in SEMANTIC])
    return loaded


def test_every_operation_answers_as_documented(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @EXAMPLES
        def check(case) -> None:
            case.call_and_validate(excluded_checks=SEMANTIC)

        check()


def test_the_links_hold_a_sent_message_can_be_looked_up(api_schema):
    workflow = api_schema.as_state_machine()
    steps = hypothesis_settings(EXAMPLES, max_examples=10, stateful_step_count=4)
    workflow.run(settings=steps)
