"""wrk for the `http` part of the bench (bench/wrk_pages.py): where it is, the cores it and the servers run on, its
command line, one run, and its text output parsed into figures.

- **wrk** is Debian's (`apt-get install wrk`; `make bench-deps` installs it as root, like `browser-deps` installs
  chromium). Without it the part still runs and every row says "wrk missing".
- **cores**: pinning (`taskset`: wrk on the first CPU, both gunicorns on the others) is the default only with 4 CPUs
  or more. On the 2-core reference it leaves both gunicorns one core and halves the server (measured in issue 12's
  first run), so there the truer figure is unpinned; `--http-pin` / `--no-http-pin` force either.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_MISSING = "wrk missing (`make bench-deps` as root, or `apt-get install wrk`)"
PIN_MIN_CPUS = 4  # below this, pinning starves the server (2 cores: both gunicorns on one)


def wrk_path() -> str | None:
    return shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)


@dataclass
class WrkResult:
    """What one wrk run printed (its text output; the Lua scripts add a `FLOWS key=value ...` line)."""

    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    flows: dict[str, Any] = field(default_factory=dict)
    failed: str = ""  # why wrk could not run, when it could not

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    def failures(self) -> str:
        """The script's failed steps (its FLOWS fields `fail.<step>.<status>`) as "step.status count, ..."; "" when
        none failed."""
        return ", ".join(
            f"{key.removeprefix('fail.')} {value}"
            for key, value in sorted(self.flows.items())
            if key.startswith("fail.")
        )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SUMMARY = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),")
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$")
_SOCKET = re.compile(r"^\s*Socket errors: (.*)$")
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)")
_FLOWS = re.compile(r"^FLOWS (.*)$")


def parse_wrk(text: str) -> WrkResult:
    """wrk's text output (with --latency) → figures. Lines it does not know are ignored."""
    result = WrkResult()
    for line in text.splitlines():
        if match := _SUMMARY.match(line):
            result.requests = int(match.group(1))
            result.seconds = float(match.group(2)) * _UNITS[match.group(3)] / 1000
        elif match := _PERCENTILE.match(line):
            value = float(match.group(2)) * _UNITS[match.group(3)]
            if match.group(1) == "50":
                result.p50_ms = value
            else:
                result.p99_ms = value
        elif match := _SOCKET.match(line):
            for part in match.group(1).split(","):
                name, _, count = part.strip().partition(" ")
                result.socket_errors[name] = int(count)
        elif match := _NON_2XX.match(line):
            result.non_2xx_3xx = int(match.group(1))
        elif match := _RPS.match(line):
            result.rps = float(match.group(1))
        elif match := _FLOWS.match(line):
            # key=value pairs: completed=12 seconds=6.0 fail.hold.409=3 ...
            for pair in match.group(1).split():
                key, _, figure = pair.partition("=")
                result.flows[key] = float(figure) if "." in figure else int(figure)
    return result


# --- the cores ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cores:
    generator: tuple[int, ...]
    servers: tuple[int, ...]
    why: str = ""

    @property
    def pinned(self) -> bool:
        return bool(self.generator)

    def describe(self) -> str:
        if not self.pinned:
            return f"not pinned: {self.why}" if self.why else "not pinned"
        return (
            f"wrk on CPU {','.join(map(str, self.generator))}, both gunicorns on CPU "
            f"{','.join(map(str, self.servers))} (`taskset`); PostgreSQL not pinned"
        )


def choose_cores(pin: bool | None, available: Sequence[int] | None = None) -> Cores:
    """`pin` None: pin only with PIN_MIN_CPUS or more; True: pin with 2 or more; False: never."""
    if available is None:
        available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cpus = sorted(available)
    if pin is False:
        return Cores((), (), "--no-http-pin")
    if len(cpus) < 2:
        return Cores((), (), f"{len(cpus)} CPU")
    if pin is None and len(cpus) < PIN_MIN_CPUS:
        return Cores(
            (),
            (),
            f"{len(cpus)} CPUs: pinning would leave both gunicorns {len(cpus) - 1} core(s), which halves them; "
            f"the default pins only with {PIN_MIN_CPUS} or more (`--http-pin` forces it)",
        )
    return Cores((cpus[0],), tuple(cpus[1:]))


@contextmanager
def affinity(cpus: Sequence[int]) -> Iterator[None]:
    """Processes started inside inherit these CPUs (a gunicorn and the workers it forks); restored after."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# --- one run --------------------------------------------------------------------------------------------------------


def wrk_command(
    port: int,
    path: str,
    *,
    host: str,
    threads: int,
    connections: int,
    seconds: float,
    cores: Cores,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    headers: Sequence[str] = (),
) -> list[str]:
    command = [
        wrk_path() or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-H",
        f"Host: {host}",
        "-H",
        "Accept-Language: ja",
    ]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    command.append(f"http://127.0.0.1:{port}{path}")
    if script_args:
        command += ["--", *script_args]
    if cores.pinned:
        command = ["taskset", "-c", ",".join(map(str, cores.generator)), *command]
    return command


def wrk_result(stdout: str, stderr: str, returncode: int) -> WrkResult:
    result = parse_wrk(stdout)
    if returncode != 0 or result.requests == 0:
        result.failed = (stderr.strip() or stdout.strip() or f"exit {returncode}")[-300:]
    return result


def wrk_run(command: Sequence[str], seconds: float) -> WrkResult:
    if wrk_path() is None:
        return WrkResult(failed=WRK_MISSING)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return WrkResult(failed=f"{type(error).__name__}: {error}")
    return wrk_result(done.stdout, done.stderr, done.returncode)


def wrk_run_until(
    command: Sequence[str], stop: Callable[[], bool], *, limit: float, poll: float = 0.05
) -> WrkResult:
    """wrk until `stop()` says so (polled every `poll` s) or `limit` s: SIGINT makes wrk end early and still print
    its summary (duration as run) and the script's done() line."""
    if wrk_path() is None:
        return WrkResult(failed=WRK_MISSING)
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as error:
        return WrkResult(failed=f"{type(error).__name__}: {error}")
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline and not stop():
        time.sleep(poll)
    stdout, stderr = wrk_stop(process)
    return wrk_result(stdout, stderr, 0 if process.returncode in (0, -signal.SIGINT) else process.returncode)


def wrk_stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """A wrk started with pipes, stopped by SIGINT (it still prints its summary and the script's done() line) if
    still running, killed if it has not ended 30 s later: its stdout and stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def wrk_version() -> str:
    path = wrk_path()
    if path is None:
        return "(missing)"
    try:
        done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "(not found)"
    match = re.search(r"wrk (\S+)", done.stdout + done.stderr)
    return match.group(1) if match else "(unknown version)"
