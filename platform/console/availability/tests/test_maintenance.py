"""Approved maintenance (console.maintenance) in the probe and the report: recorded and counted apart, never down."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from apps.security.actors import Actor
from console.availability.models import ProbeSample
from console.availability.probe import samples_record
from console.availability.selectors import availability_report
from console.availability.tests.samples import AFTER, NOVEMBER, at, unrecorded
from console.maintenance.tests.helpers import decide, move_window, propose
from tenants.models import Municipality


def test_the_probe_records_a_city_in_its_approved_window_as_maintenance(
    city: Municipality, other_city: Municipality
) -> None:
    proposal = propose([city, other_city], modules=("booking",))
    decide(city, proposal)
    decide(other_city, proposal, approve=False)
    start = datetime.now(tz=city.created_at.tzinfo) - timedelta(minutes=30)
    move_window(proposal, start)
    with connection.cursor() as cursor:  # ageo's slots unreadable too: maintenance wins, it is not down
        cursor.execute('ALTER TABLE "ageo".booking_slot RENAME TO booking_slot_away')
    samples_record(now=start + timedelta(minutes=5))
    row = ProbeSample.objects.get(module="booking")
    assert row.maintenance == [city.pk]  # okegawa rejected: probed as usual
    assert row.down == []
    assert ProbeSample.objects.get(module="issuance").maintenance == []


def test_the_report_shows_an_approved_window_apart_even_without_samples(
    november: None, city: Municipality, other_city: Municipality
) -> None:
    proposal = propose([city, other_city], modules=("booking",), title="DBの更新")
    decide(city, proposal)
    decide(other_city, proposal)
    move_window(proposal, at(25, 2), hours=1)
    unrecorded(at(25, 2), at(25, 3))  # the whole system was stopped: no samples at all
    for municipality, maintenance, down in ((city, 120 + 60, 45), (other_city, 60, 75)):
        booking = availability_report(
            Actor.system("test"),
            municipality=Municipality.objects.get(pk=municipality.pk),
            month=NOVEMBER,
            now=AFTER,
        ).modules[0]
        assert (booking.maintenance, booking.down) == (maintenance, down), municipality.slug
        assert [(w.title, w.minutes) for w in booking.windows] == [("DBの更新", 60)]
