"""The clamd adapter speaks INSTREAM correctly, against a fake clamd written here: the file arrives intact in
length-prefixed chunks, "OK" is clean, "FOUND" names the signature, "ERROR", a timeout, a size limit (clamd's or
our own) and a daemon that is not there all raise ScannerUnavailableError (fail closed)."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from base.scanning import ClamdScanner, ScannerUnavailableError, ScanTooLargeError, Verdict

INFECTED_MARK = b"TEST-VIRUS-MARK"
FAKE_PORTS = range(18800, 18850)


@dataclass
class FakeClamd:
    """A clamd that answers one way: decides from the bytes it received what to reply (None: never reply)."""

    reply: Callable[[bytes], bytes | None]
    limit: int | None = None  # like StreamMaxLength: past it, the size error and the connection is closed
    received: list[bytes] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def serve(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _addr = server.accept()
            except OSError:
                return  # the server socket was closed: the test is over
            with conn:
                self._one(conn)

    def _read(self, conn: socket.socket, count: int) -> bytes:
        data = b""
        while len(data) < count:
            piece = conn.recv(count - len(data))
            if not piece:
                raise ConnectionError("client went away")
            data += piece
        return data

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            command = b""
            while not command.endswith(b"\0"):
                command += self._read(conn, 1)
            self.commands.append(command)
            if command == b"zPING\0":
                conn.sendall(b"PONG\0")
                return
            body = b""
            while True:
                (length,) = struct.unpack(">I", self._read(conn, 4))
                if length == 0:
                    break
                body += self._read(conn, length)
                if self.limit is not None and len(body) > self.limit:
                    conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                    return
            self.received.append(body)
            answer = self.reply(body)
            if answer is None:
                self.release.wait(10)  # hold the connection open without answering, until the test ends
                return
            conn.sendall(answer)
        except (ConnectionError, OSError):
            return


def _answer(body: bytes) -> bytes:
    return b"stream: Fake.Test.Signature FOUND\0" if INFECTED_MARK in body else b"stream: OK\0"


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Short and under /tmp: a unix socket's path is limited to about 100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="virus-fake-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _serve(fake: FakeClamd, server: socket.socket) -> Iterator[FakeClamd]:
    server.listen(8)
    thread = threading.Thread(target=fake.serve, args=(server,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(); close() alone does not
        server.close()
        thread.join(timeout=10)


@pytest.fixture
def fake_unix(socket_dir: Path, request: pytest.FixtureRequest) -> Iterator[tuple[FakeClamd, str]]:
    fake: FakeClamd = getattr(request, "param", None) or FakeClamd(_answer)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_dir / "clamd.sock"))
    for running in _serve(fake, server):
        yield running, f"unix://{socket_dir / 'clamd.sock'}"


def _tcp_server() -> tuple[socket.socket, int]:
    for port in FAKE_PORTS:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            server.bind(("127.0.0.1", port))
        except OSError:
            server.close()
            continue
        return server, port
    pytest.skip(f"no free port in {FAKE_PORTS.start}-{FAKE_PORTS.stop - 1}")


def _scanner(address: str, *, timeout: float = 5.0, stream_max_length: int | None = None) -> ClamdScanner:
    return ClamdScanner(address, timeout=timeout, stream_max_length=stream_max_length)


def test_a_clean_file_is_sent_intact_in_length_prefixed_chunks(fake_unix: tuple[FakeClamd, str]) -> None:
    fake, address = fake_unix
    content = bytes(range(256)) * 1000  # 256,000 bytes: several 64 KiB chunks, every byte value
    verdict = _scanner(address).scan(iter([content[:1000], content[1000:]]), "cards.csv")
    assert verdict == Verdict("clamd")
    assert not verdict.infected
    assert fake.commands == [b"zINSTREAM\0"]
    assert fake.received == [content]


def test_a_finding_names_the_signature(fake_unix: tuple[FakeClamd, str]) -> None:
    _fake, address = fake_unix
    verdict = _scanner(address).scan(b"a,b\n" + INFECTED_MARK + b"\n", "cards.csv")
    assert verdict.infected
    assert verdict.signature == "Fake.Test.Signature"
    assert str(verdict) == "clamd: Fake.Test.Signature FOUND"


@pytest.mark.parametrize(
    "fake_unix", [FakeClamd(lambda _body: b"Can't allocate memory ERROR\0")], indirect=True
)
def test_an_error_reply_is_unavailable_not_clean(fake_unix: tuple[FakeClamd, str]) -> None:
    with pytest.raises(ScannerUnavailableError, match="allocate memory ERROR"):
        _scanner(fake_unix[1]).scan(b"a,b\n", "cards.csv")


@pytest.mark.parametrize("fake_unix", [FakeClamd(lambda _body: None)], indirect=True)
def test_a_daemon_that_never_answers_times_out_as_unavailable(fake_unix: tuple[FakeClamd, str]) -> None:
    with pytest.raises(ScannerUnavailableError, match=r"no answer within 0\.3 s"):
        _scanner(fake_unix[1], timeout=0.3).scan(b"a,b\n", "cards.csv")


@pytest.mark.parametrize("fake_unix", [FakeClamd(_answer, limit=100_000)], indirect=True)
def test_clamds_stream_max_length_is_too_large_not_clean(fake_unix: tuple[FakeClamd, str]) -> None:
    fake, address = fake_unix
    with pytest.raises(ScanTooLargeError, match="StreamMaxLength"):
        _scanner(address).scan(b"x" * 1_000_000, "cards.csv")
    assert fake.received == []  # it stopped reading: nothing was scanned


def test_our_own_stream_max_length_refuses_before_sending_it(fake_unix: tuple[FakeClamd, str]) -> None:
    fake, address = fake_unix
    scanner = _scanner(address, stream_max_length=1000)
    with pytest.raises(ScanTooLargeError, match="stream_max_length"):
        scanner.scan(b"x" * 1001, "cards.csv")
    assert fake.received == []
    assert scanner.scan(b"x" * 1000, "cards.csv") == Verdict("clamd")  # at the limit: scanned


def test_a_daemon_that_is_not_there_is_unavailable(socket_dir: Path) -> None:
    scanner = _scanner(f"unix://{socket_dir / 'absent.sock'}")
    with pytest.raises(ScannerUnavailableError, match="cannot reach"):
        scanner.scan(b"a,b\n", "cards.csv")
    assert scanner.ping() is False


def test_tcp_works_like_the_unix_socket() -> None:
    server, port = _tcp_server()
    for fake in _serve(FakeClamd(_answer), server):
        scanner = _scanner(f"tcp://127.0.0.1:{port}")
        assert scanner.ping() is True
        assert scanner.scan(b"a,b\n", "cards.csv") == Verdict("clamd")
        assert scanner.scan(INFECTED_MARK, "cards.csv").signature == "Fake.Test.Signature"
        assert fake.commands == [b"zPING\0", b"zINSTREAM\0", b"zINSTREAM\0"]


@pytest.mark.parametrize("address", ["unix://", "tcp://127.0.0.1", "http://127.0.0.1:3310", "/run/clamd.ctl"])
def test_an_unreadable_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match=re.escape("unix:///path/to/clamd.ctl or tcp://host:port")):
        ClamdScanner(address)
