"""CPU per component while a bench part runs (where the time goes): CPU seconds of process trees from /proc, the rest
of the machine as `other`, and the bench's own PostgreSQL as a root (bench/nginx_rush.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.common import Sandbox

COMPONENTS = ("nginx", "gunicorn", "postgres", "wrk", "other")


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid → (parent pid, name, CPU seconds user + system so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].rpartition(")")
        fields = rest.split()
        # After "(name)": state, ppid, ...; utime, stime, cutime, cstime are the 12th to 15th fields. The children's
        # (cutime, cstime) hold what exited children used once reaped (a postmaster's backends, nginx's old workers).
        found[int(entry.name)] = (int(fields[1]), name, sum(int(v) for v in fields[11:15]) / tick)
    return found


def cpu_snapshot(roots: Mapping[str, Sequence[int]]) -> dict[str, dict[int, float]]:
    """CPU seconds of every process by component: the process trees under `roots` ({component: pids}), and
    `other` for the rest of the machine (other work competing for the CPUs). Without a root for `postgres` (a
    server the bench did not start), every process named postgres counts as postgres."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    owner: dict[int, str] = {}
    for component, pids in roots.items():
        stack = list(pids)
        while stack:
            pid = stack.pop()
            if pid in processes and pid not in owner:
                owner[pid] = component
                stack += children.get(pid, [])
    found: dict[str, dict[int, float]] = {name: {} for name in COMPONENTS}
    for pid, (_, name, seconds) in processes.items():
        component = owner.get(pid) or (
            "postgres" if name == "postgres" and "postgres" not in roots else "other"
        )
        found[component][pid] = seconds
    return found


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each component used between two snapshots (a process new since `before` counts from 0; one gone
    by `after` is not counted)."""
    return {
        name: sum(
            seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in after.get(name, {}).items()
        )
        for name in COMPONENTS
    }


def machine_busy() -> float:
    """CPU-seconds the whole machine has been busy (every CPU, everything but idle and I/O wait), /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(box: Sandbox) -> int | None:
    """The bench's own PostgreSQL (embedded: the first line of postmaster.pid under its data directory)."""
    if not box.embedded:
        return None
    for path in box.data_dir.rglob("postmaster.pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(path.read_text().split()[0])
    return None
