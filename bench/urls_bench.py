"""A city's URLconf plus the booking rush's baselines (only in the bench's gunicorn, through settings_bench).

- /bench/trivial/: the smallest Django view; the request still goes through every middleware (host routing to the
  city's schema, security headers, session, CSRF, ...), so the ratio against it is what the page itself costs.
- /bench/lock-update/: one transaction that locks one row and updates it (SELECT ... FOR UPDATE, UPDATE), all
  clients on the same row: the floor for anything that serialises on a slot row. The table is created by
  bench/rush.py in the booking city's schema (bench_counter), not by a migration.
"""

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

from madoguchi.urls_tenant import urlpatterns as city_urlpatterns


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def lock_update(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT n FROM bench_counter WHERE id = 1 FOR UPDATE")
        cursor.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/lock-update/", lock_update),
    *city_urlpatterns,
]
