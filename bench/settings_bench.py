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

# The API's rate limit per key (600/min) would refuse the generator's one key within a second. The counter is still
# hit on every request (apps.security.api_auth.ApiKeyRateThrottle), so the limit costs what it costs in production.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api_key": "100000000/min"},  # noqa: F405
}
