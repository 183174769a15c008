"""manage.py city_offboard ageo --confirm ageo: the last step of offboarding a city (docs/operations.md, "Cities").

Refuses unless the city is suspended or offboarding (stopped either way) and `--confirm` repeats its identifier. Then, in this order, stopping at the
first failure with nothing deleted:
1. a final export of the city alone (one `pg_dump -n`, manifest with per-table row counts and checksums) into
   BACKUP_DIR/offboarded/<run>/<city>.dump: no retention touches it, it stays until the contract's retention period
   ends and an operator removes it (its earlier nightly dumps share batch archives with other cities and go with
   them by the nightly retention);
2. that dump restored into a scratch database and compared with its manifest (the restore check's own steps);
3. the schema, its hosts and the city's row deleted in one transaction (`tenants.services.municipality_delete`), and
   an audit event in the vendor's (public) log.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.security.actors import Actor
from apps.security.audit import audit_record
from madoguchi.backups import BackupError, export_city
from madoguchi.restore import check_dumps
from tenants.db import use_public_schema
from tenants.models import Municipality
from tenants.services import OFFBOARDABLE, municipality_delete


class Command(BaseCommand):
    help = "Delete a suspended or offboarding city after a final dump that restores (irreversible: --confirm <slug>)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the city's identifier, e.g. ageo")
        parser.add_argument("--confirm", required=True, help="the identifier again")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        if options["confirm"] != slug:
            raise CommandError("--confirm must repeat the city's identifier")
        municipality = Municipality.objects.exclude(schema_name="public").filter(slug=slug).first()
        if municipality is None:
            raise CommandError(f"no city {slug!r}")
        if municipality.status not in OFFBOARDABLE:
            raise CommandError(
                f"{slug} is {municipality.status}: only a suspended or offboarding city is deleted; mark it "
                f"offboarding first (manage.py city_status {slug} offboarding, or the console's city page)"
            )
        try:
            dumped = export_city(municipality)
            self.stdout.write(
                f"final dump: {dumped.archive} ({len(dumped.tables)} tables, {dumped.rows} rows)"
            )
            checks = check_dumps([dumped])
        except BackupError as exc:
            raise CommandError(f"final dump failed, nothing deleted: {exc}") from exc
        failed = [problem for check in checks for problem in check.problems]
        if failed or not checks:
            raise CommandError(
                "the final dump did not restore as dumped, nothing deleted: " + "; ".join(failed)
            )
        self.stdout.write(f"restore check: ok ({checks[0].tables} tables, {checks[0].rows} rows)")
        try:
            municipality_delete(municipality=municipality)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        use_public_schema()
        audit_record(
            action="city.offboarded",
            actor=Actor.system("city_offboard"),
            target=f"municipality:{slug}",
            summary=f"{municipality.name_ja} ({slug}) deleted after its final dump {dumped.label}",
            after={"final_dump": dumped.label, "tables": len(dumped.tables), "rows": dumped.rows},
        )
        self.stdout.write(
            self.style.SUCCESS(f"{slug} deleted; its final dump stays in {dumped.archive.parent}")
        )
