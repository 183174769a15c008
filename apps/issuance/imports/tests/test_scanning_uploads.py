"""Card-list uploads pass through the virus scanners (issue 14, item 4): with a REAL clamd from Debian, started here
on its own socket with a one-signature database made for the test (no internet for freshclam), the EICAR test file
is refused on the staff page and through the API with the Japanese message, nothing is stored, and the audit log
and the operators' log say so; a clean CSV passes. A scanner that is down refuses too (fail closed), and without
any scanner (development) the page says uploads are not scanned."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from apps.issuance.imports.storage import private_dir
from apps.issuance.imports.tests.support import batch_id_of, csv_bytes, numbered_rows, upload
from apps.issuance.models import ImportBatch
from apps.security.audit_models import AuditEvent
from apps.security.models import ApiKey, ApiScope, Role
from apps.security.tests.api_helpers import bearer, make_key, problem
from base.scanning import ClamdScanner
from tenants.models import Municipality
from tests.factories import role_client

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
# The public EICAR test file (every antivirus product reports it, it does nothing), split so that this source file
# itself is not reported by a scanner that reads the repository.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Madoguchi.Test.EICAR"
INFECTED_MESSAGE = "ウイルスが見つかったため、このファイルは受け付けませんでした"
UNAVAILABLE_MESSAGE = "ウイルス検査ができないため、ファイルを受け付けませんでした"
IMPORTS = "/api/v1/card-imports/"


@pytest.fixture(autouse=True)
def _private_data(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path


@pytest.fixture(scope="module")
def clamd_socket() -> Iterator[str]:
    """A clamd of our own: its socket, database and log in a fresh folder; stopped and removed afterwards."""
    if not os.path.exists(CLAMD):
        pytest.skip(
            "clamd is not installed (Debian: apt-get install clamav-daemon; make test installs it as root)"
        )
    home = Path(tempfile.mkdtemp(prefix="virus-clamd-", dir="/tmp"))
    (home / "db").mkdir()
    # A hash signature (md5:size:name) of the EICAR file: clamd loads it in well under a second.
    (home / "db" / "madoguchi-test.hdb").write_text(
        f"{hashlib.md5(EICAR, usedforsecurity=False).hexdigest()}:{len(EICAR)}:{SIGNATURE}\n"
    )
    socket_path = home / "clamd.sock"
    (home / "clamd.conf").write_text(
        f"LocalSocket {socket_path}\nDatabaseDirectory {home / 'db'}\nForeground yes\n"
        f"LogFile {home / 'clamd.log'}\nPidFile {home / 'clamd.pid'}\nStreamMaxLength 60M\n"
    )
    process = subprocess.Popen(
        [CLAMD, "-c", str(home / "clamd.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        probe = ClamdScanner(f"unix://{socket_path}", timeout=2)
        deadline = time.monotonic() + 60
        while not (socket_path.exists() and probe.ping()):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (home / "clamd.log").read_text() if (home / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start: {log[-2000:]}")
            time.sleep(0.1)
        yield f"clamd:unix://{socket_path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def with_clamd(settings: Any, clamd_socket: str) -> str:
    settings.VIRUS_SCANNERS = [clamd_socket]
    return clamd_socket


@pytest.fixture
def scanner_down(settings: Any, tmp_path: Path) -> None:
    settings.VIRUS_SCANNERS = [f"clamd:unix://{tmp_path / 'no-clamd-here.sock'}"]


@pytest.fixture
def supervisor(city: Municipality) -> Client:
    return role_client(city, Role.SUPERVISOR)


@pytest.fixture
def key(city: Municipality) -> tuple[ApiKey, str]:
    return make_key(city, ApiScope.CARDS_READ, ApiScope.CARDS_WRITE, name="住民記録システム")


def send(client: Client, token: str, content: bytes, name: str = "cards.csv") -> Any:
    return client.post(
        IMPORTS, {"file": SimpleUploadedFile(name, content, content_type="text/csv")}, **bearer(token)
    )


def _nothing_stored(city: Municipality) -> None:
    with schema_context(city.schema_name):
        assert not ImportBatch.objects.exists()
        folder = private_dir(city.schema_name)
        assert not folder.exists() or not any(folder.iterdir())


def _audited(city: Municipality, action: str) -> list[AuditEvent]:
    with schema_context(city.schema_name):
        return list(AuditEvent.objects.filter(action=action))


def test_eicar_is_refused_on_the_staff_page_and_nothing_is_stored(
    with_clamd: str,
    supervisor: Client,
    city: Municipality,
    other_city: Municipality,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="apps.issuance.imports.services"):
        refused = upload(supervisor, EICAR, name="eicar.csv")
    assert refused.status_code == 400
    page = refused.content.decode()
    assert INFECTED_MESSAGE in page
    assert SIGNATURE in page
    assert 'type="file"' in page  # the form is shown again, with the message at the file
    _nothing_stored(city)

    [row] = _audited(city, "security.upload_infected")
    assert row.summary.startswith(f"eicar.csv: clamd: {SIGNATURE}")
    assert row.after["sha256"] == hashlib.sha256(EICAR).hexdigest()
    assert row.actor_username == f"{city.slug}-supervisor"
    assert any("virus found" in message and SIGNATURE in message for message in caplog.messages)
    assert _audited(other_city, "security.upload_infected") == []


def test_eicar_is_refused_through_the_api_and_nothing_is_stored(
    with_clamd: str, city_client: Client, key: tuple[ApiKey, str], city: Municipality
) -> None:
    refused = send(city_client, key[1], EICAR, name="eicar.csv")
    assert refused.status_code == 422
    body = problem(refused)
    assert body["code"] == "virus_found"
    assert INFECTED_MESSAGE in body["detail"]
    assert SIGNATURE in body["detail"]
    _nothing_stored(city)
    [row] = _audited(city, "security.upload_infected")
    assert row.actor_username.startswith(f"api:{key[0].prefix}")


def test_a_clean_csv_passes_the_real_scanner_and_the_verdict_is_kept(
    with_clamd: str, supervisor: Client, city_client: Client, key: tuple[ApiKey, str], city: Municipality
) -> None:
    batch_id = batch_id_of(upload(supervisor, csv_bytes(numbered_rows(2))))
    accepted = send(city_client, key[1], csv_bytes(numbered_rows(2, start=10)))
    assert accepted.status_code == 202, accepted.content
    with schema_context(city.schema_name):
        assert ImportBatch.objects.get(pk=batch_id).status == ImportBatch.Status.READY
    uploaded = _audited(city, "import.uploaded")
    assert len(uploaded) == 2
    assert all(row.after["virus_scan"] == ["clamd: OK"] for row in uploaded)
    assert _audited(city, "security.upload_infected") == []


def test_a_scanner_that_is_down_refuses_the_upload_on_the_page(
    scanner_down: None, supervisor: Client, city: Municipality, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="apps.issuance.imports.services"):
        refused = upload(supervisor, csv_bytes(numbered_rows(1)))
    assert refused.status_code == 503
    assert refused["Retry-After"] == "60"
    assert UNAVAILABLE_MESSAGE in refused.content.decode()
    _nothing_stored(city)
    [row] = _audited(city, "import.refused")
    assert UNAVAILABLE_MESSAGE in row.summary
    assert any("could not answer" in message for message in caplog.messages)


def test_a_scanner_that_is_down_refuses_the_upload_through_the_api(
    scanner_down: None, city_client: Client, key: tuple[ApiKey, str], city: Municipality
) -> None:
    refused = send(city_client, key[1], csv_bytes(numbered_rows(1)))
    assert refused.status_code == 503
    assert refused["Retry-After"] == "60"
    body = problem(refused)
    assert body["code"] == "virus_scan_unavailable"
    assert UNAVAILABLE_MESSAGE in body["detail"]
    _nothing_stored(city)


def test_without_scanners_the_page_says_uploads_are_not_scanned(settings: Any, supervisor: Client) -> None:
    settings.VIRUS_SCANNERS = []
    page = supervisor.get("/staff/cards/import/upload/").content.decode()
    assert "ウイルス検査が設定されていません" in page
    settings.VIRUS_SCANNERS = ["clamd:unix:///run/clamav/clamd.ctl"]
    page = supervisor.get("/staff/cards/import/upload/").content.decode()
    assert "ウイルス検査が設定されていません" not in page
    assert "ファイルはウイルス検査をしてから受け付けます" in page
