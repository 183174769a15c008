"""Zero-downtime upgrades: a migration that would break the running release is caught before it ships."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import migrations, models

from madoguchi import migration_safety
from madoguchi.migration_safety import created_tables, migration_findings


def _migration(*operations: object, marker: str = "") -> migrations.Migration:
    migration = migrations.Migration("0099_test", "booking")
    migration.operations = list(operations)  # type: ignore[misc]
    if marker:
        migration.zero_downtime = marker  # type: ignore[attr-defined]
    return migration


def _reasons(migration: migrations.Migration, new_tables: frozenset[str] = frozenset()) -> list[str]:
    return [finding.operation for finding in migration_findings("booking.0099_test", migration, new_tables)]


def test_the_tree_ships_no_migration_that_breaks_the_running_release() -> None:
    pending, findings = migration_safety.check()
    assert findings == [], "\n".join(str(f) for f in findings)
    # Every migration on disk is either released or pending: none is forgotten by the loader.
    assert set(pending).isdisjoint(migration_safety.released())


@pytest.mark.parametrize(
    "operation",
    [
        migrations.RemoveField("slot", "note"),
        migrations.DeleteModel("Slot"),
        migrations.RenameField("slot", "note", "remark"),
        migrations.RenameModel("Slot", "TimeSlot"),
        migrations.AlterField("slot", "note", models.CharField(max_length=10)),
        migrations.RunPython(migrations.RunPython.noop),
        migrations.RunSQL("UPDATE booking_slot SET note = ''"),
        migrations.AddField("slot", "note", models.CharField(max_length=10, default="")),
        migrations.AddConstraint(
            "slot", models.CheckConstraint(condition=models.Q(seats__gte=0), name="seats_not_negative")
        ),
    ],
)
def test_contracting_or_unjudged_operations_on_a_released_table_are_findings(operation: object) -> None:
    assert _reasons(_migration(operation)) == [type(operation).__name__]


def test_expanding_operations_pass() -> None:
    safe = _migration(
        migrations.AddField("slot", "note", models.CharField(max_length=10, null=True)),
        migrations.AddField("slot", "flag", models.BooleanField(db_default=False)),
        migrations.AddIndex("slot", models.Index(fields=["start"], name="slot_start_idx")),
        migrations.CreateModel("Notice", [("id", models.BigAutoField(primary_key=True))]),
    )
    assert _reasons(safe) == []


def test_a_table_new_in_this_release_may_be_changed_freely() -> None:
    created = _migration(migrations.CreateModel("Notice", [("id", models.BigAutoField(primary_key=True))]))
    changed = _migration(migrations.AddField("notice", "body", models.TextField(default="")))
    new_tables = created_tables([("booking.0098_notice", created)])
    assert new_tables == {"booking.notice"}
    assert _reasons(changed, new_tables) == []
    assert _reasons(changed) == ["AddField"]


def test_a_marked_migration_states_why_it_is_safe() -> None:
    marked = _migration(migrations.RemoveField("slot", "note"), marker="contract: 2027.02 stopped reading it")
    assert _reasons(marked) == []


def test_the_command_lists_unreleased_migrations_and_records_a_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    released = tmp_path / "released-migrations.txt"
    shipped = sorted(migration_safety.released())
    released.write_text("\n".join(name for name in shipped if name != "security.0008_api_idempotency") + "\n")
    monkeypatch.setattr(migration_safety, "RELEASED_FILE", released)
    call_command("migration_safety")
    listed = capsys.readouterr().out.split("unreleased migrations: ", 1)[1].split("\n", 1)[0].split(", ")
    # security.0008 and what this tree adds since the last recorded release
    assert "security.0008_api_idempotency" in listed
    assert listed == migration_safety.check(released)[0]
    call_command("migration_safety", "--release")
    assert "security.0008_api_idempotency" in released.read_text().split()
    call_command("migration_safety")
    assert "no unreleased migrations" in capsys.readouterr().out


def test_the_command_fails_on_an_unsafe_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    released = tmp_path / "released-migrations.txt"
    # Pretend booking.0001 shipped and 0002 (which adds NOT NULL columns to 0001's tables) has not.
    released.write_text("booking.0001_initial\n")
    monkeypatch.setattr(migration_safety, "RELEASED_FILE", released)
    with pytest.raises(CommandError, match="would break the running release"):
        call_command("migration_safety", "--release")
    assert released.read_text() == "booking.0001_initial\n"  # nothing recorded
