"""The primary backup: base backups (pg_basebackup) with the WAL archive, their verification, pruning and health
(docs/operations.md, "Backups"). Recovering one into a scratch cluster, and one city to a point in time from it, is
madoguchi.pitr; the per-city logical dumps are madoguchi.backups.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from madoguchi.backups import (
    MANIFEST_VERSION,
    STAMP_FORMAT,
    BackupError,
    Server,
    pg_binary,
    server_version_num,
    write_atomically,
)

# --- Base backups (pg_basebackup) and the WAL archive ----------------------------------------------------------
#
# The primary backup: a base backup every night plus every WAL segment archived by `archive_command`
# (ops/backup/archive-wal). A base backup is BASE_DIR/<UTC timestamp>/ holding pg_basebackup's tar output
# (base.tar.gz, pg_wal.tar.gz, backup_manifest) and backup.json, written last: a base backup counts only once its
# backup.json exists. It is taken into BASE_DIR/.<timestamp>.partial and renamed when verified.

BASE_KEEP = 7
BASE_BACKUP_TIMEOUT_SECONDS = 6 * 3600
_WAL_NAME = re.compile(r"^[0-9A-F]{24}$")
# What the archive holds besides segments: a segment's .partial (pg_receivewal), a backup history file.
_WAL_ARCHIVE_FILE = re.compile(
    r"^(?P<segment>[0-9A-F]{24})(\.partial|\.[0-9A-F]{8}\.backup)?(\.gz|\.zst|\.lz4)?$"
)


def base_backup_dir() -> Path:
    default = Path(settings.DATA_DIR) / "base-backups"
    return Path(getattr(settings, "BASE_BACKUP_DIR", None) or default)


def wal_archive_dir() -> Path:
    default = Path(settings.DATA_DIR) / "wal-archive"
    return Path(getattr(settings, "WAL_ARCHIVE_DIR", None) or default)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _segments_per_id(segment_size: int) -> int:
    return 0x100000000 // segment_size


def wal_segment_number(name: str, segment_size: int) -> tuple[int, int]:
    """(timeline, segment number) of a WAL file name such as 000000010000000000000002."""
    if not _WAL_NAME.match(name):
        raise BackupError(f"not a WAL segment name: {name}")
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    return int(name[:8], 16), log * _segments_per_id(segment_size) + seg


def wal_segment_name(timeline: int, number: int, segment_size: int) -> str:
    per_id = _segments_per_id(segment_size)
    return f"{timeline:08X}{number // per_id:08X}{number % per_id:08X}"


def lsn_segment_name(lsn: str, timeline: int, segment_size: int) -> str:
    high, low = lsn.split("/")
    return wal_segment_name(timeline, ((int(high, 16) << 32) | int(low, 16)) // segment_size, segment_size)


@dataclass
class BaseBackup:
    """A complete base backup: its directory and what backup.json says of it."""

    path: Path
    info: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def end_time(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.info["end_time"])

    @property
    def start_wal(self) -> str:
        return str(self.info["start_wal"])

    @property
    def bytes(self) -> int:
        return int(sum(self.info["files"].values()))


def complete_base_backups(root: Path) -> list[BaseBackup]:
    """The base backups under `root` that have their backup.json, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        marker = path / "backup.json"
        if path.name.startswith(".") or not marker.is_file():
            continue
        try:
            found.append(BaseBackup(path=path, info=json.loads(marker.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def extract_tar(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def find_tar(directory: Path, stem: str) -> Path | None:
    for suffix in (".tar.gz", ".tar", ".tar.lz4", ".tar.zst"):
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _backup_label(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        values[key.strip()] = value.strip()
    return values


def _read_backup_label(base_tar: Path) -> str:
    with tarfile.open(base_tar) as tar:
        for member in tar:
            if member.name in ("backup_label", "./backup_label"):
                handle = tar.extractfile(member)
                if handle is not None:
                    return handle.read().decode("utf-8")
    raise BackupError(f"no backup_label in {base_tar}")


@dataclass
class BaseBackupResult:
    backup: BaseBackup
    seconds: float
    verify_seconds: float | None


def base_backup(
    *,
    directory: Path | None = None,
    server: Server | None = None,
    verify: bool = True,
    timeout: int = BASE_BACKUP_TIMEOUT_SECONDS,
) -> BaseBackupResult:
    """Take a base backup with pg_basebackup (tar, gzip, the WAL it needs streamed alongside, a SHA-256 manifest),
    check it with pg_verifybackup, and write backup.json. The connection needs the REPLICATION attribute and a
    `replication` line in pg_hba.conf."""
    server = server or Server.from_settings()
    version = server_version_num(server)
    major = version // 10000
    pg_basebackup = pg_binary("pg_basebackup", major)
    root = directory or base_backup_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with server.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'"
        ).fetchone()
    assert row is not None
    segment_size = int(row[0])
    started = utc_now()
    stamp = started.strftime(STAMP_FORMAT)
    partial = root / f".{stamp}.partial"
    final = root / stamp
    verify_dir = root / f".{stamp}.verify"
    verify_seconds: float | None = None
    try:
        proc = subprocess.run(  # noqa: S603 (argv built from the settings and the backup directory)
            [
                str(pg_basebackup),
                f"--pgdata={partial}",
                "--format=tar",
                "--gzip",
                "--wal-method=stream",
                "--checkpoint=fast",
                f"--label=madoguchi {stamp}",
                "--manifest-checksums=SHA256",
                "--no-password",
            ],
            env=server.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_basebackup failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        ended = utc_now()
        base_tar = find_tar(partial, "base")
        wal_tar = find_tar(partial, "pg_wal")
        if base_tar is None or not (partial / "backup_manifest").is_file():
            raise BackupError(f"pg_basebackup left no base.tar.gz or backup_manifest in {partial}")
        if verify:
            clock = utc_now()
            _verify_base_backup(partial, base_tar, wal_tar, verify_dir, major)
            verify_seconds = (utc_now() - clock).total_seconds()
        label = _backup_label(_read_backup_label(base_tar))
        manifest = json.loads((partial / "backup_manifest").read_text(encoding="utf-8"))
        wal_range = manifest["WAL-Ranges"][0]
        timeline = int(wal_range["Timeline"])
        files = {}
        for path in sorted(partial.iterdir()):
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
            files[path.name] = path.stat().st_size
        info = {
            "version": MANIFEST_VERSION,
            "label": label.get("LABEL", ""),
            "server_version_num": version,
            "pg_basebackup": str(pg_basebackup),
            "start_time": started.isoformat(),
            "end_time": ended.isoformat(),
            "timeline": timeline,
            "start_lsn": wal_range["Start-LSN"],
            "end_lsn": wal_range["End-LSN"],
            "start_wal": lsn_segment_name(wal_range["Start-LSN"], timeline, segment_size),
            "end_wal": lsn_segment_name(wal_range["End-LSN"], timeline, segment_size),
            "wal_segment_size": segment_size,
            "verified": "pg_verifybackup" if verify else "no",
            "files": files,
        }
        write_atomically(partial / "backup.json", json.dumps(info, indent=2, sort_keys=True).encode("utf-8"))
        os.replace(partial, final)
        _fsync_dir(root)
    finally:
        shutil.rmtree(verify_dir, ignore_errors=True)
        shutil.rmtree(partial, ignore_errors=True)
    backup = BaseBackup(path=final, info=info)
    return BaseBackupResult(
        backup=backup, seconds=(ended - started).total_seconds(), verify_seconds=verify_seconds
    )


def verify_base_backup(backup: Path) -> float:
    """pg_verifybackup of a base backup directory made by `base_backup` (e.g. after copying it back from off-site
    storage); the seconds it took. Needs free space for the unpacked cluster next to the backup."""
    info = base_info(backup)
    base_tar = find_tar(backup, "base")
    if base_tar is None or not (backup / "backup_manifest").is_file():
        raise BackupError(f"{backup} has no base.tar.gz or no backup_manifest")
    major = int(info.get("server_version_num", 0)) // 10000 or _tar_major(base_tar)
    scratch = backup.parent / f".{backup.name}.verify"
    clock = time.monotonic()
    try:
        _verify_base_backup(backup, base_tar, find_tar(backup, "pg_wal"), scratch, major)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return time.monotonic() - clock


def _tar_major(base_tar: Path) -> int:
    with tarfile.open(base_tar) as tar:
        for member in tar:
            if member.name in ("PG_VERSION", "./PG_VERSION"):
                handle = tar.extractfile(member)
                if handle is not None:
                    return int(handle.read().decode().strip())
    raise BackupError(f"no PG_VERSION in {base_tar}")


def _verify_base_backup(
    backup: Path, base_tar: Path, wal_tar: Path | None, scratch: Path, major: int
) -> None:
    """pg_verifybackup of PostgreSQL 15/16 reads plain backups only: unpack the tar files into a scratch
    directory with the manifest, then verify every file's checksum and that the WAL it needs is there and parses."""
    pg_verifybackup = pg_binary("pg_verifybackup", major)
    extract_tar(base_tar, scratch)
    if wal_tar is not None:
        extract_tar(wal_tar, scratch / "pg_wal")
    shutil.copy2(backup / "backup_manifest", scratch / "backup_manifest")
    args = [str(pg_verifybackup), "--quiet"]
    if wal_tar is None:
        args.append("--no-parse-wal")
    proc = subprocess.run(  # noqa: S603 (a fixed argv of a PostgreSQL binary and a scratch directory)
        [*args, str(scratch)],
        capture_output=True,
        text=True,
        timeout=BASE_BACKUP_TIMEOUT_SECONDS,
        check=False,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_verifybackup failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")


@dataclass
class PruneResult:
    kept: list[BaseBackup]
    removed: list[Path]
    wal_removed: int
    wal_cutoff: str | None


def prune_backups(
    *, directory: Path | None = None, wal_archive: Path | None = None, keep: int
) -> PruneResult:
    """Keep the newest `keep` complete base backups; delete older ones, and the archived WAL that only they needed
    (every segment before the oldest kept backup's first, whatever its timeline, as pg_archivecleanup does;
    timeline history files are kept)."""
    if keep < 1:
        raise BackupError("keep must be at least 1")
    root = directory or base_backup_dir()
    backups = complete_base_backups(root)
    old, kept = (backups[:-keep], backups[-keep:]) if len(backups) > keep else ([], backups)
    for backup in old:
        # backup.json first: a half-deleted directory is then no longer a complete backup.
        (backup.path / "backup.json").unlink(missing_ok=True)
        shutil.rmtree(backup.path)
    wal_removed, cutoff = 0, None
    archive = wal_archive if wal_archive is not None else wal_archive_dir()
    if kept and archive.is_dir():
        cutoff = kept[0].start_wal
        for path in archive.iterdir():
            match = _WAL_ARCHIVE_FILE.match(path.name)
            if match and match.group("segment")[8:] < cutoff[8:]:
                path.unlink(missing_ok=True)
                wal_removed += 1
    return PruneResult(kept=kept, removed=[b.path for b in old], wal_removed=wal_removed, wal_cutoff=cutoff)


# --- Archiving health ------------------------------------------------------------------------------------------


@dataclass
class ArchiveStatus:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _age(moment: dt.datetime | None, now: dt.datetime) -> str:
    return "never" if moment is None else f"{(now - moment).total_seconds():.0f} s ago"


def archive_status(
    *,
    server: Server | None = None,
    directory: Path | None = None,
    wal_archive: Path | None = None,
    max_archive_age: int = 300,
    max_base_age: int = 26 * 3600,
) -> ArchiveStatus:
    """What to alert on: archiving off or failing, WAL waiting longer than `max_archive_age` seconds, no base backup
    newer than `max_base_age` seconds, a segment missing from the archive since the newest base backup."""
    server = server or Server.from_settings()
    status = ArchiveStatus()
    now = utc_now()
    with server.connect(autocommit=True) as conn:
        settings_rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('wal_level', 'archive_mode', 'archive_command', 'archive_timeout', 'wal_segment_size')"
        ).fetchall()
        config = dict(settings_rows)
        stats = conn.execute(
            "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, "
            "last_failed_time FROM pg_stat_archiver"
        ).fetchone()
        in_recovery_row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        current = None
        if in_recovery_row is not None and not in_recovery_row[0]:
            current_row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
            current = str(current_row[0]) if current_row else None
    assert stats is not None
    archived, last_wal, last_time, failed, failed_wal, failed_time = stats
    segment_size = int(config.get("wal_segment_size", 16 * 1024 * 1024))
    status.lines.append(
        f"wal_level={config.get('wal_level')} archive_mode={config.get('archive_mode')} "
        f"archive_timeout={config.get('archive_timeout')}s"
    )
    status.lines.append(f"archive_command={config.get('archive_command')!r}")
    status.lines.append(
        f"archived {archived} segments, last {last_wal or '-'} ({_age(last_time, now)}); "
        f"failed {failed}, last {failed_wal or '-'} ({_age(failed_time, now)}); current {current or '-'}"
    )
    if config.get("wal_level") == "minimal":
        status.problems.append("wal_level is minimal: WAL cannot be archived (set replica)")
    if config.get("archive_mode") not in ("on", "always"):
        status.problems.append("archive_mode is off: no point-in-time recovery is possible")
    if failed_time is not None and (last_time is None or failed_time > last_time):
        status.problems.append(f"archiving is failing: {failed_wal} failed {_age(failed_time, now)}")
    if current is not None and last_wal and _WAL_NAME.match(str(last_wal)):
        current_tli, current_no = wal_segment_number(current, segment_size)
        last_tli, last_no = wal_segment_number(str(last_wal), segment_size)
        waiting = current_no - last_no - 1 if current_tli == last_tli else 0
        if waiting > 0 and last_time is not None and (now - last_time).total_seconds() > max_archive_age:
            status.problems.append(
                f"{waiting} WAL segments wait to be archived; the last was archived {_age(last_time, now)}"
            )
    elif current is not None and not last_wal and config.get("archive_mode") in ("on", "always"):
        status.lines.append("nothing archived yet since the server started")
    backups = complete_base_backups(directory or base_backup_dir())
    if not backups:
        status.problems.append(f"no base backup in {directory or base_backup_dir()}")
    else:
        newest = backups[-1]
        status.lines.append(
            f"{len(backups)} base backups, newest {newest.name} ({_age(newest.end_time, now)}, "
            f"{newest.bytes / 1e6:.1f} MB, verified: {newest.info.get('verified')})"
        )
        if (now - newest.end_time).total_seconds() > max_base_age:
            status.problems.append(f"the newest base backup is {_age(newest.end_time, now)}")
        archive = wal_archive if wal_archive is not None else wal_archive_dir()
        if archive.is_dir() and last_wal and _WAL_NAME.match(str(last_wal)):
            missing = wal_missing(archive, newest.start_wal, str(last_wal), segment_size)
            if missing:
                status.problems.append(
                    f"{len(missing)} WAL segments missing from {archive} since the newest base backup, "
                    f"first {missing[0]}"
                )
    return status


def wal_missing(archive: Path, first: str, last: str, segment_size: int) -> list[str]:
    """The segments of `first`'s timeline from `first` to `last` that are not in the archive (none when the
    timeline changed in between: the history file then tells which segments belong)."""
    first_tli, first_no = wal_segment_number(first, segment_size)
    last_tli, last_no = wal_segment_number(last, segment_size)
    if first_tli != last_tli:
        return []
    present = {p.name[:24] for p in archive.iterdir() if _WAL_ARCHIVE_FILE.match(p.name)}
    names = (wal_segment_name(first_tli, n, segment_size) for n in range(first_no, last_no + 1))
    return [name for name in names if name not in present]


def base_info(path: Path) -> dict[str, Any]:
    marker = path / "backup.json"
    if marker.is_file():
        return dict(json.loads(marker.read_text(encoding="utf-8")))
    if not path.is_dir():
        raise BackupError(f"no base backup at {path}")
    return {}


def base_backup_for(target_time: dt.datetime | None, directory: Path | None = None) -> BaseBackup:
    """The newest complete base backup that ended before `target_time` (the newest of all when None)."""
    root = directory or base_backup_dir()
    backups = complete_base_backups(root)
    usable = [b for b in backups if target_time is None or b.end_time <= target_time]
    if not usable:
        if backups:
            raise BackupError(
                f"every base backup in {root} ended after {target_time.isoformat() if target_time else '?'}: "
                f"the oldest ended at {backups[0].end_time.isoformat()}"
            )
        raise BackupError(f"no complete base backup in {root}")
    return usable[-1]
