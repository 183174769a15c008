"""The audit log: a hash chain per schema that the application can only append to, and audit_verify catches tampering.

The test connection is a superuser: it plays the tables' owner (whom the triggers stop) and creates a role like the
production application's (whom the privileges stop), and it alone can step around the triggers to tamper.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM, as_actor
from apps.security.audit import WITHHELD, audit_record
from apps.security.audit_chain import audit_verify
from apps.security.audit_keys import city_key, keyed_hash
from apps.security.audit_models import AppendOnlyError, AuditEvent, canonical_json, chain_hash
from apps.security.db_roles import app_role_grant
from apps.security.models import SecurityPolicy
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create

REFUSED_STATEMENTS = [
    "UPDATE security_auditevent SET summary = 'rewritten'",
    "DELETE FROM security_auditevent",
    "TRUNCATE security_auditevent",
]


@pytest.fixture(autouse=True)
def _superuser(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip(
                "these tests create a role and bypass triggers: the test database user must be a superuser"
            )


def _record(count: int, **kwargs: Any) -> list[AuditEvent]:
    return [
        audit_record(action="policy.changed", actor=SYSTEM, summary=f"event {n}", **kwargs)
        for n in range(count)
    ]


def _tamper(sql: str, params: list[Any] | None = None) -> None:
    """Change the table the way an intruder with superuser rights would: with the triggers switched off."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def _verify(*args: str) -> str:
    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def _verify_broken(*args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError, match="audit chain broken in: ageo"):
        call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


# --- The chain ---------------------------------------------------------------------------------------------------


def test_each_event_continues_the_chain(in_city: Municipality) -> None:
    first, second = _record(2)
    assert second.sequence == first.sequence + 1
    assert second.prev_hash == first.hash
    # HMAC-SHA256 with the city's key (hash_version 2), no longer a bare sha256 anyone could recompute.
    assert second.hash_version == 2
    assert second.hash == keyed_hash(city_key("ageo"), first.hash, canonical_json(second.chain_payload()))
    assert second.hash != chain_hash(first.hash, second.chain_payload())
    assert second.at >= first.at


def test_the_actor_address_and_request_id_come_from_the_request(in_city: Municipality, rf: object) -> None:
    from apps.security.audit import audit_written, audit_written_reset, audit_written_restore
    from apps.security.request_actor import request_actor
    from tests.factories import staff_user

    user = staff_user(username="tanaka")
    request = rf.post("/staff/x/", REMOTE_ADDR="192.0.2.7")  # type: ignore[attr-defined]
    request.user = user
    request.request_id = "req-12345678"
    token = audit_written_reset()
    try:
        event = audit_record(
            action="network.added", actor=request_actor(request), target="AllowedNetwork:3", summary="x"
        )
        # The generic "request.write" row of AuditWritesMiddleware is then skipped for this request.
        assert audit_written() is True
    finally:
        audit_written_restore(token)
    event.refresh_from_db()
    assert (event.actor_id, event.actor_username, event.actor_kind) == (user.pk, "tanaka", "staff")
    assert (event.address, event.request_id) == ("192.0.2.7", "req-12345678")


def test_a_deleted_users_events_keep_the_name(in_city: Municipality) -> None:
    from tests.factories import staff_user

    user = staff_user(username="suzuki")
    event = audit_record(action="auth.login", actor=as_actor(user))
    user.delete()
    assert AuditEvent.objects.get(pk=event.pk).actor_username == "suzuki"


def test_settings_changes_keep_before_and_after(in_city: Municipality) -> None:
    event = audit_record(
        action="policy.changed",
        actor=SYSTEM,
        before={"idle_timeout_minutes": 30},
        after={"idle_timeout_minutes": 15, "x": 1.5},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.before == {"idle_timeout_minutes": 30}
    assert stored.after == {"idle_timeout_minutes": 15, "x": "1.5"}  # floats as text: jsonb may reprint them
    assert stored.compute_hash() == stored.hash


def test_text_that_postgresql_refuses_is_cleaned_not_fatal(in_city: Municipality) -> None:
    event = audit_record(
        action="auth.login_failed", actor=SYSTEM, target="login:ab\x00c" + "x" * 400, summary="s\x00"
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.target.startswith("login:abc")
    assert len(stored.target) == 255
    assert stored.summary == "s"


def test_an_individual_number_never_reaches_the_log(in_city: Municipality) -> None:
    number = "123456789018"  # a valid check digit
    event = audit_record(
        action="auth.login_failed",
        actor=SYSTEM,
        target=f"login:{number}",
        summary="1234 5678 9018 を入力",
        after={"note": f"番号 {number}", "n": int(number), "ok": "112194"},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert number not in repr(AuditEvent.objects.filter(pk=event.pk).values().get())
    assert stored.target == stored.summary == WITHHELD
    assert stored.after == {"note": WITHHELD, "n": WITHHELD, "ok": "112194"}
    assert stored.compute_hash() == stored.hash


# --- (a) the application's role: SELECT and INSERT only -------------------------------------------------------------


def test_the_application_role_can_append_and_read_but_never_change_or_remove(in_city: Municipality) -> None:
    role = f"madoguchi_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')  # rolled back with the test
    app_role_grant(role=role, schemas=["ageo"])
    with connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        try:
            event = audit_record(action="network.added", actor=SYSTEM, summary="as the app")
            assert AuditEvent.objects.filter(pk=event.pk, summary="as the app").exists()
            # Everything else stays writable for the application.
            assert SecurityPolicy.objects.filter(pk=1).update(idle_timeout_minutes=45) == 1
            for statement in REFUSED_STATEMENTS:
                with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
                    cursor.execute(statement)
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == role
        finally:
            cursor.execute("RESET ROLE")
    assert audit_verify("ageo").ok


def test_a_city_cloned_after_the_grant_inherits_it(db: None) -> None:
    role = f"madoguchi_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
    app_role_grant(role=role, schemas=["city_template"])
    municipality_create(
        data=MunicipalityInput(
            slug="kitamoto", lg_code="112330", name_ja="北本市", name_en="Kitamoto", prefecture="埼玉県"
        ),
        domains=["kitamoto.localhost"],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%(r)s, 'kitamoto.security_auditevent', 'INSERT'),"
            " has_table_privilege(%(r)s, 'kitamoto.security_auditevent', 'UPDATE'),"
            " has_table_privilege(%(r)s, 'kitamoto.security_auditevent', 'DELETE'),"
            " has_table_privilege(%(r)s, 'kitamoto.security_securitypolicy', 'UPDATE')",
            {"r": role},
        )
        assert cursor.fetchone() == (True, False, False, True)


def test_grant_app_role_refuses_names_that_are_not_plain_identifiers(db: None) -> None:
    with pytest.raises(CommandError, match="not a plain PostgreSQL role name"):
        call_command("grant_app_role", 'app"; DROP TABLE x; --', "--schema", "ageo")
    with pytest.raises(CommandError, match="no such schema"):
        call_command("grant_app_role", "madoguchi_app", "--schema", "nowhere")


def test_grant_app_role_prints_the_sql_for_every_schema(city: Municipality, other_city: Municipality) -> None:
    out = StringIO()
    call_command("grant_app_role", "madoguchi_app", "--print", stdout=out)
    sql = out.getvalue()
    for schema in ("public", "city_template", "ageo", "okegawa"):
        assert (
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{schema}"."security_auditevent"' in sql
        )


# --- (b) the database refuses changes even from the tables' owner ---------------------------------------------------


@pytest.mark.parametrize("statement", REFUSED_STATEMENTS)
def test_the_owner_cannot_change_or_remove_events_either(in_city: Municipality, statement: str) -> None:
    _record(2)
    # PL/pgSQL's RAISE (SQLSTATE P0001) reaches Django as a ProgrammingError.
    with (
        pytest.raises(ProgrammingError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert audit_verify("ageo").ok


def test_the_orm_refuses_before_the_database_does(in_city: Municipality) -> None:
    (event,) = _record(1)
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


# --- (c) audit_verify ----------------------------------------------------------------------------------------------


def test_verify_passes_on_a_clean_chain(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        _record(5)
    output = _verify()
    assert "ageo: OK" in output
    assert "okegawa: OK" in output
    assert "public: OK" in output
    assert _verify("--schema", "ageo").startswith("ageo: OK")


def test_verify_catches_a_row_changed_in_the_database(in_city: Municipality) -> None:
    events = _record(5)
    _tamper("UPDATE security_auditevent SET summary = 'nothing happened' WHERE id = %s", [events[2].pk])
    assert f"ageo: BROKEN at sequence {events[2].sequence}: row changed" in _verify_broken("--schema", "ageo")


def test_verify_catches_a_deleted_row(in_city: Municipality) -> None:
    events = _record(5)
    _tamper("DELETE FROM security_auditevent WHERE id = %s", [events[1].pk])
    assert f"ageo: BROKEN at sequence {events[1].sequence}: row missing" in _verify_broken("--schema", "ageo")


def test_verify_catches_a_row_inserted_in_the_middle(in_city: Municipality) -> None:
    events = _record(5)
    at = events[2].sequence
    # Make room after events[1] and insert a forged event that links correctly to it.
    _tamper("UPDATE security_auditevent SET sequence = -sequence WHERE sequence >= %s", [at])
    _tamper("UPDATE security_auditevent SET sequence = 1 - sequence WHERE sequence < 0")
    forged = AuditEvent(
        sequence=at,
        at=events[1].at,
        actor_kind="staff",
        actor_username="intruder",
        action="policy.changed",
        prev_hash=events[1].hash,
    )
    forged.hash = forged.compute_hash()
    forged.save()
    # The forged row itself is consistent; the row after it no longer links to it.
    assert f"ageo: BROKEN at sequence {at + 1}: row does not link" in _verify_broken("--schema", "ageo")


def test_verify_catches_rows_swapped(in_city: Municipality) -> None:
    events = _record(4)
    a, b = events[1], events[2]
    _tamper("UPDATE security_auditevent SET sequence = -1 WHERE id = %s", [a.pk])
    _tamper("UPDATE security_auditevent SET sequence = %s WHERE id = %s", [a.sequence, b.pk])
    _tamper("UPDATE security_auditevent SET sequence = %s WHERE id = %s", [b.sequence, a.pk])
    assert f"ageo: BROKEN at sequence {a.sequence}" in _verify_broken("--schema", "ageo")


def test_verify_reads_in_batches_and_finds_a_break_in_a_later_batch(in_city: Municipality) -> None:
    events = _record(7)
    assert audit_verify("ageo", batch_size=2).ok
    _tamper("UPDATE security_auditevent SET actor_username = 'someone' WHERE id = %s", [events[5].pk])
    result = audit_verify("ageo", batch_size=2)
    assert (result.broken_at, result.reason) == (events[5].sequence, "changed")
    assert result.last_sequence == events[4].sequence


def test_verify_reports_the_newest_sequence_and_hash_to_compare_later(in_city: Municipality) -> None:
    events = _record(3)
    result = audit_verify("ageo")
    assert (result.last_sequence, result.last_hash) == (events[-1].sequence, events[-1].hash)
    assert f"last sequence {events[-1].sequence}, hash {events[-1].hash}" in _verify("--schema", "ageo")


# --- (d) one chain per city -----------------------------------------------------------------------------------------


def test_each_city_has_its_own_chain_and_sees_none_of_the_others_events(
    city: Municipality, other_city: Municipality
) -> None:
    with schema_context(other_city.schema_name):
        (okegawa_first,) = _record(1)
    with schema_context(city.schema_name):
        ageo_events = _record(3, target="AllowedNetwork:1")
    with schema_context(other_city.schema_name):
        (okegawa_second,) = _record(1)
        assert okegawa_second.sequence == okegawa_first.sequence + 1
        assert okegawa_second.prev_hash == okegawa_first.hash
        assert not AuditEvent.objects.filter(target="AllowedNetwork:1").exists()
        assert not AuditEvent.objects.filter(hash__in=[e.hash for e in ageo_events]).exists()
    assert audit_verify(city.schema_name).ok
    assert audit_verify(other_city.schema_name).ok


# --- (e) concurrent writers -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_city(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[Municipality]:
    """A city of its own, committed, so that writers on other connections see each other's events."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        city = municipality_create(
            data=MunicipalityInput(
                slug="konosu", lg_code="112178", name_ja="鴻巣市", name_en="Konosu", prefecture="埼玉県"
            ),
            domains=["konosu.localhost"],
        )
        yield city
        connection.set_schema_to_public()
        city.delete(force_drop=True)


def test_concurrent_writers_get_a_gap_free_chain(
    committed_city: Municipality, django_db_blocker: pytest.FixtureRequest
) -> None:
    writers, per_writer = 20, 5
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with schema_context(committed_city.schema_name):
                start.wait()
                for index in range(per_writer):
                    audit_record(
                        action="request.write", actor=SYSTEM, summary=f"writer {number} event {index}"
                    )
        except BaseException as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with schema_context(committed_city.schema_name):
            sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
        result = audit_verify(committed_city.schema_name)
    assert sequences == list(range(1, writers * per_writer + 1))
    assert result.ok
    assert result.checked == writers * per_writer
