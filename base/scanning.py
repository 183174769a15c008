"""Virus scanning of uploads: one small interface, the adapters behind it, and the rule that every configured
scanner must pass.

The contract asks for two products, so the scanners are a list (`MADOGUCHI_VIRUS_SCANNERS`, comma-separated specs)
and an upload is accepted only when each of them answers "clean":

- `clamd:unix:///run/clamav/clamd.ctl` or `clamd:tcp://127.0.0.1:3310`: ClamAV's daemon, spoken to directly with
  its INSTREAM command. Options after `?`: `timeout` (seconds) and `stream_max_length` (bytes, `K`/`M` suffixes;
  set it to clamd's `StreamMaxLength` to refuse a too large file without sending it).
- `command:/opt/vendor/scan --stdin`: any vendor's command-line scanner; the file goes to its standard input, or,
  when an argument holds `{path}`, to a private temporary file whose path replaces it. Exit status 0 is clean,
  1 infected (the last line of its output names the finding), anything else (and a timeout) "could not answer".

A scanner that cannot answer raises ScannerUnavailableError, and the caller refuses the upload (fail closed): an
unscanned file is never accepted because a daemon was down. Plain values in, verdicts out: Django's settings are
read only by `configured_scanners()`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import parse_qsl, urlsplit

SETTING = "MADOGUCHI_VIRUS_SCANNERS"
DEFAULT_TIMEOUT = 60.0
CHUNK = 64 * 1024
_REPLY_MAX = 4096
_SIGNATURE_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

Chunks = bytes | Iterable[bytes]


@dataclass(frozen=True)
class Verdict:
    scanner: str  # which scanner answered ("clamd", or the vendor command's name)
    signature: str = ""  # what it found; empty: clean

    @property
    def infected(self) -> bool:
        return bool(self.signature)

    def __str__(self) -> str:
        return f"{self.scanner}: {self.signature} FOUND" if self.infected else f"{self.scanner}: OK"


class ScannerUnavailableError(Exception):
    """The scanner could not give a verdict (down, timed out, refused the file): the upload must be refused."""

    def __init__(self, scanner: str, reason: str) -> None:
        super().__init__(f"{scanner}: {reason}")
        self.scanner = scanner
        self.reason = reason


class ScanTooLargeError(ScannerUnavailableError):
    """The file is larger than the scanner accepts (clamd's StreamMaxLength): it cannot be scanned, so refused."""


class Scanner(Protocol):
    name: str

    def scan(self, data: Chunks, name: str) -> Verdict:
        """The verdict on `data` (bytes, or its chunks in order); `name` is the uploaded file's name, for logs.
        Raises ScannerUnavailableError when it cannot answer."""
        ...


def _pieces(data: Chunks, size: int = CHUNK) -> Iterator[bytes]:
    for chunk in [data] if isinstance(data, bytes | bytearray) else data:
        for start in range(0, len(chunk), size):
            yield bytes(chunk[start : start + size])


def _clean_text(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()[:_SIGNATURE_MAX]


def parse_size(text: str) -> int:
    """`1048576`, `1024K` or `25M` (clamd.conf's own notation) in bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (bytes, or a number with K or M)")
    factor = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    return int(match.group(1)) * factor


# --- clamd ---------------------------------------------------------------------------------------------------------


class ClamdScanner:
    """ClamAV's daemon over its socket: `zINSTREAM\\0`, then chunks each prefixed by its length (4 bytes, big
    endian), a zero length to end, and one reply: `stream: OK`, `stream: <signature> FOUND` or `... ERROR`."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        stream_max_length: int | None = None,
        name: str = "clamd",
    ) -> None:
        parts = urlsplit(address)
        self.target: str | tuple[str, int]
        if parts.scheme == "unix" and parts.path:
            self.family, self.target = socket.AF_UNIX, parts.path
        elif parts.scheme == "tcp" and parts.hostname and parts.port:
            self.family = socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET
            self.target = (parts.hostname, parts.port)
        else:
            raise ValueError(f"clamd address {address!r}: use unix:///path/to/clamd.ctl or tcp://host:port")
        self.address = address
        self.timeout = timeout
        self.stream_max_length = stream_max_length
        self.name = name

    def _connect(self, deadline: float) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self._remaining(deadline))
            sock.connect(self.target)
        except BaseException:
            sock.close()
            raise
        return sock

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ScannerUnavailableError(self.name, f"no answer within {self.timeout:g} s")
        return left

    def _reply(self, sock: socket.socket, deadline: float) -> str:
        reply = b""
        while not reply.endswith(b"\0") and len(reply) < _REPLY_MAX:
            sock.settimeout(self._remaining(deadline))
            received = sock.recv(_REPLY_MAX)
            if not received:
                break
            reply += received
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        """True when clamd answers PING with PONG (for readiness checks and tests)."""
        deadline = time.monotonic() + self.timeout
        try:
            with self._connect(deadline) as sock:
                sock.sendall(b"zPING\0")
                return self._reply(sock, deadline) == "PONG"
        except (OSError, ScannerUnavailableError):
            return False

    def scan(self, data: Chunks, name: str) -> Verdict:
        deadline = time.monotonic() + self.timeout
        try:
            with self._connect(deadline) as sock:
                sock.sendall(b"zINSTREAM\0")
                sent = 0
                try:
                    for piece in _pieces(data):
                        sent += len(piece)
                        if self.stream_max_length is not None and sent > self.stream_max_length:
                            raise ScanTooLargeError(
                                self.name, f"larger than stream_max_length ({self.stream_max_length} bytes)"
                            )
                        sock.settimeout(self._remaining(deadline))
                        sock.sendall(struct.pack(">I", len(piece)) + piece)
                    sock.settimeout(self._remaining(deadline))
                    sock.sendall(struct.pack(">I", 0))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # clamd stops reading when the stream passes its StreamMaxLength: its reply says so
                reply = self._reply(sock, deadline)
        except TimeoutError as timed_out:
            raise ScannerUnavailableError(self.name, f"no answer within {self.timeout:g} s") from timed_out
        except OSError as error:
            raise ScannerUnavailableError(self.name, f"cannot reach {self.address}: {error}") from error
        return self._verdict(reply)

    def _verdict(self, reply: str) -> Verdict:
        if reply.endswith("ERROR"):
            if "size limit exceeded" in reply:
                raise ScanTooLargeError(self.name, f"{reply} (clamd's StreamMaxLength)")
            raise ScannerUnavailableError(self.name, _clean_text(reply))
        if reply == "stream: OK":
            return Verdict(self.name)
        if reply.startswith("stream: ") and reply.endswith(" FOUND"):
            signature = _clean_text(reply[len("stream: ") : -len(" FOUND")])
            return Verdict(self.name, signature or "unknown")
        raise ScannerUnavailableError(
            self.name, f"unexpected reply {_clean_text(reply)!r}" if reply else "no reply"
        )


# --- any vendor's command ------------------------------------------------------------------------------------------


class CommandScanner:
    """A vendor's command-line scanner: exit status 0 clean, 1 infected, anything else unavailable."""

    PATH = "{path}"

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        temp_dir: str | None = None,
        name: str | None = None,
    ) -> None:
        if not argv:
            raise ValueError("command scanner: the command is empty")
        self.argv = list(argv)
        self.timeout = timeout
        self.temp_dir = temp_dir
        self.name = name or Path(self.argv[0]).name
        self.by_path = any(self.PATH in arg for arg in self.argv)

    def scan(self, data: Chunks, name: str) -> Verdict:
        # Spooled to a private file first: a pipe fed by this thread could deadlock against a scanner that writes
        # much before it reads, and a file lets the timeout kill the scanner without a writer stuck in between.
        fd, spool = tempfile.mkstemp(prefix="madoguchi-scan-", suffix=".bin", dir=self.temp_dir)
        try:
            with os.fdopen(fd, "w+b") as handle:
                for piece in _pieces(data):
                    handle.write(piece)
                handle.flush()
                handle.seek(0)
                argv = [arg.replace(self.PATH, spool) for arg in self.argv]
                return self._run(argv, None if self.by_path else handle)
        finally:
            Path(spool).unlink(missing_ok=True)

    def _run(self, argv: list[str], stdin: IO[bytes] | None) -> Verdict:
        try:
            process = subprocess.Popen(  # noqa: S603 (the operator's own configured command, no shell)
                argv,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout kills the scanner and its children
            )
        except OSError as error:
            raise ScannerUnavailableError(self.name, f"cannot run {argv[0]}: {error}") from error
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired as timed_out:
            _kill_group(process)
            raise ScannerUnavailableError(self.name, f"no answer within {self.timeout:g} s") from timed_out
        if process.returncode == 0:
            return Verdict(self.name)
        lines = [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
        if process.returncode == 1:
            return Verdict(self.name, _clean_text(lines[-1]) if lines else "unknown")
        said = err.decode("utf-8", "replace").strip().splitlines() or lines
        detail = _clean_text(said[-1]) if said else "no output"
        raise ScannerUnavailableError(self.name, f"exit status {process.returncode}: {detail}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


# --- configuration -------------------------------------------------------------------------------------------------


def scanner_from_spec(spec: str, *, timeout: float = DEFAULT_TIMEOUT) -> Scanner:
    """One scanner from its spec (see the module's docstring). Raises ValueError naming what is wrong."""
    kind, _sep, rest = spec.strip().partition(":")
    if kind == "clamd" and rest:
        address, _q, query = rest.partition("?")
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = set(options) - {"timeout", "stream_max_length"}
        if unknown:
            raise ValueError(f"{SETTING}: {spec!r}: unknown option {', '.join(sorted(unknown))}")
        limit = options.get("stream_max_length")
        try:
            return ClamdScanner(
                address,
                timeout=float(options.get("timeout", timeout)),
                stream_max_length=parse_size(limit) if limit else None,
            )
        except ValueError as problem:
            raise ValueError(f"{SETTING}: {spec!r}: {problem}") from problem
    if kind == "command" and rest.strip():
        return CommandScanner(shlex.split(rest), timeout=timeout)
    raise ValueError(
        f"{SETTING}: {spec!r} is not a scanner: use clamd:unix:///path, clamd:tcp://host:port or command:/path args"
    )


def scanners_from_specs(specs: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> list[Scanner]:
    return [scanner_from_spec(spec, timeout=timeout) for spec in specs if spec.strip()]


def configured_scanners() -> list[Scanner]:
    """The deployment's scanners (settings.VIRUS_SCANNERS); empty: scanning is off (development only)."""
    from django.conf import settings

    return scanners_from_specs(
        list(getattr(settings, "VIRUS_SCANNERS", [])),
        timeout=float(getattr(settings, "VIRUS_SCAN_TIMEOUT", DEFAULT_TIMEOUT)),
    )


def scan_all(scanners: Sequence[Scanner], source: Callable[[], Chunks], name: str) -> list[Verdict]:
    """Every scanner's verdict on the same content (`source` gives it afresh to each). Stops at the first
    infected verdict; raises the first ScannerUnavailableError, since every configured scanner must pass."""
    verdicts: list[Verdict] = []
    for scanner in scanners:
        verdict = scanner.scan(source(), name)
        verdicts.append(verdict)
        if verdict.infected:
            break
    return verdicts
