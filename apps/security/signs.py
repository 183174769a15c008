"""Attack signs: suspicious events counted per client address and time window, reported to the vendor.

`record_sign()` is called where an event happens: a failed login, a refusal by network, and (through
`AttackSignMiddleware`) every 4xx response. `signs_alert()` runs in the periodic task
`apps.security.signs_tasks.detect_attack_signs`: it reads the windows that have ended and alerts the vendor (email
and Sentry) once per (kind, address, window) whose count reached `settings.ATTACK_SIGN_THRESHOLDS[kind]`.

The counters live in the cache every process shares (`settings.SIGNS_CACHE_ALIAS`), under one prefix for all
cities: an attacker's address counts the same whichever city's host it tries. Keys, per window number `w`:

- `signs:<w>:<kind>:n:<address>`: the count, created with add() and raised with incr().
- `signs:<w>:<kind>:over` and `signs:<w>:<kind>:over:<slot>`: the addresses that reached the threshold. Only
  those are indexed, when their count passes the threshold, so the index stays small; each one claims a slot
  with add(), so two processes never overwrite each other's entry.
- `signs:<w>:<kind>:alerted:<address>`: claimed with add() by the run that alerts, so no sign is sent twice.

With Redis, add() and incr() are atomic and the counts exact. Django's database cache (the embedded default)
implements incr() as a read and a write, so concurrent requests may lose a few increments: a storm still passes
its threshold, a little later.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sentry_sdk
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from apps.security.network import client_ip

logger = logging.getLogger(__name__)

LOGIN_FAILED = "login_failed"
NETWORK_REFUSED = "network_refused"
HTTP_4XX = "http_4xx"
KIND_LABELS = {
    LOGIN_FAILED: ("ログイン失敗", "failed logins"),
    NETWORK_REFUSED: ("許可されていないネットワークからのアクセス拒否", "refusals by network"),
    HTTP_4XX: ("4xx エラー応答", "4xx responses"),
}
UNKNOWN_SOURCE = "unknown"
# Per kind and window. A distributed attack beyond this many addresses is reported with its total only.
MAX_LISTED_SOURCES = 200


@dataclass(frozen=True)
class AttackSign:
    kind: str
    source: str  # an IPv4 address, an IPv6 /64, or "unknown"
    count: int
    threshold: int
    window_start: datetime
    window_end: datetime


def sign_source(address: str) -> str:
    """The unit counted: the address itself for IPv4, its /64 for IPv6 (one subscriber holds a whole /64 and can
    rotate addresses inside it)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _window_seconds() -> int:
    return int(settings.ATTACK_SIGN_WINDOW_SECONDS)


def _window_of(moment: datetime) -> int:
    return int(moment.timestamp()) // _window_seconds()


def _ttl() -> int:
    # Long enough for the task to read every window it looks back on, and for the alerted marks to outlive them.
    return _window_seconds() * (int(settings.ATTACK_SIGN_LOOKBACK_WINDOWS) + 2)


def _threshold(kind: str) -> int:
    thresholds: dict[str, int] = settings.ATTACK_SIGN_THRESHOLDS
    if kind not in thresholds:
        raise ValueError(f"unknown attack sign kind {kind!r}; known: {sorted(thresholds)}")
    return int(thresholds[kind])


def _key(window: int, kind: str, *parts: object) -> str:
    return ":".join(["signs", str(window), kind, *map(str, parts)])


@contextmanager
def _signs_cache() -> Iterator[BaseCache]:
    # The default key function prefixes keys with the current schema; counting happens in every city's requests,
    # so always count under public's prefix. (A dedicated alias with Django's plain key function needs no switch,
    # and the switch is harmless there.)
    with schema_context(get_public_schema_name()):
        yield caches[settings.SIGNS_CACHE_ALIAS]


def _increment(cache: BaseCache, key: str) -> int:
    if cache.add(key, 1, timeout=_ttl()):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=_ttl())
        return 1


def _index_over_threshold(cache: BaseCache, window: int, kind: str, source: str) -> None:
    # The hint spreads concurrent writers over different slots; add() makes each slot's first writer win.
    hint = _increment(cache, _key(window, kind, "over"))
    for slot in range(hint, MAX_LISTED_SOURCES + 1):
        if cache.add(_key(window, kind, "over", slot), source, timeout=_ttl()):
            return


def record_sign(kind: str, address: str, *, now: datetime | None = None) -> None:
    """Count one event of `kind` ("login_failed", "network_refused", "http_4xx") from `address`.

    Never fails the request that reports it: a cache outage is logged and the event is not counted.
    """
    threshold = _threshold(kind)
    window = _window_of(now or timezone.now())
    source = sign_source(address)
    try:
        with _signs_cache() as cache:
            count = _increment(cache, _key(window, kind, "n", source))
            if count == threshold:
                _index_over_threshold(cache, window, kind, source)
    except Exception:
        logger.exception("attack sign %s from %s not recorded", kind, source)


def _signs_of_window(cache: BaseCache, window: int, kind: str) -> tuple[list[AttackSign], int]:
    """The signs of one window and kind, and how many addresses reached the threshold in all."""
    threshold = _threshold(kind)
    slots = [_key(window, kind, "over", slot) for slot in range(1, MAX_LISTED_SOURCES + 1)]
    found = cache.get_many(slots)
    sources = list(dict.fromkeys(str(found[slot]) for slot in slots if slot in found))
    total = max(int(cache.get(_key(window, kind, "over")) or 0), len(sources))
    counts = cache.get_many([_key(window, kind, "n", source) for source in sources])
    start = datetime.fromtimestamp(window * _window_seconds(), tz=UTC)
    signs = [
        AttackSign(
            kind=kind,
            source=source,
            # An expired count (a late run on a cache that shortens timeouts) still reached the threshold.
            count=max(int(counts.get(_key(window, kind, "n", source)) or 0), threshold),
            threshold=threshold,
            window_start=start,
            window_end=start + timedelta(seconds=_window_seconds()),
        )
        for source in sources
    ]
    return signs, total


def signs_alert(*, now: datetime) -> list[AttackSign]:
    """Alert the vendor about the signs of the windows that have ended and were not alerted yet; return them.

    Each sign is claimed before it is sent, so two runs at once never send it twice; if the email fails, the
    claims are released and the next run tries again.
    """
    current = _window_of(now)
    new: list[AttackSign] = []
    unlisted: dict[str, int] = {}
    claims: list[str] = []
    with _signs_cache() as cache:
        for window in range(current - int(settings.ATTACK_SIGN_LOOKBACK_WINDOWS), current):
            for kind in settings.ATTACK_SIGN_THRESHOLDS:
                signs, total = _signs_of_window(cache, window, kind)
                if total > len(signs) and cache.add(_key(window, kind, "alerted", "*"), 1, timeout=_ttl()):
                    claims.append(_key(window, kind, "alerted", "*"))
                    unlisted[kind] = unlisted.get(kind, 0) + total - len(signs)
                for sign in signs:
                    claim = _key(window, kind, "alerted", sign.source)
                    if cache.add(claim, 1, timeout=_ttl()):
                        claims.append(claim)
                        new.append(sign)
        if not new and not unlisted:
            return []
        try:
            _notify(new, unlisted)
        except Exception:
            cache.delete_many(claims)
            raise
    return new


def _period(sign: AttackSign) -> str:
    start, end = timezone.localtime(sign.window_start), timezone.localtime(sign.window_end)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} {end:%Z}"


def _line(sign: AttackSign, language: int) -> str:
    label = KIND_LABELS[sign.kind][language]
    period = _period(sign)
    if language == 0:
        return f"- {label}: {sign.source} から {sign.count} 件 (しきい値 {sign.threshold}) {period}"
    return f"- {label}: {sign.count} from {sign.source} (threshold {sign.threshold}), {period}"


def alert_message(signs: list[AttackSign], unlisted: dict[str, int]) -> tuple[str, str]:
    """The email's subject and body: Japanese first, English below. No request data, only normalised addresses."""
    total = len(signs) + sum(unlisted.values())
    subject = f"[窓口] 攻撃の兆候を検知しました ({total} 件) / Attack signs detected ({total})"
    window = _window_seconds()
    ja = [
        f"窓口 Madoguchi への通信に攻撃の兆候がありました。送信元アドレス (IPv6 は /64) ごと、{window} 秒間の件数です。",
        "",
        *(_line(sign, 0) for sign in signs),
        *(f"- {KIND_LABELS[k][0]}: ほかに {n} 件のアドレス (一覧は省略)" for k, n in unlisted.items()),
        "",
        "詳細はアクセスログ (アドレスで検索) を確認してください。対応手順: docs/operations.md「攻撃の兆候」。",
    ]
    en = [
        f"Madoguchi saw signs of an attack. Counts per source address (IPv6: per /64) per {window}-second window.",
        "",
        *(_line(sign, 1) for sign in signs),
        *(f"- {KIND_LABELS[k][1]}: {n} more addresses (not listed)" for k, n in unlisted.items()),
        "",
        'Search the access logs for the address. What to do: docs/operations.md, "Attack signs".',
    ]
    return subject, "\n".join([*ja, "", "----", "", *en, ""])


def _notify(signs: list[AttackSign], unlisted: dict[str, int]) -> None:
    for sign in signs:
        logger.warning(
            "attack sign: %s from %s, %d in the window from %s (threshold %d)",
            sign.kind,
            sign.source,
            sign.count,
            sign.window_start.isoformat(),
            sign.threshold,
        )
        with sentry_sdk.new_scope() as scope:
            # One Sentry issue per kind; each event names its source (the scrubber redacts keys called "address").
            scope.fingerprint = ["attack-sign", sign.kind]
            scope.set_tag("attack_sign", sign.kind)
            scope.set_tag("source_ip", sign.source)
            sentry_sdk.capture_message(
                f"Attack sign: {sign.kind} from {sign.source} ({sign.count} in {_window_seconds()} s)",
                level="warning",
            )
    for kind, count in unlisted.items():
        logger.warning("attack sign: %s from %d more addresses (not listed)", kind, count)
    recipients: list[str] = list(settings.VENDOR_ALERT_EMAILS)
    if not recipients:
        logger.warning("attack signs not emailed: VENDOR_ALERT_EMAILS is empty")
        return
    subject, body = alert_message(signs, unlisted)
    send_mail(subject, body, None, recipients)


class AttackSignMiddleware:
    """Counts every 4xx response per client address ("http_4xx"): a storm of them from one address is a scan.

    404s under STATIC_URL are not counted: after a deploy, pages cached in browsers ask for assets that have
    gone, which is no attack.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = str(settings.STATIC_URL or "/static/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        # 409 is "just taken" in a booking rush, an ordinary outcome for many residents behind one carrier NAT.
        if (
            400 <= status < 500
            and status != 409
            and not (status == 404 and request.path.startswith(self.static_prefix))
        ):
            record_sign(HTTP_4XX, client_ip(request))
        return response
