"""Batches uploaded before file names were checked lose the 個人番号 from their listed name (migration 0003)."""

from __future__ import annotations

import importlib

from django.apps import apps as django_apps
from django_tenants.utils import schema_context

from apps.issuance.models import ImportBatch
from tenants.models import Municipality
from tests.factories import ImportBatchFactory

migration = importlib.import_module("apps.issuance.migrations.0003_mask_file_names")


def _batch(name: str) -> ImportBatch:
    return ImportBatchFactory.create(file_name=name, sha256="0" * 64)


def test_old_batch_names_with_a_number_are_masked_and_others_kept(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(city.schema_name):
        holding = _batch("123456789018.csv")
        spaced = _batch("カード一覧 1234 5678 9018.csv")
        plain = _batch("cards-2026-12.csv")
        long_run = _batch("1234567890181.csv")  # 13 digits: no number is searched inside a longer run
    with schema_context(other_city.schema_name):
        elsewhere = _batch("123456789018.csv")
    with schema_context(city.schema_name):
        migration.mask_names(django_apps, None)
        names = dict(ImportBatch.objects.values_list("pk", "file_name"))
    assert names[holding.pk] == "[個人番号].csv"
    assert "9018" not in names[spaced.pk]
    assert names[spaced.pk].startswith("カード一覧 ")
    assert names[plain.pk] == "cards-2026-12.csv"
    assert names[long_run.pk] == "1234567890181.csv"
    with schema_context(other_city.schema_name):
        # Each city's schema is migrated on its own: the other city's row waits for its own run.
        assert ImportBatch.objects.get(pk=elsewhere.pk).file_name == "123456789018.csv"
        migration.mask_names(django_apps, None)
        assert ImportBatch.objects.get(pk=elsewhere.pk).file_name == "[個人番号].csv"
