"""The monthly report's figures from a month of samples written here (November 2026, ageo and okegawa)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from apps.booking.calendar.hours import TOKYO
from apps.security.actors import Actor
from console.availability.selectors import Kind, MonthReport, availability_report
from console.availability.tests.samples import AFTER, NOVEMBER, at, fill_month, unrecorded
from tenants.models import Municipality


def _report(city: Municipality) -> MonthReport:
    return availability_report(
        Actor.system("test"), municipality=Municipality.objects.get(pk=city.pk), month=NOVEMBER, now=AFTER
    )


def test_booking_counts_every_minute_with_maintenance_apart(november: None, city: Municipality) -> None:
    booking = _report(city).modules[0]
    assert booking.module == "booking"
    assert (booking.committed, booking.maintenance, booking.down) == (30 * 1440, 120, 30 + 15)
    assert booking.availability == Decimal("99.895")  # (43,080 - 45) / 43,080 = 99.89554...
    assert [(i.start, i.end, i.kind, i.minutes) for i in booking.down_intervals] == [
        (at(10, 10), at(10, 10, 30), Kind.DOWN, 30),
        (at(12, 3), at(12, 3, 15), Kind.UNRECORDED, 15),
    ]


def test_issuance_counts_only_the_citys_opening_hours(november: None, city: Municipality) -> None:
    issuance = _report(city).modules[1]
    # 21 weekdays, less 3 Nov (文化の日), 23 Nov (勤労感謝の日) and the city's closure on 2 Nov: 18 days of 7.5 hours.
    assert issuance.committed == 18 * 450
    assert (issuance.maintenance, issuance.down) == (0, 30)  # 03:00-03:15 unrecorded: outside the hours
    assert issuance.availability == Decimal("99.629")  # (8,100 - 30) / 8,100 = 99.6296...
    assert [(i.start, i.end) for i in issuance.down_intervals] == [(at(10, 13), at(10, 13, 30))]
    assert issuance.down_by_day == {date(2026, 11, 10): 30}


def test_api_up_all_month_but_the_unrecorded_minutes(november: None, city: Municipality) -> None:
    api = _report(city).modules[2]
    assert (api.committed, api.down, api.availability) == (30 * 1440, 15, Decimal("99.965"))


def test_another_citys_downtime_never_counts(november: None, other_city: Municipality) -> None:
    booking = _report(other_city).modules[0]
    assert (booking.maintenance, booking.down) == (0, 60 + 15)


def test_missing_minutes_count_as_down(city: Municipality) -> None:
    Municipality.objects.filter(pk=city.pk).update(created_at=datetime(2026, 10, 1, tzinfo=TOKYO))
    fill_month()
    unrecorded(at(1, 0), at(2, 0))
    booking = _report(city).modules[0]
    assert booking.down == 1440
    assert booking.down_intervals[0].kind == Kind.UNRECORDED
    assert booking.availability == Decimal("96.666")


def test_a_month_in_progress_runs_to_the_last_whole_minute_and_the_city_start(city: Municipality) -> None:
    Municipality.objects.filter(pk=city.pk).update(created_at=datetime(2026, 11, 30, 23, 0, 30, tzinfo=TOKYO))
    fill_month()
    report = availability_report(
        Actor.system("test"),
        municipality=Municipality.objects.get(pk=city.pk),
        month=date(2026, 12, 1),
        now=datetime(2026, 12, 1, 0, 10, 59, tzinfo=TOKYO),
    )
    assert not report.complete
    assert report.modules[0].committed == 10  # 00:00-00:10, no sample: down
    assert report.modules[0].down == 10
    nov = _report(city)
    assert nov.modules[0].committed == 59  # from 23:01, the first whole minute of the city
