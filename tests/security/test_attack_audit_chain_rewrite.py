"""Attack: someone with superuser access to the database rewrites audit events and recomputes the chain.

Before the keyed hash, `hash = sha256(prev_hash + JSON)` could be recomputed by anyone: switch the append-only
triggers off, change a row, recompute every later hash, and `audit_verify` said OK. Now rows are HMACed with a
per-city key that is not in the database, and the recorded head pins where keyed rows begin and where the chain ends.
The test connection is a superuser, like the intruder: it switches the triggers off inside the test's transaction.
"""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.audit_chain import audit_verify
from apps.security.audit_keys import city_key
from apps.security.audit_models import AuditEvent, chain_hash
from tenants.models import Municipality


@pytest.fixture(autouse=True)
def _superuser(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("the intruder switches triggers off: the test database user must be a superuser")


def _record(schema: str, count: int) -> list[AuditEvent]:
    with schema_context(schema):
        return [
            audit_record(action="policy.changed", actor=SYSTEM, summary=f"event {n}") for n in range(count)
        ]


def _rewrite_from(schema: str, sequence: int, *, summary: str, version: int) -> None:
    """The intruder's rewrite: change one row's summary, then recompute that row's and every later row's unkeyed
    sha256 (the old algorithm, the only one computable without the key) and relink them, triggers disabled."""
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE security_auditevent DISABLE TRIGGER USER")  # as the owner or a superuser
        rows = list(AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence"))
        previous = AuditEvent.objects.filter(sequence=sequence - 1).values_list("hash", flat=True).first()
        prev_hash = previous or "0" * 64
        for row in rows:
            if row.sequence == sequence:
                row.summary = summary
            row.prev_hash = prev_hash
            row.hash = chain_hash(prev_hash, row.chain_payload())
            cursor.execute(
                "UPDATE security_auditevent SET summary = %s, prev_hash = %s, hash = %s, hash_version = %s "
                "WHERE id = %s",
                [row.summary, row.prev_hash, row.hash, version, row.pk],
            )
            prev_hash = row.hash
        cursor.execute("ALTER TABLE security_auditevent ENABLE TRIGGER USER")


def _broken(schema: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match=f"audit chain broken in: {schema}"):
        call_command("audit_verify", "--schema", schema, stdout=out)
    return out.getvalue()


def test_a_row_rewritten_with_a_recomputed_sha256_chain_is_caught(city: Municipality) -> None:
    events = _record(city.schema_name, 5)
    _rewrite_from(city.schema_name, events[2].sequence, summary="nothing happened", version=2)
    output = _broken(city.schema_name)
    assert f"ageo: BROKEN at sequence {events[2].sequence}: row changed" in output


def test_claiming_the_rewritten_rows_are_old_unkeyed_rows_is_caught(city: Municipality) -> None:
    events = _record(city.schema_name, 5)
    # Marked as version 1 (unkeyed), the recomputed hashes are self-consistent; the head says keyed rows began at 1.
    _rewrite_from(city.schema_name, events[2].sequence, summary="nothing happened", version=1)
    result = audit_verify(city.schema_name)
    assert (result.broken_at, result.reason) == (events[2].sequence, "downgraded")
    # Even the whole chain rewritten as unkeyed rows is refused at its first row.
    _rewrite_from(city.schema_name, events[0].sequence, summary="nothing happened", version=1)
    result = audit_verify(city.schema_name)
    assert (result.broken_at, result.reason) == (events[0].sequence, "downgraded")
    assert "unkeyed (version 1) row where keyed rows had begun" in _broken(city.schema_name)


def _legacy_rows(schema: str, count: int) -> None:
    """Version-1 rows as they were written before the keyed hash, then the head that migration 0005 records."""
    import importlib

    from django.apps import apps

    prev_hash = "0" * 64
    with schema_context(schema):
        for sequence in range(1, count + 1):
            row = AuditEvent(
                sequence=sequence,
                at=AuditEvent._meta.get_field("at").to_python("2026-11-01T00:00:00+00:00"),
                actor_kind="system",
                actor_username="system",
                action="policy.changed",
                summary=f"legacy {sequence}",
                prev_hash=prev_hash,
                hash_version=1,
            )
            row.hash = chain_hash(prev_hash, row.chain_payload())
            row.save(force_insert=True)
            prev_hash = row.hash
        migration = importlib.import_module("apps.security.migrations.0005_audit_keyed_hash")
        migration.head_initialise(apps, type("Editor", (), {"connection": connection})())


def test_old_unkeyed_rows_followed_by_keyed_rows_verify(city: Municipality) -> None:
    _legacy_rows(city.schema_name, 3)
    with schema_context(city.schema_name):
        legacy_end = AuditEvent.objects.get(sequence=3)
    (first_keyed, _second) = _record(city.schema_name, 2)
    # The chain runs on across versions: the first keyed row links to the last unkeyed one.
    assert (first_keyed.sequence, first_keyed.prev_hash, first_keyed.hash_version) == (4, legacy_end.hash, 2)
    result = audit_verify(city.schema_name)
    assert (result.ok, result.checked, result.last_sequence, result.head_sequence) == (True, 5, 5, 5)
    with schema_context(city.schema_name):
        assert list(AuditEvent.objects.order_by("sequence").values_list("hash_version", flat=True)) == [
            1,
            1,
            1,
            2,
            2,
        ]


def test_rewriting_old_unkeyed_rows_is_caught_by_the_head(city: Municipality) -> None:
    _legacy_rows(city.schema_name, 3)
    assert audit_verify(city.schema_name).ok
    # Only unkeyed rows so far: the rewrite is internally consistent, but the chain no longer ends at the head.
    _rewrite_from(city.schema_name, 2, summary="nothing happened", version=1)
    result = audit_verify(city.schema_name)
    assert (result.broken_at, result.reason) == (3, "head mismatch")


def test_rewriting_old_rows_before_keyed_rows_is_caught(city: Municipality) -> None:
    _legacy_rows(city.schema_name, 3)
    _record(city.schema_name, 2)
    assert audit_verify(city.schema_name).ok
    # The first keyed row's prev_hash can only be relinked by recomputing its HMAC, which needs the key.
    _rewrite_from(city.schema_name, 2, summary="nothing happened", version=1)
    assert audit_verify(city.schema_name).reason == "downgraded"


def test_a_wrong_key_fails_at_the_first_keyed_row(city: Municipality) -> None:
    _legacy_rows(city.schema_name, 2)
    _record(city.schema_name, 2)
    wrong = hashlib.sha256(b"not the key").digest()
    result = audit_verify(city.schema_name, key=wrong)
    assert (result.broken_at, result.reason, result.checked) == (3, "changed", 2)


def test_one_citys_key_does_not_verify_another_citys_rows(
    city: Municipality, other_city: Municipality
) -> None:
    _record(city.schema_name, 2)
    _record(other_city.schema_name, 2)
    ageo_key, okegawa_key = city_key(city.schema_name), city_key(other_city.schema_name)
    assert ageo_key != okegawa_key
    assert audit_verify(city.schema_name, key=ageo_key).ok
    assert audit_verify(other_city.schema_name, key=okegawa_key).ok
    assert audit_verify(city.schema_name, key=okegawa_key).reason == "changed"
    assert audit_verify(other_city.schema_name, key=ageo_key).reason == "changed"


def test_an_intruder_who_appends_an_event_without_the_key_is_caught(city: Municipality) -> None:
    events = _record(city.schema_name, 2)
    with schema_context(city.schema_name):
        forged = AuditEvent(
            sequence=events[-1].sequence + 1,
            at=events[-1].at,
            actor_kind="staff",
            actor_username="tanaka",
            action="auth.login",
            prev_hash=events[-1].hash,
            hash_version=1,
        )
        forged.hash = forged.compute_hash()
        forged.save(force_insert=True)  # INSERT is allowed: the table is append-only, not read-only
    assert audit_verify(city.schema_name).reason == "downgraded"
