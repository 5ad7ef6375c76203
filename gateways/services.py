from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_get_or_create, smsgate_logins_revoke
from core.crypto import PrefixedSecret, hashes_match, keyed_hash, new_prefixed_secret, secret_lookup
from core.phone_signals import CLOSE, SETTINGS, gateway_signal
from messaging.selectors import message_last_sender_account
from messaging.services import ReceivedSms, inbound_sms_store
from webhooks.models import WebhookEventType
from webhooks.services import webhook_gateway_changed, webhook_wanted

from .models import Gateway, GatewayEvent, GatewayEventType, GatewayKind
from .selectors import gateway_phones_changed, gateway_token_current

HASH_PURPOSE = "gateway_token"


@dataclass(frozen=True)
class GeneratedGatewayToken:
    gateway: Gateway
    raw_token: str


def hash_gateway_token(raw_token: str) -> str:
    return keyed_hash(HASH_PURPOSE, raw_token)


def _new_token() -> PrefixedSecret:
    return new_prefixed_secret(prefix=Gateway.TOKEN_PREFIX, purpose=HASH_PURPOSE)


PAIRING_SCHEME = "mysmsapio"


def gateway_pairing_uri(*, server: str, token: str) -> str:
    """What the pairing QR code holds: ``mysmsapio://pair?server=...&token=...``. The agent
    reads it with ``--pair`` (agent/agent.py, ``parse_pairing_uri``)."""
    return f"{PAIRING_SCHEME}://pair?{urlencode({'server': server, 'token': token})}"


def gateway_event_record(*, gateway_id: int, event: str, detail: str = "", at: datetime | None = None) -> None:
    GatewayEvent.objects.create(gateway_id=gateway_id, event=event, detail=detail, created_at=at or timezone.now())


@transaction.atomic
def gateway_create(
    *,
    name: str,
    rate_per_minute: int = 10,
    daily_quota: int | None = None,
    account: Account | None = None,
    shared: bool = False,
    kind: str = GatewayKind.AGENT,
) -> GeneratedGatewayToken:
    """A new phone of ``account`` (the default account if none is given), or of the shared
    pool, which sends for every account, when ``shared``. ``kind``: our agent, or the SMS
    Gateway for Android app (whose registration token the token is)."""
    if shared and account is not None:
        raise ValueError("a shared phone belongs to no account")
    token = _new_token()
    gateway = Gateway.objects.create(
        name=name,
        kind=kind,
        token_prefix=token.lookup,
        token_hash=token.hash,
        rate_per_minute=rate_per_minute,
        daily_quota=daily_quota,
        account=None if shared else account or account_get_or_create(),
        shared=shared,
    )
    return GeneratedGatewayToken(gateway=gateway, raw_token=token.raw)


def gateway_settings_changed(*, gateway: Gateway) -> None:
    """An operator changed the phone's rate: an app phone takes the matching limit again
    (GET /settings, on the SettingsUpdated event of its stream); an agent's consumer forgets
    the room it paced by (its next look at the database applies the new rate)."""
    transaction.on_commit(lambda: gateway_signal(gateway_id=gateway.pk, event=SETTINGS))


def gateway_set_account(*, gateway: Gateway, account: Account | None) -> Gateway:
    """Give the phone to ``account``, or to the shared pool (None); every process's list of
    phones is refreshed (post_save)."""
    gateway.account, gateway.shared = account, account is None
    gateway.save(update_fields=["account", "shared"])
    return gateway


@transaction.atomic
def gateway_roll_token(*, gateway: Gateway) -> GeneratedGatewayToken:
    """A new token; the old one stops working at once (the phone must be re-paired). An app
    phone's device token goes too: its next call gets 401, and it registers with the new one."""
    token = _new_token()
    gateway.token_prefix, gateway.token_hash = token.lookup, token.hash
    gateway.device_id = gateway.device_token_prefix = gateway.device_token_hash = ""
    gateway.save(update_fields=["token_prefix", "token_hash", "device_id", "device_token_prefix", "device_token_hash"])
    _gateway_cut_off(gateway, event=GatewayEventType.TOKEN_ROLLED, reason="token rolled")
    return GeneratedGatewayToken(gateway=gateway, raw_token=token.raw)


def _gateway_cut_off(gateway: Gateway, *, event: GatewayEventType, reason: str) -> None:
    """After a roll or a revoke: the phone is offline now, not when its close comes through. No
    new message is queued on it (nor pushed from its wake on the strength of an earlier look),
    the jobs it held go to other phones (dispatch_stale_gateways), and an app phone online by
    its polling alone (no connection for the close to end) stops counting as online."""
    # The SMS Gate client API login the phone's app was given ends with the device.
    if gateway.smsgate_login_id is not None:
        smsgate_logins_revoke(login_ids=[gateway.smsgate_login_id])
    gateway_event_record(gateway_id=gateway.pk, event=event)
    connected = Gateway.objects.filter(pk=gateway.pk).exclude(connection_id="")
    _connection_ended(connected, gateway_id=gateway.pk, reason=reason)
    gateway.is_connected, gateway.connection_id = False, ""
    # Sockets (and app event streams) opened with the old token close on every node; a socket the signal misses gets
    # no more jobs anyway (dispatch_take_jobs checks the token it connected with) and closes at its next heartbeat.
    transaction.on_commit(lambda: gateway_signal(gateway_id=gateway.pk, event=CLOSE))


@transaction.atomic
def gateway_revoke(*, gateway: Gateway) -> Gateway:
    """Revoke the token: the phone is disconnected now and refused from then on."""
    gateway.revoked_at = timezone.now()
    gateway.enabled = False
    gateway.save(update_fields=["revoked_at", "enabled"])
    _gateway_cut_off(gateway, event=GatewayEventType.REVOKED, reason="revoked")
    return gateway


def gateway_get_by_token(*, raw_token: str) -> Gateway | None:
    """The unrevoked gateway that holds ``raw_token``, or None."""
    return gateway_by_secret(raw_token, prefix=Gateway.TOKEN_PREFIX, purpose=HASH_PURPOSE, field="token")


def gateway_by_secret(raw_token: str, *, prefix: str, purpose: str, field: str, **filters: object) -> Gateway | None:
    """The unrevoked gateway whose ``<field>_prefix`` and ``<field>_hash`` hold ``raw_token``
    (its registration token, or an app device's own token), or None."""
    lookup = secret_lookup(raw_token, prefix=prefix)
    if lookup is None:
        return None
    candidate = keyed_hash(purpose, raw_token)
    for gateway in Gateway.objects.filter(revoked_at__isnull=True, **{f"{field}_prefix": lookup}, **filters):
        stored = getattr(gateway, f"{field}_hash")
        if stored and hashes_match(stored, candidate):
            return gateway
    return None


def gateway_connected(*, gateway_id: int) -> str:
    """Record a new socket for the phone; returns its connection id."""
    now = timezone.now()
    connection_id = str(uuid.uuid4())
    with transaction.atomic():
        was_offline = Gateway.objects.filter(pk=gateway_id, is_connected=False).exists()
        Gateway.objects.filter(pk=gateway_id).update(
            is_connected=True, connection_id=connection_id, connected_at=now, last_seen_at=now
        )
        gateway_event_record(gateway_id=gateway_id, event=GatewayEventType.CONNECTED, at=now)
        if was_offline:
            _tell_webhooks(gateway_id, online=True)
    gateway_phones_changed()
    return connection_id


def _tell_webhooks(gateway_id: int, *, online: bool) -> None:
    if not webhook_wanted(WebhookEventType.GATEWAY_ONLINE if online else WebhookEventType.GATEWAY_OFFLINE):
        return  # no read of the phone for an event nobody asked for
    row = Gateway.objects.filter(pk=gateway_id).values_list("name", "account_id").first()
    if row is not None:
        webhook_gateway_changed(gateway_id=gateway_id, name=row[0], account_id=row[1], online=online)


def gateway_disconnected(*, gateway_id: int, connection_id: str, reason: str = "") -> bool:
    """Take the phone offline, unless it has reconnected on another socket meanwhile."""
    with transaction.atomic():
        mine = Gateway.objects.filter(pk=gateway_id, connection_id=connection_id)
        ended = _connection_ended(mine, gateway_id=gateway_id, reason=reason)
    if ended:
        gateway_phones_changed()
    return ended


def _connection_ended(connection: QuerySet[Gateway], *, gateway_id: int, reason: str) -> bool:
    """The phone's row as ``connection`` selects it: offline, its connection over for good (a
    heartbeat of it still in flight on another of the phone server's threads, gateways/db.py,
    then finds nothing to bring back online), the event recorded and, if it was online, the
    webhooks told. In the caller's transaction; False when ``connection`` selects nothing."""
    was_online = connection.filter(is_connected=True).exists()  # else already offline (silent)
    if not connection.update(is_connected=False, connection_id=""):
        return False
    gateway_event_record(gateway_id=gateway_id, event=GatewayEventType.DISCONNECTED, detail=reason)
    if was_online:
        _tell_webhooks(gateway_id, online=False)
    return True


_DEVICE_FIELDS = {
    "model": "device_model",
    "app_version": "app_version",
    "battery": "battery",
    "charging": "charging",
    "signal": "signal",
    "sims": "sims",
}


def _device_updates(info: dict[str, Any]) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    for key, field in _DEVICE_FIELDS.items():
        if key not in info:
            continue
        value = info[key]
        if field in ("battery", "signal") and not (value is None or isinstance(value, int)):
            continue
        if field == "charging" and not (value is None or isinstance(value, bool)):
            continue
        if field in ("device_model", "app_version"):
            value = str(value)[:100]
        if field == "sims" and not isinstance(value, list):
            continue
        updates[field] = value
    return updates


def gateway_seen(
    *, gateway_id: int, connection_id: str, info: dict[str, Any] | None = None, token_hash: str | None = None
) -> bool:
    """A hello or heartbeat: the phone is alive on this socket; store what it reports. With
    ``token_hash`` (the token the socket connected with): False once that token is rolled or
    revoked, and the socket should close (its close signal may have been lost)."""
    updates = _device_updates(info or {})
    if info and isinstance(info.get("protocol"), int):
        updates["protocol_version"] = info["protocol"]
    now = timezone.now()
    mine = Gateway.objects.filter(pk=gateway_id, connection_id=connection_id)
    if token_hash is not None:
        mine = mine.filter(token_hash=token_hash, revoked_at__isnull=True)
    # One UPDATE for the usual heartbeat; a phone marked offline while silent, or new SIMs,
    # change which phones can take work, which every process must hear.
    if "sims" not in updates and mine.filter(is_connected=True).update(last_seen_at=now, **updates):
        return True
    if mine.update(last_seen_at=now, is_connected=True, **updates):
        gateway_phones_changed()
        return True
    if token_hash is None:
        return True
    # Not updated: another socket of the phone took over (this one is left alone), or the
    # token was rolled or revoked.
    return gateway_token_current(gateway_id=gateway_id, token_hash=token_hash)


def gateway_mark_silent_offline(*, now: datetime | None = None) -> list[int]:
    """Phones whose socket looks open but who have not spoken within the online window."""
    now = now or timezone.now()
    silent = list(
        Gateway.objects.filter(is_connected=True, last_seen_at__lt=Gateway.online_since(now)).values_list(
            "pk", flat=True
        )
    )
    marked = []
    for gateway_id in silent:
        with transaction.atomic():
            silent_still = Gateway.objects.filter(
                pk=gateway_id, is_connected=True, last_seen_at__lt=Gateway.online_since(now)
            )
            if silent_still.update(is_connected=False):
                gateway_event_record(
                    gateway_id=gateway_id, event=GatewayEventType.OFFLINE, detail="no heartbeat", at=now
                )
                _tell_webhooks(gateway_id, online=False)
                marked.append(gateway_id)
    if marked:
        gateway_phones_changed()
    return marked


def gateway_set_enabled(*, gateway_ids: list[int], enabled: bool) -> int:
    """Enable (unless revoked) or disable phones; a disabled phone gets no new work."""
    gateways = Gateway.objects.filter(pk__in=gateway_ids)
    if enabled:
        gateways = gateways.filter(revoked_at__isnull=True)
    changed = gateways.update(enabled=enabled)
    gateway_phones_changed()
    if not enabled:
        # Its consumer stops pushing from wakes at once (a message picked just before).
        for gateway_id in gateway_ids:
            transaction.on_commit(functools.partial(gateway_signal, gateway_id=gateway_id, event=SETTINGS))
    return changed


def gateway_inbound_sms(*, gateway_id: int, received: ReceivedSms) -> bool:
    """An SMS the phone received, filed under the phone's account; False (nothing stored) for
    a disabled or revoked phone. A shared-pool phone sends for every account: a reply belongs
    to the account that last sent to that number from that phone. One that belongs to no
    account (that sender never written to, or a phone of nobody's) is kept for the operators
    (the admin) and shown to no tenant: guessing would hand one tenant's reply to another."""
    row = Gateway.objects.filter(pk=gateway_id, enabled=True, revoked_at__isnull=True)
    row = row.values_list("account_id", "shared").first()
    if row is None:
        return False
    account_id, shared = row
    if account_id is None and shared:
        account_id = message_last_sender_account(gateway_id=gateway_id, to=received.sender)
    inbound_sms_store(account_id=account_id, gateway_id=gateway_id, received=received)
    return True


def gateway_events_prune(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete gateway events older than ``older_than``; returns how many."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _ = GatewayEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
