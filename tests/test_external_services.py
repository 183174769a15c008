"""The external path: a real PostgreSQL server over TCP and Redis, as production uses them.

These run where the servers at 127.0.0.1 are reachable (CI machines have them) and skip with the reason
otherwise. Each works in a database of its own, created and dropped here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("EXTERNAL_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("EXTERNAL_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = [pytest.mark.external, pytest.mark.slow]


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


needs_postgres = pytest.mark.skipif(
    not _reachable(5432), reason="no PostgreSQL at 127.0.0.1:5432 on this machine"
)
needs_redis = pytest.mark.skipif(not _reachable(6379), reason="no Redis at 127.0.0.1:6379 on this machine")


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def external_db() -> Iterator[str]:
    import psycopg

    name = f"madoguchi_ext_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(database_url: str, redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MADOGUCHI_EMBEDDED_DB")}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="madoguchi.settings")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


ROUTE_CHECK = """
import json
from django.test import Client
page = Client(HTTP_HOST="fukaya.localhost").get("/")
ready = Client(HTTP_HOST="localhost").get("/readyz")
print(json.dumps({"page": page.status_code, "city": "深谷市" in page.content.decode(), "ready": ready.json()}))
"""


@needs_postgres
def test_bootstrap_and_a_new_city_on_an_external_postgresql(external_db: str) -> None:
    env = _env(external_db)
    _manage(env, "bootstrap")
    _manage(env, "create_municipality", "fukaya", "112186", "深谷市", "Fukaya City", "埼玉県")
    result = json.loads(_manage(env, "shell", "-c", ROUTE_CHECK).strip().splitlines()[-1])
    assert result["page"] == 200
    assert result["city"] is True
    assert result["ready"]["status"] == "ready"


REDIS_CHECK = """
import json, redis
from django.core.cache import cache
from django.conf import settings
from django_tenants.utils import schema_context
with schema_context("fukaya"):
    cache.set("greeting", "こんにちは", 60)
    mine = cache.get("greeting")
with schema_context("public"):
    public = cache.get("greeting")
keys = [k.decode() for k in redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).keys("*greeting*")]
from madoguchi.celery import app
print(json.dumps({"mine": mine, "public": public, "keys": keys, "broker": app.conf.broker_url}))
"""


@needs_postgres
@needs_redis
def test_redis_cache_is_shared_and_tenant_prefixed(external_db: str) -> None:
    env = _env(external_db, REDIS_URL)
    _manage(env, "bootstrap")
    _manage(env, "create_municipality", "fukaya", "112186", "深谷市", "Fukaya City", "埼玉県")
    result = json.loads(_manage(env, "shell", "-c", REDIS_CHECK).strip().splitlines()[-1])
    assert result["mine"] == "こんにちは"
    assert result["public"] is None  # another tenant's key space
    assert any("fukaya" in key for key in result["keys"])
    assert result["broker"].startswith("redis://")
    ready = json.loads(_manage(env, "shell", "-c", ROUTE_CHECK).strip().splitlines()[-1])["ready"]
    assert ready["checks"]["broker"]["ok"] is True
