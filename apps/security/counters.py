"""Security counters: atomic, never culled, one row per (key, window) in a table of each schema.

Lockouts, second-factor limits, residents' rate limits and attack signs all count "how many times did this
subject do that in the current window". A cache is the wrong store for that: Django's database cache keeps
`MAX_ENTRIES` for the whole deployment and deletes a third when full (450 booking look-ups at one city erased
another city's failed-login counter), and its `incr` is a read then a write (parallel guesses under-count).

So every count is one statement, `INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING`: PostgreSQL serialises
concurrent hits on the row, and a row is only removed by `counters_prune()` after its window has ended. The window
is fixed (it starts at the first hit); a hit after it ended starts a new one at 1.

Where the table lives: each schema has its own (apps.security is in SHARED_APPS and TENANT_APPS), so a city's
counters are that city's. `public=True` counts in the public schema, for what is counted across every city
(attack signs by address).

When the store fails (the database is unreachable, a statement times out), the caller says what that means:
`fail_closed=True` (staff logins, second factor) counts the hit as over every limit, `fail_closed=False`
(residents' pages) as the first, so a database hiccup never locks every resident out, and never opens the door
to unlimited guessing of a staff password.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django_tenants.utils import get_public_schema_name, schema_context

logger = logging.getLogger(__name__)

# What a failed store reports for fail-closed counters: above any limit we configure.
OVER_EVERY_LIMIT = 2**31 - 1
KEY_MAX = 200


@dataclass(frozen=True)
class Hit:
    count: int  # hits in the current window, this one included
    retry_after: int  # seconds until the window ends (at least 1)
    failed: bool = False  # the store could not count; `count` is then the fail-open or fail-closed value

    def over(self, limit: int) -> bool:
        return self.count > limit


def subject(text: str) -> str:
    """A key part for attacker-chosen text (a login name, an email, a booking code): short, safe, not readable."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _key(key: str) -> str:
    if len(key) <= KEY_MAX:
        return key
    return key[: KEY_MAX - 33] + ":" + subject(key)


@contextmanager
def _schema(public: bool) -> Iterator[None]:
    if public:
        with schema_context(get_public_schema_name()):
            yield
    else:
        yield


def _alone() -> AbstractContextManager[Any]:
    """Inside a transaction, a savepoint, so that a failed count does not break the caller's transaction; outside
    one, nothing: the statement is its own transaction in autocommit (no BEGIN and COMMIT round trips per hit, on
    every request of an API key)."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


_HIT_SQL = """
INSERT INTO security_counter (key, count, window_end)
VALUES (%s, 1, clock_timestamp() + make_interval(secs => %s))
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN security_counter.window_end <= clock_timestamp() THEN 1
                 ELSE security_counter.count + 1 END,
    window_end = CASE WHEN security_counter.window_end <= clock_timestamp() THEN EXCLUDED.window_end
                      ELSE security_counter.window_end END
RETURNING count, GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_end - clock_timestamp())))::int
"""


def counter_hit(key: str, *, window: int, fail_closed: bool, public: bool = False) -> Hit:
    """Count one hit of `key` in a window of `window` seconds and return the count so far."""
    try:
        with _schema(public), _alone(), connection.cursor() as cursor:
            cursor.execute(_HIT_SQL, [_key(key), int(window)])
            count, retry_after = cursor.fetchone()
        return Hit(count=int(count), retry_after=int(retry_after))
    except DatabaseError:
        logger.exception("security counter store failed (%s)", "fail closed" if fail_closed else "fail open")
        return Hit(count=OVER_EVERY_LIMIT if fail_closed else 1, retry_after=int(window), failed=True)


def counter_peek(key: str, *, fail_closed: bool, public: bool = False) -> Hit:
    """The count of `key` in its current window without counting a hit (0 when there is none)."""
    try:
        with _schema(public), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT count, GREATEST(1, CEIL(EXTRACT(EPOCH FROM window_end - clock_timestamp())))::int"
                " FROM security_counter WHERE key = %s AND window_end > clock_timestamp()",
                [_key(key)],
            )
            row = cursor.fetchone()
        return Hit(count=int(row[0]), retry_after=int(row[1])) if row else Hit(count=0, retry_after=1)
    except DatabaseError:
        logger.exception("security counter store failed (%s)", "fail closed" if fail_closed else "fail open")
        return Hit(count=OVER_EVERY_LIMIT if fail_closed else 0, retry_after=60, failed=True)


def counter_clear(key: str, *, public: bool = False) -> None:
    """Forget `key` (a successful login clears its account's failures; a supervisor's unlock clears the lock's)."""
    with _schema(public), connection.cursor() as cursor:
        cursor.execute("DELETE FROM security_counter WHERE key = %s", [_key(key)])


def counters_at_least(
    prefix: str, minimum: int, *, public: bool = False, limit: int = 1000
) -> list[tuple[str, int]]:
    """(key, count) of the live counters under `prefix` that reached `minimum`, highest first."""
    with _schema(public), connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, count FROM security_counter WHERE key LIKE %s AND count >= %s"
            " ORDER BY count DESC, key LIMIT %s",
            [_like_prefix(prefix) + "%", int(minimum), int(limit)],
        )
        return [(str(key), int(count)) for key, count in cursor.fetchall()]


def counters_number_at_least(prefix: str, minimum: int, *, public: bool = False) -> int:
    """How many counters under `prefix` reached `minimum`."""
    with _schema(public), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM security_counter WHERE key LIKE %s AND count >= %s",
            [_like_prefix(prefix) + "%", int(minimum)],
        )
        return int(cursor.fetchone()[0])


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def counters_prune() -> int:
    """Delete the current schema's counters whose window ended (a periodic task runs it in every schema)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM security_counter WHERE window_end <= clock_timestamp()")
        return int(cursor.rowcount)
