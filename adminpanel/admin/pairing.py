"""The pairing page: a new phone's token shown once, as a QR code and commands for our agent or
as the settings of the SMS Gateway for Android app, for the server address the phone will use."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.safestring import mark_safe

from accounts.models import Account
from gateways.models import Gateway, GatewayKind
from gateways.services import (
    gateway_get_by_token,
    gateway_pairing_uri,
    gateway_set_account,
)

from .base import show_secret_once


def is_loopback_url(url: str) -> bool:
    """True for an address only this computer can reach (a phone cannot)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_server_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment


def _whose(gateway: Gateway) -> str:
    return f"account “{gateway.account.name}”" if gateway.account_id else "every account (the shared pool)"


class GatewayPairingMixin:
    """The gateway admin's pairing page (after an add or a token roll, and again for another
    server address or account)."""

    def _token_page(self, request, gateway: Gateway, token: str, server: str | None = None) -> HttpResponse:
        # The address the phone will use: the operator's choice, else the configured one, else
        # the address the admin was opened on (right behind one proxy, wrong on localhost).
        server = server or settings.PHONE_SERVER_URL or settings.PUBLIC_URL
        server = server or request.build_absolute_uri("/").rstrip("/")
        if gateway.kind == GatewayKind.APP:
            return self._app_token_page(request, gateway, token, server)
        commands = (
            f"pkg install python termux-api && pip install websockets\n"
            f"curl -o agent.py {server}/gateway/agent.py\n"
            f"python agent.py --server {server} --token {token} --driver termux"
        )
        # The QR code is drawn here, into the page: the token never goes to another service.
        qr = segno.make(gateway_pairing_uri(server=server, token=token), error="m")
        return show_secret_once(
            request,
            title=f"Pair gateway “{gateway.name}”",
            intro=f"This phone sends for {_whose(gateway)}. Scan the QR code with the phone, or paste these commands "
            "into Termux (see docs/gateway-phone.md).",
            secret=token,
            commands=commands,
            qr_svg=mark_safe(qr.svg_inline(scale=6, dark="#000", light="#fff", title="Pairing code")),
            back_url=reverse("admin:gateways_gateway_changelist"),
            pairing=self._pairing(gateway, server),
        )

    @staticmethod
    def _pairing(gateway: Gateway, server: str) -> dict:
        """The pairing page's form: another server address, another account."""
        return {
            "server": server,
            "url": reverse("admin:gateways_gateway_pairing", args=[gateway.pk]),
            "unreachable": is_loopback_url(server),
            "accounts": list(Account.objects.order_by("name").values_list("pk", "name")),
            "account_id": gateway.account_id,
        }

    def _app_token_page(self, request, gateway: Gateway, token: str, server: str) -> HttpResponse:
        api_url = f"{server}/api/mobile/v1"
        return show_secret_once(
            request,
            title=f"Connect the app to gateway “{gateway.name}”",
            intro=f"This phone sends for {_whose(gateway)}. In the SMS Gateway for Android app: Settings > Cloud "
            "server: API URL and Private Token as below, Notification channel SSE_ONLY; then turn Cloud server on "
            "(see docs/gateway-phone.md). The app needs https:// (a plain http:// address works only on the phone "
            "itself).",
            secret=token,
            commands=f"API URL:       {api_url}\nPrivate Token: {token}",
            back_url=reverse("admin:gateways_gateway_changelist"),
            pairing=self._pairing(gateway, server),
        )

    def get_urls(self):
        pairing = path(
            "<int:gateway_id>/pairing/", self.admin_site.admin_view(self.pairing_view), name="gateways_gateway_pairing"
        )
        return [pairing, *super().get_urls()]

    def pairing_view(self, request: HttpRequest, gateway_id: int) -> HttpResponse:
        """The pairing page again, for another server address: the operator posts the token
        the page showed, so nothing secret is kept between the two pages."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        gateway = self.get_object(request, str(gateway_id))
        if gateway is None or not self.has_change_permission(request, gateway):
            raise PermissionDenied
        token = request.POST.get("token", "")
        owner = gateway_get_by_token(raw_token=token)
        if owner is None or owner.pk != gateway.pk:
            self.message_user(request, "That token is not this gateway's current token.", messages.ERROR)
            return redirect("admin:gateways_gateway_changelist")
        if "account" in request.POST:
            chosen = request.POST["account"]
            account = Account.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
            if chosen and account is None:
                self.message_user(request, "No such account.", messages.ERROR)
            elif (account.pk if account else None) != gateway.account_id:
                gateway = gateway_set_account(gateway=gateway, account=account)
        server = request.POST.get("server", "").strip().rstrip("/")
        if not is_server_url(server):
            self.message_user(request, "Type the address as http://HOST:PORT or https://HOST.", messages.ERROR)
            server = None
        return self._token_page(request, gateway, token, server)

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        return self._token_page(request, obj, request._new_token)
