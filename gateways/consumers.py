"""The phones' WebSocket: protocol v1, written down in docs/gateway-protocol.md."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError

from core.api import api_time
from core.phone_signals import gateway_group_name
from core.times import parse_zoned_time
from messaging.jobs import Job
from messaging.lifecycle import (
    message_claim,
    message_forget_pushes,
    message_mark_delivered,
    message_mark_failed,
    message_mark_radio_sent,
)
from messaging.services import ReceivedSms

from . import dispatch
from .db import phone_db
from .selectors import gateway_pace, gateway_token_current
from .services import gateway_connected, gateway_inbound_sms, gateway_seen

logger = logging.getLogger(__name__)
T = TypeVar("T")

PROTOCOL_VERSION = 1
CLOSE_UNAUTHORIZED = 4401
CLOSE_REVOKED = 4403
# A wake comes milliseconds after its message's commit: this many pushes cover that window
# (a phone takes at most 30 parts a minute), at a few KB per busy socket.
RECENT_PUSHES_KEPT = 64


class ProtocolError(Exception):
    pass


class TokenGone(Exception):
    """The socket's token is no longer the phone's: rolled, or the phone revoked."""


def _if_token_current(gateway_id: int, token_hash: str, service: Callable[..., T], kwargs: dict[str, Any]) -> T:
    if gateway_pace(gateway_id=gateway_id, token_hash=token_hash) is None:
        raise TokenGone
    return service(**kwargs)


# Frames a phone keeps in its journal until acknowledged.
REPORT_TYPES = frozenset({"sent", "delivered", "failed", "inbound"})


def _text(content: dict[str, Any], key: str, *, max_length: int = 64) -> str:
    value = content.get(key)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ProtocolError(f"'{key}' must be a non-empty string")
    return value


def _optional_int(content: dict[str, Any], key: str) -> int | None:
    value = content.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(content: dict[str, Any], key: str) -> datetime | None:
    """An optional ISO 8601 time with a zone. A time without one is refused: the phone's local
    time read as UTC put inbound SMS hours off (the agent converts with the phone's zone)."""
    value = content.get(key)
    if value is None:
        return None
    parsed = parse_zoned_time(value)
    if parsed is None:
        raise ProtocolError(f"'{key}' must be an ISO 8601 time with a zone, e.g. 2026-11-25T13:00:00Z")
    return parsed


def _job_frame(job: Job, sims: object) -> dict[str, Any]:
    """The agent's ``job`` frame (docs/gateway-protocol.md), for the phone whose SIMs are ``sims``."""
    return {
        "type": "job",
        "message_id": job.message_id,
        "to": job.to,
        "text": job.text(),
        "sim_slot": job.sim_slot(sims, dispatch.sim_slot_for),
        "priority": "otp" if job.priority > 0 else "normal",
        "expires_at": api_time(job.expires_at),
        # End-to-end encrypted number and text: an agent without the passphrase reports it failed.
        **({"encrypted": True} if job.encrypted else {}),
    }


class DirectDispatchMixin:
    """A consumer's dispatch without Channels' connection sweep before every handler: that
    sweep (``aclose_old_connections``) is a hop to the shared sync thread per frame and per
    signal, where a wake then waited behind other phones' database commits before its job
    could be pushed; it was a twelfth of the phone server's GIL time. Every database call of
    these consumers goes through ``phone_db`` (``database_sync_to_async``), which sweeps around
    itself."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class GatewayConsumer(DirectDispatchMixin, AsyncJsonWebsocketConsumer):
    gateway_id: int | None = None

    # --- Protocol handlers ------------------------------------------------------------------

    async def connect(self) -> None:
        gateway = self.scope.get("gateway")
        await self.accept()
        if gateway is None:
            # Accepted first so that the phone sees the close code, not a bare HTTP 403.
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.gateway_id = gateway.pk
        self.token_hash = gateway.token_hash  # a roll ends this socket's jobs (see push_jobs)
        self.push_lock = asyncio.Lock()
        self.push_later_task: asyncio.Task | None = None
        # What the last look at the database left this phone to take at once (see push_at_once).
        self.room, self.sims = 0, None
        # The last jobs pushed on this socket: a wake that comes after the database path
        # pushed its message (a burst, or the connect's first look) does not push it again.
        self.recent_pushes: dict[str, None] = {}
        self.connection_id = await phone_db(gateway_connected)(gateway_id=gateway.pk)
        await self.channel_layer.group_add(gateway_group_name(gateway.pk), self.channel_name)
        await self.send_json(
            {
                "type": "welcome",
                "protocol": PROTOCOL_VERSION,
                "gateway": {"id": gateway.pk, "name": gateway.name},
                "heartbeat_interval": settings.GATEWAY_HEARTBEAT_SECONDS,
            }
        )
        # Jobs pushed to an earlier socket and never accepted are pushed again on this one,
        # and pending messages (waiting for any phone) can now come here.
        await phone_db(message_forget_pushes)(gateway_id=gateway.pk)
        await phone_db(dispatch.dispatch_assign_pending)()
        await self.push_jobs()

    async def disconnect(self, code: int) -> None:
        if self.gateway_id is None:
            return
        if self.push_later_task is not None:
            self.push_later_task.cancel()
        await self.channel_layer.group_discard(gateway_group_name(self.gateway_id), self.channel_name)
        try:
            await phone_db(dispatch.dispatch_phone_left)(
                gateway_id=self.gateway_id, connection_id=self.connection_id, reason=f"close code {code}"
            )
        except DatabaseError as exc:
            # The database is away (a restart): the phone goes offline by its silence instead,
            # and its jobs go to other phones with it (mark_silent_gateways_offline).
            logger.warning("gateway %s: goodbye not recorded: %s", self.gateway_id, type(exc).__name__)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        """Channels' JSON decoding, except that a frame which is not a JSON text (binary, empty,
        not JSON, nested past the parser's depth) gets an error frame: raised inside the
        consumer, it crashed the connection (1011) without a goodbye, so the phone stayed
        online and its jobs waited for the silence sweep."""
        if self.gateway_id is None:
            return
        try:
            if text_data is None:
                raise ValueError("binary frame")
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
            await self.send_json({"type": "error", "error": "a frame must be one JSON object, as text"})
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs) -> None:
        if self.gateway_id is None:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        handler = self.commands.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_json({"type": "error", "error": f"unknown frame type: {kind!r}"})
            return
        try:
            await handler(self, content)
        except TokenGone:
            # Rolled or revoked, and the close signal did not come (a roll in another process
            # of embedded mode, a lost publish): refused at this frame, not at the heartbeat.
            await self.close(code=CLOSE_REVOKED)
        except (ProtocolError, DataError, IntegrityError) as exc:
            # Never acceptable as sent. A report (it has an id) is acknowledged as rejected, so
            # that the phone drops it instead of resending it forever; anything else gets an error.
            error = str(exc) if isinstance(exc, ProtocolError) else "the report could not be stored"
            if kind in REPORT_TYPES and isinstance(content.get("id"), str) and content["id"]:
                logger.warning("gateway %s: %s report rejected: %s", self.gateway_id, kind, error)
                await self.send_json({"type": "ack", "id": content["id"][:64], "rejected": error})
            else:
                await self.send_json({"type": "error", "error": error, "in_reply_to": kind})
        except DatabaseError as exc:
            # Ours, and passing (the database restarting, a pool timeout): the phone keeps the
            # report, unacknowledged, and sends it again; the connection stays.
            reason = str(exc).strip().split("\n", 1)[0][:200]  # the driver's first line, no query
            logger.warning("gateway %s: %s frame failed: %s: %s", self.gateway_id, kind, type(exc).__name__, reason)
            await self.send_json({"type": "error", "error": "temporarily unavailable, send again", "in_reply_to": kind})

    # --- Commands from the phone -----------------------------------------------------------

    async def on_hello(self, content: dict[str, Any]) -> None:
        device = content.get("device") if isinstance(content.get("device"), dict) else {}
        await self._seen({**device, "protocol": content.get("protocol")})
        await self.push_jobs()

    async def on_heartbeat(self, content: dict[str, Any]) -> None:
        await self._seen(content)

    async def on_accept(self, content: dict[str, Any]) -> None:
        message_id = _text(content, "message_id")
        ok = await self._act(message_claim, gateway_id=self.gateway_id, message_id=message_id)
        await self.send_json({"type": "claim", "message_id": message_id, "ok": ok})

    async def on_sent(self, content: dict[str, Any]) -> None:
        await self._act(message_mark_radio_sent, gateway_id=self.gateway_id, message_id=_text(content, "message_id"))
        await self._ack(content)

    async def on_delivered(self, content: dict[str, Any]) -> None:
        await self._act(
            message_mark_delivered,
            gateway_id=self.gateway_id,
            message_id=_text(content, "message_id"),
            at=_time(content, "at"),
        )
        await self._ack(content)

    async def on_failed(self, content: dict[str, Any]) -> None:
        error = content.get("error") if isinstance(content.get("error"), str) else "Send failed"
        await self._act(
            message_mark_failed,
            gateway_id=self.gateway_id,
            message_id=_text(content, "message_id"),
            error=error,
            error_code=content.get("error_code"),
        )
        await self._ack(content)

    async def on_inbound(self, content: dict[str, Any]) -> None:
        text = content.get("text")
        if not isinstance(text, str):
            raise ProtocolError("'text' must be a string")
        received = ReceivedSms(
            device_sms_id=_text(content, "id"),
            sender=_text(content, "from", max_length=32),
            text=text,
            sim_slot=_optional_int(content, "sim_slot"),
            received_at=_time(content, "received_at"),
        )
        stored = await self._act(gateway_inbound_sms, gateway_id=self.gateway_id, received=received)
        if not stored:
            raise ProtocolError("this gateway is disabled: its inbound SMS are not accepted")
        await self._ack(content)

    commands = {
        "hello": on_hello,
        "heartbeat": on_heartbeat,
        "accept": on_accept,
        "sent": on_sent,
        "delivered": on_delivered,
        "failed": on_failed,
        "inbound": on_inbound,
    }

    async def _act(self, service: Callable[..., T], **kwargs: Any) -> T:
        """``service`` on the phone's database threads, if this socket's token is still the
        phone's (one hop: the check is from memory where the caches run); else ``TokenGone``."""
        return await phone_db(_if_token_current)(self.gateway_id, self.token_hash, service, kwargs)

    async def _ack(self, content: dict[str, Any]) -> None:
        # Reports are idempotent on the server, so a repeat is acked like the first.
        await self.send_json({"type": "ack", "id": _text(content, "id")})

    async def _seen(self, info: dict[str, Any] | None = None) -> None:
        alive = await phone_db(gateway_seen)(
            gateway_id=self.gateway_id, connection_id=self.connection_id, info=info, token_hash=self.token_hash
        )
        if not alive:  # rolled or revoked, and the close signal did not come
            await self.close(code=CLOSE_REVOKED)

    # --- Channel-layer events --------------------------------------------------------------

    async def gateway_wake(self, event: dict[str, Any]) -> None:
        job = Job.from_wake(event["job"]) if "job" in event else None
        if job is not None and await self.push_at_once(job):
            return
        await self.push_jobs()

    async def gateway_cancel(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "cancel", "message_id": event["message_id"]})

    async def gateway_settings(self, event: dict[str, Any]) -> None:
        # Its rate changed, or it was disabled: no push from a wake until the database is read.
        self.room = 0

    async def gateway_export(self, event: dict[str, Any]) -> None:
        pass  # our agent forwards every SMS it receives as it comes: there is nothing to send again

    async def gateway_close(self, event: dict[str, Any]) -> None:
        # The token was rolled or the phone revoked: the end of this socket, unless it connected
        # with the new token (the sweep repeats the signal for a while).
        if not await phone_db(gateway_token_current)(gateway_id=self.gateway_id, token_hash=self.token_hash):
            await self.close(code=CLOSE_REVOKED)

    async def push_jobs(self) -> None:
        """Push what the phone may take now; come back when its rate allows more."""
        async with self.push_lock:
            taken = await phone_db(dispatch.dispatch_take_jobs)(gateway_id=self.gateway_id, token_hash=self.token_hash)
            self.room, self.sims = taken.room, taken.sims
            for job in taken.jobs:
                await self.send_json(_job_frame(job, taken.sims))
                self._remember_push(job.message_id)
        retry_in = taken.retry_in
        if retry_in is not None and (self.push_later_task is None or self.push_later_task.done()):
            self.push_later_task = asyncio.ensure_future(self._push_later(retry_in))

    async def push_at_once(self, job: Job) -> bool:
        """A new message that its wake carries, pushed before any database hop: the phone
        is idle (no push under way, nothing waiting for its rate) and the room the last look
        at the database left covers it. The push is recorded right after, under the push
        lock, so another path cannot push it again; if it is no longer waiting by then
        (cancelled, expired), the phone's claim is refused and it is never sent. False: not
        pushed here, the database path decides (POST to job frame: bench/dispatch.py)."""
        if job.message_id in self.recent_pushes:
            # Pushed on this socket already (most likely by the database path, just before
            # this wake came): the database knows whether it is waiting again (a retry).
            return False
        if (
            self.push_lock.locked()
            or (self.push_later_task is not None and not self.push_later_task.done())
            or not 0 < job.segments <= self.room
            or not job.expires_at.timestamp() > time.time()
        ):
            return False
        async with self.push_lock:
            self.room -= job.segments
            await self.send_json(_job_frame(job, self.sims))
            self._remember_push(job.message_id)
            await phone_db(dispatch.dispatch_pushed_at_once)(
                gateway_id=self.gateway_id, message_id=job.message_id, created_at=job.created_at.timestamp()
            )
        return True

    def _remember_push(self, message_id: str) -> None:
        self.recent_pushes[message_id] = None
        if len(self.recent_pushes) > RECENT_PUSHES_KEPT:
            del self.recent_pushes[next(iter(self.recent_pushes))]  # the oldest

    async def _push_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.push_later_task = None  # this timer is spent: push_jobs may start the next one
        await self.push_jobs()
