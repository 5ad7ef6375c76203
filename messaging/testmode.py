"""Test mode: what happens to a message sent with an ``api_test_`` key (docs/test-mode.md).

Such a message never reaches a phone. ``messaging.lifecycle.message_simulate_due`` (a periodic
task, every second) moves it as a phone would: ``queued``, then ``sent`` one step later, then
``delivered`` one step after that. A few documented numbers (from the +1 500 555 range, which
no real subscriber uses) give the other outcomes, so a client can test its handling of each.
"""

from __future__ import annotations

from enum import Enum


class SimulatedOutcome(Enum):
    DELIVERED = "delivered"
    CARRIER_ERROR = "carrier_error"  # sent, then failed with a carrier's error
    NO_DELIVERY_REPORT = "no_delivery_report"  # sent, and no report ever comes (stays sent)
    NEVER_SENT = "never_sent"  # no phone takes it: queued until it expires (validity), then failed


# The magic numbers (docs/test-mode.md lists them); every other number is delivered.
MAGIC_NUMBERS = {
    "+15005550001": SimulatedOutcome.CARRIER_ERROR,
    "+15005550002": SimulatedOutcome.NO_DELIVERY_REPORT,
    "+15005550003": SimulatedOutcome.NEVER_SENT,
}
CARRIER_ERROR_TEXT = "Carrier error: the recipient's network refused the message (test number)"
SIMULATED = "test mode: no phone"  # the detail of every event the simulator writes


def simulated_outcome(to: str) -> SimulatedOutcome:
    return MAGIC_NUMBERS.get(to, SimulatedOutcome.DELIVERED)


def numbers_with(outcome: SimulatedOutcome) -> list[str]:
    return [number for number, its in MAGIC_NUMBERS.items() if its is outcome]
