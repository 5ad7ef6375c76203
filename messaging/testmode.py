"""Test mode: what happens to a message sent with an ``api_test_`` key (docs/test-mode.md).

Such a message never reaches a phone. ``messaging.lifecycle.message_simulate_due`` (a periodic
task, every second) moves it as a phone would: ``queued``, then ``sent`` one step later, then
``delivered`` one step after that. A few documented numbers (from the +1 500 555 range, which
no real subscriber uses) give the other outcomes, so a client can test its handling of each.
"""

from __future__ import annotations

# The magic numbers (docs/test-mode.md lists them); every other number is delivered.
CARRIER_ERROR_NUMBER = "+15005550001"  # sent, then failed with a carrier's error
NO_DELIVERY_REPORT_NUMBER = "+15005550002"  # sent, and no report ever comes (stays sent)
NEVER_SENT_NUMBER = "+15005550003"  # no phone takes it: queued until it expires, then failed

CARRIER_ERROR_TEXT = "Carrier error: the recipient's network refused the message (test number)"
SIMULATED = "test mode: no phone"  # the detail of every event the simulator writes
