"""A booking load for the fault tests: client threads that book through the API with an Idempotency-Key and read
a resident page, retrying a 503 with the same key as a well-behaved client does, and the checks afterwards.

Each client books one reservation at a time with a new key and keeps sending that key until it gets its 201 (or a
replay), so after the run every key names exactly one booking; a 503 must carry Retry-After (and, under /api/, be
problem+json `database_unavailable`; a page: the Japanese-first HTML page). Anything else is a finding.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from tests.faults.services import PostgresCluster

TIMEOUT = 15.0  # seconds: one HTTP exchange
RETRY_PAUSE = 0.2  # seconds between retries of a 503 (Retry-After says 5: the test does not wait that long)


@dataclass
class Tally:
    booked: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> reservation code
    api: Counter[int] = field(default_factory=Counter)
    pages: Counter[int] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    run: str = field(
        default_factory=lambda: uuid.uuid4().hex[:6]
    )  # in every name: one person books once a run
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.booked)

    def at_least(self, bookings: int) -> Callable[[], bool]:
        return lambda: self.count() >= bookings

    def finding(self, text: str) -> None:
        with self.lock:
            if len(self.findings) < 20:
                self.findings.append(text)

    def summary(self) -> str:
        return (
            f"bookings {len(self.booked)}; API answers {dict(sorted(self.api.items()))}; "
            f"page answers {dict(sorted(self.pages.items()))}; findings {len(self.findings)}"
        )


def _exchange(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except OSError as exc:
        return 0, {}, repr(exc).encode()
    finally:
        conn.close()


class Client(threading.Thread):
    def __init__(
        self,
        *,
        index: int,
        port: int,
        host: str,
        token: str,
        slots: list[int],
        tally: Tally,
        stop: threading.Event,
    ) -> None:
        super().__init__(daemon=True, name=f"faults-client-{index}")
        self.index, self.port, self.host, self.token = index, port, host, token
        self.slots, self.tally, self.stop = slots, tally, stop
        self.deadline = time.monotonic() + 180

    def run(self) -> None:
        n = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            self._page()
            self._book(n)
            n += 1

    def _page(self) -> None:
        status, headers, body = _exchange(self.port, "GET", "/book/", {"Host": self.host})
        with self.tally.lock:
            self.tally.pages[status] += 1
        if status == 503:
            text = body.decode("utf-8", "replace")
            if (
                "retry-after" not in headers
                or "一時的に利用できません" not in text
                or 'lang="ja"' not in text
            ):
                self.tally.finding(
                    f"page 503 without Retry-After or the Japanese page: {headers} {text[:120]}"
                )
        elif status != 200:
            self.tally.finding(f"page {status}: {body[:160].decode('utf-8', 'replace')}")

    def _book(self, n: int) -> None:
        key = f"faults-{self.index}-{n}-{uuid.uuid4().hex[:8]}"
        person = {
            "name": f"障害 試験{self.tally.run}-{self.index}-{n}",
            "birth_date": (date(1960, 1, 1) + timedelta(days=n)).isoformat(),
        }
        payload = {
            "slot": self.slots[(self.index + n) % len(self.slots)],
            "purpose": "application",
            "persons": [person],
            "phone": "090-0000-0000",
        }
        headers = {
            "Host": self.host,
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        body = json.dumps(payload, ensure_ascii=False).encode()
        while time.monotonic() < self.deadline:
            status, answer_headers, raw = _exchange(self.port, "POST", "/api/v1/reservations/", headers, body)
            with self.tally.lock:
                self.tally.api[status] += 1
            data = _json(raw)
            if status == 201:
                with self.tally.lock:
                    self.tally.booked[key] = str(data.get("code"))
                return
            if status == 503:
                if "retry-after" not in answer_headers or data.get("code") != "database_unavailable":
                    self.tally.finding(
                        f"API 503 without Retry-After or problem code: {answer_headers} {raw[:160].decode('utf-8', 'replace')}"
                    )
            elif status == 409 and data.get("code") == "idempotency_in_progress":
                pass  # the first try still runs (its connection may be waiting on the database): try again
            else:
                self.tally.finding(f"API {status} for {key}: {raw[:300].decode('utf-8', 'replace')}")
                if status != 0:
                    return
            time.sleep(RETRY_PAUSE)
        self.tally.finding(f"{key}: no booking before the deadline")


def _json(raw: bytes) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_clients(
    *, port: int, host: str, token: str, slots: list[int], clients: int, tally: Tally
) -> tuple[list[Client], threading.Event]:
    stop = threading.Event()
    threads = [
        Client(index=i, port=port, host=host, token=token, slots=slots, tally=tally, stop=stop)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    return threads, stop


def stop_clients(threads: list[Client], stop: threading.Event) -> None:
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not [thread.name for thread in threads if thread.is_alive()], "a client hung"


def database_findings(
    cluster: PostgresCluster, schema: str, tally: Tally, *, already: int = 0
) -> tuple[list[str], str]:
    """What SQL says after the run: every booking whole (its person, its audit row), seats taken = seats booked,
    one reservation per Idempotency-Key that got a 201 (`already`: reservations made before this run; bookings
    through the resident pages, which have a submission key, are left to the test that made them)."""
    q = f'"{schema}"'
    reservations = int(cluster.psql(f"SELECT count(*) FROM {q}.booking_reservation"))
    without_person = int(
        cluster.psql(
            f"SELECT count(*) FROM {q}.booking_reservation r WHERE NOT EXISTS "
            f"(SELECT 1 FROM {q}.booking_person p WHERE p.reservation_id = r.id)"
        )
    )
    without_audit = int(
        cluster.psql(
            # Bookings through the resident pages (a submission key) are the resident's own and not audited.
            f"SELECT count(*) FROM {q}.booking_reservation r WHERE r.submission_key IS NULL AND NOT EXISTS (SELECT 1 FROM "
            f"{q}.security_auditevent a WHERE a.target = 'Reservation:' || r.id AND a.action LIKE 'booking.reservation_%')"
        )
    )
    seats_off = cluster.psql(
        f"SELECT coalesce(string_agg(s.id || ': taken ' || s.taken || ', booked ' || coalesce(b.seats, 0), '; '), '') "
        f"FROM {q}.booking_slot s LEFT JOIN (SELECT slot_id, sum(seats) AS seats FROM {q}.booking_reservation "
        f"WHERE status = 'booked' GROUP BY slot_id) b ON b.slot_id = s.id WHERE s.taken <> coalesce(b.seats, 0)"
    )
    codes = set(
        cluster.psql(
            f"SELECT string_agg(code, ',') FROM (SELECT code, submission_key FROM {q}.booking_reservation "
            f"ORDER BY id OFFSET {already}) made WHERE submission_key IS NULL"
        ).split(",")
    ) - {""}
    findings: list[str] = []
    if without_person:
        findings.append(f"{without_person} reservation(s) without a person")
    if without_audit:
        findings.append(f"{without_audit} reservation(s) without their audit row")
    if seats_off:
        findings.append(f"seats taken differ from seats booked: {seats_off}")
    answered = set(tally.booked.values())
    if codes != answered:
        findings.append(
            f"reservations in SQL {len(codes)} vs 201 answers {len(answered)}: "
            f"not answered {sorted(codes - answered)[:5]}, answered but absent {sorted(answered - codes)[:5]}"
        )
    summary = (
        f"SQL: {reservations} reservations, {without_person} without a person, {without_audit} without an audit "
        f"row, slots off: {seats_off or 'none'}; distinct codes answered {len(answered)} for {len(tally.booked)} keys"
    )
    return findings, summary
