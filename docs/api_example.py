#!/usr/bin/env python3
"""Book a visit and cancel it through Madoguchi's REST API (docs/api.md). Python's standard library only.

    python3 docs/api_example.py --base http://ageo.localhost:8000 --token "$TOKEN" \
        --purpose application --date 2026-12-14

The key needs the scopes slots:read, reservations:read and reservations:write, and the call must come from one of
the city's allowed networks. Steps: the free slots of the day, a booking with an Idempotency-Key, the same POST
again (the booking is not made twice: the first answer is replayed), the booking read back by its code, and the
cancellation. Every error of the API is a problem+json answer; this script prints its code and detail and stops.
`--host` sends another Host header (e.g. `--base http://127.0.0.1:8000 --host ageo.localhost`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any


class ApiError(Exception):
    """An error answer of the API (RFC 9457 problem details)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        errors = body.get("errors") or {}
        fields = "".join(f"\n  {name}: {' '.join(messages)}" for name, messages in errors.items())
        super().__init__(f"{status} {body.get('code')}: {body.get('detail')}{fields}")


class Client:
    def __init__(self, base: str, token: str, host: str | None = None, language: str = "ja") -> None:
        self.base = base.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
        if host:
            self.headers["Host"] = host

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 (the city's URL)
        for name, value in {**self.headers, **(headers or {})}.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
                return response.status, dict(response.headers), json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"code": "http_error", "detail": raw.decode(errors="replace")[:200]}
            raise ApiError(error.code, problem) from None


def book_and_cancel(client: Client, purpose: str, day: str, name: str, birth_date: str) -> dict[str, Any]:
    """The whole round; returns what it saw (for the test): the booking, the replay, the cancellation."""
    _, _, slots = client.call("GET", f"/api/v1/slots/?purpose={purpose}&date={day}")
    free = [slot for slot in slots if slot["persons_free"] >= 1]
    if not free:
        raise SystemExit(f"no free slot for {purpose} on {day}")
    slot = free[0]
    print(f"slot {slot['id']}: {slot['start']} – {slot['end']} ({slot['persons_free']} free)")

    booking = {
        "slot": slot["id"],
        "purpose": purpose,
        "persons": [{"name": name, "birth_date": birth_date}],
        "phone": "048-000-0000",
    }
    key = str(uuid.uuid4())  # one per booking the caller means to make; kept to retry the same booking
    status, headers, reservation = client.call(
        "POST", "/api/v1/reservations/", booking, {"Idempotency-Key": key}
    )
    print(f"{status}: booked {reservation['code']} at {headers.get('Location')}")

    # The answer was lost? Send the same request with the same key: the same booking comes back, not a second one.
    status, headers, replay = client.call("POST", "/api/v1/reservations/", booking, {"Idempotency-Key": key})
    print(f"{status}: replayed {replay['code']} (Idempotent-Replayed: {headers.get('Idempotent-Replayed')})")

    _, _, found = client.call("GET", f"/api/v1/reservations/{reservation['code']}/")
    print(f"found {found['code']}: {found['status']}, {found['persons'][0]['name']}")

    _, _, cancelled = client.call("POST", f"/api/v1/reservations/{reservation['code']}/cancel/")
    print(f"cancelled {cancelled['code']}: {cancelled['status']} at {cancelled['cancelled_at']}")
    return {"reservation": reservation, "replay": replay, "replayed": headers, "cancelled": cancelled}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", required=True, help="the city's address, e.g. https://ageo.madoguchi.example"
    )
    parser.add_argument("--token", required=True, help="the API key, mdg_<prefix>_<secret>")
    parser.add_argument("--host", help="a Host header other than the address's")
    parser.add_argument("--purpose", default="application", help="the purpose's code (GET /api/v1/purposes/)")
    parser.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    parser.add_argument("--name", default="上尾 花子")
    parser.add_argument("--birth-date", default="1980-04-01")
    parser.add_argument("--lang", default="ja", choices=["ja", "en"], help="language of error messages")
    args = parser.parse_args(argv)
    client = Client(args.base, args.token, args.host, args.lang)
    try:
        book_and_cancel(client, args.purpose, args.date, args.name, args.birth_date)
    except ApiError as problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
