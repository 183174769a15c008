"""Section 4 of `make bench` (part `rush`): residents booking one day over HTTP while another city browses.

Two new cities with a booking window of slots; `--rush-clients` residents go once through the whole resident flow
(calendar, day, hold, form, confirmation) against gunicorn with the production config and bench/settings_bench.py,
while `--rush-browsers` clients load the other city's calendar; baselines on the same server just before (a trivial
view, a transaction that locks and updates one row, the calendars). Then the overbooking check in the database,
which must find 0. The section's text is written by bench/rush_report.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.clients import REQUEST_TIMEOUT, Browser, Exchange, Load, hammer
from bench.common import CITY_HOST_SUFFIX, Sandbox, count_queries, gunicorn_start, gunicorn_stop, log
from bench.tenancy import Cities

RUSH_PURPOSE = "application"  # 申請サポート: no notice number needed
RUSH_STEPS = ("calendar", "day", "hold", "form", "confirm")
_INPUT = re.compile(r'<input type="radio" name="slot" id="slot-(\d+)" value="\d+"( disabled)?')


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else ""


@dataclass
class RushResult:
    clients: int
    browsers: int
    workers: int
    threads: int
    book_host: str
    browse_host: str
    day: str
    slots: int
    seats: int
    seconds: float = 0.0  # from the start signal to the last booking client's end
    steps: dict[str, Load] = field(default_factory=lambda: {s: Load() for s in RUSH_STEPS})
    browse: Load = field(default_factory=Load)
    outcomes: Counter[str] = field(default_factory=Counter)
    codes: list[str] = field(default_factory=list)
    baselines: dict[str, Load] = field(default_factory=dict)
    baseline_clients: int = 0
    check: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0


def rush_setup(cities: Cities, seats: int) -> tuple[str, str, dt.date, int]:
    """Two new cities (booking, browsing) with the whole booking window of slots; returns (book, browse, day, slots).

    Each city's counter gets `seats` seats per frame before slots_sync fills the window from the default hours
    (weekdays 8:30–12:00 and 13:00–17:00 in 30-minute frames: 15 slots a day). The rush day is the first day at
    least two days ahead that has slots (outside the 24-hour closing time).
    """
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context
    from psycopg import sql

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.calendar.services import slots_sync
    from apps.booking.models import CounterGroup, Slot

    book, _ = cities.create("clone")
    browse, _ = cities.create("clone")
    today = timezone.now().astimezone(TOKYO).date()
    for schema in (book, browse):
        with schema_context(schema):
            CounterGroup.objects.update(seats=seats)
            slots_sync(today=today)
    with schema_context(book):
        first = dt.datetime.combine(today + dt.timedelta(days=2), dt.time(), TOKYO)
        start = (
            Slot.objects.filter(start__gte=first, blocked=False)
            .order_by("start")
            .values_list("start", flat=True)[0]
        )
        day = start.astimezone(TOKYO).date()
        slots = Slot.objects.filter(
            start__gte=dt.datetime.combine(day, dt.time(), TOKYO),
            start__lt=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TOKYO),
        ).count()
        with connection.cursor() as cursor:
            table = sql.SQL("{}.bench_counter").format(sql.Identifier(book)).as_string(cursor.connection)
            cursor.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, n bigint NOT NULL)")
            cursor.execute(f"INSERT INTO {table} VALUES (1, 0)")
    connection.set_schema_to_public()
    return book, browse, day, slots


def resident(port: int, host: str, day: dt.date, index: int, result: RushResult, lock: Any) -> str:
    """One resident's whole flow, once: calendar → day → hold (POST) → form → confirm (POST). Returns the outcome."""
    browser = Browser(port, host)
    base = f"/book/{RUSH_PURPOSE}/"

    def step(name: str, exchange: Exchange) -> Exchange:
        with lock:
            result.steps[name].add(exchange)
        return exchange

    def failed(name: str, exchange: Exchange) -> str:
        return f"{name}: " + (exchange.failure or f"HTTP {exchange.status}")

    calendar = step("calendar", browser.send("GET", f"{base}?month={day:%Y-%m}"))
    if calendar.status != 200:
        return failed("calendar", calendar)
    day_page = step("day", browser.send("GET", f"{base}{day.isoformat()}/"))
    if day_page.status != 200:
        return failed("day", day_page)
    free = [slot for slot, disabled in _INPUT.findall(day_page.text) if not disabled]
    if not free:
        return "no free time shown on the day page"
    import random

    held = step(
        "hold",
        browser.send(
            "POST",
            f"{base}{day.isoformat()}/",
            {
                "csrfmiddlewaretoken": _hidden(day_page.text, "csrfmiddlewaretoken"),
                "slot": random.choice(free),
                "persons": "1",
            },
        ),
    )
    if held.status == 409:
        return "just taken (409) at the hold"
    if held.status != 302 or "/book/hold/" not in held.location:
        return failed("hold", held)
    form_path = urlsplit(held.location).path
    form = step("form", browser.send("GET", form_path))
    if form.status != 200:
        return failed("form", form)
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=index * 37)  # one person per client: max_future_bookings
    confirm = step(
        "confirm",
        browser.send(
            "POST",
            form_path,
            {
                "csrfmiddlewaretoken": _hidden(form.text, "csrfmiddlewaretoken"),
                "p1-name": f"ベンチ 太郎{index}",
                "p1-kana": "",
                "p1-birth_date_0": "western",
                "p1-birth_date_1": str(birth.year),
                "p1-birth_date_2": str(birth.month),
                "p1-birth_date_3": str(birth.day),
                "email": f"resident{index}@example.jp",
                "phone": "090-1234-5678",
                "submission_key": _hidden(form.text, "submission_key"),
            },
            read=False,
        ),
    )
    if confirm.status == 302 and "/book/done/" in confirm.location:
        code = confirm.location.rstrip("/").rsplit("/", 1)[-1]
        with lock:
            result.codes.append(code)
        return "booked"
    if confirm.status == 409:
        return "just taken (409) at the confirmation"
    if confirm.status == 410:
        return "hold expired (410)"
    return failed("confirm", confirm)


def rush_run(port: int, result: RushResult, day: dt.date) -> None:
    """All booking clients start together; browsing clients load the other city's calendar until they are done."""
    import threading

    lock = threading.Lock()
    go = threading.Event()
    done = threading.Event()
    today = dt.datetime.now(dt.UTC).date()
    months = [f"{day:%Y-%m}", f"{today:%Y-%m}"]

    def booker(index: int) -> None:
        go.wait()
        try:
            outcome = resident(port, result.book_host, day, index, result, lock)
        except Exception as error:  # a client bug must show in the report
            outcome = f"client error: {type(error).__name__}: {error}"
        with lock:
            result.outcomes[outcome] += 1

    def browser_loop(index: int) -> None:
        browser = Browser(port, result.browse_host)
        go.wait()
        turn = index
        while not done.is_set():
            exchange = browser.send("GET", f"/book/{RUSH_PURPOSE}/?month={months[turn % 2]}")
            turn += 1
            with lock:
                result.browse.add(exchange)

    bookers = [threading.Thread(target=booker, args=(i,), daemon=True) for i in range(result.clients)]
    browsers = [threading.Thread(target=browser_loop, args=(i,), daemon=True) for i in range(result.browsers)]
    for thread in bookers + browsers:
        thread.start()
    started = time.perf_counter()
    go.set()
    deadline = started + 5 * REQUEST_TIMEOUT + 60  # five steps, each bounded by the request timeout
    for thread in bookers:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    result.seconds = time.perf_counter() - started
    result.browse.seconds = result.seconds
    result.unfinished = sum(thread.is_alive() for thread in bookers)
    done.set()
    for thread in browsers:
        thread.join(timeout=REQUEST_TIMEOUT + 5)
    for load in result.steps.values():
        load.seconds = result.seconds


def rush_check(result: RushResult, schema: str) -> dict[str, Any]:
    """Overbooking, counted in the database after the run: every slot of the booking city."""
    from django.db import connection
    from django.db.models import Count, Q, Sum
    from django_tenants.utils import schema_context

    from apps.booking.models import Hold, Reservation, Slot

    with schema_context(schema):
        booked = {
            row["slot_id"]: (row["seats"], row["n"])
            for row in Reservation.objects.filter(status=Reservation.Status.BOOKED)
            .values("slot_id")
            .annotate(seats=Sum("seats"), n=Count("id"))
        }
        held = {
            row["slot_id"]: row["seats"]
            for row in Hold.objects.values("slot_id").annotate(seats=Sum("seats"))
        }
        over, mismatched, slots_checked, total_seats_touched = 0, [], 0, 0
        for slot in Slot.objects.filter(Q(pk__in=set(booked) | set(held)) | Q(taken__gt=0)):
            slots_checked += 1
            seats_booked = booked.get(slot.pk, (0, 0))[0]
            seats_held = held.get(slot.pk, 0)
            over += max(0, slot.taken - slot.seats) + max(0, seats_booked + seats_held - slot.seats)
            total_seats_touched += slot.seats
            if slot.taken != seats_booked + seats_held:
                mismatched.append(
                    f"slot {slot.pk}: taken {slot.taken} ≠ booked {seats_booked} + held {seats_held}"
                )
        reservations = Reservation.objects.filter(status=Reservation.Status.BOOKED).count()
        from apps.booking.calendar.hours import TOKYO

        day = dt.date.fromisoformat(result.day)
        day_slots = Slot.objects.filter(
            start__gte=dt.datetime.combine(day, dt.time(), TOKYO),
            start__lt=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TOKYO),
        )
        day_seats = sum(s.seats - s.staff_seats for s in day_slots)
        day_booked = Reservation.objects.filter(status=Reservation.Status.BOOKED, slot__in=day_slots).count()
        holds = Hold.objects.count()
        codes_in_db = set(
            Reservation.objects.filter(code__in=result.codes, status=Reservation.Status.BOOKED).values_list(
                "code", flat=True
            )
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM bench_counter WHERE id = 1")
            counter = cursor.fetchone()[0]
    connection.set_schema_to_public()
    return {
        "overbooked_seats": over,
        "mismatched": mismatched,
        "slots_checked": slots_checked,
        "reservations": reservations,
        "day_booked": day_booked,
        "day_seats": day_seats,
        "holds_left": holds,
        "codes_client": len(result.codes),
        "codes_unique": len(set(result.codes)),
        "codes_in_db": len(codes_in_db),
        "lock_update_counter": counter,
    }


def bench_rush(box: Sandbox, cities: Cities, args: argparse.Namespace) -> RushResult:
    from django.db import connection

    log("rush: creating the booking and browsing cities, filling their booking window with slots", "rush")
    book, browse, day, slots = rush_setup(cities, args.rush_seats)
    connection.close()
    gunicorn_stop(box)  # the latency section's server, in a full run
    port = gunicorn_start(
        box, args.rush_workers, threads=args.rush_threads, settings_module="bench.settings_bench"
    )
    result = RushResult(
        clients=args.rush_clients,
        browsers=args.rush_browsers,
        workers=args.rush_workers,
        threads=args.rush_threads,
        book_host=book + CITY_HOST_SUFFIX,
        browse_host=browse + CITY_HOST_SUFFIX,
        day=day.isoformat(),
        slots=slots,
        seats=args.rush_seats,
        baseline_clients=args.rush_clients,
    )
    calendar_path = f"/book/{RUSH_PURPOSE}/?month={day:%Y-%m}"
    paths = {
        "trivial view": (result.book_host, "/bench/trivial/"),
        "lock + update one row": (result.book_host, "/bench/lock-update/"),
        "month calendar (booking city)": (result.book_host, calendar_path),
        "month calendar (browsing city)": (result.browse_host, calendar_path),
    }
    log("rush: warm-up", "rush")
    for host, path in paths.values():
        hammer(port, host, path, clients=args.rush_workers * args.rush_threads, total=20 * args.rush_workers)
    # Baselines first (alternating twice, so drift hits every kind), at the rush's concurrency.
    for round_ in range(2):
        for name, (host, path) in paths.items() if round_ == 0 else reversed(paths.items()):
            log(
                f"rush baseline: {name}, {args.rush_requests // 2} requests from {args.rush_clients} clients",
                "rush",
            )
            load = hammer(port, host, path, clients=args.rush_clients, total=args.rush_requests // 2)
            total = result.baselines.setdefault(name, Load())
            total.ms += load.ms
            total.statuses.update(load.statuses)
            total.seconds += load.seconds
    log(f"rush: {args.rush_clients} residents book {day} while {args.rush_browsers} browse", "rush")
    rush_run(port, result, day)
    log(f"rush done in {result.seconds:.1f} s: {dict(result.outcomes)}", "rush")
    result.check = rush_check(result, book)
    result.queries = {
        "month calendar": count_queries(result.book_host, calendar_path),
        "day page": count_queries(result.book_host, f"/book/{RUSH_PURPOSE}/{day.isoformat()}/"),
    }
    return result
