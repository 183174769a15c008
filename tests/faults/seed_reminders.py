"""Reservations for tomorrow in the fault city, each with its own address, so the day-before reminder is due:

    python -m tests.faults.seed_reminders TAG COUNT

on the fault test's own server (DATABASE_URL). One slot tomorrow (Tokyo) per TAG, COUNT reservations on it, the
addresses `TAG-<n>@reminders.example`; prints the reservation ids as one JSON line.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, time, timedelta


def main(tag: str, count: int) -> list[int]:
    import django

    django.setup()
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.models import CounterGroup, Person, Purpose, Reservation, Slot
    from apps.security.actors import SYSTEM
    from apps.security.audit import audit_record
    from tenants.models import Municipality
    from tests.factories import SlotFactory

    schema = Municipality.objects.get(slug="faults").schema_name
    with schema_context(schema):
        group = CounterGroup.objects.get()
        purpose = Purpose.objects.order_by("pk")[0]
        tomorrow = timezone.now().astimezone(TOKYO).date() + timedelta(days=1)
        first = datetime.combine(tomorrow, time(8, 0), TOKYO)
        earlier = Slot.objects.filter(
            counter_group=group, start__gte=first, start__lt=first + timedelta(hours=12)
        )
        slot = SlotFactory.create(
            counter_group=group, start=first + timedelta(minutes=15 * earlier.count()), seats=count
        )
        ids = []
        for n in range(count):
            reservation = Reservation.objects.create(
                code=f"R{tag[:6].upper()}{n:03d}",
                slot=slot,
                purpose=purpose,
                seats=1,
                email=f"{tag}-{n}@reminders.example",
                language="ja",
            )
            Person.objects.create(reservation=reservation, name=f"前日 通知{n}", birth_date="1970-01-01")
            # As a booking leaves it (the other fault tests check every reservation has its audit row).
            audit_record(
                action="booking.reservation_seeded", actor=SYSTEM, target=f"Reservation:{reservation.pk}"
            )
            ids.append(reservation.pk)
        slot.taken = count
        slot.save(update_fields=["taken"])
    return ids


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1], int(sys.argv[2]))) + "\n")
