"""Whose address a request comes from: the socket's, or, from our own proxies only, the one
they forward (core/clientaddr.py, applied at the door by mysmsapio/door.py)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clientaddr import client_address, parse_networks
from mysmsapio.door import asgi_client, wsgi_client

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # Straight from the internet: whatever the header says is the client's own say-so.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # Through our proxy: the address it saw.
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # The client forged a first entry; the proxy appended the real one.
        ("10.0.0.2", "192.0.2.66, 198.51.100.1", "198.51.100.1"),
        # Two of our proxies in a row.
        ("10.0.0.2", "198.51.100.1, 10.0.0.9", "198.51.100.1"),
        # No header from our proxy: the proxy itself.
        ("10.0.0.2", None, "10.0.0.2"),
        # Garbage where an address should be: no further than the last hop we trust.
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, nonsense, 10.0.0.9", "10.0.0.9"),
        # IPv6 proxies, and an IPv4 client written as IPv4-mapped IPv6.
        ("fd00::5", "2001:db8::1", "2001:db8::1"),
        ("10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(peer, forwarded, client):
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_read():
    assert client_address("10.0.0.2", "198.51.100.1", ()) == "10.0.0.2"


@given(header=st.text(max_size=200))
def test_no_header_from_a_stranger_changes_its_address(header):
    assert client_address("203.0.113.7", header, PROXIES) == "203.0.113.7"


@given(header=st.text(max_size=200))
def test_any_header_from_our_proxy_gives_an_address(header):
    # Whatever the header holds, the logs and limits get one valid address, never the text.
    ipaddress.ip_address(client_address("10.0.0.2", header, PROXIES))


def test_the_door_rewrites_wsgi_and_asgi_alike(settings):
    settings.TRUSTED_PROXY_NETWORKS = PROXIES
    environ = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1", "HTTP_X_FORWARDED_PROTO": "https"}
    wsgi_client(environ)
    assert environ["REMOTE_ADDR"] == "198.51.100.1" and environ["HTTP_X_FORWARDED_PROTO"] == "https"
    scope = {
        "type": "websocket",
        "client": ("10.0.0.2", 5000),
        "headers": [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")],
    }
    assert asgi_client(scope)["client"] == ("198.51.100.1", 5000)
    # A stranger may not claim https (that would mark its plain-HTTP request secure).
    stranger = {"REMOTE_ADDR": "203.0.113.7", "HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_FORWARDED_PROTO": "https"}
    wsgi_client(stranger)
    assert stranger["REMOTE_ADDR"] == "203.0.113.7" and "HTTP_X_FORWARDED_PROTO" not in stranger
    seen = asgi_client({**scope, "client": ("203.0.113.7", 5000)})
    assert seen["client"] == ("203.0.113.7", 5000) and (b"x-forwarded-proto", b"https") not in seen["headers"]


def test_with_no_proxy_configured_the_door_changes_nothing(settings):
    settings.TRUSTED_PROXY_NETWORKS = ()
    environ = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1", "HTTP_X_FORWARDED_PROTO": "https"}
    wsgi_client(environ)
    assert environ == {
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_X_FORWARDED_FOR": "198.51.100.1",
        "HTTP_X_FORWARDED_PROTO": "https",
    }
