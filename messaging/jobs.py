"""A job: a message on its way to a phone, with what the phone needs to send it.

Built once, by messaging, from a row (``Job.of``) or from the row the send path just wrote;
it travels in a wake signal (``to_wake`` / ``from_wake``) so that a phone's consumer can push
a new message without reading the database; the two transports (the agent's WebSocket frame,
the app's fetched message) only frame it, with the SIM slot of the phone that sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.crypto import unseal

from .models import Message


@dataclass(frozen=True, slots=True)
class Job:
    message_id: str
    to: str
    # The text as stored: an OTP's is what operators see (its code masked), the real one sealed.
    body: str
    sealed: str | None
    segments: int
    priority: int
    carrier: str
    created_at: datetime
    expires_at: datetime
    # Number and text end-to-end encrypted (an SMS Gate client's): only the app can send it.
    encrypted: bool = False
    # The SIM its client asked for (from 1), or None: the phone's SIM on the recipient's carrier.
    sim_number: int | None = None

    def sim_slot(self, sims: object, carrier_slot: Callable[[object, str], int | None]) -> int | None:
        """The slot (from 0) to send from: the client's SIM, else ``carrier_slot(sims, carrier)``."""
        return self.sim_number - 1 if self.sim_number else carrier_slot(sims, self.carrier)

    @classmethod
    def of(cls, message: Message) -> Job:
        return cls(
            message.pk,
            message.to,
            message.body,
            message.sealed_body,
            message.segments,
            message.priority,
            message.carrier,
            message.created_at,
            message.expires_at,
            message.is_encrypted,
            message.sim_number,
        )

    def text(self) -> str:
        """The text the phone must send. A sealed text (an OTP's) is opened here, and only here."""
        return unseal(self.sealed, context=self.message_id) if self.sealed else self.body

    def to_wake(self) -> dict[str, Any]:
        """As a wake signal carries it (JSON, and the sealed text still sealed)."""
        return {
            "message_id": self.message_id,
            "to": self.to,
            "body": self.body,
            "sealed": self.sealed,
            "segments": self.segments,
            "priority": self.priority,
            "carrier": self.carrier,
            "created_at": self.created_at.timestamp(),
            "expires_at": self.expires_at.timestamp(),
            "encrypted": self.encrypted,
            "sim_number": self.sim_number,
        }

    @classmethod
    def from_wake(cls, data: object) -> Job | None:
        """The job a wake carries, or None when it carries none that can be read (then the
        database path decides)."""
        try:
            return cls(
                str(data["message_id"]),
                str(data["to"]),
                str(data["body"]),
                data["sealed"] if isinstance(data["sealed"], str) else None,
                _int(data["segments"]),
                _int(data["priority"]),
                str(data["carrier"] or ""),
                datetime.fromtimestamp(data["created_at"], UTC),
                datetime.fromtimestamp(data["expires_at"], UTC),
                data.get("encrypted") is True,
                data["sim_number"] if type(data.get("sim_number")) is int else None,
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            return None


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(value)
    return value
