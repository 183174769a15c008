"""Section 5 of `make bench`: the card-list import and the counter's search (issue 6, item 8).

(a) A generated 100,000-row card list is imported through the project's own code path for large files, in a
    subprocess of its own so its peak memory can be read: `services_import.import_upload`, then the tasks
    `validate_import` and (after `import_confirm`) `apply_import`, called as the worker would call them. Rows per
    second and peak RSS, beside a plain `COPY ... FROM STDIN (FORMAT csv)` of the same file into a scratch table
    with text columns and a unique notice number (the floor: bytes into PostgreSQL). Then the same file once more
    (every row unchanged: the idempotent re-import the preview promises).
(b) The counter's search over those 100,000 cards: `selectors.card_by_notice_number` (typed as staff type it:
    lower case, no hyphen, full width) and `selectors.cards_by_kana`, p50/p95, each beside the bare indexed query
    through a cursor, alternating, in the same process.

Run by bench/run.py (full run, or `--part issuance`); `python -m bench.issuance --worker-import SCHEMA FILE`
(from the repository's root) is the subprocess of (a).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cards_data import generate_file
from bench.common import ROOT, percentile, table

# --- (a) the import, in a subprocess -------------------------------------------------------------------------


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker_import(schema: str, path: Path) -> dict[str, Any]:
    """Import `path` twice as a supervisor of `schema` would, through the tasks' code path; phases in seconds."""
    import django

    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"
    django.setup()
    from django.core.files.uploadedfile import UploadedFile
    from django_tenants.utils import schema_context

    from apps.issuance.imports import services as services_import
    from apps.issuance.imports import tasks as tasks_import
    from apps.issuance.models import ImportBatch
    from apps.security.actors import as_actor
    from apps.security.models import Role
    from apps.security.services import staff_user_ensure

    # The worker's tasks are called here directly, as the Celery worker calls them; nothing goes to a broker.
    for task in (tasks_import.validate_import, tasks_import.apply_import):
        task.delay = lambda *args, **kwargs: None  # type: ignore[method-assign,assignment]
    rss_before = _rss_mib()
    runs: list[dict[str, Any]] = []
    with schema_context(schema):
        user = staff_user_ensure(
            username="bench-supervisor",
            email="bench@example.jp",
            password=secrets.token_urlsafe(24),
            role=Role.SUPERVISOR,
        )
        for _run in range(2):
            phases: dict[str, float] = {}
            started = time.perf_counter()
            with path.open("rb") as handle:
                upload = UploadedFile(handle, name=path.name, size=path.stat().st_size)
                batch = services_import.import_upload(upload=upload, mapping_id=None, actor=as_actor(user))
            phases["upload"] = time.perf_counter() - started
            mark = time.perf_counter()
            status = tasks_import.validate_import(batch.pk)
            phases["validate"] = time.perf_counter() - mark
            assert status == "ready", ImportBatch.objects.get(pk=batch.pk).errors[:5]
            mark = time.perf_counter()
            services_import.import_confirm(batch_id=batch.pk, actor=as_actor(user))
            assert tasks_import.apply_import(batch.pk, user.pk) == "done"
            phases["apply"] = time.perf_counter() - mark
            phases["total"] = time.perf_counter() - started
            done = ImportBatch.objects.get(pk=batch.pk)
            runs.append(
                {
                    "phases": phases,
                    "new": done.rows_new,
                    "changed": done.rows_changed,
                    "unchanged": done.rows_unchanged,
                    "rss_peak": _rss_mib(),
                }
            )
    return {"rss_before": rss_before, "runs": runs}


def _copy_baseline(schema: str, path: Path, repeats: int) -> list[float]:
    from django.db import connection
    from django_tenants.utils import schema_context

    times: list[float] = []
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_card_copy (notice_number text PRIMARY KEY, name text, kana text, birth_date text, "
            "postal_code text, address text, delivery_batch text, delivery_date text, application_kind text, "
            "express text)"
        )
        for _ in range(repeats):
            cursor.execute("TRUNCATE bench_card_copy")
            started = time.perf_counter()
            with (
                cursor.copy("COPY bench_card_copy FROM STDIN (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as handle,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            times.append(time.perf_counter() - started)
        cursor.execute("DROP TABLE bench_card_copy")
    return times


# --- (b) the counter's search ----------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    ms: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(self.ms, q)


def _typed(number: str, n: int) -> str:
    """The number as staff type it: lower case, without the hyphen, in full width, or as printed."""
    variants = [
        number,
        number.lower(),
        number.replace("-", ""),
        number.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),
    ]
    return variants[n % len(variants)]


def _search(schema: str, samples: int) -> dict[str, Timing]:
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.issuance.cards.selectors import card_by_notice_number, cards_by_kana
    from apps.issuance.models import Card

    rng = random.Random(8)
    with schema_context(schema):
        total = Card.objects.count()
        picks = list(
            Card.objects.order_by("?").values_list("notice_number", "kana", "kana_key", "birth_date")[
                :samples
            ]
        )
        timings = {
            name: Timing(name)
            for name in ("number: selector", "number: bare", "kana: selector", "kana: bare")
        }

        def timed(name: str, call: Callable[[], Any]) -> None:
            started = time.perf_counter()
            call()
            timings[name].ms.append((time.perf_counter() - started) * 1000)

        columns = (
            "id, notice_number, name, kana, kana_key, birth_date, postal_code, address, delivery_batch, "
            "delivery_date, application_kind, express, state"
        )
        with connection.cursor() as cursor:
            for warm in picks[:50]:  # warm the connection, the plans and the cache
                card_by_notice_number(warm[0])
                list(cards_by_kana(kana=warm[1], birth_date=warm[3]))
            for n, (number, kana, key, birth) in enumerate(picks):
                typed = _typed(number, n)
                pairs: list[tuple[str, Callable[[], Any]]] = [
                    ("number: selector", lambda t=typed: card_by_notice_number(t)),  # type: ignore[misc]  # default-argument lambdas
                    (
                        "number: bare",
                        lambda nb=number: (  # type: ignore[misc]  # default-argument lambdas
                            cursor.execute(
                                f"SELECT {columns} FROM issuance_card WHERE notice_number = %s", [nb]
                            ),
                            cursor.fetchone(),
                        ),
                    ),
                    ("kana: selector", lambda k=kana, b=birth: list(cards_by_kana(kana=k, birth_date=b))),  # type: ignore[misc]  # default-argument lambdas
                    (
                        "kana: bare",
                        lambda k=key, b=birth: (  # type: ignore[misc]  # default-argument lambdas
                            cursor.execute(
                                f"SELECT {columns} FROM issuance_card WHERE kana_key = %s AND birth_date = %s "
                                "LIMIT 50",
                                [k, b],
                            ),
                            cursor.fetchall(),
                        ),
                    ),
                ]
                if rng.random() < 0.5:
                    pairs.reverse()
                for name, call in pairs:
                    timed(name, call)
            cursor.execute(
                "EXPLAIN SELECT id FROM issuance_card WHERE kana_key = %s AND birth_date = %s",
                [picks[0][2], picks[0][3]],
            )
            plan = " ".join(row[0] for row in cursor.fetchall())
    timings["_meta"] = Timing(
        f"{total} cards; kana plan: {'index' if 'Index' in plan else 'NOT index: ' + plan}"
    )
    return timings


# --- the section -----------------------------------------------------------------------------------------------


@dataclass
class IssuanceResult:
    rows: int
    file_mib: float
    copy_s: list[float]
    worker: dict[str, Any]
    search: dict[str, Timing]
    samples: int
    city: str


def bench_issuance(
    cities: Any, data_dir: Path, *, rows: int, samples: int, log: Callable[..., None]
) -> IssuanceResult:
    from django.db import connection

    from tenants.selectors import municipality_get_by_slug

    slug, _seconds = cities.create("clone")
    schema = municipality_get_by_slug(slug=slug).schema_name
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    path = data_dir / "bench-cards.csv"
    log(f"issuance: generating a {rows}-row card list", "issuance")
    generate_file(path, rows)
    log("issuance: plain COPY baseline", "issuance")
    copy_s = _copy_baseline(schema, path, repeats=3)
    connection.close()
    log("issuance: importing through the service (subprocess)", "issuance")
    done = subprocess.run(
        # As a module from the repository's root, so that it imports bench.common like every other part.
        [sys.executable, "-m", "bench.issuance", "--worker-import", schema, str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    worker = json.loads(done.stdout.strip().splitlines()[-1])
    log("issuance: counter search", "issuance")
    search = _search(schema, samples)
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    size = path.stat().st_size / (1024 * 1024)
    path.unlink()
    return IssuanceResult(rows, size, copy_s, worker, search, samples, slug)


def issuance_section(result: IssuanceResult, load_text: str, header: str = "") -> list[str]:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}×" if b > 0 else "n/a"

    copy = statistics.median(result.copy_s)
    first, again = result.worker["runs"]
    rss_before = result.worker["rss_before"]
    out = [
        "## 5. Card import and counter search (issuance)",
        "",
        *([header, ""] if header else []),
        f"A new city (`{result.city}`, cloned). **(a) Import**: a generated card list of {result.rows:,} rows "
        f"({result.file_mib:.1f} MiB, UTF-8, the documented columns) imported through the code path for large files "
        "(`services_import.import_upload`, then the Celery tasks `validate_import` and, after `import_confirm`, "
        "`apply_import`, called directly as the worker calls them) in a subprocess of its own, whose peak RSS "
        "(`ru_maxrss`) is read before and after. Baseline: `COPY ... FROM STDIN (FORMAT csv, HEADER true)` of the "
        "same file into a scratch table with ten text columns and a primary key on the notice number, median of 3. "
        "The second import is the same file again: every row compared and found unchanged, nothing written.",
        load_text,
        "",
    ]
    rows = []
    for label, run in (("first import (all new)", first), ("same file again (all unchanged)", again)):
        phases = run["phases"]
        rows.append(
            [
                label,
                f"{run['new']:,} / {run['changed']:,} / {run['unchanged']:,}",
                f"{phases['upload']:.1f}",
                f"{phases['validate']:.1f}",
                f"{phases['apply']:.1f}",
                f"{phases['total']:.1f}",
                f"{result.rows / phases['total']:,.0f}",
                ratio(phases["total"], copy),
            ]
        )
    rows.append(
        ["plain COPY (baseline)", "–", "–", "–", "–", f"{copy:.2f}", f"{result.rows / copy:,.0f}", "1.0×"]
    )
    out += table(
        [
            "",
            "new / changed / unchanged",
            "upload s",
            "validate s",
            "apply s",
            "total s",
            "rows/s",
            "time / COPY",
        ],
        rows,
    )
    out += [
        "",
        f"Peak memory of the import process: {first['rss_peak']:.0f} MiB after the first import, "
        f"{again['rss_peak']:.0f} MiB after the second, against {rss_before:.0f} MiB with Django loaded before "
        f"either (+{first['rss_peak'] - rss_before:.0f} MiB for {result.rows:,} rows: the file is streamed in "
        "chunks of 2,000 rows, new cards go in with COPY, their events with one INSERT ... SELECT).",
        "",
    ]
    search = result.search
    meta = search.pop("_meta").label
    out += [
        f"**(b) Counter search** over the city's {meta}. {result.samples} random cards, each looked up four ways "
        "in random order per card: `card_by_notice_number` with the number typed as staff type it (as printed, "
        "lower case, without the hyphen, full width, in turn) vs `SELECT ... WHERE notice_number = %s` through a "
        "cursor; `list(cards_by_kana(kana=, birth_date=))` vs `SELECT ... WHERE kana_key = %s AND birth_date = %s "
        "LIMIT 50`. Milliseconds in one process and connection; ratios selector / bare.",
        "",
    ]
    rows = []
    for kind in ("number", "kana"):
        selector, bare = search[f"{kind}: selector"], search[f"{kind}: bare"]
        rows.append(
            [
                {"number": "by notice number", "kana": "by kana + date of birth"}[kind],
                f"{selector.p(0.5):.3f}",
                f"{selector.p(0.95):.3f}",
                f"{bare.p(0.5):.3f}",
                f"{bare.p(0.95):.3f}",
                ratio(selector.p(0.5), bare.p(0.5)),
                ratio(selector.p(0.95), bare.p(0.95)),
            ]
        )
    out += table(
        ["search", "selector p50", "selector p95", "bare p50", "bare p95", "p50 ratio", "p95 ratio"], rows
    )
    out.append("")
    return out


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker-import", nargs=2, metavar=("SCHEMA", "FILE"), required=True)
    args = parser.parse_args(argv)
    schema, path = args.worker_import
    print(json.dumps(worker_import(schema, Path(path))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
