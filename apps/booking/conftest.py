"""Booking's tests run with nothing plugged into booking's hooks: issuance registers its notice check and its
receivers at start-up (apps.issuance.counter.booking_link), and booking must work without them. Issuance's tests keep them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.booking import hooks


@pytest.fixture(autouse=True)
def _booking_alone() -> Iterator[None]:
    with hooks.nothing_registered():
        yield
