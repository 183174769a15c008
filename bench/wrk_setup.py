"""The `http` part's city (bench/wrk_pages.py): the demo cities of `make run` (`manage.py bootstrap --demo`, ageo
measured), room on the flows' days, generated cards for the pickup flow, the contested days (15 slots × 4 seats,
item 4) and the lock baselines' table. Runs in the bench's own process, in its sandbox database.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import CITY_HOST_SUFFIX, ROOT, Sandbox, log, manage

CITY = "ageo"  # the demo city of `make run`
HOST = CITY + CITY_HOST_SUFFIX
SCRIPTS_DIR = ROOT / "bench" / "wrk"  # the Lua scripts
APPLICATION = "application"  # 申請サポート: no notice number
PICKUP = "pickup"  # 受け取り: notice number + date of birth
FLOW_SEATS = 100_000  # seats per slot of the flow's days: the flow measures requests, not a full day
CONTESTED_SLOTS = 15  # issue 12, item 4: a day with 15 slots × 4 seats
CONTESTED_SEATS = 4


@dataclass
class HttpSetup:
    application_day: str
    pickup_day: str
    cards_file: Path
    cards: int
    schema: str = ""
    contested_days: list[str] = field(default_factory=list)  # one per contested run, each 15 × 4 seats, empty


def _day_range(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    from apps.booking.calendar.hours import TOKYO

    return dt.datetime.combine(day, dt.time(), TOKYO), dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time(), TOKYO
    )


def first_open_day(purpose_code: str, after: dt.date | None = None) -> dt.date:
    """The first day at least two days ahead (outside any closing time) with resident seats on the purpose's counter."""
    from django.utils import timezone

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.models import Purpose, Slot

    purpose = Purpose.objects.get(code=purpose_code)
    today = timezone.now().astimezone(TOKYO).date()
    start_day = max(today + dt.timedelta(days=2), after + dt.timedelta(days=1) if after else today)
    first = dt.datetime.combine(start_day, dt.time(), TOKYO)
    start = (
        Slot.objects.filter(counter_group=purpose.counter_group, start__gte=first, blocked=False)
        .order_by("start")
        .values_list("start", flat=True)[0]
    )
    return start.astimezone(TOKYO).date()


def _widen_day(purpose_code: str, day: dt.date) -> None:
    from apps.booking.models import Purpose, Slot

    purpose = Purpose.objects.get(code=purpose_code)
    start, end = _day_range(day)
    Slot.objects.filter(counter_group=purpose.counter_group, start__gte=start, start__lt=end).update(
        seats=FLOW_SEATS
    )


def contested_days(after: dt.date, runs: int) -> list[str]:
    """`runs` days after `after` on the application counter, each left with exactly 15 free slots of 4 seats (the
    rest blocked), nothing taken: one fresh contested day per run, so no run starts from another's bookings."""
    from apps.booking.models import Purpose, Slot

    group = Purpose.objects.get(code=APPLICATION).counter_group
    days: list[str] = []
    day = after
    while len(days) < runs:
        day = first_open_day(APPLICATION, after=day)
        start, end = _day_range(day)
        slots = Slot.objects.filter(counter_group=group, start__gte=start, start__lt=end, blocked=False)
        ids = list(slots.filter(taken=0).order_by("start").values_list("pk", flat=True))
        if slots.filter(taken__gt=0).exists() or len(ids) < CONTESTED_SLOTS:
            continue
        Slot.objects.filter(pk__in=ids[:CONTESTED_SLOTS]).update(
            seats=CONTESTED_SEATS, staff_seats=0, taken=0
        )
        Slot.objects.filter(pk__in=ids[CONTESTED_SLOTS:]).update(blocked=True)
        days.append(day.isoformat())
    return days


def _cards_create(path: Path, rows: int) -> Path:
    """`rows` bookable cards in the current schema, from bench/issuance.py's generated card list; the flow's file
    (notice number, year, month, day per line) is written beside it."""
    from django.utils import timezone

    from apps.issuance.models import Card, CardState
    from apps.issuance.states import BOOKABLE
    from base.japanese import kana_key, notice_number_normalise
    from bench.issuance import generate_file

    generate_file(path, rows, seed=12)
    state = CardState.DELIVERED if CardState.DELIVERED in BOOKABLE else sorted(BOOKABLE)[0]
    now = timezone.now()
    cards, lines = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            number = notice_number_normalise(row[0]) or row[0]
            birth = dt.date.fromisoformat(row[3])
            cards.append(
                Card(
                    notice_number=number,
                    name=row[1],
                    kana=row[2],
                    kana_key=kana_key(row[2]),
                    birth_date=birth,
                    postal_code=row[4],
                    address=row[5],
                    delivery_batch=row[6],
                    delivery_date=dt.date.fromisoformat(row[7]),
                    application_kind=row[8],
                    express=False,  # express cards cannot be booked online
                    state=state,
                    state_changed_at=now,
                )
            )
            lines.append(f"{row[0]},{birth.year},{birth.month},{birth.day}")
    Card.objects.bulk_create(cards, batch_size=1000)
    flow_file = path.with_suffix(".flow")
    flow_file.write_text("\n".join(lines) + "\n")
    path.unlink()
    return flow_file


def http_setup(box: Sandbox, cards: int, contested_runs: int = 0) -> HttpSetup:
    """The demo cities (as `make run` has them), room on the flows' days, cards, the contested days, the lock
    baselines' table."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from tenants.selectors import municipality_get_by_slug

    log("http: demo cities (manage.py bootstrap --demo)", "http")
    manage("bootstrap", "--demo")
    schema = municipality_get_by_slug(slug=CITY).schema_name
    with schema_context(schema):
        application_day = first_open_day(APPLICATION)
        pickup_day = first_open_day(PICKUP)
        _widen_day(APPLICATION, application_day)
        _widen_day(PICKUP, pickup_day)
        contested = contested_days(max(application_day, pickup_day), contested_runs)
        log(f"http: {cards} generated cards for the pickup flow", "http")
        cards_file = _cards_create(box.data_dir / "http-cards.csv", cards)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_counter (id integer PRIMARY KEY, n bigint NOT NULL)"
            )
            cursor.execute("INSERT INTO bench_counter VALUES (1, 0) ON CONFLICT DO NOTHING")
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return HttpSetup(
        application_day.isoformat(),
        pickup_day.isoformat(),
        cards_file,
        cards,
        schema=schema,
        contested_days=contested,
    )
