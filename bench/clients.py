"""The HTTP clients the booking rush (section 4) drives against the bench's gunicorn: one resident's phone
(`Browser`: cookies kept, a new connection per request, 127.0.0.1 with the city's Host header), what one kind of
request did (`Load`), and `hammer`, many clients on one path at once (the rush's baselines).

The sequential client of section 3 is `bench.common.http_get`, which also checks that a server is up.
"""

from __future__ import annotations

import http.client
import time
from collections import Counter
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 30.0  # seconds per request; a request that takes longer is counted as a timeout


@dataclass
class Exchange:
    status: int  # 0 = no answer (timeout or connection error)
    ms: float
    location: str = ""
    text: str = ""
    failure: str = ""  # "timeout" or "connection: ..." when status is 0


class Browser:
    """One resident's phone: a cookie jar and a new connection per request (to 127.0.0.1 with the city's Host)."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict[str, str] | None = None, read: bool = True) -> Exchange:
        from urllib.parse import urlencode

        headers = {"Host": self.host, "Accept-Language": "ja", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except TimeoutError:
            return Exchange(0, (time.perf_counter() - started) * 1000, failure="timeout")
        except (OSError, http.client.HTTPException) as error:
            return Exchange(
                0, (time.perf_counter() - started) * 1000, failure=f"connection: {type(error).__name__}"
            )
        finally:
            conn.close()
        elapsed = (time.perf_counter() - started) * 1000
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return Exchange(
            response.status,
            elapsed,
            location=response.getheader("Location", "") or "",
            text=data.decode("utf-8", "replace") if read else "",
        )


@dataclass
class Load:
    """Requests of one kind: latencies (answered requests), statuses, and the wall time they took."""

    ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, exchange: Exchange) -> None:
        self.statuses[exchange.failure or str(exchange.status)] += 1
        if exchange.status:
            self.ms.append(exchange.ms)

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if not s.isdigit() or s.startswith("5"))


def hammer(port: int, host: str, path: str, clients: int, total: int) -> Load:
    """`total` GETs of one path from `clients` threads at once, as fast as the server answers."""
    import threading

    load = Load()
    lock = threading.Lock()
    left = [total]

    def worker() -> None:
        browser = Browser(port, host)
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            exchange = browser.send("GET", path, read=True)
            with lock:
                load.add(exchange)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = started + max(120.0, total * 0.5)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    load.seconds = time.perf_counter() - started
    return load
