"""Fixtures of the fault tests: a PostgreSQL cluster of their own (never the shared server on 5432), migrated and
seeded once for the session, and gunicorn on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.services import DB_NAME, PostgresCluster
from tests.live_server import ROOT, gunicorn_server

SLOTS = 4
SEATS = 500  # room for every booking of the session's loads: a full slot is not the fault under test


@dataclass(frozen=True)
class Seeded:
    cluster: PostgresCluster
    host: str
    schema: str
    token: str
    slots: list[int]


@pytest.fixture(scope="session")
def faults_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="madoguchi-faults-"))
    root.chmod(0o755)  # the servers run as `postgres` when we are root: they must enter it
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def seeded_cluster(faults_root: Path) -> Iterator[Seeded]:
    cluster = PostgresCluster(faults_root / "pg")
    try:
        cluster.start()
        cluster.psql(f"CREATE DATABASE {DB_NAME}", database="postgres")
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
            "DATABASE_URL": cluster.url(),
        }
        env.pop("REDIS_URL", None)  # the tests that want Redis start their own
        seeded = subprocess.run(
            [sys.executable, "-m", "tests.faults.seed", str(SLOTS), str(SEATS)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        yield Seeded(cluster, data["host"], data["schema"], data["token"], data["slots"])
    finally:
        cluster.stop()


@contextmanager
def app_server(database_url: str, *, workers: int = 2, threads: int = 4) -> Iterator[int]:
    """gunicorn with production settings (DEBUG off, kept connections) on `database_url`; its port."""
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",
        "REDIS_URL": "",
        "DATABASE_CONN_MAX_AGE": "60",
    }
    with gunicorn_server(workers=workers, threads=threads, env=env) as port:
        yield port
