"""A city's URLconf plus the booking rush's baselines (only in the bench's gunicorn, through settings_bench).

- /bench/trivial/: the smallest Django view; the request still goes through every middleware (host routing to the
  city's schema, security headers, session, CSRF, ...), so the ratio against it is what the page itself costs.
- /bench/lock-update/: one transaction that locks one row and updates it (SELECT ... FOR UPDATE, UPDATE), all
  clients on the same row: the floor for anything that serialises on a slot row. The table is created by
  bench/rush.py (and bench/wrk_pages.py) in the booking city's schema (bench_counter), not by a migration.
- /bench/query/: one `SELECT 1` through the ORM's connection (bench/wrk_pages.py): the floor for a page that queries.
- /bench/lock-update-audit/: the lock + update above and one audit row (`audit_record` by `Actor.system("bench")`)
  in the same transaction, as a booking appends one under the city's chain lock (bench/wrk_pages.py).
"""

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

from apps.security.actors import Actor
from apps.security.audit import audit_record
from madoguchi.urls_tenant import urlpatterns as city_urlpatterns

BENCH_ACTOR = Actor.system("bench")


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def lock_update(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT n FROM bench_counter WHERE id = 1 FOR UPDATE")
        cursor.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
    return HttpResponse("ok", content_type="text/plain")


def one_query(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("ok", content_type="text/plain")


def lock_update_audit(request: HttpRequest) -> HttpResponse:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM bench_counter WHERE id = 1 FOR UPDATE")
            cursor.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
        audit_record(action="bench.lock_update", actor=BENCH_ACTOR, target="bench_counter:1")
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/query/", one_query),
    path("bench/lock-update/", lock_update),
    path("bench/lock-update-audit/", lock_update_audit),
    *city_urlpatterns,
]
