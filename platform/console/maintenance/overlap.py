"""The console's warning: a window that overlaps the committed service hours (the contract, DOMAIN.md).

Booking and the API are committed every minute of every day, so a window of either always overlaps; issuance only on
the city's opening days and hours, read in the city's schema from booking's weekly hours and calendar
(console.availability.committed, the same hours the availability report measures against).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from console.maintenance.models import Module
from tenants.models import Municipality


@dataclass(frozen=True)
class Overlap:
    city: str
    module: str
    text: str


def overlaps(
    cities: Sequence[Municipality], modules: Sequence[str], start: datetime, end: datetime
) -> list[Overlap]:
    """One warning per city and module whose committed hours the window [start, end) touches."""
    from console.availability.committed import committed_intervals

    found: list[Overlap] = []
    for city in cities:
        for module in modules:
            if module != Module.ISSUANCE:
                text = _("%(module)s は24時間365日の提供を約束しています。") % {
                    "module": Module(module).label
                }
                found.append(Overlap(city.name_ja, module, text))
                continue
            intervals = committed_intervals(schema=city.schema_name, module=module, start=start, end=end)
            if intervals:
                first = timezone.localtime(intervals[0][0])
                text = _("開庁時間に重なります（%(when)s から、%(count)s 区間）。") % {
                    "when": f"{first:%Y-%m-%d %H:%M}",
                    "count": len(intervals),
                }
                found.append(Overlap(city.name_ja, module, text))
    return found
