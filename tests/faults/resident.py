"""Residents booking through the pages (calendar, day, hold, form, done) for the fault tests, as the browser does:
cookies, the CSRF token and the form's submission key, plain HTTP to gunicorn with the city's Host.

Each booking gives its own address (`<run>-<client>-<n>@residents.example`), so the confirmation mails can be
counted per booking afterwards. Anything but 200/302 is a finding.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

TIMEOUT = 15.0


@dataclass
class ResidentTally:
    run: str
    booked: dict[str, str] = field(default_factory=dict)  # address -> the /book/done/ path
    booked_at: dict[str, float] = field(
        default_factory=dict
    )  # address -> time.monotonic() of the confirmation
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.booked)

    def finding(self, text: str) -> None:
        with self.lock:
            if len(self.findings) < 20:
                self.findings.append(text)

    def summary(self) -> str:
        return f"page bookings {len(self.booked)}; page answers {dict(sorted(self.statuses.items()))}"


class Resident(threading.Thread):
    def __init__(
        self, *, index: int, port: int, host: str, tally: ResidentTally, stop: threading.Event
    ) -> None:
        super().__init__(daemon=True, name=f"faults-resident-{index}")
        self.index, self.port, self.host, self.tally, self.stop = index, port, host, tally, stop
        self.cookies: dict[str, str] = {}
        self.deadline = time.monotonic() + 180

    def send(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location, body); status 0 when the connection failed."""
        headers = {"Host": self.host}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://{self.host}",
                "Referer": f"http://{self.host}{path}",
            }
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except OSError as exc:
            status, location, text = 0, "", repr(exc)
        else:
            status, location = response.status, response.getheader("Location") or ""
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, value = cookie.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        finally:
            conn.close()
        with self.tally.lock:
            self.tally.statuses[status] += 1
        if status not in (200, 302):
            self.tally.finding(f"{method} {path}: {status} {text[:200]}")
        return status, location, text

    def run(self) -> None:
        n = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            self.book(n)
            n += 1

    def book(self, n: int) -> None:
        address = f"{self.tally.run}-{self.index}-{n}@residents.example"
        self.cookies.clear()
        status, _, page = self.send("GET", "/book/application/")
        days = re.findall(r'href="/book/application/(\d{4}-\d{2}-\d{2})/"', page)
        later = re.search(r'href="(/book/application/\?month=\d{4}-\d{2})"', page)
        if status == 200 and not days and later:
            status, _, page = self.send("GET", later.group(1).replace("&amp;", "&"))
            days = re.findall(r'href="/book/application/(\d{4}-\d{2}-\d{2})/"', page)
        if status != 200 or not days:
            self.tally.finding(f"no open day in the calendar ({status})")
            return
        day_path = f"/book/application/{days[0]}/"
        status, _, day_page = self.send("GET", day_path)
        free = re.findall(r'name="slot" id="slot-\d+" value="(\d+)"(?! disabled)', day_page)
        if status != 200 or not free:
            self.tally.finding(f"no free time on {day_path} ({status})")
            return
        slot = free[(self.index + n) % len(free)]
        token = _hidden(day_page, "csrfmiddlewaretoken")
        status, location, _ = self.send(
            "POST", day_path, {"csrfmiddlewaretoken": token, "slot": slot, "persons": "1"}
        )
        if status != 302 or "/book/hold/" not in location:
            self.tally.finding(f"hold: {status} {location}")
            return
        form_path = urlsplit(location).path
        status, _, form_page = self.send("GET", form_path)
        if status != 200:
            return
        details = {
            "csrfmiddlewaretoken": _hidden(form_page, "csrfmiddlewaretoken"),
            "p1-name": f"障害 住民{self.index}-{n}",
            "p1-kana": "",
            "p1-birth_date_0": "western",
            "p1-birth_date_1": "1980",
            "p1-birth_date_2": "4",
            "p1-birth_date_3": str(1 + n % 28),
            "email": address,
            "phone": "090-1234-5678",
            "submission_key": _hidden(form_page, "submission_key"),
        }
        status, location, body = self.send("POST", form_path, details)
        if status != 302 or "/book/done/" not in location:
            self.tally.finding(f"confirm: {status} {location} {body[:300]}")
            return
        with self.tally.lock:
            self.tally.booked[address] = urlsplit(location).path
            self.tally.booked_at[address] = time.monotonic()
        self.send("GET", urlsplit(location).path)


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else ""
