"""The primary backup and recovery to a point in time: base backups (pg_basebackup) with the WAL archive, their
verification, pruning and health, a base backup recovered into a scratch cluster, and one city restored to a
point in time from it (docs/operations.md, "Backups"). The per-city logical dumps and the restore check, which
this builds on, are in madoguchi.backups.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql

from madoguchi.backups import (
    MANIFEST_VERSION,
    RESTORE_TIMEOUT_SECONDS,
    STAMP_FORMAT,
    BackupError,
    DumpResult,
    Server,
    compare,
    pg_binary,
    schema_dump,
    server_version_num,
    sha256_of,
    table_checksums,
    write_atomically,
)
from tenants.models import Municipality

# --- Base backups (pg_basebackup) and the WAL archive ----------------------------------------------------------
#
# The primary backup: a base backup every night plus every WAL segment archived by `archive_command`
# (ops/backup/archive-wal). A base backup is BASE_DIR/<UTC timestamp>/ holding pg_basebackup's tar output
# (base.tar.gz, pg_wal.tar.gz, backup_manifest) and backup.json, written last: a base backup counts only once its
# backup.json exists. It is taken into BASE_DIR/.<timestamp>.partial and renamed when verified.

BASE_KEEP = 7
BASE_BACKUP_TIMEOUT_SECONDS = 6 * 3600
RECOVERY_TIMEOUT_SECONDS = 6 * 3600
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


def pitr_dir() -> Path:
    return Path(settings.DATA_DIR) / "pitr"


def _now() -> dt.datetime:
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


def _extract(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def _find_tar(directory: Path, stem: str) -> Path | None:
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
    started = _now()
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
        ended = _now()
        base_tar = _find_tar(partial, "base")
        wal_tar = _find_tar(partial, "pg_wal")
        if base_tar is None or not (partial / "backup_manifest").is_file():
            raise BackupError(f"pg_basebackup left no base.tar.gz or backup_manifest in {partial}")
        if verify:
            clock = _now()
            _verify_base_backup(partial, base_tar, wal_tar, verify_dir, major)
            verify_seconds = (_now() - clock).total_seconds()
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
    info = _base_info(backup)
    base_tar = _find_tar(backup, "base")
    if base_tar is None or not (backup / "backup_manifest").is_file():
        raise BackupError(f"{backup} has no base.tar.gz or no backup_manifest")
    major = int(info.get("server_version_num", 0)) // 10000 or _tar_major(base_tar)
    scratch = backup.parent / f".{backup.name}.verify"
    clock = time.monotonic()
    try:
        _verify_base_backup(backup, base_tar, _find_tar(backup, "pg_wal"), scratch, major)
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
    _extract(base_tar, scratch)
    if wal_tar is not None:
        _extract(wal_tar, scratch / "pg_wal")
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
    now = _now()
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


# --- Recovery of a base backup into a scratch cluster ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_account(os_user: str | None, hint: Path) -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: as root, run the scratch server as `os_user`, else as the owner of the
    WAL archive (the account the production server archives as), else as `postgres`."""
    if os.geteuid() != 0:
        return None
    if os_user is None:
        owner = hint.stat().st_uid if hint.exists() else 0
        if owner != 0:
            entry = pwd.getpwuid(owner)
            return entry.pw_uid, entry.pw_gid
        os_user = "postgres"
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError as exc:
        raise BackupError(
            f"running as root and there is no OS user {os_user!r} to run the scratch server"
        ) from exc
    return entry.pw_uid, entry.pw_gid


def _reachable(path: Path, account: tuple[int, int]) -> bool:
    """Whether `account` may traverse every directory above `path` (root's pytest or home directories are 0700)."""
    uid, gid = account
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid == gid:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return False
    return True


def _chown_tree(root: Path, account: tuple[int, int]) -> None:
    uid, gid = account
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, gid)


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _recovery_failure(log: Path, archive: Path, target: dt.datetime | None) -> BackupError:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    restored = re.findall(r'restored log file "([0-9A-F]{24})" from archive', text)
    last = restored[-1] if restored else None
    if "recovery ended before configured recovery target was reached" in text:
        return BackupError(
            f"WAL missing: recovery used the whole archive {archive} (last segment restored: {last or 'none'}) "
            f"and did not reach {target.isoformat() if target else 'the target'}: the segments after it are not "
            "archived (yet), or no transaction committed after the target time"
        )
    if "before consistent recovery point" in text:
        return BackupError(
            "the target time is before the end of the base backup: choose an older base backup"
        )
    if "could not locate required checkpoint record" in text or "could not find redo location" in text:
        return BackupError(f"WAL missing: the base backup's first WAL segment is not in {archive}")
    return BackupError(f"the scratch server stopped during recovery:\n{_log_tail(log)}")


@dataclass
class Recovered:
    """A scratch cluster recovered from a base backup and the WAL archive, promoted and serving on a socket."""

    server: Server
    data: Path
    log: Path
    major: int
    unpack_seconds: float  # unpacking the base backup
    seconds: float  # replaying the WAL until promoted
    stopped_at: str | None  # the commit before which recovery stopped, from the server's log

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def recovered_cluster(
    base: BaseBackup | Path,
    wal_archive: Path,
    *,
    target_time: dt.datetime | None,
    dbname: str,
    user: str,
    work_dir: Path | None = None,
    os_user: str | None = None,
    timeout: int = RECOVERY_TIMEOUT_SECONDS,
) -> Iterator[Recovered]:
    """Unpack `base` into a scratch directory, recover it with the archived WAL to `target_time` (to the end of the
    archive when None), promote it and yield it; stop and delete it afterwards, whatever happens.

    The scratch server listens on a Unix socket in its own directory only (no TCP), archives nothing
    (archive_mode=off on its command line, which wins over the backup's postgresql.auto.conf), loads no
    preload libraries, and runs without fsync: it is thrown away after the dump."""
    backup_path = base.path if isinstance(base, BaseBackup) else base
    info = base.info if isinstance(base, BaseBackup) else _base_info(backup_path)
    if target_time is not None and info.get("end_time"):
        end = dt.datetime.fromisoformat(info["end_time"])
        if target_time < end:
            raise BackupError(
                f"the target time {target_time.isoformat()} is before the base backup {backup_path.name} ended "
                f"({end.isoformat()}): choose an older base backup"
            )
    if not wal_archive.is_dir():
        raise BackupError(f"no WAL archive directory {wal_archive}")
    base_tar = _find_tar(backup_path, "base")
    if base_tar is None:
        raise BackupError(f"no base.tar.gz in {backup_path}")
    if (
        info.get("start_wal")
        and not (wal_archive / info["start_wal"]).exists()
        and _find_tar(backup_path, "pg_wal") is None
    ):
        raise BackupError(
            f"WAL missing: the base backup's first segment {info['start_wal']} is not in {wal_archive}"
        )
    account = _server_account(os_user, wal_archive)
    if account is not None:
        for needed in (work_dir or Path(tempfile.gettempdir()), wal_archive):
            if not _reachable(needed / "x", account):
                raise BackupError(
                    f"the scratch server's OS user (uid {account[0]}) cannot reach {needed}: "
                    "choose a --work-dir and a WAL archive path it can traverse"
                )
    scratch = Path(tempfile.mkdtemp(prefix="madoguchi-pitr-", dir=work_dir))
    process: subprocess.Popen[bytes] | None = None
    try:
        unpack_clock = time.monotonic()
        data = scratch / "data"
        _extract(base_tar, data)
        wal_tar = _find_tar(backup_path, "pg_wal")
        if wal_tar is not None:
            _extract(wal_tar, data / "pg_wal")
        (data / "pg_wal").mkdir(exist_ok=True)
        for leftover in ("postmaster.pid", "standby.signal"):
            (data / leftover).unlink(missing_ok=True)
        (data / "recovery.signal").write_text("")
        major = int((data / "PG_VERSION").read_text().strip())
        postgres = pg_binary("postgres", major, exact=True)
        (scratch / "postgresql.conf").write_text(
            "# scratch cluster of madoguchi's city_pitr: see its command line\n"
        )
        (scratch / "pg_hba.conf").write_text("local all all trust\n")
        (scratch / "pg_ident.conf").write_text("")
        data.chmod(0o700)
        if account is not None:
            _chown_tree(scratch, account)
        log = scratch / "server.log"
        port = _free_port()
        # The archive's path quoted for the shell, "%" doubled for PostgreSQL's own placeholders.
        archive_prefix = shlex.quote(f"{wal_archive}/").replace("%", "%%")
        restore = f'cp {archive_prefix}%f "%p"'
        options = {
            "config_file": str(scratch / "postgresql.conf"),
            "hba_file": str(scratch / "pg_hba.conf"),
            "ident_file": str(scratch / "pg_ident.conf"),
            "listen_addresses": "",
            "port": str(port),
            "unix_socket_directories": str(scratch),
            "archive_mode": "off",
            "hot_standby": "off",
            "fsync": "off",
            "shared_preload_libraries": "",
            "logging_collector": "off",
            "cluster_name": "madoguchi-pitr",
            "restore_command": restore,
            "recovery_target_timeline": "latest",
        }
        if target_time is not None:
            options["recovery_target_time"] = target_time.isoformat()
            options["recovery_target_action"] = "promote"
        argv = [str(postgres), "-D", str(data)]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        unpack_seconds = time.monotonic() - unpack_clock
        started = _now()
        with log.open("ab") as log_handle:
            process = subprocess.Popen(  # noqa: S603 (argv built from the backup and fixed options)
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=account[0] if account else None,
                group=account[1] if account else None,
                extra_groups=[] if account else None,
            )
        server = Server(host=str(scratch), port=str(port), user=user, password="", dbname=dbname)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise _recovery_failure(log, wal_archive, target_time)
            try:
                with server.connect(autocommit=True) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    break
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise BackupError(f"recovery did not finish within {timeout} s:\n{_log_tail(log)}")
            time.sleep(0.2)
        stop = re.search(r"recovery stopping before (.+)", log.read_text(encoding="utf-8", errors="replace"))
        yield Recovered(
            server=server,
            data=data,
            log=log,
            major=major,
            unpack_seconds=unpack_seconds,
            seconds=(_now() - started).total_seconds(),
            stopped_at=stop.group(1).strip() if stop else None,
        )
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


def _base_info(path: Path) -> dict[str, Any]:
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


# --- One city to a point in time -------------------------------------------------------------------------------


def city_recover_dump(
    municipality: Municipality,
    *,
    base: BaseBackup | Path,
    wal_archive: Path,
    target_time: dt.datetime,
    out_dir: Path | None = None,
    work_dir: Path | None = None,
    os_user: str | None = None,
    timeout: int = RECOVERY_TIMEOUT_SECONDS,
) -> tuple[DumpResult, Recovered]:
    """Recover a scratch cluster to `target_time` and dump the city's schema from it into OUT/<slug>/ (the same
    dump-and-manifest format as the nightly dumps, so `restore_check --dir OUT` checks it)."""
    production = Server.from_settings()
    with recovered_cluster(
        base,
        wal_archive,
        target_time=target_time,
        dbname=production.dbname,
        user=production.user or "postgres",
        work_dir=work_dir,
        os_user=os_user,
        timeout=timeout,
    ) as recovered:
        with recovered.server.connect(autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", [municipality.schema_name]
            ).fetchone()
        if not exists:
            raise BackupError(
                f"{municipality.slug}: schema {municipality.schema_name} did not exist at the target time"
            )
        backup_path = base.path if isinstance(base, BaseBackup) else base
        result = schema_dump(
            recovered.server,
            slug=municipality.slug,
            schema=municipality.schema_name,
            city_dir=(out_dir or pitr_dir()) / municipality.slug,
            extra={
                "recovery_target_time": target_time.isoformat(),
                "recovery_stopped_before": recovered.stopped_at,
                "base_backup": str(backup_path),
            },
        )
    return result, recovered


def table_counts(server: Server, schema: str) -> dict[str, int]:
    with server.connect() as conn, conn.cursor() as cursor:
        return {name: int(t["rows"]) for name, t in table_checksums(cursor, schema).items()}


@dataclass
class SwapResult:
    schema: str
    aside: str
    before: dict[str, int]
    after: dict[str, int]
    problems: list[str]


def city_swap(municipality: Municipality, dump: Path, *, stamp: str | None = None) -> SwapResult:
    """Replace a suspended city's schema by the one in `dump`, in ONE transaction: the current schema is renamed
    to <schema>_replaced_<stamp> (kept), the dump restored (pg_restore's SQL through psql --single-transaction),
    and the restored row counts checked against the dump's manifest before the commit. Any error rolls all of it
    back: never a half-swap."""
    municipality.refresh_from_db()
    if municipality.status != Municipality.Status.SUSPENDED:
        raise BackupError(
            f"{municipality.slug} is {municipality.status}: suspend the city first (its staff and residents must not write during the swap)"
        )
    schema = municipality.schema_name
    try:
        manifest = json.loads(dump.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"no readable manifest beside {dump}: {exc}") from exc
    if manifest.get("schema") != schema:
        raise BackupError(f"{dump} holds schema {manifest.get('schema')!r}, not {schema!r}")
    if sha256_of(dump) != manifest.get("sha256"):
        raise BackupError(f"{dump} differs from the one its manifest describes (sha256)")
    server = Server.from_settings()
    major = server_version_num(server) // 10000
    pg_restore, psql = pg_binary("pg_restore", major), pg_binary("psql", major)
    aside = f"{schema}_replaced_{stamp or _now().strftime('%Y%m%dT%H%M%S')}"
    if len(aside) > 63:
        raise BackupError(f"the schema name {aside} is too long for PostgreSQL (63 bytes)")
    before = table_counts(server, schema)
    with server.connect(autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [aside]).fetchone():
            raise BackupError(f"schema {aside} exists already")
        prologue = (
            sql.SQL("SET lock_timeout = '30s';\nALTER SCHEMA {} RENAME TO {};\n")
            .format(sql.Identifier(schema), sql.Identifier(aside))
            .as_string(conn)
        )
        checks = [
            sql.SQL(
                "  SELECT count(*) INTO n FROM {table};\n"
                "  IF n <> {rows} THEN RAISE EXCEPTION 'restored % rows into %, the dump''s manifest says %', "
                "n, {name}, {rows}; END IF;\n"
            ).format(
                table=sql.Identifier(schema, name), rows=sql.Literal(int(t["rows"])), name=sql.Literal(name)
            )
            for name, t in sorted(manifest["tables"].items())
        ]
        epilogue = (
            sql.SQL("\nDO $check$\nDECLARE n bigint;\nBEGIN\n{}END\n$check$;\n")
            .format(sql.SQL("").join(checks))
            .as_string(conn)
        )
    with tempfile.TemporaryFile() as psql_out, tempfile.TemporaryFile() as restore_err:
        restore = subprocess.Popen(  # noqa: S603 (argv of a PostgreSQL binary and the dump file)
            [str(pg_restore), "--file=-", str(dump)], stdout=subprocess.PIPE, stderr=restore_err
        )
        apply = subprocess.Popen(  # noqa: S603 (argv of a PostgreSQL binary)
            [
                str(psql),
                "-X",
                "-q",
                "--no-password",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-f",
                "-",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_out,
            env=server.env(),
        )
        assert restore.stdout is not None
        assert apply.stdin is not None
        try:
            apply.stdin.write(prologue.encode("utf-8"))
            for chunk in iter(lambda: restore.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
                apply.stdin.write(chunk)
            apply.stdin.write(epilogue.encode("utf-8"))
            apply.stdin.close()
        except BrokenPipeError:
            restore.kill()
        restore_rc = restore.wait(timeout=RESTORE_TIMEOUT_SECONDS)
        apply_rc = apply.wait(timeout=RESTORE_TIMEOUT_SECONDS)
        psql_out.seek(0)
        restore_err.seek(0)
        if restore_rc != 0 or apply_rc != 0:
            detail = psql_out.read().decode("utf-8", "replace") + restore_err.read().decode(
                "utf-8", "replace"
            )
            raise BackupError(f"the swap was rolled back, {schema} is unchanged: {detail.strip()[-2000:]}")
    with server.connect() as conn, conn.cursor() as cursor:
        restored = table_checksums(cursor, schema)
    return SwapResult(
        schema=schema,
        aside=aside,
        before=before,
        after={name: int(t["rows"]) for name, t in restored.items()},
        problems=compare(manifest["tables"], restored),
    )
