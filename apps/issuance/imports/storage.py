"""Private storage of uploaded import files: one directory per city outside the web root, random names, removed
on commit when a batch is discarded or cleaned up; the size limit and the refusal every import step raises.
Nothing here reads the rows (engine.py does)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.issuance.models import ImportBatch
from tenants.db import current_schema

logger = logging.getLogger(__name__)

STORED_NAME = re.compile(r"[0-9a-f]{32}\.csv")
SCHEMA_NAME = re.compile(r"[a-z0-9_]+")


def max_bytes() -> int:
    return int(getattr(settings, "ISSUANCE_IMPORT_MAX_BYTES", 50 * 1024 * 1024))


class ImportBatchError(Exception):
    """A refused import step; the message is for the supervisor and already translated (a 4xx, never a 500)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadInfectedError(ImportBatchError):
    """A virus scanner found something in the file: refused, nothing stored (audited as security.upload_infected)."""


class UploadNotScannedError(ImportBatchError):
    """A virus scanner could not answer (down, timed out): refused, since an unscanned file is never accepted.
    Temporary on the city's side: 503, try again later."""


def private_dir(schema: str | None = None) -> Path:
    """The city's upload folder: under the data directory, outside MEDIA and STATIC, served by no URL."""
    schema = schema or current_schema()
    if not SCHEMA_NAME.fullmatch(schema) or schema == "public":
        raise ValueError(f"not a city schema: {schema!r}")
    return Path(settings.DATA_DIR) / "private" / schema / "imports"


def stored_path(batch: ImportBatch, schema: str | None = None) -> Path:
    if not STORED_NAME.fullmatch(batch.stored_name):
        raise ValueError("bad stored name")
    return private_dir(schema) / batch.stored_name


def unlink_file(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        logger.exception("could not delete the import file %s", path.name)


def unlink_on_commit(path: Path) -> None:
    # After the commit: a rolled-back transaction must still find its file.
    transaction.on_commit(lambda: unlink_file(path))


@dataclass
class SavedFile:
    path: Path
    sha256: str
    size: int
    lines: int
    head: bytes


def save_upload(upload: UploadedFile) -> SavedFile:
    directory = private_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{secrets.token_hex(16)}.csv"
    digest = hashlib.sha256()
    size = lines = 0
    head = b""
    last = b""
    limit = max_bytes()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > limit:
                break
            if len(head) < 65536:
                head += chunk[: 65536 - len(head)]
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            out.write(chunk)
    if size and last != b"\n":
        lines += 1
    return SavedFile(path, digest.hexdigest(), size, lines, head)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
