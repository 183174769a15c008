"""IPA 安全なウェブサイトの作り方 1-(x)「バッファオーバーフロー」: why it does not apply, and what does.

A classic buffer overflow writes past the end of a fixed-size buffer in memory-unsafe code (C, C++) and
overwrites a return address or a function pointer. This code base is pure Python: strings and lists grow as
needed, every index is bounds-checked, and an out-of-range write is an exception, never a memory overwrite. The
native code that does run (CPython, psycopg's libpq, nh3's Rust, PostgreSQL, nginx) is maintained upstream and
patched through the dependency audit (`make audit`, the daily job; docs/security.md "Vulnerability management").

What is left of the class for a Python web application is resource exhaustion from oversized input: a huge field,
body, header or number of fields that costs memory or CPU, or a value longer than a database column that turns into
a 500. The limits, and where they are enforced:
- Django refuses a non-file request body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) and more than
  DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) fields or DATA_UPLOAD_MAX_NUMBER_FILES (100) files: 400, never a 500.
- Form fields have max_length (checked before the database sees them); NUL bytes, which PostgreSQL cannot store,
  are refused by Django's CharField.
- In production nginx limits the body (client_max_body_size) and header sizes before Python sees them, and
  gunicorn limits request line and header fields (ops/).

Later work adds its forms to tests/security/targets.FORMS and they get the oversized and NUL inputs here with no
change to this module; an API or import adds its own case (deeply nested JSON, a CSV with a huge cell).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tenants.models import Municipality
from tests.security.targets import (
    CITY_HOST,
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
    sign_in,
    submit,
)

ONE_MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


def test_the_limits_are_djangos_defaults_or_tighter() -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE is not None
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2.5 * ONE_MB
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS is not None
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS <= 1000


def test_a_one_megabyte_login_name_is_refused_not_a_500(city: Municipality) -> None:
    make_staff("city")
    response = client_for("city").post("/accounts/login/", {"login": "a" * ONE_MB, "password": "x"})
    # Under the body limit, so the form answers: a field error (re-rendered form) or a refusal, never a 500.
    assert response.status_code in (200, 400, 413)
    assert not response.wsgi_request.user.is_authenticated


def test_a_ten_megabyte_body_is_refused(city: Municipality) -> None:
    body = "login=" + "a" * (10 * ONE_MB) + "&password=x"
    response = client_for("city").post(
        "/accounts/login/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (400, 413)


def test_too_many_fields_are_refused(city: Municipality) -> None:
    data = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = client_for("city").post("/accounts/login/", {**data, "login": "a", "password": "b"})
    assert response.status_code == 400


def test_too_many_files_are_refused(city: Municipality) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {
        f"file{i}": SimpleUploadedFile(f"{i}.txt", b"x")
        for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    }
    response = client_for("city").post("/accounts/login/", {**files, "login": "a", "password": "b"})
    assert response.status_code == 400


@pytest.mark.parametrize(("host", "form"), form_cases(), ids=case_id)
def test_oversized_and_nul_values_in_every_field(city: Municipality, host: Host, form: FormTarget) -> None:
    client = client_for(host)
    prepare(client, host, form)
    for field in form.text_fields:
        for value in (
            "x" * 100_000,
            "a\x00b",
            "\x00",
            "😀" * 10_000,
        ):
            response = submit(client, form, {**form.data, field: value})
            assert response.status_code in form.ok_statuses | {413, 429}, (field, len(value))


def test_invalid_utf8_in_a_body_is_not_a_500(city: Municipality) -> None:
    response = client_for("city").post(
        "/accounts/login/",
        b"login=%ff%fe%00&password=%c0%af",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("host", HOSTS)
def test_oversized_query_strings_and_paths(city: Municipality, host: Host) -> None:
    client = client_for(host)
    sign_in(client, host, role="supervisor")
    for path in paths(host):
        assert client.get(path, {"q": "x" * 200_000}).status_code < 500, path
        assert client.get(path, {f"f{i}": "x" for i in range(1500)}).status_code < 500, path
        assert client.get(path, {"q": "\x00"}).status_code < 500, path
    assert client.get("/" + "a" * 100_000).status_code == 404


@pytest.mark.parametrize("label", ["a" * 64, "a" * 10_000, ".".join(["a"] * 5000)])
def test_overlong_host_headers(db: None, label: str) -> None:
    response = Client(HTTP_HOST=f"{label}.localhost").get("/")
    assert response.status_code in (400, 404)


def test_an_oversized_cookie_is_ignored(city: Municipality) -> None:
    client = Client(HTTP_HOST=CITY_HOST)
    client.cookies["sessionid"] = "x" * 100_000
    client.cookies["csrftoken"] = "y" * 100_000
    response = client.get("/")
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
