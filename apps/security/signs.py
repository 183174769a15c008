"""Attack signs: suspicious events counted per client address and time window, reported to the vendor.

`record_sign()` is called where an event happens: a failed login or second-factor code, a refusal by network, and
(through `apps.security.middleware.AttackSignMiddleware`) every 4xx response. `signs_alert()` runs in the periodic task
`apps.security.signs_tasks.detect_attack_signs`: it reads the windows that have ended and alerts the vendor (email
and Sentry) once per (kind, address, window) whose count reached `settings.ATTACK_SIGN_THRESHOLDS[kind]`.

The counts live in the security counter table of the public schema (`apps.security.counters`), one row per
(window, kind, source): an attacker's address counts the same whichever city's host it tries, an increment is
one atomic statement (exact under concurrency), and no row is culled before `counters_prune()` removes it after
its time. Keys, per window number `w`:

- `signs:<w>:<kind>:n:<source>`: the count.
- `signs:<w>:<kind>:alerted:<source>` (and `...:alerted:*` for the addresses beyond the listed ones): claimed by
  the run that alerts (the first hit wins), so no sign is sent twice; released when the email fails.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sentry_sdk
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from apps.security.counters import counter_clear, counter_hit, counters_at_least, counters_number_at_least

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


def _claim(key: str) -> bool:
    """True for the one run that claims `key` first (the claim lives as long as the counts)."""
    return counter_hit(key, window=_ttl(), fail_closed=False, public=True).count == 1


def record_sign(kind: str, address: str, *, now: datetime | None = None) -> None:
    """Count one event of `kind` ("login_failed", "network_refused", "http_4xx") from `address`.

    Never fails the request that reports it: a store outage is logged (by the counter store) and not counted.
    """
    _threshold(kind)
    window = _window_of(now or timezone.now())
    counter_hit(_key(window, kind, "n", sign_source(address)), window=_ttl(), fail_closed=False, public=True)


def _signs_of_window(window: int, kind: str) -> tuple[list[AttackSign], int]:
    """The signs of one window and kind (at most MAX_LISTED_SOURCES), and how many addresses reached it in all."""
    threshold = _threshold(kind)
    prefix = _key(window, kind, "n", "")
    found = counters_at_least(prefix, threshold, public=True, limit=MAX_LISTED_SOURCES)
    total = (
        counters_number_at_least(prefix, threshold, public=True) if len(found) == MAX_LISTED_SOURCES else 0
    )
    start = datetime.fromtimestamp(window * _window_seconds(), tz=UTC)
    signs = [
        AttackSign(
            kind=kind,
            source=key[len(prefix) :],
            count=count,
            threshold=threshold,
            window_start=start,
            window_end=start + timedelta(seconds=_window_seconds()),
        )
        for key, count in found
    ]
    return signs, max(total, len(signs))


def signs_alert(*, now: datetime) -> list[AttackSign]:
    """Alert the vendor about the signs of the windows that have ended and were not alerted yet; return them.

    Each sign is claimed before it is sent, so two runs at once never send it twice; if the email fails, the
    claims are released and the next run tries again.
    """
    current = _window_of(now)
    new: list[AttackSign] = []
    unlisted: dict[str, int] = {}
    claims: list[str] = []
    for window in range(current - int(settings.ATTACK_SIGN_LOOKBACK_WINDOWS), current):
        for kind in settings.ATTACK_SIGN_THRESHOLDS:
            signs, total = _signs_of_window(window, kind)
            if total > len(signs) and _claim(_key(window, kind, "alerted", "*")):
                claims.append(_key(window, kind, "alerted", "*"))
                unlisted[kind] = unlisted.get(kind, 0) + total - len(signs)
            for sign in signs:
                claim = _key(window, kind, "alerted", sign.source)
                if _claim(claim):
                    claims.append(claim)
                    new.append(sign)
    if not new and not unlisted:
        return []
    try:
        _notify(new, unlisted)
    except Exception:
        for claim in claims:
            counter_clear(claim, public=True)
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
