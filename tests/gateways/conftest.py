from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections

from accounts.services import account_get_or_create
from gateways.db import _executor
from gateways.services import gateway_create
from messaging.models import Message
from mysmsapio.asgi import application
from tests.conftest import message_send_now


class Phone:
    """A test client for one gateway socket, speaking the protocol frame by frame."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator

    async def recv(self, timeout: float = 3) -> dict:
        return await self.ws.receive_json_from(timeout=timeout)

    async def recv_type(self, kind: str, timeout: float = 3) -> dict:
        """The next frame of type ``kind``, past others the server sends unasked (welcome,
        cancel, ...), but never past an error: a test waiting for a job must not pass over
        the server's refusal of what it sent."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame
            assert frame["type"] != "error", f"an error frame while waiting for {kind!r}: {frame}"

    async def send(self, frame: dict) -> None:
        await self.ws.send_json_to(frame)

    async def nothing_more(self, timeout: float = 0.3) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def jobs(self, count: int, timeout: float = 3) -> list[dict]:
        return [await self.recv_type("job", timeout) for _ in range(count)]

    async def close(self) -> None:
        await self.ws.disconnect()


async def open_socket(*, token: str | None = None, query_token: str | None = None):
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    path = "/ws/gateway/" + (f"?token={query_token}" if query_token else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def connect_phone(token: str) -> Phone:
    communicator, connected = await open_socket(token=token)
    assert connected
    phone = Phone(communicator)
    welcome = await phone.recv()
    assert welcome["type"] == "welcome"
    return phone


async def phone_with_a_job(token: str, create_sms: Callable[..., Any], **sms: Any) -> tuple[Phone, Message]:
    """A phone connected, and a new message (``create_sms(**sms)``) pushed to it, not yet accepted."""
    phone = await connect_phone(token)
    message = await create_sms(**sms)
    await phone.jobs(1)
    return phone, message


@pytest.fixture(scope="session", autouse=True)
def _phone_db_threads_let_go(django_db_setup):
    """Channels' test communicators make ``close_old_connections`` a no-op, so the phone
    server's database threads (gateways/db.py) keep their last connection: closed here, or the
    test database could not be dropped at the end of the run."""
    yield
    if not _executor.cache_info().currsize:
        return
    threads = settings.PHONE_DB_THREADS
    barrier = threading.Barrier(threads)  # one call per thread: each waits for the others

    def let_go() -> None:
        connections.close_all()
        barrier.wait(timeout=10)

    for future in [_executor(threads).submit(let_go) for _ in range(threads)]:
        future.result()


@pytest.fixture
def run():
    """Run an async scenario from a sync test (the DB is shared through transactional_db)."""
    return lambda coro_fn, *args: async_to_sync(coro_fn)(*args)


@pytest.fixture
def make_phone(transactional_db):
    def make(name: str = "phone", **kwargs):
        return gateway_create(name=name, **kwargs)

    return make


@pytest.fixture
def create_sms(transactional_db):
    account = account_get_or_create()

    async def create(to: str = "+959123456789", text: str = "hello", **kwargs) -> Message:
        return await database_sync_to_async(message_send_now)(account=account, to=to, text=text, **kwargs)

    return create


async def refresh(message: Message) -> Message:
    return await database_sync_to_async(Message.objects.get)(pk=message.pk)


def dumps(frame: dict) -> str:
    return json.dumps(frame)


async def settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)
