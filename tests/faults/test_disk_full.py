"""A full disk during the per-city dump (issue 14, item 4): a small tmpfs of our own as the backup directory.

As root only (mount); skipped elsewhere. A good dump of the fault city is made first, then the disk is filled so
that (1) pg_dump itself cannot write, and (2) the dump fits but its manifest does not. Each time `manage.py
city_dump --dir` must print a clear error line and exit non-zero, leave no new file behind (no .partial, no
dump without its manifest), leave the previous dump and manifest untouched, and `manage.py restore_check` of the
directory must still pass for the previous dump. Then, with room again, the next dump works.

Staff exports are streamed (the CSV spools above 8 MB to an unnamed temporary file, gone when closed): none writes
a file under DATA_DIR, so the dump is the export that can leave a file on a full disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import Seeded
from tests.faults.report import Report
from tests.faults.services import ROOT

pytestmark = pytest.mark.slow

SIZE = "2m"


@pytest.fixture
def small_disk(faults_root: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount on this machine")
    mountpoint = faults_root / "small-disk"
    mountpoint.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30, check=False)


def _manage(seeded: Seeded, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "DATABASE_URL": seeded.cluster.url(),
        "REDIS_URL": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _files(directory: Path) -> dict[str, str]:
    """Every file under `directory` (hidden ones too) and its sha256."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "filler"
    }


def _fill(disk: Path, leave: int) -> int:
    """Fill the disk with a file until about `leave` bytes are free (tmpfs counts whole pages); what is free."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(disk).free
    with filler.open("wb") as out:
        out.write(b"\0" * max(0, free - leave))
    return shutil.disk_usage(disk).free


def test_a_full_disk_during_the_city_dump(seeded_cluster: Seeded, small_disk: Path) -> None:
    report = Report("disk-full")
    first = _manage(seeded_cluster, "city_dump", "--dir", str(small_disk), "--city", "faults")
    assert first.returncode == 0, first.stderr[-2000:]
    good = _files(small_disk)
    dump = next(name for name in good if name.endswith(".dump"))
    dump_bytes = (small_disk / dump).stat().st_size
    manifest_bytes = (small_disk / dump).with_suffix(".json").stat().st_size
    report(
        f"tmpfs of {SIZE} at {small_disk}; a good dump {dump} ({dump_bytes} B, manifest {manifest_bytes} B)"
    )

    # (1) no room for the dump; (2) room for the dump (the same data, a little more) but not for its manifest.
    cases = {"pg_dump cannot write": 4096, "no room for the manifest": dump_bytes + 8192}
    outcomes = []
    for case, leave in cases.items():
        free = _fill(small_disk, leave)
        failed = _manage(seeded_cluster, "city_dump", "--dir", str(small_disk), "--city", "faults")
        error_lines = [line for line in failed.stderr.splitlines() if "FAILED" in line or "Error" in line]
        after = _files(small_disk)
        report(
            f"{case} ({free} B free): exit {failed.returncode}; {error_lines[:2]}; files after: "
            f"{sorted(after)}"
        )
        outcomes.append((case, failed, error_lines, after))
    (small_disk / "filler").unlink()

    checked = _manage(seeded_cluster, "restore_check", "--dir", str(small_disk), "--city", "faults")
    report(
        f"restore_check of the directory: exit {checked.returncode}: {checked.stdout.strip().splitlines()[-1:]}"
    )
    again = _manage(seeded_cluster, "city_dump", "--dir", str(small_disk), "--city", "faults")
    report(f"with room again: exit {again.returncode}: {again.stdout.strip()[-200:]}")

    for case, failed, error_lines, after in outcomes:
        assert failed.returncode != 0, f"{case}: exit 0" + str(report)
        assert "Traceback" not in failed.stderr, f"{case}: a traceback, not an error line" + str(report)
        assert any("faults: FAILED" in line and "No space left on device" in line for line in error_lines), (
            f"{case}: no clear error line: {failed.stderr[-1500:]}" + str(report)
        )
        assert after == good, f"{case}: files changed or left behind" + str(report)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:] + str(report)
    assert again.returncode == 0, again.stderr[-2000:] + str(report)
