"""The app phones' event stream: ``GET /api/mobile/v1/events``, Server-Sent Events held open by
a phone node (ASGI), as the SMS Gateway for Android app expects of its server.

It only wakes: ``MessageEnqueued`` makes the app fetch its jobs (``GET /message``),
``MessageCancelled`` asks it to drop one. Every event carries a ``data:`` line (the app's
HTTP client drops events without one). The open stream is the phone's presence, as an
agent's WebSocket is: it comes online when the stream opens and goes offline when it closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.consumer import AsyncConsumer
from channels.db import aclose_old_connections
from channels.exceptions import StopConsumer
from django.conf import settings
from django.db import DatabaseError

from core.phone_signals import gateway_group_name

from . import dispatch
from .consumers import DirectDispatchMixin
from .db import phone_db
from .middleware import bearer_from_scope
from .mobile import app_gateway_by_device_token, app_stream_alive, app_stream_current
from .services import gateway_connected

logger = logging.getLogger(__name__)


def sse_event(name: str, data: Any = None) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class AppEventsConsumer(DirectDispatchMixin, AsyncConsumer):
    gateway_id: int | None = None
    connection_id: str = ""
    keepalive_task: asyncio.Task | None = None
    wake_later_task: asyncio.Task | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        if message.get("more_body") or self.gateway_id is not None:
            return  # a GET has no body worth reading
        if self.scope["method"] not in ("GET", "HEAD"):
            await self._refuse(405, "Method not allowed: open the event stream with GET", [(b"allow", b"GET")])
        token = bearer_from_scope(self.scope)  # headers only: a query string reaches access logs
        gateway = await phone_db(app_gateway_by_device_token)(raw_token=token) if token else None
        if gateway is None:
            # 401 is what makes the app register again.
            await self._refuse(401, "Invalid or missing device token", [(b"www-authenticate", b"Bearer")])
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # proxies must pass each event on at once
        ]
        self.gateway_id, self.device_token_hash = gateway.pk, gateway.device_token_hash
        self.connection_id = await phone_db(gateway_connected)(gateway_id=gateway.pk)
        await self.channel_layer.group_add(gateway_group_name(gateway.pk), self.channel_name)
        # Only now "connected": the phone is online and its wakes reach this stream.
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._write(b": connected\n\n")
        # Pending messages (waiting for any phone) can now come here; the app fetches on
        # every (re)connect by itself.
        await phone_db(dispatch.dispatch_assign_pending)()
        self.keepalive_task = asyncio.ensure_future(self._keepalive())

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        await self._close()

    # --- Channel-layer events --------------------------------------------------------------

    async def gateway_wake(self, event: dict[str, Any]) -> None:
        delay = event.get("after")
        if isinstance(delay, (int, float)) and delay > 0:
            if self.wake_later_task is None or self.wake_later_task.done():
                self.wake_later_task = asyncio.ensure_future(self._wake_later(float(delay)))
            return
        await self._write(sse_event("MessageEnqueued"))

    async def gateway_cancel(self, event: dict[str, Any]) -> None:
        await self._write(sse_event("MessageCancelled", {"messageId": event["message_id"]}))

    async def gateway_settings(self, event: dict[str, Any]) -> None:
        await self._write(sse_event("SettingsUpdated"))

    async def gateway_export(self, event: dict[str, Any]) -> None:
        # The app forwards the SMS it received then to its webhooks (our inbound URL): stored
        # once each, and told to the account's webhooks (SMS Gate's client API's inbox refresh).
        data = {"since": event["since"], "until": event["until"], "messageTypes": ["SMS"], "triggerWebhooks": True}
        await self._write(sse_event("MessagesExportRequested", data))

    async def gateway_close(self, event: dict[str, Any]) -> None:
        # The device's token was rolled or revoked, or a new device registered: the end of
        # this stream, unless it is a newer one than the signal (the sweep repeats it).
        current = await phone_db(app_stream_current)(
            gateway_id=self.gateway_id, connection_id=self.connection_id, device_token_hash=self.device_token_hash
        )
        if not current:
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            await self._close()

    # --- Helpers ------------------------------------------------------------------------------

    async def _refuse(self, status: int, error: str, headers: list[tuple[bytes, bytes]]) -> None:
        body = json.dumps({"error": error, "code": "invalid_device_token" if status == 401 else "method_not_allowed"})
        start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
        await self.send({"type": "http.response.start", "status": status, "headers": start_headers})
        await self.send({"type": "http.response.body", "body": body.encode(), "more_body": False})
        raise StopConsumer()

    async def _write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def _keepalive(self) -> None:
        # The app's client reads with a one-hour timeout; proxies and NATs drop idle connections
        # far sooner. A comment line every 15 s keeps the path open (as the app's own server).
        while True:
            await asyncio.sleep(settings.GATEWAY_APP_KEEPALIVE_SECONDS)
            await self._write(b":keepalive\n\n")
            try:
                # The stream is the phone's presence, while its token stands.
                alive = await phone_db(app_stream_alive)(
                    gateway_id=self.gateway_id,
                    connection_id=self.connection_id,
                    device_token_hash=self.device_token_hash,
                )
            except DatabaseError as exc:
                # Passing (a restart): the next keepalive tries again, within the online window.
                logger.warning("gateway %s: presence not recorded: %s", self.gateway_id, type(exc).__name__)
                continue
            if not alive:
                # The end of the response; the server's disconnect that follows cleans up.
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
                return

    async def _wake_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._write(sse_event("MessageEnqueued"))

    async def _close(self) -> None:
        for task in (self.keepalive_task, self.wake_later_task):
            if task is not None:
                task.cancel()
        if self.gateway_id is not None:
            gateway_id, self.gateway_id = self.gateway_id, None
            await self.channel_layer.group_discard(gateway_group_name(gateway_id), self.channel_name)
            try:
                await phone_db(dispatch.dispatch_phone_left)(
                    gateway_id=gateway_id, connection_id=self.connection_id, reason="event stream closed"
                )
            except DatabaseError as exc:
                # As for agents (gateways/consumers.py): offline by its silence instead.
                logger.warning("app gateway %s: goodbye not recorded: %s", gateway_id, type(exc).__name__)
        await aclose_old_connections()
        raise StopConsumer()
