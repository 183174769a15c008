"""The API's description: the OpenAPI schema, Swagger UI and Redoc, open within the city's networks without a key,
from our own static files, under a CSP without inline script."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from conftest import OUTSIDE_ADDRESS
from tenants.models import Municipality

DOC_PAGES = ("/api/v1/docs/", "/api/v1/redoc/")


def _directives(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part.strip()
    }


def _script_sources(html: str) -> list[str]:
    assert "<script>" not in html, "an inline script"
    assert "<style" not in html, "an inline style"
    return re.findall(r'<script src="([^"]+)"', html)


def test_the_schema_is_the_same_document_at_every_city_and_needs_no_key(
    city_client: Client, other_city_client: Client
) -> None:
    ageo = city_client.get("/api/v1/schema/", {"format": "json"})
    okegawa = other_city_client.get("/api/v1/schema/", {"format": "json"})
    assert ageo.status_code == okegawa.status_code == 200
    assert ageo.content == okegawa.content  # generated from the code alone: nothing of either city in it
    schema = ageo.json()
    assert schema["openapi"] == "3.1.0"
    assert "/api/v1/docs/" not in schema["paths"]


def test_the_schema_speaks_english_when_asked(city_client: Client) -> None:
    ja = city_client.get("/api/v1/schema/", {"format": "json"}).json()
    en = city_client.get("/api/v1/schema/", {"format": "json", "lang": "en"}).json()
    assert ja["paths"]["/api/v1/purposes/"]["get"]["summary"] == "用件の一覧"
    assert en["paths"].keys() == ja["paths"].keys()


@pytest.mark.parametrize("page", DOC_PAGES)
def test_the_docs_pages_are_refused_outside_the_citys_networks(city: Municipality, page: str) -> None:
    client = Client(HTTP_HOST="ageo.localhost", REMOTE_ADDR=OUTSIDE_ADDRESS)
    for path in (page, "/api/v1/schema/"):
        assert client.get(path).status_code == 403


def test_swagger_ui_runs_from_our_own_scripts_only(city_client: Client) -> None:
    page = city_client.get("/api/v1/docs/", {"lang": "en"})
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    csp = _directives(page)
    assert csp["script-src"] == ["'self'"]
    assert not any("unsafe" in value for values in csp.values() for value in values)
    sources = _script_sources(page.content.decode())
    assert sources[0] == "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert all(src.startswith("/") and not src.startswith("//") for src in sources)  # our host, no CDN
    init = city_client.get(sources[-1].replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/?lang=en" in init.content.decode("unicode_escape")  # escapejs writes = as \u003D
    assert "csrftoken" not in init.cookies  # no session, no CSRF cookie under /api/


def test_redoc_styles_carry_the_responses_nonce(city_client: Client) -> None:
    page = city_client.get("/api/v1/redoc/")
    assert page.status_code == 200
    csp = _directives(page)
    assert csp["script-src"] == ["'self'"]
    nonces = [value for value in csp["style-src"] if value.startswith("'nonce-")]
    assert len(nonces) == 1
    assert "'unsafe-inline'" not in csp["style-src"]
    html = page.content.decode()
    assert f'data-nonce="{nonces[0][7:-1]}"' in html
    assert 'data-spec-url="/api/v1/schema/"' in html
    assert "fonts.googleapis.com" not in html
    sources = _script_sources(html)
    assert sources[0] == "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
    init = city_client.get(sources[-1])
    assert init["Content-Type"].startswith("application/javascript")
    assert "Redoc.init" in init.content.decode()
    assert city_client.get("/api/v1/redoc/")["Content-Security-Policy"] != page["Content-Security-Policy"]


@pytest.mark.parametrize(
    "asset",
    [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    ],
)
def test_the_docs_assets_are_served_from_our_host(city_client: Client, asset: str) -> None:
    response = city_client.get(asset)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]
