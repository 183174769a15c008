"""IPA 安全なウェブサイトの作り方 1-(i) SQL injection: classic payloads into every form field and query string.

The code reaches PostgreSQL only through the ORM with bound parameters (no raw SQL built from input); these tests
prove it from the outside: no payload gives a 500, signs anyone in, or changes a row.

Later work adds its pages without touching this module: forms go into tests/security/targets.FORMS, and every
page of both URLconfs is walked (targets.paths) for the query-string attacks.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Municipality
from tests.factories import PASSWORD
from tests.security.payloads import SQL_CANARY_TABLES, SQL_INJECTION
from tests.security.targets import (
    HOSTS,
    FormTarget,
    Host,
    case_id,
    client_for,
    form_cases,
    make_staff,
    paths,
    prepare,
    relax_for_attacks,
    schema_of,
    sign_in,
    submit,
)


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


def _row_counts() -> dict[str, int]:
    counts = {"public.tenants_municipality": Municipality.objects.count()}
    for schema in ("public", "ageo", "okegawa"):
        with schema_context(schema), connection.cursor() as cursor:
            for table in SQL_CANARY_TABLES:
                cursor.execute(f'SELECT count(*) FROM "{table}"')
                counts[f"{schema}.{table}"] = cursor.fetchone()[0]
    return counts


@pytest.mark.parametrize(("host", "form"), form_cases(), ids=case_id)
def test_form_fields_resist_sql_injection(city: Municipality, host: Host, form: FormTarget) -> None:
    client = client_for(host)
    staff = prepare(client, host, form)
    was_superuser = staff.is_superuser
    before = _row_counts()

    for field in form.text_fields:
        for payload in SQL_INJECTION:
            response = submit(client, form, {**form.data, field: payload})
            assert response.status_code in form.ok_statuses | {429}, (field, payload, response.status_code)
            user = response.wsgi_request.user
            if form.signed_in:
                assert user.pk == staff.pk  # still the same person, nobody else
            else:
                assert not user.is_authenticated, (field, payload)

    assert _row_counts() == before
    with schema_context(schema_of(host)):
        staff.refresh_from_db()
        assert staff.check_password(PASSWORD)
        assert staff.is_superuser == was_superuser


@pytest.mark.parametrize(
    "payload", ["tanaka' --", "tanaka'/*", "' OR username='tanaka' --", "tanaka' OR '1'='1"]
)
def test_a_quote_in_the_login_name_never_skips_the_password(city: Municipality, payload: str) -> None:
    make_staff("city")
    response = client_for("city").post(
        "/accounts/login/", {"login": payload, "password": "wrong-password-123"}
    )
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "supervisor"])
def test_query_strings_resist_sql_injection(city: Municipality, host: Host, signed_in: bool) -> None:
    client = client_for(host)
    if signed_in:
        sign_in(client, host, role="supervisor")
    before = _row_counts()
    query = dict.fromkeys(("q", "id", "page", "sort", "order", "next", "lang", "date"), SQL_INJECTION)
    for path in paths(host):
        response = client.get(path, query)
        assert response.status_code < 500, path
        response = client.get(path, {f"p{i}": payload for i, payload in enumerate(SQL_INJECTION)})
        assert response.status_code < 500, path
    assert _row_counts() == before


@pytest.mark.parametrize(
    "payload", ["ageo.localhost' OR '1'='1", "x'; DROP TABLE tenants_domain; --", "' OR 1=1"]
)
def test_host_header_resists_sql_injection(city: Municipality, payload: str) -> None:
    before = _row_counts()
    response = Client(HTTP_HOST=payload).get("/")
    assert response.status_code in (400, 404)
    assert _row_counts() == before
