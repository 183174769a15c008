"""Section 7's text (bench/scale.py): the report's lines from a ScaleResult."""

from bench.common import (
    load_text,
    median,
    percentile,
    table,
)
from bench.scale_results import (
    CATALOG,
    CREATION_TARGET_S,
    DEPLOY_TARGET_S,
    FANOUT_TASK,
    HEADING,
    JAPAN_MUNICIPALITIES,
    BatchDump,
    Dump,
    ScaleResult,
    buckets,
    lock_slots,
    max_locks_needed,
    size,
)

# --- the section ----------------------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def scale_section(result: ScaleResult, header: str = "") -> list[str]:
    """Section 7's lines."""
    assert result.before is not None
    assert result.after is not None
    before, after = result.before, result.after
    added = max(1, after.cities - before.cities)
    s = result.settings
    city_sizes = [bytes_ for name, bytes_ in after.schemas.items() if name.startswith("bench")]
    out = [
        f"{HEADING}: {after.cities:,} cities in one database",
        "",
        *([header, ""] if header else []),
        *(
            [
                f"**The fill stopped at its time budget (`--scale-fill-minutes`): {after.cities:,} of "
                f"{result.target:,} cities.** Every figure below is at {after.cities:,} cities; docs/scale.md "
                "extrapolates per city.",
                "",
            ]
            if after.cities < result.target
            else []
        ),
        f"{after.cities:,} city schemas (Japan has {JAPAN_MUNICIPALITIES:,} municipalities), each created as the "
        "console does (`municipality_create`, a clone of `city_template`, a new database session each), on "
        f"PostgreSQL {s.get('server_version', '?')} (max_connections {s.get('max_connections', '?')}, "
        f"max_locks_per_transaction {s.get('max_locks_per_transaction', '?')}, shared_buffers "
        f"{s.get('shared_buffers', '?')}, autovacuum {s.get('autovacuum', '?')}). Filling took "
        f"{result.fill_seconds / 60:.1f} min; `catalog_analyze_if_stale` analyzed the catalog "
        f"{result.analyzed_during_fill} times on the way. One city: "
        + ", ".join(f"{count} {kind}" for kind, count in result.relations_per_city.items())
        + ".",
        "",
    ]
    for section in (
        "scale-fill",
        "scale-create",
        "scale-deploy",
        "scale-memory",
        "scale-worker",
        "scale-latency",
    ):
        if text := load_text(section):
            out.append(f"{section.removeprefix('scale-')}: {text}")
    out += ["", "### Disk", ""]
    rows = [
        [
            "database (pg_database_size)",
            size(before.database),
            size(after.database),
            size((after.database - before.database) / added),
        ],
        [
            "one city's schema (tables, indexes, TOAST, sequences; median)",
            "",
            size(median(city_sizes)) if city_sizes else "n/a",
            "",
        ],
        ["`city_template`", "", size(after.schemas.get("city_template", 0)), ""],
        ["`public`", size(before.schemas.get("public", 0)), size(after.schemas.get("public", 0)), ""],
    ]
    for name in CATALOG:
        rows_before, bytes_before = before.catalog[name]
        rows_after, bytes_after = after.catalog[name]
        rows.append(
            [
                f"`{name}`: rows / bytes",
                f"{rows_before:,} / {size(bytes_before)}",
                f"{rows_after:,} / {size(bytes_after)}",
                f"{(rows_after - rows_before) / added:.0f} / {size((bytes_after - bytes_before) / added)}",
            ]
        )
    out += table(["", f"{before.cities} cities", f"{after.cities:,} cities", "per city added"], rows)
    out += [
        "",
        "The catalog bytes include their indexes; dead rows from the bench's create-and-delete samples are in "
        "them (autovacuum as configured above).",
        "",
        "### Creating a city",
        "",
    ]
    c = result.creation
    out += [
        f"One more city with {after.cities:,} present, {len(c)} samples, each deleted right after: median "
        f"**{median(c):.2f} s**, max {max(c):.2f} s; target < {CREATION_TARGET_S:.0f} s: "
        f"{_met(max(c) < CREATION_TARGET_S)}."
        if c
        else "No creation sample.",
        "",
    ]
    spare = result.creation_spare
    if spare:
        ratio = f" (the clone above takes {median(c) / median(spare):.0f}× as long)" if c else ""
        out += [
            f"The same, from a spare of the warm pool (`tenants/pool.py`: `ALTER SCHEMA ... RENAME TO`, the rows "
            f"and each app's defaults), {len(spare)} samples in the same run: median **{median(spare):.2f} s**, max "
            f"{max(spare):.2f} s{ratio}; target < {CREATION_TARGET_S:.0f} s: "
            f"{_met(max(spare) < CREATION_TARGET_S)}. The pool's background refill (one clone of a spare) took "
            f"median {median(result.refill):.2f} s."
            if result.refill
            else "",
            "",
        ]
    if result.slowest_sql:
        out += [
            "The slowest statements of the slowest sample:",
            "",
            *table(
                ["s", "statement (start)"],
                [[f"{seconds:.3f}", f"`{text.replace('|', '/')}`"] for seconds, text in result.slowest_sql],
            ),
            "",
        ]
    fill_rows = [
        [
            f"{start:,}–{end:,}",
            str(len(values)),
            f"{median(values):.3f}",
            f"{percentile(values, 0.95):.3f}",
            f"{max(values):.3f}",
        ]
        for start, end, values in buckets(result.fill)
    ]
    out += [
        "Clone time while filling (cities present before each creation):",
        "",
        *table(["cities present", "clones", "median s", "p95 s", "max s"], fill_rows),
        "",
        "### No-op deploy",
        "",
    ]
    if result.deploy:
        seconds = [run[0] for run in result.deploy]
        out += [
            f"`migrate_schemas` with the project's executor (`tenants.migration.get_executor`) over {after.cities:,} "
            f"cities, every schema up to date, {len(seconds)} runs each in its own process: median "
            f"**{median(seconds):.2f} s** inside the command ({median(seconds) / after.cities * 1000:.2f} ms per "
            f"city), process {median([run[1] for run in result.deploy]):.2f} s with start-up; {result.deploy[-1][2]}; "
            f"target ≤ {DEPLOY_TARGET_S:.0f} s: {_met(max(seconds) <= DEPLOY_TARGET_S)}. The pending-migration "
            f"check alone (one query over every schema's django_migrations, what /readyz runs until it first "
            f"passes): median {median(result.pending_check):.2f} s.",
            "",
        ]
    out += ["### Database backend memory (per connection)", ""]
    mem_rows = []
    for point in result.memory:
        mem_rows.append(
            [
                f"{point.touched:,}" + (" (new session)" if point.touched == 0 else ""),
                f"{point.relations:,}",
                size(point.cache),
                size(point.contexts),
                size(point.rss_anon),
                size(point.rss),
                f"{point.seconds:.1f}",
            ]
        )
    out += table(
        [
            "cities touched",
            "tables opened",
            "catalog caches (CacheMemoryContext)",
            "all memory contexts",
            "RssAnon",
            "VmRSS",
            "s to touch",
        ],
        mem_rows,
    )
    if len(result.memory) >= 2 and result.memory[-1].touched:
        last, zero = result.memory[-1], result.memory[0]
        out += [
            "",
            f"One session opened every table of each city (`SELECT * FROM <table> LIMIT 0`: parsing and planning "
            f"open the table and its indexes, as any query does). Per city touched: "
            f"{size((last.cache - zero.cache) / last.touched)} of catalog caches, "
            f"{size((last.rss_anon - zero.rss_anon) / last.touched)} of private memory (RssAnon). PostgreSQL never "
            "shrinks these caches during a session: a pooled connection (PgBouncer, CONN_MAX_AGE) that serves every "
            "city ends up at the last row; a new session starts at the first.",
        ]
    out += ["", "### Celery worker and fan-out", ""]
    w = result.worker
    if w is not None:
        out += [
            f"`celery worker -c {w.concurrency}` (prefork), "
            + (
                "Redis as the broker (an empty database of the local Redis, as in production)"
                if w.broker == "Redis"
                else "the filesystem broker (no Redis: it polls once a second, so a few tasks/s at most)"
            )
            + f", the reminder scan `{FANOUT_TASK}` fanned out with `tenants.fanout.for_each_city` as beat "
            f"does: {w.sent:,} tasks sent in {w.send_seconds:.1f} s (beat's side), {w.done:,} done "
            f"**{w.seconds:.0f} s** after the first was sent ({w.done / w.seconds if w.seconds else 0:.0f} "
            f"tasks/s). Worker RSS (main process and its children): {size(w.rss_before)} ready, "
            f"**{size(w.rss_after)}** after the fan-out. Its database backends afterwards (RssAnon each): "
            + (", ".join(size(b) for b in w.backends) or "none open")
            + "."
            + (f" **{w.error}**." if w.error else ""),
            "",
        ]
    out += [*(f"- {error}" for error in result.errors), "", "### pg_dump", ""]
    slots = lock_slots(
        int(s.get("max_locks_per_transaction", 64)),
        int(s.get("max_connections", 100)),
        int(s.get("max_prepared_transactions", 0)),
    )
    out += table(
        ["dump", "cities", "tables locked", "s", "custom format, -Z 1", "result"],
        [
            [
                d.label,
                f"{d.cities:,}",
                f"{d.tables:,}" if d.tables else "one schema's",
                f"{d.seconds:.1f}",
                size(d.bytes) if d.ok else "",
                "ok" if d.ok else f"**failed**: `{d.error[:300]}`",
            ]
            for d in result.dumps
        ],
    )
    whole = [d for d in result.dumps if d.tables]
    if whole:
        tables = whole[-1].tables
        needed = max_locks_needed(
            tables, int(s.get("max_connections", 100)), int(s.get("max_prepared_transactions", 0))
        )
        out += [
            "",
            f"A whole-database pg_dump holds an AccessShareLock on every table in one transaction: {tables:,} "
            f"tables at {after.cities:,} cities ({result.tables_per_city} per city). The shared lock table has "
            f"max_locks_per_transaction × (max_connections + max_prepared_transactions) = {slots:,} slots here; "
            f"with max_connections {s.get('max_connections', '?')}, **max_locks_per_transaction = {needed}** "
            "fits this dump with a quarter to spare (a restart is needed to change it; docs/scale.md).",
        ]
    if result.batch is not None:
        out += ["", *batch_lines(result.batch, result.dumps)]
    out += ["", "### Request latency: the first and the last city", ""]
    lat_rows = []
    for row in result.latency:
        lat_rows.append(
            [
                f"`{row.path}` ({row.label})",
                f"{median(row.first_ms):.1f} / {percentile(row.first_ms, 0.95):.1f}",
                f"{median(row.last_ms):.1f} / {percentile(row.last_ms, 0.95):.1f}",
                f"{median(row.last_ms) / median(row.first_ms):.2f}×" if row.first_ms else "n/a",
                "; ".join(
                    f"{which} " + ", ".join(f"{code}×{n}" for code, n in sorted(counts.items()))
                    for which, counts in row.statuses.items()
                ),
            ]
        )
    if result.latency:
        out += [
            f"gunicorn (2 sync workers, production settings) on 127.0.0.1, `{result.first}` (created first) and "
            f"`{result.last}` (created last) alternating, {len(result.latency[0].first_ms)} requests each after a "
            "warm-up, a new connection each. Milliseconds, client side.",
            "",
            *table(
                ["page", "first p50 / p95", "last p50 / p95", "last / first (p50)", "HTTP status"], lat_rows
            ),
        ]
    return [*out, ""]


def batch_lines(batch: BatchDump, dumps: list[Dump]) -> list[str]:
    """The nightly per-city dumps as `city_dump` runs them: one batch timed, the night estimated from it."""
    if batch.error:
        return [f"The nightly run's batch of {batch.cities} cities **failed**: `{batch.error}`."]
    single = [d.seconds for d in dumps if d.ok and not d.tables]
    per_city = batch.seconds / max(1, batch.cities)
    lines = [
        f"**The nightly run** (`manage.py city_dump`) dumps cities in batches, one `pg_dump -n a -n b ...` and the "
        f"per-city manifests each. One batch of {batch.cities:,} cities took **{batch.seconds:.1f} s** "
        f"({per_city:.2f} s a city, {size(batch.bytes)}); the planner makes {batch.batches:,} batches for every "
        f"city at this lock table, so the night takes about **{batch.night_seconds() / 60:.0f} min**."
    ]
    if single:
        one = median(single)
        every = max(d.cities for d in dumps)
        lines[-1] += (
            f" City by city (`pg_dump -n` once per city, {one:.1f} s each above) the {every:,} cities would take "
            f"{one * every / 3600:.1f} h: {one / per_city:.0f}× a batch's cost per city."
        )
    return lines
