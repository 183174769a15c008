"""Settings of the booking rush's gunicorn only (bench/rush.py sets DJANGO_SETTINGS_MODULE=bench.settings_bench).

The project's settings unchanged, except that the city URLconf gains the baselines' endpoints (/bench/trivial/,
/bench/lock-update/), see bench/urls_bench.py. django-tenants routes a city's host through ROOT_URLCONF and the
vendor's host through PUBLIC_SCHEMA_URLCONF, which stays as it is.

The residents' per-address limits are raised by the environment, not here: bench/common.py starts every server with
MADOGUCHI_BENCH_LIMITS=true (madoguchi.settings.BOOKING_ADDRESS_LIMIT_FACTOR), the one setting for benchmarks and
load tests, since every bench client comes from 127.0.0.1.
"""

from madoguchi.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
