"""What daphne (Twisted) does not do for us: name every status, and cap request bodies.

daphne serves embedded mode's HTTP and, in production, the phones' WebSockets.

- Status lines: daphne writes them with Twisted's table of reason phrases, which lacks some
  codes the API answers (422, 429): clients read ``HTTP/1.1 422 Unknown Status``. The gaps
  are filled from Python's table, with RFC 9110's name for 422. (granian and Caddy write their
  own tables' phrase, ``422 Unprocessable Entity``, the same code's older name; no
  application can change it.)
- Request bodies: Twisted reads a whole body before daphne hands the request to Django, a
  chunked one into memory. 50 MB sent chunked cost the process 55 MB before any of our code
  could refuse it. Past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's own cap on what it reads of
  a body) the rest is discarded as it arrives and the request answered 413 in JSON, without
  reaching Django. (Answering before the body ends would need the connection reset, which
  loses the answer on the way.) granian, production's
  HTTP server, reads a body only as the application reads it (checked by
  tests/live/test_live_errors.py), and the proxy caps bodies too (Caddyfile).
"""

from __future__ import annotations

import io
import json
from http import HTTPStatus

from daphne.http_protocol import WebRequest
from django.conf import settings
from twisted.web import http

# RFC 9110 renamed it; Python's table has the new name only from 3.13.
_PHRASES = {422: "Unprocessable Content"}


def teach_twisted_reason_phrases() -> None:
    for status in HTTPStatus:
        phrase = _PHRASES.get(status.value, status.phrase)
        if status.value in _PHRASES or status.value not in http.RESPONSES:
            http.RESPONSES[status.value] = phrase.encode("ascii")


def _answer_too_large(request: WebRequest) -> None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"error": f"Request body too large (maximum {limit} bytes)", "code": "payload_too_large"})
    request.setResponseCode(413)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Content-Length", str(len(body)).encode())
    request.setHeader(b"Connection", b"close")
    request.write(body.encode())
    request.finish()


def cap_daphne_request_bodies() -> None:
    """Past the cap, the body is discarded as it arrives (what was kept is freed), and when
    it ends the request is answered 413 instead of being handed to the application."""
    keep_chunk, process = WebRequest.handleContentChunk, WebRequest.process

    def handleContentChunk(self: WebRequest, data: bytes) -> None:
        received = getattr(self, "_mysmsapio_received", 0) + len(data)
        self._mysmsapio_received = received
        if received <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            keep_chunk(self, data)
        elif not getattr(self, "_mysmsapio_too_large", False):
            self._mysmsapio_too_large = True
            self.content.close()
            self.content = io.BytesIO()

    def process_unless_too_large(self: WebRequest) -> None:
        if getattr(self, "_mysmsapio_too_large", False):
            _answer_too_large(self)
        else:
            process(self)

    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.process = process_unless_too_large


def tune_daphne() -> None:
    teach_twisted_reason_phrases()
    cap_daphne_request_bodies()
