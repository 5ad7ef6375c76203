"""Reason phrases for daphne's status lines.

daphne writes the status line with Twisted's table of reason phrases, which lacks some codes
the API answers (422, 429): clients read ``HTTP/1.1 422 Unknown Status``. Fill the gaps from
Python's table, with RFC 9110's name for 422. (granian and Caddy write their own tables' phrase,
``422 Unprocessable Entity``, the same code's older name; no application can change it.)
"""

from __future__ import annotations

from http import HTTPStatus

from twisted.web import http

# RFC 9110 renamed it; Python's table has the new name only from 3.13.
_PHRASES = {422: "Unprocessable Content"}


def teach_twisted_reason_phrases() -> None:
    for status in HTTPStatus:
        phrase = _PHRASES.get(status.value, status.phrase)
        if status.value in _PHRASES or status.value not in http.RESPONSES:
            http.RESPONSES[status.value] = phrase.encode("ascii")
