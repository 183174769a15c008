"""Section 7 (bench/scale.py): its constants, the pure arithmetic (tested in tests/bench/test_scale.py) and the
result records the steps fill in."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

HEADING = "## 7. Scale"
SCALE_DATABASE = "madoguchi_scale"
JAPAN_MUNICIPALITIES = 1741  # 市町村 (792 cities, 743 towns, 183 villages) and the 23 special wards of Tokyo
CREATION_TARGET_S = 1.0
DEPLOY_TARGET_S = 60.0
MEMORY_POINTS = (1, 100)  # cities touched by one backend, besides all of them
CATALOG = (
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_depend",
    "pg_index",
    "pg_type",
    "pg_namespace",
    "pg_statistic",
)
LATENCY_PATHS = (("/", "resident: the city's home"), ("/accounts/login/", "staff: login"))
FANOUT_TASK = "apps.booking.tasks.send_reminders"
KIB = 1024
MIB = 1024 * 1024


# --- pure arithmetic (tested) ---------------------------------------------------------------------------------


def context_totals(rows: Sequence[tuple[str, str | None, int]]) -> tuple[int, int]:
    """(all memory contexts, the catalog caches) in bytes from pg_backend_memory_contexts rows (name, parent,
    total_bytes): the caches are CacheMemoryContext and the contexts directly under it (one per cached index, ...)."""
    total = sum(size for _name, _parent, size in rows)
    cache = sum(
        size for name, parent, size in rows if name == "CacheMemoryContext" or parent == "CacheMemoryContext"
    )
    return total, cache


def parse_proc_status(text: str) -> dict[str, int]:
    """VmRSS, RssAnon, ... of /proc/<pid>/status, in bytes."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * KIB
    return values


def lock_slots(max_locks: int, max_connections: int, max_prepared: int) -> int:
    """The shared lock table's size: max_locks_per_transaction x (max_connections + max_prepared_transactions)."""
    return max_locks * (max_connections + max_prepared)


def max_locks_needed(tables: int, max_connections: int, max_prepared: int, headroom: float = 1.25) -> int:
    """The max_locks_per_transaction a pg_dump of `tables` tables needs (one AccessShareLock per table, all held in
    one transaction), with headroom for the rest of the cluster's sessions, rounded up to a multiple of 64."""
    per_slot = math.ceil(tables * headroom / (max_connections + max_prepared))
    return max(64, 64 * math.ceil(per_slot / 64))


def buckets(points: Sequence[tuple[int, float]], count: int = 8) -> list[tuple[int, int, list[float]]]:
    """Group (cities present, seconds) into about `count` equal ranges of cities present: (first, last, values)."""
    if not points:
        return []
    low = min(existing for existing, _ in points)
    high = max(existing for existing, _ in points)
    width = max(1, math.ceil((high - low + 1) / count))
    grouped: dict[int, list[float]] = {}
    for existing, seconds in points:
        grouped.setdefault(low + (existing - low) // width * width, []).append(seconds)
    return [(start, min(start + width - 1, high), values) for start, values in sorted(grouped.items())]


# The id between the brackets is not matched closely: the logs mask any run of 12 digits (a 個人番号 must never
# reach a log), so a task id with 12 digits in a row reads "30e446b[個人番号]e-060721f5ebc9".
_SUCCEEDED = re.compile(r"Task (?P<name>[\w.]+)\[\S*?\] succeeded")


def tasks_succeeded(log_text: str, task: str) -> int:
    """How many runs of `task` a Celery worker's log reports as succeeded."""
    return sum(1 for match in _SUCCEEDED.finditer(log_text) if match["name"] == task)


def size(value: float) -> str:
    if value >= 10 * 1024 * MIB:
        return f"{value / 1024 / MIB:.1f} GiB"
    if value >= 10 * MIB:
        return f"{value / MIB:.0f} MiB"
    if value >= MIB:
        return f"{value / MIB:.1f} MiB"
    return f"{value / KIB:.0f} KiB"


# --- results --------------------------------------------------------------------------------------------------


@dataclass
class Disk:
    cities: int
    database: int
    schemas: dict[str, int]  # schema -> bytes (tables with their indexes and TOAST, sequences)
    catalog: dict[str, tuple[int, int]]  # catalog table -> (rows, bytes with indexes)


@dataclass
class Memory:
    touched: int  # cities whose every table this backend opened
    relations: int  # tables opened (their indexes come along in the planner)
    seconds: float  # to touch the cities since the previous point
    contexts: int  # all memory contexts, bytes
    cache: int  # CacheMemoryContext and its children, bytes
    rss: int
    rss_anon: int


@dataclass
class Dump:
    label: str
    cities: int
    tables: int
    seconds: float
    ok: bool
    bytes: int
    error: str = ""


@dataclass
class BatchDump:
    """One batch of the nightly per-city dumps, as `city_dump` runs it: one `pg_dump -n a -n b ...` and the
    per-city manifests (row counts and checksums), timed; `batches` is how many the planner makes for every city."""

    cities: int
    batches: int
    seconds: float
    bytes: int
    error: str = ""

    def night_seconds(self) -> float:
        """The whole nightly run at this batch's pace: every batch reads the whole catalog once."""
        return self.batches * self.seconds


@dataclass
class Worker:
    concurrency: int
    sent: int
    send_seconds: float
    done: int
    seconds: float  # from the first send to the last task's success
    rss_before: int
    rss_after: int
    backends: list[int]  # RssAnon of each database backend the worker holds afterwards, bytes
    broker: str = ""
    error: str = ""


@dataclass
class Latency:
    path: str
    label: str
    first_ms: list[float]
    last_ms: list[float]
    statuses: dict[str, dict[int, int]]


@dataclass
class ScaleResult:
    target: int
    first: str = ""
    last: str = ""
    fill: list[tuple[int, float]] = field(default_factory=list)
    fill_seconds: float = 0.0
    analyzed_during_fill: int = 0  # ANALYZE runs of the catalog by catalog_analyze_if_stale during the fill
    before: Disk | None = None
    after: Disk | None = None
    tables_per_city: int = 0
    relations_per_city: dict[str, int] = field(default_factory=dict)  # relkind label -> count
    creation: list[float] = field(default_factory=list)
    slowest_sql: list[tuple[float, str]] = field(default_factory=list)  # in the slowest creation
    creation_spare: list[float] = field(
        default_factory=list
    )  # from a spare of the warm pool (tenants/pool.py)
    refill: list[float] = field(default_factory=list)  # cloning one spare (the pool's background refill)
    pending_check: list[float] = field(default_factory=list)
    deploy: list[tuple[float, float, str]] = field(default_factory=list)  # (command s, process s, note)
    memory: list[Memory] = field(default_factory=list)
    worker: Worker | None = None
    dumps: list[Dump] = field(default_factory=list)
    batch: BatchDump | None = None  # the nightly run's unit (madoguchi.backups.dump_batch)
    settings: dict[str, str] = field(default_factory=dict)
    latency: list[Latency] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
