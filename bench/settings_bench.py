"""Settings of the booking rush's gunicorn only (bench/run.py sets DJANGO_SETTINGS_MODULE=bench.settings_bench).

The project's settings unchanged, except:
- the resident rate limits are raised: every bench client comes from 127.0.0.1, and the per-address limits
  (apps.booking.services_resident.RATE_LIMITS, overridable through BOOKING_RATE_LIMITS) would otherwise turn the
  rush into a test of the limiter;
- the city URLconf gains the baselines' endpoints (/bench/trivial/, /bench/lock-update/), see bench/urls_bench.py.
  django-tenants routes a city's host through ROOT_URLCONF and the vendor's host through PUBLIC_SCHEMA_URLCONF,
  which stays as it is.
"""

from madoguchi.settings import *  # noqa: F403

_UNLIMITED = (10**9, 60)
BOOKING_RATE_LIMITS = dict.fromkeys(("hold_ip", "confirm_ip", "notice", "lookup_ip"), _UNLIMITED)
ROOT_URLCONF = "bench.urls_bench"
