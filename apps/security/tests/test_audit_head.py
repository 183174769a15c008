"""The keyed audit chain's keys and its recorded head: new cities, isolation, the key handover, re-anchoring.

The attacks themselves (rewriting, truncating, moving the head back) are in tests/security/test_attack_audit_*.py.
"""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.audit_chain import audit_verify
from apps.security.audit_keys import city_key, head_mac
from apps.security.audit_models import AuditEvent, AuditHead
from apps.security.db_roles import app_role_grant
from madoguchi.config import AuditConfig
from tenants.models import Municipality
from tenants.services import MunicipalityInput, municipality_create


def _record(schema: str, count: int) -> list[AuditEvent]:
    with schema_context(schema):
        return [
            audit_record(action="policy.changed", actor=SYSTEM, summary=f"event {n}") for n in range(count)
        ]


def _head(schema: str) -> AuditHead:
    with schema_context(schema):
        return AuditHead.objects.get()


def test_a_new_city_starts_with_an_empty_head_under_its_own_key(db: None) -> None:
    # Cloned from the template, whose head (under the template's key) comes along with the clone.
    municipality_create(
        data=MunicipalityInput(
            slug="kitamoto", lg_code="112330", name_ja="北本市", name_en="Kitamoto", prefecture="埼玉県"
        ),
        domains=["kitamoto.localhost"],
    )
    head = _head("kitamoto")
    assert (head.keyed_from, head.sequence, head.hash) == (1, 0, "0" * 64)
    assert head.mac == head_mac(city_key("kitamoto"), keyed_from=1, sequence=0, hash="0" * 64)
    assert head.mac != _head("city_template").mac
    assert audit_verify("kitamoto").ok
    _record("kitamoto", 2)
    result = audit_verify("kitamoto")
    assert (result.ok, result.last_sequence, result.head_sequence) == (True, 2, 2)


def test_every_schema_has_a_head_that_verifies(city: Municipality, other_city: Municipality) -> None:
    for schema in ("public", "city_template", city.schema_name, other_city.schema_name):
        result = audit_verify(schema)
        assert result.ok, (schema, result)
        assert result.head_sequence == result.last_sequence


def test_each_city_has_its_own_head(city: Municipality, other_city: Municipality) -> None:
    ageo = _record(city.schema_name, 3)
    okegawa_before = _head(other_city.schema_name)
    assert (_head(city.schema_name).sequence, _head(city.schema_name).hash) == (3, ageo[-1].hash)
    # The other city's head neither moved nor shows the first city's chain.
    okegawa = _head(other_city.schema_name)
    assert (okegawa.sequence, okegawa.hash, okegawa.mac) == (
        okegawa_before.sequence,
        okegawa_before.hash,
        okegawa_before.mac,
    )
    with schema_context(other_city.schema_name):
        assert not AuditHead.objects.filter(hash=ageo[-1].hash).exists()
    # One city's head copied into another is not valid there (a different key).
    ageo_head = _head(city.schema_name)
    with schema_context(other_city.schema_name):
        AuditHead.objects.update(
            keyed_from=ageo_head.keyed_from,
            sequence=ageo_head.sequence,
            hash=ageo_head.hash,
            mac=ageo_head.mac,
        )
    assert audit_verify(other_city.schema_name).reason == "head forged"


def test_the_city_key_handover_prints_a_key_that_verifies_only_that_city(
    city: Municipality, other_city: Municipality
) -> None:
    _record(city.schema_name, 2)
    _record(other_city.schema_name, 1)
    out = StringIO()
    call_command("audit_city_key", city.schema_name, stdout=out)
    handed_over = bytes.fromhex(out.getvalue().strip())
    assert handed_over == city_key(city.schema_name)
    assert audit_verify(city.schema_name, key=handed_over).ok
    assert audit_verify(other_city.schema_name, key=handed_over).reason == "changed"
    # The disclosure is itself in the city's log.
    with schema_context(city.schema_name):
        assert AuditEvent.objects.filter(action="audit.key_disclosed").count() == 1
    with pytest.raises(CommandError, match="no such schema"):
        call_command("audit_city_key", "nowhere")


def test_the_keys_follow_the_master_key(city: Municipality) -> None:
    with override_settings(AUDIT_KEY="one master"):
        first = city_key(city.schema_name)
    with override_settings(AUDIT_KEY="another master"):
        assert city_key(city.schema_name) != first
        # Rows and head written under one master do not verify under another.
        assert audit_verify(city.schema_name).reason == "head forged"


def test_the_development_key_is_derived_from_the_secret_key_and_flagged() -> None:
    default = AuditConfig(key="")
    assert default.key_is_default
    assert default.master_key("secret a") != default.master_key("secret b")
    assert default.master_key("secret a") != "secret a"
    configured = AuditConfig(key="from the secret store")
    assert not configured.key_is_default
    assert configured.master_key("secret a") == "from the secret store"


def test_a_head_reset_re_anchors_after_an_investigation_and_is_recorded(city: Municipality) -> None:
    _record(city.schema_name, 3)
    with schema_context(city.schema_name):
        AuditHead.objects.all().delete()
    assert audit_verify(city.schema_name).reason == "head missing"
    out = StringIO()
    call_command("audit_head_reset", "--schema", city.schema_name, "--reason", "INC-42", stdout=out)
    assert "head re-anchored at sequence 3" in out.getvalue()
    result = audit_verify(city.schema_name)
    assert result.ok
    with schema_context(city.schema_name):
        event = AuditEvent.objects.get(action="audit.head_reset")
    assert (event.sequence, event.before["reason"], event.after["note"]) == (4, "head missing", "INC-42")
    # Keyed rows still begin where they did: a reset does not let unkeyed rows in after them.
    assert _head(city.schema_name).keyed_from == 1


def test_a_head_reset_refuses_a_chain_whose_rows_are_broken(city: Municipality) -> None:
    events = _record(city.schema_name, 3)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE ageo.security_auditevent SET summary = 'x' WHERE sequence = %s", [events[1].sequence]
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError, match="the chain itself is broken at sequence 2"):
        call_command("audit_head_reset", "--schema", city.schema_name, "--reason", "x")


def test_the_application_role_moves_the_head_but_cannot_remove_it(in_city: Municipality) -> None:
    role = f"madoguchi_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')  # rolled back with the test
    app_role_grant(role=role, schemas=["ageo"])
    with connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        try:
            event = audit_record(action="policy.changed", actor=SYSTEM)
            assert AuditHead.objects.get().sequence == event.sequence
            for statement in ("DELETE FROM security_audithead", "TRUNCATE security_audithead"):
                with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
                    cursor.execute(statement)
        finally:
            cursor.execute("RESET ROLE")
    assert audit_verify("ageo").ok
