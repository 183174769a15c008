"""manage.py allowed_networks ageo [--add CIDR --label NAME] [--remove CIDR]: the vendor sets a city's first range.

A new city has no allowed network, so nobody can reach its staff pages until the vendor adds one (on the city's
written request). Every change is in the city's audit log, as done by the system. A range broader than IPv4 /8 or
IPv6 /32 (0.0.0.0/0, say) is refused here as on the staff page (apps.security.ranges).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.security.actors import Actor
from apps.security.models import AllowedNetwork
from apps.security.ranges import parse_network
from apps.security.services import network_add, network_remove
from tenants.models import Municipality


class Command(BaseCommand):
    help = "List, add or remove the address ranges from which a city's staff may sign in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("city", help="the city's slug, e.g. ageo")
        parser.add_argument("--add", metavar="CIDR")
        parser.add_argument("--label", default="", help="a name for the added range, e.g. 本庁舎")
        parser.add_argument("--remove", metavar="CIDR")

    def handle(self, *args: Any, **options: Any) -> None:
        city = Municipality.objects.filter(slug=options["city"]).exclude(schema_name="public").first()
        if city is None:
            raise CommandError(f"no city {options['city']!r}")
        actor = Actor.system("allowed_networks")
        with schema_context(city.schema_name):
            try:
                if options["add"]:
                    network_add(cidr=options["add"], label=options["label"] or options["add"], actor=actor)
                if options["remove"]:
                    # Read, not validated: a range saved before broad ranges were refused must stay removable.
                    try:
                        cidr = str(parse_network(options["remove"]))
                    except ValueError as exc:
                        raise CommandError(f"{options['remove']!r} is not an address range") from exc
                    network = AllowedNetwork.objects.filter(cidr=cidr).first()
                    if network is None:
                        raise CommandError(f"{cidr} is not in the list")
                    network_remove(network_id=network.pk, actor=actor)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            for network in AllowedNetwork.objects.all():
                self.stdout.write(f"{network.cidr}\t{network.label}")
