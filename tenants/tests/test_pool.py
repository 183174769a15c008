"""The warm pool of spare schemas: a city from a spare works exactly as a cloned one, stale or missing spares fall
back to the clone, concurrent creations never share a spare, and spares are no city anywhere."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import ProgrammingError, connection, connections, transaction
from django.test import Client, override_settings
from django_tenants.utils import schema_context, schema_exists

from apps.booking.models import Purpose, Reservation
from apps.booking.reservations.services import PersonInput, hold_create, reservation_confirm
from apps.security.actors import SYSTEM
from apps.security.audit import audit_record
from apps.security.audit_chain import audit_verify
from apps.security.db_roles import app_role_grant, security_schemas
from tenants import services
from tenants.db import use_public_schema
from tenants.fanout import for_each_city
from tenants.models import Municipality
from tenants.pool import SPARE_PREFIX, schema_fingerprint, template_fingerprint
from tenants.pool_models import SpareSchema
from tenants.routing import ROUTES
from tenants.selectors import municipality_list
from tenants.services import MunicipalityInput, municipality_create, pool_refill
from tenants.tests.test_provisioning import _schema_shape
from tests.factories import SlotFactory, visit_day

KITAMOTO = MunicipalityInput(
    slug="kitamoto", lg_code="112330", name_ja="北本市", name_en="Kitamoto City", prefecture="埼玉県"
)
KOUNOSU = MunicipalityInput(
    slug="kounosu", lg_code="112178", name_ja="鴻巣市", name_en="Kounosu City", prefecture="埼玉県"
)
POOL_ON = override_settings(TENANT_POOL_SIZE=3, TENANT_CREATION="clone")


def _spares() -> list[str]:
    return list(SpareSchema.objects.order_by("id").values_list("schema_name", flat=True))


def _create(data: MunicipalityInput) -> Municipality:
    with POOL_ON:
        return municipality_create(data=data, domains=[f"{data.slug}.localhost"])


def _book_and_audit(city: Municipality) -> Reservation:
    with schema_context(city.schema_name):
        slot = SlotFactory.create(day=visit_day(5), seats=2)
        now = datetime.now().astimezone()
        purpose = Purpose.objects.get(code="application")
        hold = hold_create(slot_id=slot.pk, purpose_id=purpose.pk, persons=1, now=now)
        reservation = reservation_confirm(
            hold_token=hold.token,
            persons=[PersonInput(name="北本 太郎", birth_date=date(1985, 5, 5))],
            email="taro@example.jp",
            phone="",
            submission_key=uuid.uuid4(),
            now=now,
        )
        audit_record(action="policy.changed", actor=SYSTEM, summary="from the pool")
        return reservation


# --- creation from a spare ------------------------------------------------------------------------------------------


def test_a_city_from_a_spare_books_audits_and_keeps_its_chain_and_triggers(db: None) -> None:
    role = f"madoguchi_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')  # rolled back with the test
    app_role_grant(role=role, schemas=["city_template"])  # before the refill: the spare is cloned with it
    assert pool_refill(size=1) == 1
    [spare] = _spares()
    assert spare.startswith(SPARE_PREFIX)

    city = _create(KITAMOTO)

    assert not schema_exists(spare)
    assert schema_exists("kitamoto")
    assert not SpareSchema.objects.exists()
    assert "北本市" in Client(HTTP_HOST="kitamoto.localhost").get("/").content.decode()
    with schema_context("kitamoto"):
        assert set(Group.objects.values_list("name", flat=True)) == {"supervisor", "staff", "auditor"}
    reservation = _book_and_audit(city)
    with schema_context("kitamoto"):
        assert Reservation.objects.filter(pk=reservation.pk).exists()
    # The head was re-anchored under the city's own key (derived from its schema name), not the spare's.
    result = audit_verify("kitamoto")
    assert result.ok, result.reason
    assert result.checked >= 1
    with (
        schema_context("kitamoto"),
        pytest.raises(ProgrammingError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE security_auditevent SET summary = 'rewritten'")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%(r)s, 'kitamoto.security_auditevent', 'INSERT'),"
            " has_table_privilege(%(r)s, 'kitamoto.security_auditevent', 'UPDATE'),"
            " has_schema_privilege(%(r)s, 'kitamoto', 'USAGE')",
            {"r": role},
        )
        assert cursor.fetchone() == (True, False, True)
        # Nothing in the catalog names the spare by text once it is renamed (defaults, functions, triggers...).
        cursor.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE pg_get_expr(d.adbin, d.adrelid) LIKE %(s)s"
            " UNION ALL SELECT p.prosrc FROM pg_proc p"
            "  WHERE p.prosrc LIKE %(s)s OR array_to_string(p.proconfig, ',') LIKE %(s)s"
            " UNION ALL SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE pg_get_triggerdef(t.oid) LIKE %(s)s"
            " UNION ALL SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
            "  WHERE pg_get_constraintdef(c.oid) LIKE %(s)s"
            " UNION ALL SELECT definition FROM pg_views WHERE definition LIKE %(s)s",
            {"s": f"%{spare}%"},
        )
        assert cursor.fetchall() == []


def test_a_city_from_a_spare_has_the_schema_of_a_cloned_city(db: None) -> None:
    cloned = _create(KOUNOSU)  # the pool is empty: a clone
    pool_refill(size=1)
    from_spare = _create(KITAMOTO)
    assert not SpareSchema.objects.exists()
    assert _schema_shape(from_spare.schema_name) == _schema_shape(cloned.schema_name)
    assert schema_fingerprint("kitamoto") == schema_fingerprint("kounosu") == template_fingerprint()


# --- fallbacks ------------------------------------------------------------------------------------------------------


def test_an_empty_pool_falls_back_to_the_clone(db: None) -> None:
    city = _create(KITAMOTO)
    assert schema_exists(city.schema_name)
    assert audit_verify("kitamoto").ok
    _book_and_audit(city)


def test_the_pool_off_leaves_spares_alone_and_clones(db: None) -> None:
    pool_refill(size=1)
    with override_settings(TENANT_POOL_SIZE=0):
        municipality_create(data=KITAMOTO, domains=["kitamoto.localhost"])
    assert len(_spares()) == 1


def _grant_on_template() -> None:
    role = f"madoguchi_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
    app_role_grant(role=role, schemas=["city_template"])


def _record_migration_on_template() -> None:
    # What a deploy leaves behind: the template has a migration record that the spare, cloned before, lacks.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO city_template.django_migrations (app, name, applied) VALUES ('booking', '9999_new', now())"
        )


@pytest.mark.parametrize("change", [_record_migration_on_template, _grant_on_template])
def test_a_stale_spare_is_dropped_and_the_city_is_cloned(db: None, change: Any) -> None:
    pool_refill(size=1)
    [spare] = _spares()
    change()
    city = _create(KITAMOTO)
    assert not schema_exists(spare), "the stale spare is dropped"
    assert not SpareSchema.objects.exists()
    assert schema_fingerprint(city.schema_name) == template_fingerprint(), "cloned from the changed template"
    assert audit_verify("kitamoto").ok


# --- refill ---------------------------------------------------------------------------------------------------------


def test_refill_fills_to_the_size_drops_the_surplus_and_replaces_stale_spares(db: None) -> None:
    assert pool_refill(size=2) == 2
    first = _spares()
    assert all(schema_exists(name) for name in first)
    assert {s.fingerprint for s in SpareSchema.objects.all()} == {template_fingerprint()}
    assert pool_refill(size=2) == 0
    assert _spares() == first
    assert pool_refill(size=1) == 0
    assert _spares() == first[:1]
    assert not schema_exists(first[1])
    _record_migration_on_template()
    assert pool_refill(size=1) == 1
    assert first[0] not in _spares()
    assert not schema_exists(first[0])
    out = StringIO()
    call_command("pool_refill", "--size", "0", stdout=out)
    assert "0 in the pool" in out.getvalue()
    assert not SpareSchema.objects.exists()


# --- isolation and invisibility -------------------------------------------------------------------------------------


def test_a_city_from_a_spare_sees_nothing_of_the_others_and_they_nothing_of_it(city: Municipality) -> None:
    with schema_context(city.schema_name):
        Group.objects.create(name="ageo-only")
    pool_refill(size=1)
    _create(KITAMOTO)
    with schema_context("kitamoto"):
        assert not Group.objects.filter(name="ageo-only").exists()
        Group.objects.create(name="kitamoto-only")
    with schema_context(city.schema_name):
        assert not Group.objects.filter(name="kitamoto-only").exists()


def test_spares_are_no_city_routing_listings_fanouts_grants_and_dumps_never_see_them(
    city: Municipality, other_city: Municipality
) -> None:
    from madoguchi.backups import cities as backup_cities

    pool_refill(size=1)
    [spare] = _spares()
    assert spare not in municipality_list(include_public=True).values_list("schema_name", flat=True)
    assert Client(HTTP_HOST=f"{spare}.localhost").get("/").status_code == 404
    ROUTES.written()
    assert ROUTES.tenant_for(f"{spare}.localhost") is None
    assert ROUTES.tenant_for("ageo.localhost") is not None
    assert spare not in [c.schema_name for c in backup_cities()]
    assert spare not in security_schemas()

    class Recorder:
        def __init__(self) -> None:
            self.schemas: list[str] = []

        def delay(self) -> None:
            self.schemas.append(connection.schema_name)  # type: ignore[attr-defined]

    recorder = Recorder()
    for_each_city(recorder)
    use_public_schema()
    assert spare not in recorder.schemas
    assert {"ageo", "okegawa"} <= set(recorder.schemas)


# --- concurrency (committed data: other connections must see the spares) ---------------------------------------------


@pytest.fixture
def two_spares(django_db_setup: None, django_db_blocker: Any) -> Iterator[list[str]]:
    with django_db_blocker.unblock():
        use_public_schema()
        pool_refill(size=2)
        yield _spares()
        use_public_schema()
        for slug in ("kitamoto", "kounosu"):
            for municipality in Municipality.objects.filter(slug=slug):
                municipality.delete(force_drop=True)
        pool_refill(size=0)


def _create_at_once(data: MunicipalityInput, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        barrier.wait(timeout=30)
        municipality_create(data=data, domains=[f"{data.slug}.localhost"])
    except BaseException as exc:
        errors.append(exc)
    finally:
        connections.close_all()


def test_two_creations_at_once_take_two_different_spares(
    two_spares: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    refills: list[bool] = []
    monkeypatch.setattr(services, "_pool_refill_later", lambda: refills.append(True))
    assert len(two_spares) == 2
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    with POOL_ON:
        threads = [
            threading.Thread(target=_create_at_once, args=(data, barrier, errors))
            for data in (KITAMOTO, KOUNOSU)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    # Both took a spare (a clone would have left one in the pool), and each its own.
    assert _spares() == []
    assert not any(schema_exists(name) for name in two_spares)
    assert schema_exists("kitamoto")
    assert schema_exists("kounosu")
    assert refills == [True, True]
