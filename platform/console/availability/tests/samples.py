"""A month of probe samples written straight into the table (November 2026), for the report's tests."""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection

from apps.booking.calendar.hours import TOKYO

NOVEMBER = date(2026, 11, 1)
AFTER = datetime(2026, 12, 6, 12, 0, tzinfo=TOKYO)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TOKYO)


def fill_month(probed: int = 2) -> None:
    """A sample for every minute of November and every module, every city up."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO console_availability_probesample (minute, module, probed, down, maintenance, recorded_at)"
            " SELECT m, module, %s, '{}', '{}', now() FROM generate_series(%s, %s, interval '1 minute') AS m,"
            " unnest(ARRAY['booking', 'issuance', 'api']) AS module",
            [probed, at(1, 0), datetime(2026, 11, 30, 23, 59, tzinfo=TOKYO)],
        )


def mark(column: str, city_id: int, module: str, start: datetime, end: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE console_availability_probesample SET {column} = array_append({column}, %s)"
            " WHERE module = %s AND minute >= %s AND minute < %s",
            [city_id, module, start, end],
        )


def unrecorded(start: datetime, end: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM console_availability_probesample WHERE minute >= %s AND minute < %s", [start, end]
        )
