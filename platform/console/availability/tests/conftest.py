"""The report's month of samples (tests.samples), as a fixture for every test module here."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django_tenants.utils import schema_context

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import CalendarDay
from console.availability.tests.samples import at, fill_month, mark, unrecorded
from tenants.models import Municipality


@pytest.fixture
def november(city: Municipality, other_city: Municipality) -> None:
    Municipality.objects.filter(pk__in=[city.pk, other_city.pk]).update(
        created_at=datetime(2026, 10, 1, tzinfo=TOKYO)
    )
    with schema_context(city.schema_name):
        CalendarDay.objects.create(date=date(2026, 11, 2), kind=CalendarDay.Kind.CLOSED, reason="庁舎点検")
    fill_month()
    mark("down", city.pk, "booking", at(10, 10), at(10, 10, 30))
    mark("down", other_city.pk, "booking", at(11, 10), at(11, 11))
    unrecorded(at(12, 3), at(12, 3, 15))
    mark("maintenance", city.pk, "booking", at(20, 1), at(20, 3))
    # 12:30-13:30: only 13:00-13:30 is inside the counter's hours (08:30-12:00, 13:00-17:00 on weekdays).
    mark("down", city.pk, "issuance", at(10, 12, 30), at(10, 13, 30))
