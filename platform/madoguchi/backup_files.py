"""Files of the backup directory: atomic writes, checksums, and the `.partial` files a dump is written under.

A dump is written as `<run>/.<name>.partial` and renamed when complete; its writer holds an exclusive flock on it
from creation to rename (`held_partial`). A run killed outright (SIGKILL, an OOM kill, a power cut) leaves its
`.partial` files behind: `remove_stale_partials` (the next city_dump run, the restore check) removes those last
written before its start that no process holds, and logs each.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

logger = logging.getLogger("madoguchi.backups")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # in use: remove_stale_partials leaves it
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def held_partial(path: Path) -> Iterator[None]:
    """Create `path` and hold an exclusive flock on it while the block runs (pg_dump writes the same inode): a
    `.partial` file nobody holds is a dead run's (the lock goes with the process, however it ends)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_stale_partials(root: Path, *, before: float) -> list[Path]:
    """Remove the `.partial` files of the backup directory's runs (<run>/ and offboarded/<run>/) that a run killed
    outright left (SIGKILL, an OOM kill, a power cut: no `finally` ran): last written before `before` (the current
    run's start, time.time()) and held by no process. Each is logged; a run directory left empty goes too."""
    if not root.is_dir():
        return []
    removed = []
    for path in sorted([*root.glob("*/.*.partial"), *root.glob("*/*/.*.partial")]):
        try:
            if not path.is_file() or path.stat().st_mtime >= before:
                continue
            with path.open("rb") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a running dump's
                path.unlink()
        except OSError as exc:
            logger.warning("could not remove the stale partial file %s: %s", path, exc)
            continue
        logger.warning("removed the stale partial file %s (left by a run killed outright)", path)
        removed.append(path)
        remove_if_empty(path.parent)
    return removed


def remove_if_empty(directory: Path) -> None:
    with suppress(OSError):  # not empty, or gone
        directory.rmdir()
