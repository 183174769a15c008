"""What a fault test did and found: printed as it goes (pytest -s shows it) and kept for the assertion messages."""

from __future__ import annotations

import sys
import time


class Report:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.started = time.monotonic()

    def __call__(self, line: str) -> None:
        stamped = f"[{self.name} +{time.monotonic() - self.started:5.1f}s] {line}"
        self.lines.append(stamped)
        # Written, not logged: the report is the test's output, shown with `pytest -s` and in the CI log.
        sys.stdout.write(stamped + "\n")
        sys.stdout.flush()

    def __str__(self) -> str:
        return "\n" + "\n".join(self.lines)
