"""After a city is created, the catalog is analyzed when its statistics are stale, and only then: a fixed number
of changed rows on small catalogs, a tenth of the table on large ones (at 1,741 cities an ANALYZE after every fourth
creation cost about a second each, make bench PART=scale)."""

from __future__ import annotations

from tenants.services import STALE_CATALOG_ROWS, catalog_is_stale


def test_small_catalog_is_analyzed_after_a_few_cities() -> None:
    assert catalog_is_stale(STALE_CATALOG_ROWS, 10_000)
    assert not catalog_is_stale(STALE_CATALOG_ROWS - 1, 10_000)


def test_large_catalog_is_analyzed_when_a_tenth_of_it_changed() -> None:
    # pg_attribute at about 600 cities: some 800,000 rows, 1,300 more per city.
    assert not catalog_is_stale(5 * 1_300, 800_000)
    assert catalog_is_stale(80_000, 800_000)
