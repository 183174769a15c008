"""The probe with the two real test cities: up, a module's table unreadable, a suspended city, the beat entry."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from console.availability.models import ProbeSample
from console.availability.probe import samples_prune, samples_record
from tenants.models import Municipality

NOW = datetime(2026, 12, 7, 10, 15, 42, tzinfo=timezone.get_current_timezone())


def _row(module: str) -> ProbeSample:
    return ProbeSample.objects.get(module=module, minute=NOW.replace(second=0))


def test_every_city_up_is_recorded_as_one_row_per_module(
    city: Municipality, other_city: Municipality
) -> None:
    samples_record(now=NOW)
    cities = Municipality.objects.exclude(schema_name="public").count()
    for module in ("booking", "issuance", "api"):
        row = _row(module)
        assert (row.probed, row.down, row.maintenance) == (cities, [], [])
        assert row.minute.second == 0


def test_a_city_whose_card_table_is_unreadable_is_down_for_issuance_only(
    city: Municipality, other_city: Municipality
) -> None:
    # Inside the test's transaction, rolled back after it: ageo's card table is gone for the probe.
    with connection.cursor() as cursor:
        cursor.execute('ALTER TABLE "ageo".issuance_card RENAME TO issuance_card_away')
    samples_record(now=NOW)
    assert _row("issuance").down == [city.pk]
    assert _row("booking").down == []
    assert _row("api").down == []


def test_a_suspended_city_is_down_for_every_module(city: Municipality, other_city: Municipality) -> None:
    Municipality.objects.filter(pk=other_city.pk).update(status=Municipality.Status.SUSPENDED)
    samples_record(now=NOW)
    for module in ("booking", "issuance", "api"):
        assert _row(module).down == [other_city.pk]


def test_a_second_run_in_the_same_minute_keeps_the_first(city: Municipality) -> None:
    samples_record(now=NOW)
    Municipality.objects.filter(pk=city.pk).update(status=Municipality.Status.SUSPENDED)
    samples_record(now=NOW.replace(second=59))
    assert ProbeSample.objects.filter(module="booking").count() == 1
    assert _row("booking").down == []


def test_beat_runs_the_probe_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["availability-probe"]
    assert entry["task"] == "console.availability.probe"
    assert entry["schedule"] == 60.0


def test_samples_older_than_the_kept_days_are_pruned_and_newer_ones_kept(city: Municipality) -> None:
    samples_record(now=NOW - timedelta(days=801))
    samples_record(now=NOW - timedelta(days=799))
    samples_record(now=NOW)
    assert samples_prune(now=NOW, keep_days=800) == 3  # the three modules of the oldest minute
    minutes = sorted(set(ProbeSample.objects.values_list("minute", flat=True)))
    assert minutes == [(NOW - timedelta(days=799)).replace(second=0), NOW.replace(second=0)]
