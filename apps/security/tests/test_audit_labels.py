"""Every action the code writes to the audit log has a name a supervisor can read (not a code like
`booking.counter_saved`)."""

from __future__ import annotations

import re
from pathlib import Path

from apps.booking.models import Reservation
from apps.issuance.states import ACTIONS
from apps.security.audit_models import ACTION_LABELS

ROOT = Path(__file__).resolve().parents[3]


def _written_actions() -> set[str]:
    found: set[str] = set()
    for folder in ("apps", "platform", "tenants"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            found |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    return found


def test_every_literal_audit_action_has_a_label() -> None:
    written = _written_actions()
    assert {"booking.counter_saved", "import.uploaded", "personal_data.viewed"} <= written
    assert sorted(written - set(ACTION_LABELS)) == []


def test_the_composed_actions_have_labels() -> None:
    composed = {f"card.{name}" for name in ACTIONS} | {f"card.bulk_{name}" for name in ACTIONS}
    composed |= {f"booking.reservation_{s}" for s in ("arrived", "done", "no_show", "cancelled")}
    composed |= {f"booking.reservation_{c}" for c in Reservation.Channel.values if c != "web"}
    assert sorted(composed - set(ACTION_LABELS)) == []
    assert str(ACTION_LABELS["card.cancel"]) == "カード: 取消にする"
