"""`make bench PART=scale` (bench/scale.py): its arithmetic and its section, from made-up figures (no database)."""

from bench.run import parse_args
from bench.scale import (
    HEADING,
    JAPAN_MUNICIPALITIES,
    Disk,
    Dump,
    Latency,
    Memory,
    ScaleResult,
    Worker,
    buckets,
    context_totals,
    lock_slots,
    max_locks_needed,
    parse_proc_status,
    scale_section,
    size,
    tasks_succeeded,
)
from bench.scale_results import BatchDump

MIB = 1024 * 1024


def test_the_part_provisions_every_japanese_municipality_by_default() -> None:
    args = parse_args(["--part", "scale"])
    assert args.scale_cities == JAPAN_MUNICIPALITIES == 1741
    assert parse_args(["--part", "scale", "--scale-cities", "60"]).scale_cities == 60


def test_catalog_caches_are_cache_memory_context_and_its_children() -> None:
    rows = [
        ("TopMemoryContext", None, 100),
        ("CacheMemoryContext", "TopMemoryContext", 1000),
        ("index info", "CacheMemoryContext", 20),
        ("index info", "CacheMemoryContext", 30),
        ("MessageContext", "TopMemoryContext", 7),
    ]
    assert context_totals(rows) == (1157, 1050)


def test_proc_status_sizes_are_read_in_bytes() -> None:
    text = "Name:\tpostgres\nVmRSS:\t  2048 kB\nRssAnon:\t   512 kB\nThreads:\t1\n"
    assert parse_proc_status(text) == {"VmRSS": 2048 * 1024, "RssAnon": 512 * 1024}


def test_max_locks_per_transaction_for_a_whole_dump() -> None:
    assert lock_slots(64, 100, 0) == 6400
    # 1,741 cities x 44 tables, plus public's: far beyond 6,400 slots.
    tables = 1741 * 44 + 40
    needed = max_locks_needed(tables, 100, 0)
    assert needed % 64 == 0
    assert lock_slots(needed, 100, 0) >= tables * 1.25
    assert lock_slots(needed - 64, 100, 0) < tables * 1.25
    assert max_locks_needed(500, 100, 0) == 64  # never below PostgreSQL's default


def test_fill_times_are_grouped_by_cities_present() -> None:
    points = [(n, float(n)) for n in range(0, 100)]
    grouped = buckets(points, count=4)
    assert [(start, end) for start, end, _ in grouped] == [(0, 24), (25, 49), (50, 74), (75, 99)]
    assert sum(len(values) for _, _, values in grouped) == 100
    assert buckets([]) == []


def test_worker_log_counts_only_the_fanned_out_task() -> None:
    log = (
        "Task apps.booking.tasks.send_reminders[0b6f-12] succeeded in 0.01s: {}\n"
        "Task apps.security.tasks.prune_counters[aa-1] succeeded in 0.01s: 0\n"
        "Task apps.booking.tasks.send_reminders[c3-4] succeeded in 0.02s: {}\n"
        "Task apps.booking.tasks.send_reminders[c3-5] raised unexpected: ValueError()\n"
        # An id with 12 digits in a row, as the logs' 個人番号 mask leaves it (seen at 1,741 cities: 3 of them).
        "Task apps.booking.tasks.send_reminders[30e446b[個人番号]e-060721f5ebc9] succeeded in 0.02s: {}\n"
    )
    assert tasks_succeeded(log, "apps.booking.tasks.send_reminders") == 3


def test_sizes_read_as_people_write_them() -> None:
    assert size(512 * 1024) == "512 KiB"
    assert size(2.5 * MIB) == "2.5 MiB"
    assert size(300 * MIB) == "300 MiB"
    assert size(20 * 1024 * MIB) == "20.0 GiB"


def _disk(cities: int, scale: int) -> Disk:
    return Disk(
        cities=cities,
        database=(10 + 3 * scale) * MIB,
        schemas={
            "public": MIB,
            "city_template": 2 * MIB,
            **{f"bench{i}": 2 * MIB for i in range(1, scale + 1)},
        },
        catalog=dict.fromkeys(("pg_class", "pg_attribute"), (1000 + 270 * scale, (1 + scale) * MIB))
        | dict.fromkeys(
            (
                "pg_attrdef",
                "pg_constraint",
                "pg_depend",
                "pg_index",
                "pg_type",
                "pg_namespace",
                "pg_statistic",
            ),
            (10, MIB),
        ),
    )


def _result(creation: list[float], dump_ok: bool) -> ScaleResult:
    result = ScaleResult(target=3, first="bench1", last="bench3")
    result.settings = {
        "max_connections": "100",
        "max_locks_per_transaction": "64",
        "max_prepared_transactions": "0",
    }
    result.before, result.after = _disk(0, 0), _disk(3, 3)
    result.relations_per_city = {"tables": 44, "indexes": 152}
    result.tables_per_city = 44
    result.fill = [(0, 0.4), (1, 0.5), (2, 0.6)]
    result.creation = creation
    result.pending_check = [0.01]
    result.deploy = [(0.5, 2.0, "skipped 4 of 4 schemas")]
    result.memory = [
        Memory(0, 0, 0.0, 2 * MIB, MIB, 4 * MIB, 50 * MIB),
        Memory(3, 132, 0.1, 5 * MIB, 4 * MIB, 7 * MIB, 60 * MIB),
    ]
    result.worker = Worker(2, 3, 0.1, 3, 1.5, 300 * MIB, 310 * MIB, [4 * MIB], broker="Redis")
    result.dumps = [
        Dump(
            "whole database",
            3,
            172,
            1.0,
            dump_ok,
            MIB if dump_ok else 0,
            ""
            if dump_ok
            else "ERROR: out of shared memory HINT: You might need to increase max_locks_per_transaction.",
        )
    ]
    result.latency = [
        Latency(
            "/", "resident", [10.0, 10.0, 20.0], [11.0, 11.0, 30.0], {"first": {200: 3}, "last": {200: 3}}
        )
    ]
    return result


def test_section_reports_targets_and_a_failed_dump() -> None:
    text = "\n".join(scale_section(_result([0.5, 0.7, 1.4], dump_ok=False)))
    assert text.startswith(HEADING)
    assert "target < 1 s: **missed**" in text  # the slowest sample is over the target
    assert "target ≤ 60 s: **met**" in text
    assert "**failed**" in text
    assert "out of shared memory" in text
    assert "**max_locks_per_transaction = 64**" in text  # 172 tables fit the default
    assert "| `/` (resident) | 10.0 / 20.0 | 11.0 / 30.0 | 1.10× |" in text
    assert "\n## " not in text  # one section: splicing stops at the next "## " heading


def test_section_met_targets() -> None:
    text = "\n".join(scale_section(_result([0.5, 0.6], dump_ok=True)))
    assert "target < 1 s: **met**" in text
    assert "from a spare" not in text  # no pool samples: no line about them


def test_section_compares_the_clone_with_a_spare_of_the_pool() -> None:
    result = _result([2.0, 2.1], dump_ok=True)
    result.creation_spare, result.refill = [0.1, 0.12], [2.0, 2.2]
    text = "\n".join(scale_section(result))
    assert "target < 1 s: **missed**" in text  # the clone
    assert "median **0.11 s**, max 0.12 s (the clone above takes 19× as long); target < 1 s: **met**" in text
    assert "refill (one clone of a spare) took median 2.10 s" in text
    assert "| ok |" in text


def test_section_times_the_nightly_batches_against_city_by_city_dumps() -> None:
    result = _result([0.5], dump_ok=True)
    result.dumps.append(Dump("one city (`pg_dump -n bench1`)", 1741, 0, 100.0, True, MIB))
    result.batch = BatchDump(cities=37, batches=48, seconds=110.0, bytes=37 * MIB)
    text = "\n".join(scale_section(result))
    # 110 s a batch of 37 is 2.97 s a city; 48 batches are 88 min; 1,741 single dumps of 100 s are 48.4 h.
    assert "One batch of 37 cities took **110.0 s** (2.97 s a city, 37 MiB)" in text
    assert "the night takes about **88 min**" in text
    assert "the 1,741 cities would take 48.4 h: 34× a batch's cost per city" in text


def test_section_names_a_failed_batch() -> None:
    result = _result([0.5], dump_ok=True)
    result.batch = BatchDump(
        cities=37, batches=48, seconds=1.0, bytes=0, error="pg_dump: out of shared memory"
    )
    assert "batch of 37 cities **failed**: `pg_dump: out of shared memory`" in "\n".join(
        scale_section(result)
    )
