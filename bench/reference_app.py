"""The reference the send path is measured against (bench/api_send.py): a bare ASGI app, no
Django, doing the minimum durable work of each API call against the same PostgreSQL and Redis.

- ``POST /api/v1/sms/send``: the key's keyed hash looked up in memory (loaded once from the
  ``accounts_apikey`` table), one Redis counter (the same Lua INCR as core.ratelimit), one
  INSERT into ``messaging_message`` with PostgreSQL's synchronous commit, a Redis PUBLISH to
  wake a phone, a 202 JSON answer.
- ``GET /api/v1/sms/status/<id>`` and ``POST /api/v1/otp/verify``: the key in memory, then one
  indexed SELECT each, then the JSON answer.

It is no product: no validation beyond what the work needs, no errors beyond a 401 and a 404.
Served by granian's ASGI interface, one worker:

    DATABASE_URL=... REDIS_URL=... HASH_SECRET=... granian --interface asgi bench.reference_app:app
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
from psycopg_pool import AsyncConnectionPool

_INCR = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_INSERT = """
INSERT INTO messaging_message (id, account_id, api_key_id, "to", body, encoding, segments, priority,
    status, gateway_id, carrier, created_at, queued_at, expires_at)
VALUES (%s, %s, %s, %s, %s, 'GSM7', 1, 0, 'pending', NULL, '', %s, NULL, %s)
"""
_STATUS = "SELECT id, status, sent_at, delivered_at, failed_at, error_message FROM messaging_message WHERE id = %s"
_OTP = "SELECT code_hash FROM otp_otp WHERE account_id = %s AND phone_number = %s AND status = 'active' LIMIT 1"


class Reference:
    def __init__(self) -> None:
        self.pool: AsyncConnectionPool | None = None
        self.redis: redis.Redis | None = None
        self.incr = None
        self.keys: dict[str, tuple[int, int]] = {}
        secret = os.environ["HASH_SECRET"].encode()
        self.hmac_key = hmac.new(secret, b"api_key", hashlib.sha256).digest()

    async def start(self) -> None:
        self.pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=16, open=False)
        await self.pool.open()
        self.redis = redis.Redis.from_url(os.environ["REDIS_URL"])
        self.incr = self.redis.register_script(_INCR)
        async with self.pool.connection() as conn:
            rows = await (await conn.execute("SELECT key_hash, id, account_id FROM accounts_apikey")).fetchall()
        self.keys = {key_hash: (key_id, account_id) for key_hash, key_id, account_id in rows}

    def key_for(self, headers: list[tuple[bytes, bytes]]) -> tuple[int, int] | None:
        for name, value in headers:
            if name == b"authorization":
                raw = value.split(b" ", 1)[-1]
                return self.keys.get(hmac.new(self.hmac_key, raw, hashlib.sha256).hexdigest())
        return None

    async def send(self, key_id: int, account_id: int, body: dict) -> tuple[int, dict]:
        window = int(time.time() // 60) * 60
        count = await self.incr(keys=[f"ref:{key_id}:{window}"], args=[61000])
        if count > 10**9:
            return 429, {"error": "Rate limit exceeded"}
        now = datetime.now(UTC)
        message_id = f"msg_{uuid.uuid4().hex}"
        async with self.pool.connection() as conn:
            await conn.execute(
                _INSERT,
                (message_id, account_id, key_id, body["to"], body["message"], now, now + timedelta(days=1)),
                prepare=True,
            )
        await self.redis.publish("ref:wake", message_id)
        return 202, {"success": True, "message_id": message_id, "status": "pending"}

    async def status(self, message_id: str) -> tuple[int, dict]:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(_STATUS, (message_id,), prepare=True)).fetchone()
        if row is None:
            return 404, {"error": "Message not found"}
        iso = [value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None for value in row[2:5]]
        return 200, {
            "message_id": row[0],
            "status": row[1],
            "sent_at": iso[0],
            "delivered_at": iso[1],
            "failed_at": iso[2],
            "error_message": row[5],
        }

    async def verify(self, account_id: int, body: dict) -> tuple[int, dict]:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(_OTP, (account_id, body["phone_number"]), prepare=True)).fetchone()
        if row is None:
            return 422, {"error": "Invalid or expired OTP"}
        return 200, {"success": True, "message": "OTP verified successfully"}


reference = Reference()


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        event = await receive()
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            return b"".join(chunks)


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await reference.start()
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    key = reference.key_for(scope["headers"])
    body = await _read_body(receive)
    if key is None:
        status, payload = 401, {"error": "Invalid API key"}
    elif path == "/api/v1/sms/send":
        status, payload = await reference.send(*key, json.loads(body))
    elif path.startswith("/api/v1/sms/status/"):
        status, payload = await reference.status(path.rsplit("/", 1)[1])
    elif path == "/api/v1/otp/verify":
        status, payload = await reference.verify(key[1], json.loads(body))
    else:
        status, payload = 404, {"error": "Not found"}
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
