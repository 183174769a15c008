"""Sections 1 and 2 of `make bench` (part `tenancy`): what a city costs the platform.

1. City creation through the provisioning service, clone vs full migration, with 10 and with 200 cities present
   (the catalog statistics as found and just analyzed), the clone time while filling up, and whether a cloned
   city is the same as a migrated one (bench/schemas.py).
2. A no-op deploy (`migrate_schemas` with every schema up to date) with the project's executor vs the stock and the
   django-tenants-smart-executor ones, each in its own process (`bench/run.py --worker-deploy VARIANT`), and the
   check that skipping up-to-date schemas does not skip a pending migration.

`Cities` creates the numbered cities (`benchN`) every part uses, as the console would.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import CITY_HOST_SUFFIX, PYTHON, ROOT, django_setup, load_now, log
from bench.schemas import compare_schemas
from tenants.catalog import CLONE_CATALOG

DEPLOY_VARIANTS = {
    "ours": "project: tenants.migration.get_executor (skip up-to-date, multiprocessing)",
    "smart:multiprocessing": "django-tenants-smart-executor, multiprocessing",
    "smart:standard": "django-tenants-smart-executor, standard",
    "stock:multiprocessing": "django-tenants stock, multiprocessing",
    "stock:standard": "django-tenants stock, standard",
}


STOCK_DEPLOY_ROUNDS = 2  # at most; they take ~0.1 s per city each

# --- 1. city creation ------------------------------------------------------------------------------------------


@dataclass
class CreationPoint:
    label: str
    existing: int
    load: float = 0.0  # 1-minute load average when the row was done
    times: dict[str, list[float]] = field(default_factory=lambda: {"clone": [], "migrate": []})


@dataclass
class CreationResult:
    points: list[CreationPoint]  # small and large, each as found and after analyze_catalog()
    analyze_seconds: list[float]  # what analyze_catalog() cost, at each size
    fill: list[tuple[int, float]]  # (cities existing before, seconds) for every clone while filling up
    autoanalyzed_at: list[int]  # cities present when autovacuum had just analyzed the catalog during the fill
    comparison: list[tuple[str, str, str, str]]  # (aspect, clone, migrate, verdict)


# The catalog tables a clone reads most (provisioning analyzes the same ones); their statistics decide how fast it
# is (see the fill curve).
CATALOG_TABLES = CLONE_CATALOG


def analyze_catalog() -> float:
    """Refresh the planner statistics of the catalog tables a clone reads; returns the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for name in CATALOG_TABLES:
            cursor.execute(f"ANALYZE pg_catalog.{name}")
    return time.perf_counter() - started


def catalog_autoanalyze_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(autoanalyze_count), 0) FROM pg_stat_sys_tables WHERE relname = ANY(%s)",
            [list(CATALOG_TABLES)],
        )
        return int(cursor.fetchone()[0])


def fresh_connection() -> None:
    """Start from a new database session, as each console request does (CONN_MAX_AGE is 0).

    A session that has created many schemas carries a large relation cache, and every catalog invalidation makes
    it rebuild that cache: within one long session creation slows down with each city it made (an artefact of a
    bulk loop, not of the number of cities). Connecting is done before the clock starts.
    """
    from django.db import connection

    connection.close()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


class Cities:
    """Creates numbered cities through the provisioning service, as the console would."""

    def __init__(self) -> None:
        self.serial = 0

    def count(self) -> int:
        from tenants.selectors import municipality_list

        return municipality_list().count()

    def create(self, mode: str) -> tuple[str, float]:
        from django.conf import settings
        from django.db import connection
        from django.test import override_settings

        from tenants.services import MunicipalityInput, municipality_create

        self.serial += 1
        slug = f"bench{self.serial}"
        data = MunicipalityInput(
            slug=slug,
            lg_code=f"{100000 + self.serial:06d}",
            name_ja=f"ベンチ市{self.serial}",
            name_en=f"Bench City {self.serial}",
            prefecture="埼玉県",
        )
        fresh_connection()
        with override_settings(TENANT_CREATION=mode):
            assert mode == settings.TENANT_CREATION
            started = time.perf_counter()
            municipality_create(data=data, domains=[slug + CITY_HOST_SUFFIX])
            elapsed = time.perf_counter() - started
        connection.set_schema_to_public()
        return slug, elapsed

    @staticmethod
    def delete(slug: str) -> None:
        from django.db import connection

        from tenants.selectors import municipality_get_by_slug

        connection.set_schema_to_public()
        municipality_get_by_slug(slug=slug).delete()

    def fill_to(
        self, target: int, record: list[tuple[int, float]] | None = None, analyzed: list[int] | None = None
    ) -> None:
        existing = self.count()
        analyses = catalog_autoanalyze_count()
        for _ in range(max(0, target - existing)):  # bounded: one creation per missing city
            _slug, elapsed = self.create("clone")
            if record is not None:
                record.append((existing, elapsed))
            existing += 1
            if analyzed is not None and (now := catalog_autoanalyze_count()) != analyses:
                analyzed.append(existing)
                analyses = now


def measure_point(
    cities: Cities, label: str, samples: int, inspect: Callable[[str, str], None] | None = None
) -> CreationPoint:
    """Create `samples` cities each way, alternating, each with exactly the same number of cities present.

    Each measured city is deleted right after, so the count (and what a clone must scan) stays put.
    """
    point = CreationPoint(label=label, existing=cities.count())
    for index in range(samples):
        order = ("clone", "migrate") if index % 2 == 0 else ("migrate", "clone")
        made: dict[str, str] = {}
        for mode in order:
            slug, elapsed = cities.create(mode)
            point.times[mode].append(elapsed)
            made[mode] = slug
        if inspect is not None and index == 0:
            inspect(made["clone"], made["migrate"])
        for slug in made.values():
            cities.delete(slug)
    point.load = load_now()
    return point


def bench_creation(cities: Cities, target: int, small: int, samples: int) -> CreationResult:
    comparison: list[tuple[str, str, str, str]] = []

    def inspect(cloned: str, migrated: str) -> None:
        comparison.extend(compare_schemas(cloned, migrated))

    log("creating the first cities (warm-up: one of each mode)", "creation")
    cities.fill_to(1)  # HTTP_CITY
    for mode in ("migrate", "clone"):
        cities.delete(cities.create(mode)[0])
    cities.fill_to(small)
    points: list[CreationPoint] = []
    analyze_seconds: list[float] = []
    fill: list[tuple[int, float]] = []
    analyzed: list[int] = []
    for size in (small, target):
        if size == target:
            log(f"filling up to {target} cities (clone)", "creation")
            cities.fill_to(target, fill, analyzed)
        # "As found" is whatever state the catalog statistics are in (autovacuum's timing decides); then the
        # same after analyzing the catalog, which is what a clone's speed depends on.
        log(
            f"measuring creation with {cities.count()} cities present ({samples} each way), as found",
            "creation",
        )
        points.append(measure_point(cities, "as found", samples, inspect if size == small else None))
        analyze_seconds.append(analyze_catalog())
        log(
            f"measuring creation with {cities.count()} cities present ({samples} each way), catalog analyzed",
            "creation",
        )
        points.append(measure_point(cities, "catalog analyzed just before", samples))
    return CreationResult(
        points=points,
        analyze_seconds=analyze_seconds,
        fill=fill,
        autoanalyzed_at=analyzed,
        comparison=comparison,
    )


# --- 2. no-op deploy migration -------------------------------------------------------------------------------


@dataclass
class DeployRun:
    variant: str
    seconds: float  # migrate_schemas itself, inside the process
    wall: float  # the whole process, Django start-up included
    note: str


def worker_deploy(variant: str) -> None:
    """Subprocess: run the deploy command with one executor and print its timing as JSON."""
    django_setup()
    from django.core.management import call_command
    from django_tenants.management.commands import migrate_schemas

    family, _, codename = variant.partition(":")
    if family == "stock":
        from django_tenants.migration_executors import get_executor

        migrate_schemas.GET_EXECUTOR_FUNCTION = get_executor  # type: ignore[attr-defined]
    elif family == "smart":
        from django_tenants_smart_executor import load_executor

        migrate_schemas.GET_EXECUTOR_FUNCTION = load_executor  # type: ignore[attr-defined]
    elif family != "ours":
        raise SystemExit(f"unknown variant {variant}")
    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0, executor=codename or None)
    print(json.dumps({"seconds": time.perf_counter() - started}))


def run_deploy(variant: str, log_dir: Path) -> DeployRun:
    started = time.perf_counter()
    stderr_path = log_dir / f"deploy-{variant.replace(':', '-')}.log"
    with stderr_path.open("w") as stderr:
        done = subprocess.run(
            [PYTHON, str(ROOT / "bench" / "run.py"), "--worker-deploy", variant],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=900,
            check=False,
        )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"deploy {variant} failed:\n{stderr_path.read_text()[-4000:]}")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    text = stderr_path.read_text()
    note = ""
    if skipped := re.findall(r"(\d+) of (\d+) schemas already up to date", text):
        note = f"skipped {skipped[-1][0]} of {skipped[-1][1]} schemas"
    elif variant.startswith("smart"):
        note = f"{text.count('No migrations needed')} 'No migrations needed' warnings"
    return DeployRun(variant=variant, seconds=seconds, wall=wall, note=note)


def bench_deploy(log_dir: Path, repeats: int) -> dict[str, list[DeployRun]]:
    runs: dict[str, list[DeployRun]] = {variant: [] for variant in DEPLOY_VARIANTS}
    for round_ in range(repeats):
        # Rotate the order each round so no executor always runs first (cold caches) or last.
        order = list(DEPLOY_VARIANTS)
        order = order[round_ % len(order) :] + order[: round_ % len(order)]
        for variant in order:
            if variant.startswith("stock") and round_ >= STOCK_DEPLOY_ROUNDS:
                continue  # the stock executors take most of the run; their spread is small next to the ratio
            log(f"deploy round {round_ + 1}/{repeats}: {variant}", "deploy")
            runs[variant].append(run_deploy(variant, log_dir))
    return runs


@dataclass
class PendingCheck:
    schema: str
    removed: str
    restored: bool
    pending_after: list[str]
    run: DeployRun


def check_pending_is_migrated(log_dir: Path) -> PendingCheck:
    """The skip must not skip too much: make one city lack a migration and check that ours applies it.

    console.0001_initial is a shared-only migration nothing depends on, so in a city schema re-applying it is a
    recorded no-op: a safe stand-in for a pending migration.
    """
    from django.db import connection
    from psycopg import sql

    from tenants.migration import schemas_with_pending_migrations
    from tenants.selectors import municipality_list

    connection.set_schema_to_public()
    schema = municipality_list().order_by("pk").values_list("schema_name", flat=True)[1]
    table = sql.SQL("{}.django_migrations").format(sql.Identifier(schema))
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE app = 'console' AND name = '0001_initial'")
            .format(table)
            .as_string(cursor.connection)
        )
    before = schemas_with_pending_migrations([schema])
    connection.close()
    run = run_deploy("ours", log_dir)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE app = 'console' AND name = '0001_initial'")
            .format(table)
            .as_string(cursor.connection)
        )
        restored = cursor.fetchone()[0] == 1 and before == [schema]
    every = list(municipality_list().values_list("schema_name", flat=True))
    return PendingCheck(
        schema=schema,
        removed="console.0001_initial",
        restored=restored,
        pending_after=schemas_with_pending_migrations(every),
        run=run,
    )
