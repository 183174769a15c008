"""A fresh database for a fault test, made in a subprocess on the fault test's own server (DATABASE_URL):

    python -m tests.faults.seed SLOTS SEATS

migrates it, creates the vendor's tenant and the city `faults` (faults.localhost, loopback allowed for the API),
an API key that books and SLOTS slots of SEATS seats a few weekdays ahead, and prints them as one JSON line.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, time, timedelta


def main(slots: int, seats: int) -> dict[str, object]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from django_tenants.utils import schema_context

    call_command("migrate_schemas", "--shared", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the cache without Redis is a table

    from apps.booking.calendar.hours import TOKYO
    from apps.booking.models import CounterGroup
    from apps.security.models import AllowedNetwork, ApiScope
    from apps.security.tests.api_helpers import make_key
    from tenants.services import MunicipalityInput, municipality_create, public_tenant_ensure
    from tests.factories import SlotFactory

    public_tenant_ensure(domains=["localhost"])
    city = municipality_create(
        data=MunicipalityInput(
            slug="faults", lg_code="119997", name_ja="障害試験市", name_en="Faults", prefecture="埼玉県"
        ),
        domains=["faults.localhost"],
    )
    with schema_context(city.schema_name):
        for cidr in ("127.0.0.0/8", "::1/128"):
            AllowedNetwork.objects.create(cidr=cidr, label="loopback")
    _key, token = make_key(city, ApiScope.RESERVATIONS_WRITE, ApiScope.SLOTS_READ, name="faults")
    with schema_context(city.schema_name):
        group = CounterGroup.objects.get()
        day = timezone.now().astimezone(TOKYO).date() + timedelta(days=5)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        ids = [
            SlotFactory.create(
                counter_group=group,
                start=datetime.combine(day, time(9, 0), TOKYO) + timedelta(minutes=30 * n),
                seats=seats,
            ).pk
            for n in range(slots)
        ]
    return {"host": "faults.localhost", "schema": city.schema_name, "token": token, "slots": ids}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))) + "\n")
