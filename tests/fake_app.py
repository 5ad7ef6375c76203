"""A fake "SMS Gateway for Android" app, written from the contract (../shared/spec/
smsgate-mobile-api.md and the app's GatewayApi.kt): the requests it makes, with its headers.

It speaks through a transport, so the same fake drives Django's test client in-process and a
real server over HTTP (tests/live). Its event stream is read over real HTTP only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

APP_VERSION = "1.68.0"


@dataclass
class Answer:
    status: int
    body: Any  # parsed JSON, or None
    content_type: str
    raw: bytes


Transport = Callable[[str, str, bytes | None, dict[str, str]], Answer]


def django_transport(client) -> Transport:
    """Django's test client as the app's HTTP client."""

    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        response = client.generic(
            method, path, body or b"", content_type=headers.pop("Content-Type", ""), headers=headers
        )
        raw = response.content
        content_type = response.get("Content-Type", "")
        return Answer(
            response.status_code, json.loads(raw) if raw and "json" in content_type else None, content_type, raw
        )

    return send


def http_transport(base_url: str, *, verify: str | bool = True) -> Transport:
    """Real HTTP; ``verify``: the certificate authority to trust (a CA file, as a phone with a
    user-installed CA), or True for the system's."""
    session = requests.Session()

    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        # Per request: a session's own ``verify`` loses to REQUESTS_CA_BUNDLE in the environment.
        response = session.request(method, base_url + path, data=body, headers=headers, timeout=10, verify=verify)
        content_type = response.headers.get("Content-Type", "")
        raw = response.content
        return Answer(
            response.status_code, json.loads(raw) if raw and "json" in content_type else None, content_type, raw
        )

    return send


PREFIX = "/api/mobile/v1"


class FakeApp:
    def __init__(
        self,
        transport: Transport,
        *,
        version: str = APP_VERSION,
        name: str = "samsung/a52q",
        sims: list[dict] | None = None,
        verify: str | bool = True,
    ) -> None:
        self.transport = transport
        self.verify = verify  # for the event stream, as for the transport
        self.user_agent = f"me.capcom.smsgateway/{version}"
        self.name = name
        self.sims = (
            sims
            if sims is not None
            else [
                {"slotIndex": 0, "simNumber": 1, "phoneNumber": "*******6789", "carrierName": "***edoo", "iccid": None},
            ]
        )
        self.device_id = ""
        self.token = ""
        self.signing_key = ""
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self._stream: requests.Response | None = None
        self._dropped: set[int] = set()  # ids of the streams this side closed

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        token = self.token if token is None else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            sent["Content-Type"] = "application/json"
        return self.transport(method, PREFIX + path, raw, sent)

    # --- What the app does ---------------------------------------------------------------------

    def register(self, registration_token: str) -> Answer:
        answer = self.call(
            "POST", "/device", {"name": self.name, "pushToken": None, "simCards": self.sims}, token=registration_token
        )
        if answer.status == 201:
            self.device_id, self.token = answer.body["id"], answer.body["token"]
        return answer

    def start(self) -> Answer:
        """What the app does on every start: PATCH /device with its SIMs."""
        return self.call("PATCH", "/device", {"id": self.device_id, "pushToken": None, "simCards": self.sims})

    def fetch(self, order: str = "fifo") -> list[dict]:
        answer = self.call("GET", f"/message?order={order}")
        assert answer.status == 200, answer
        return answer.body

    def report(self, message_id: str, state: str, *, error: str | None = None, to: str = "+959123456789") -> Answer:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000+07:00", time.gmtime(time.time() + 7 * 3600))
        item = {
            "id": message_id,
            "state": state,
            "recipients": [{"phoneNumber": to, "state": state, "error": error}],
            "states": {state: now},
        }
        return self.call("PATCH", "/message", [item])

    def load_settings(self) -> dict:
        answer = self.call("GET", "/settings")
        assert answer.status == 200, answer
        self.signing_key = answer.body["webhooks"]["signing_key"]
        return answer.body

    def webhooks(self) -> list[dict]:
        answer = self.call("GET", "/webhooks")
        assert answer.status == 200, answer
        return answer.body

    def forward_sms(
        self,
        url: str,
        *,
        text: str,
        sender: str,
        event_id: str | None = None,
        timestamp: int | None = None,
        key: str | None = None,
        event: str = "sms:received",
    ) -> Answer:
        """The app's webhook for a received SMS: body + X-Timestamp, signed with HMAC-SHA256."""
        envelope = {
            "id": event_id or uuid.uuid4().hex[:21],
            "webhookId": "mysmsapio-sms-received",
            "event": event,
            "deviceId": self.device_id,
            "payload": {
                "messageId": "a1b2c3",
                "message": text,
                "sender": sender,
                "recipient": None,
                "simNumber": 1,
                "phoneNumber": sender,
                "receivedAt": "2026-11-25T14:30:00.123+07:00",
            },
        }
        body = json.dumps(envelope).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = hmac.new((key or self.signing_key).encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
        path = url.split(PREFIX, 1)[1]
        return self.call("POST", path, raw=body, token="", headers={"X-Timestamp": stamp, "X-Signature": signature})

    # --- The event stream (real HTTP only) -----------------------------------------------------

    def open_events(self, base_url: str) -> requests.Response:
        """Open GET /events and read it in a thread: (event, data) pairs land in ``events``."""
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": self.user_agent}
        response = requests.get(
            f"{base_url}{PREFIX}/events", stream=True, timeout=(5, 60), headers=headers, verify=self.verify
        )
        if response.status_code != 200:
            return response
        self._stream = response
        threading.Thread(target=self._read_events, args=(response,), daemon=True).start()
        return response

    def _read_events(self, response: requests.Response) -> None:
        """Ends with one of: ``closed`` (the server ended the response cleanly, its last chunk
        sent), ``broken`` (reset, cut mid-chunk, a crash: the exception as data) or
        ``stopped`` (this side closed it, ``close_events``). A test that wants the server to
        close the stream cannot mistake a crash for it."""
        name = None
        try:
            for line in response.iter_lines(chunk_size=1, decode_unicode=True):
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    self.events.put((name or "message", line[len("data: ") :]))
                    name = None
        except (requests.RequestException, AttributeError, ValueError) as exc:
            self.events.put(("stopped" if id(response) in self._dropped else "broken", repr(exc)))
            return
        self.events.put(("stopped", "") if id(response) in self._dropped else ("closed", ""))

    def wait_event(self, name: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            got, data = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if got == name:
                return data
            if got in ("closed", "broken", "stopped"):
                raise AssertionError(f"the event stream ended ({got} {data}) while waiting for {name}")

    def close_events(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._dropped.add(id(stream))  # first: the reader tells this end from the server's by it
            stream.close()


class AppPhone:
    """A fake app at work: it holds its event stream open, fetches its jobs on connecting and
    on every ``MessageEnqueued``, "sends" each job it did not know (as the app does: a known id
    only gets its state reported again), and reports Processed, Sent and Delivered."""

    def __init__(self, app: FakeApp, events_base: str) -> None:
        self.app = app
        self.events_base = events_base
        self.known: set[str] = set()
        self.sent: list[dict[str, str]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AppPhone:
        response = self.app.open_events(self.events_base)
        assert response.status_code == 200, response.text
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.close_events()

    def _run(self) -> None:
        self._sync()
        while not self._stop.is_set():
            try:
                name, data = self.app.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if name in ("closed", "broken", "stopped"):
                if name == "broken":
                    self.errors.append(f"event stream broken: {data}")
                return
            if name == "MessageEnqueued":
                self._sync()

    def _sync(self) -> None:
        try:
            for item in self.app.fetch():
                message_id = item["id"]
                if item["state"] == "Cancelling":
                    if message_id not in self.known:
                        self.app.report(message_id, "Cancelled")
                    continue
                if message_id in self.known:
                    self.app.report(message_id, "Processed")
                    continue
                self.known.add(message_id)
                self.sent.append({"id": message_id, "body": item["textMessage"]["text"], "to": item["phoneNumbers"][0]})
                for state in ("Processed", "Sent", "Delivered"):
                    answer = self.app.report(message_id, state)
                    if answer.status != 204:
                        self.errors.append(f"PATCH {state} {message_id}: {answer.status}")
        except (AssertionError, requests.RequestException) as exc:
            self.errors.append(repr(exc))
