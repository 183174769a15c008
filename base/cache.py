"""A Redis cache that fails open: while Redis is away the site works without its cache, it does not answer 500.

Django's RedisCache raises redis' ConnectionError/TimeoutError from every call. Every resident page reads the cache
(the page middleware's `get_many`), so an outage of Redis would take the resident pages down with it although
nothing they need lives only there: the cache holds copies (pages, availability, the resident context, the city's
policy) that the database answers again. Here a failure of Redis is a miss: `get` returns the default,
`get_many` nothing, writes and deletes report False; `incr` raises ValueError as for a missing key.

After a failure the breaker stays open for BREAKER_SECONDS: calls skip Redis at once instead of each waiting for
the connect timeout; the first call after that tries Redis again (the breaker closes when it answers). One warning
per LOG_EVERY seconds, with how many calls failed or were skipped since the last line.

What fails open with it (docs/operations.md, "Redis down"): allauth's login rate limit (ACCOUNT_RATE_LIMITS) is
not counted while Redis is away (the lockouts of apps.security count in the database and still hold); a delete
that fails leaves the entry to its timeout (at most 10 minutes for availability, 5 for the resident context, 1
for a page) if Redis comes back with its data.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
LOG_EVERY = 30.0
SOCKET_TIMEOUT = (
    0.5  # seconds: to connect and for one answer (a local network; a slow cache is a missing one)
)

T = TypeVar("T")


class Breaker:
    """Skip a dependency for `seconds` after it failed; one warning line per `log_every` seconds."""

    def __init__(self, name: str, *, seconds: float = BREAKER_SECONDS, log_every: float = LOG_EVERY) -> None:
        self.name = name
        self.seconds = seconds
        self.log_every = log_every
        self.lock = threading.Lock()
        self.open_until = -math.inf
        self.last_log = -math.inf
        self.since_log = 0

    def is_open(self) -> bool:
        if time.monotonic() < self.open_until:
            with self.lock:
                self.since_log += 1
            return True
        return False

    def failed(self, exc: BaseException, what: str) -> None:
        now = time.monotonic()
        with self.lock:
            was_closed = now >= self.open_until
            self.open_until = now + self.seconds
            self.since_log += 1
            if now - self.last_log < self.log_every:
                return
            self.last_log, count, self.since_log = now, self.since_log, 0
        logger.warning(
            "%s unavailable (%s: %s) during %s: carrying on without it for %.0f s; %d failed or skipped call(s) "
            "since the last line%s",
            self.name,
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
            what,
            self.seconds,
            count,
            "" if was_closed else " (still down)",
        )

    def reset(self) -> None:
        with self.lock:
            self.open_until = -math.inf
            self.last_log = -math.inf
            self.since_log = 0


_BREAKERS: dict[str, Breaker] = {}
_BREAKERS_LOCK = threading.Lock()


def _breaker_for(server: str) -> Breaker:
    """One breaker per Redis per process: Django makes a cache object per thread, the outage is the same."""
    with _BREAKERS_LOCK:
        if server not in _BREAKERS:
            _BREAKERS[server] = Breaker("Redis cache")
        return _BREAKERS[server]


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    # ConnectionError and TimeoutError: Redis is away or slow. Not ResponseError (a bug of ours) nor anything else.
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache, with a failure of Redis treated as a miss (module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT)
        super().__init__(server, {**params, "OPTIONS": options})
        self.breaker = _breaker_for(server)
        self._errors = _redis_errors()

    def _guard(self, what: str, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        if self.breaker.is_open():
            return fallback()
        try:
            return call()
        except self._errors as exc:
            self.breaker.failed(exc, what)
            return fallback()

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._guard(
            "add", lambda: super(FailOpenRedisCache, self).add(key, value, timeout, version), _false
        )

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guard(
            "get", lambda: super(FailOpenRedisCache, self).get(key, default, version), lambda: default
        )

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._guard("set", lambda: super(FailOpenRedisCache, self).set(key, value, timeout, version), _none)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._guard(
            "touch", lambda: super(FailOpenRedisCache, self).touch(key, timeout, version), _false
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guard("delete", lambda: super(FailOpenRedisCache, self).delete(key, version), _false)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        return self._guard("get_many", lambda: super(FailOpenRedisCache, self).get_many(keys, version), dict)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guard("has_key", lambda: super(FailOpenRedisCache, self).has_key(key, version), _false)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        def missing() -> int:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable)")

        return self._guard("incr", lambda: super(FailOpenRedisCache, self).incr(key, delta, version), missing)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._guard(
            "set_many",
            lambda: super(FailOpenRedisCache, self).set_many(data, timeout, version),
            lambda: list(data),
        )

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        keys = list(keys)
        self._guard("delete_many", lambda: super(FailOpenRedisCache, self).delete_many(keys, version), _none)

    def clear(self) -> None:
        self._guard("clear", lambda: super(FailOpenRedisCache, self).clear(), _none)


def _false() -> bool:
    return False


def _none() -> None:
    return None
