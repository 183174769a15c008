"""The second product plugs in without code: any vendor's command-line scanner, given the file on its standard input
or as a private temporary path, exit status 0 clean, 1 infected, anything else (or a timeout) unavailable. Also the
setting's specs, and the rule that every configured scanner must pass."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from base.scanning import (
    ClamdScanner,
    CommandScanner,
    ScannerUnavailableError,
    Verdict,
    scan_all,
    scanner_from_spec,
    scanners_from_specs,
)
from madoguchi.config import scanner_specs

MARK = "TEST-VIRUS-MARK"


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def vendor_stdin(tmp_path: Path) -> str:
    # Like many vendors' CLIs: reads the file from stdin, prints a report line, exits 1 on a finding.
    return _script(
        tmp_path,
        "vendor-scan",
        f'if grep -q "{MARK}"; then echo "stdin: Vendor.Test.Mark detected"; exit 1; fi\necho "stdin: clean"',
    )


def test_stdin_clean_and_infected(vendor_stdin: str) -> None:
    scanner = CommandScanner([vendor_stdin, "--stdin"], timeout=10)
    assert scanner.name == "vendor-scan"
    assert scanner.scan(b"a,b\n1,2\n", "cards.csv") == Verdict("vendor-scan")
    verdict = scanner.scan(iter([b"a,b\n", MARK.encode(), b"\n"]), "cards.csv")
    assert verdict == Verdict("vendor-scan", "stdin: Vendor.Test.Mark detected")


def test_path_mode_gets_a_private_file_removed_afterwards(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    vendor = _script(
        tmp_path,
        "scan-file",
        f'echo "$1" > {seen}; stat -c %a "$1" >> {seen}; if grep -q "{MARK}" "$1"; then echo "$1: Found"; exit 1; fi',
    )
    scanner = CommandScanner([vendor, "{path}"], timeout=10)
    assert scanner.scan(b"a,b\n", "cards.csv") == Verdict("scan-file")
    path, mode = seen.read_text().split()
    assert mode == "600"  # readable by the app's user only
    assert not Path(path).exists()
    assert scanner.scan(MARK.encode(), "cards.csv").infected
    assert not Path(seen.read_text().split()[0]).exists()


def test_another_exit_status_is_unavailable_with_what_the_scanner_said(tmp_path: Path) -> None:
    broken = _script(tmp_path, "expired", 'cat > /dev/null; echo "licence expired" >&2; exit 2')
    with pytest.raises(ScannerUnavailableError, match="exit status 2: licence expired"):
        CommandScanner([broken], timeout=10).scan(b"a,b\n", "cards.csv")


def test_a_missing_command_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ScannerUnavailableError, match="cannot run"):
        CommandScanner([str(tmp_path / "not-installed")], timeout=10).scan(b"a,b\n", "cards.csv")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # killed, waiting for init to collect it


def test_a_hanging_scanner_times_out_and_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    hanging = _script(tmp_path, "hangs", f"sleep 60 &\necho $! > {pids}\nwait")
    with pytest.raises(ScannerUnavailableError, match=r"no answer within 0\.5 s"):
        CommandScanner([hanging], timeout=0.5).scan(b"a,b\n", "cards.csv")
    child = int(pids.read_text())
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


# --- the setting ---------------------------------------------------------------------------------------------------


def test_specs_are_read_into_scanners() -> None:
    clamd = scanner_from_spec(
        "clamd:unix:///run/clamav/clamd.ctl?stream_max_length=50M&timeout=5", timeout=60
    )
    assert isinstance(clamd, ClamdScanner)
    assert (clamd.target, clamd.stream_max_length, clamd.timeout) == (
        "/run/clamav/clamd.ctl",
        50 * 1024 * 1024,
        5,
    )
    tcp = scanner_from_spec("clamd:tcp://10.0.0.7:3310")
    assert isinstance(tcp, ClamdScanner)
    assert tcp.target == ("10.0.0.7", 3310)
    command = scanner_from_spec("command:/opt/vendor/scan --stdin --quiet", timeout=30)
    assert isinstance(command, CommandScanner)
    assert (command.argv, command.timeout, command.by_path) == (
        ["/opt/vendor/scan", "--stdin", "--quiet"],
        30,
        False,
    )
    assert scanners_from_specs([" ", ""]) == []


@pytest.mark.parametrize(
    "spec",
    [
        "clamav:unix:///x",
        "clamd:",
        "command:",
        "clamd:unix:///x?size=1",
        "clamd:unix:///x?stream_max_length=big",
    ],
)
def test_a_spec_that_does_not_parse_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="MADOGUCHI_VIRUS_SCANNERS"):
        scanner_from_spec(spec)


def test_the_settings_list_splits_on_semicolons_when_a_command_holds_commas() -> None:
    assert scanner_specs("clamd:unix:///a, command:/b --x") == ["clamd:unix:///a", "command:/b --x"]
    assert scanner_specs("clamd:unix:///a;command:/b --types=csv,txt") == [
        "clamd:unix:///a",
        "command:/b --types=csv,txt",
    ]
    assert scanner_specs("") == []


# --- every configured scanner must pass ----------------------------------------------------------------------------


def test_every_scanner_sees_the_whole_file_and_all_must_pass(tmp_path: Path, vendor_stdin: str) -> None:
    copies = tmp_path / "copies"
    copies.mkdir()
    first = _script(tmp_path, "first", f"cat > {copies}/first; echo ok")
    second = CommandScanner([vendor_stdin], timeout=10)
    content = b"a,b\n" * 50_000

    verdicts = scan_all([CommandScanner([first], timeout=10), second], lambda: iter([content]), "cards.csv")
    assert verdicts == [Verdict("first"), Verdict("vendor-scan")]
    assert (copies / "first").read_bytes() == content

    # The second product finds what the first missed: infected.
    found = scan_all([CommandScanner([first], timeout=10), second], lambda: MARK.encode(), "cards.csv")
    assert [v.infected for v in found] == [False, True]


def test_one_scanner_down_refuses_even_if_the_other_says_clean(tmp_path: Path, vendor_stdin: str) -> None:
    down = CommandScanner([str(tmp_path / "absent")], timeout=10)
    with pytest.raises(ScannerUnavailableError):
        scan_all([CommandScanner([vendor_stdin], timeout=10), down], lambda: b"a,b\n", "cards.csv")


def test_a_finding_stops_before_the_next_scanner(tmp_path: Path, vendor_stdin: str) -> None:
    ran = tmp_path / "ran"
    second = _script(tmp_path, "second", f"cat > /dev/null; touch {ran}")
    verdicts = scan_all(
        [CommandScanner([vendor_stdin], timeout=10), CommandScanner([second], timeout=10)],
        lambda: MARK.encode(),
        "cards.csv",
    )
    assert [v.scanner for v in verdicts] == ["vendor-scan"]
    assert not ran.exists()
