"""The systemd units of ops/systemd/: valid keys, the hardening, graceful stops, one beat, the deploy steps."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "ops" / "systemd"
INSTALL_DIR = "/opt/madoguchi"  # where the units expect the release; the tests map it onto this checkout
SERVICES = ("madoguchi-web", "madoguchi-worker", "madoguchi-beat", "madoguchi-migrate")

# The keys these units may use, from systemd.unit(5), systemd.service(5), systemd.exec(5), systemd.kill(5) and
# systemd.resource-control(5) of systemd 252 (Debian 12). A typo is an unknown key, which systemd only warns about
# and ignores: a hardening line with a typo would silently harden nothing.
KNOWN_KEYS = {
    "Unit": {
        "Description",
        "Documentation",
        "Wants",
        "Requires",
        "After",
        "Before",
        "PartOf",
        "BindsTo",
        "ConditionPathExists",
        "StartLimitIntervalSec",
        "StartLimitBurst",
    },
    "Service": {
        "Type",
        "NotifyAccess",
        "User",
        "Group",
        "WorkingDirectory",
        "Environment",
        "EnvironmentFile",
        "ExecStart",
        "ExecStartPre",
        "ExecReload",
        "ExecStop",
        "KillSignal",
        "KillMode",
        "TimeoutStartSec",
        "TimeoutStopSec",
        "Restart",
        "RestartSec",
        "RemainAfterExit",
        "StandardOutput",
        "StandardError",
        "SyslogIdentifier",
        "StateDirectory",
        "StateDirectoryMode",
        "RuntimeDirectory",
        "ReadWritePaths",
        "UMask",
        "LimitNOFILE",
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "RestrictSUIDSGID",
        "RestrictRealtime",
        "RestrictNamespaces",
        "LockPersonality",
        "ProtectProc",
        "PrivateMounts",
        "RemoveIPC",
        "RestrictAddressFamilies",
        "SystemCallArchitectures",
        "SystemCallFilter",
        "CapabilityBoundingSet",
        "AmbientCapabilities",
        "MemoryMax",
    },
    "Install": {"WantedBy", "RequiredBy", "Alias"},
}


@dataclass
class Unit:
    name: str
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def one(self, section: str, key: str) -> str:
        values = self.values(section, key)
        assert len(values) == 1, f"{self.name}: [{section}] {key} set {len(values)} times"
        return values[0]

    @property
    def environment(self) -> dict[str, str]:
        pairs = (
            item.split("=", 1) for line in self.values("Service", "Environment") for item in line.split()
        )
        return dict(pairs)  # type: ignore[arg-type]


def parse_unit(path: Path) -> Unit:
    """systemd's unit syntax: [Section], Key=value, # or ; comments; a key may repeat (ExecStart= of a oneshot)."""
    unit = Unit(path.name)
    section: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: continuation lines are not used here"
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
            unit.sections.setdefault(section, {})
            continue
        assert section is not None, f"{path.name}:{number}: a key before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not Key=value: {line!r}"
        unit.sections[section].setdefault(key.strip(), []).append(value.strip())
    return unit


def load(name: str) -> Unit:
    return parse_unit(UNITS / f"{name}.service")


def deploy_steps() -> list[str]:
    """The manage.py commands of ops/README.md's "Deploy" bullet, in order: the one list the units and the
    Kubernetes Job must both run."""
    text = (ROOT / "ops" / "README.md").read_text(encoding="utf-8")
    bullet = re.search(r"^- \*\*Deploy\*\*:(.*?)(?=^- \*\*|^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert bullet, 'ops/README.md has no "- **Deploy**:" bullet'
    steps = re.findall(r"`manage\.py ([^`]+)`", bullet.group(1))
    assert steps, "the Deploy bullet names no manage.py command"
    return [" ".join(step.split()) for step in steps]


def test_every_unit_parses_and_uses_only_known_keys() -> None:
    found = sorted(path.stem for path in UNITS.glob("*.service"))
    assert found == sorted(SERVICES)
    for name in SERVICES:
        unit = load(name)
        assert set(unit.sections) <= set(KNOWN_KEYS), f"{name}: unknown sections {set(unit.sections)}"
        for section, keys in unit.sections.items():
            unknown = set(keys) - KNOWN_KEYS[section]
            assert not unknown, f"{name}: unknown keys in [{section}]: {sorted(unknown)}"
        assert unit.one("Unit", "Description")


def test_every_service_runs_as_the_dedicated_user_with_the_environment_file_and_hardening() -> None:
    sysusers = (UNITS / "madoguchi.sysusers.conf").read_text(encoding="utf-8")
    assert re.search(r"^u madoguchi - \S.* /var/lib/madoguchi ", sysusers, re.MULTILINE)
    for name in SERVICES:
        unit = load(name)
        service = {key: values[-1] for key, values in unit.sections["Service"].items()}
        assert service["User"] == "madoguchi", name
        assert "/etc/madoguchi/env" in unit.values("Service", "EnvironmentFile"), name
        assert unit.environment["MADOGUCHI_DATA_DIR"] == "/var/lib/madoguchi", name
        assert service["ReadWritePaths"] == "/var/lib/madoguchi", name
        for key, expected in {
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "RestrictSUIDSGID": "yes",
            "CapabilityBoundingSet": "",
            "StandardOutput": "journal",
            "StandardError": "journal",
        }.items():
            assert service.get(key) == expected, f"{name}: {key}={service.get(key)!r}, expected {expected!r}"
        # Secrets live in the environment file only, never in a unit (units are world-readable).
        for line in unit.values("Service", "Environment"):
            assert not re.search(r"KEY|PASSWORD|SECRET|PEPPER|DSN|DATABASE_URL", line), f"{name}: {line}"


def test_commands_point_at_files_of_the_release() -> None:
    for name in SERVICES:
        unit = load(name)
        assert unit.one("Service", "WorkingDirectory") == INSTALL_DIR
        for command in unit.values("Service", "ExecStart"):
            executable, *args = command.split()
            assert executable.startswith(f"{INSTALL_DIR}/.venv/bin/"), f"{name}: {executable}"
            for arg in [executable, *args]:
                if arg.startswith(f"{INSTALL_DIR}/") and "/.venv/" not in arg:
                    assert (ROOT / arg.removeprefix(f"{INSTALL_DIR}/")).is_file(), (
                        f"{name}: {arg} is not in the release"
                    )


def test_web_runs_gunicorn_with_the_production_config_and_stops_gracefully() -> None:
    unit = load("madoguchi-web")
    assert unit.one("Service", "ExecStart").split()[1:] == [
        "-c",
        f"{INSTALL_DIR}/ops/gunicorn.conf.py",
        "madoguchi.wsgi:application",
    ]
    assert unit.one("Service", "Type") == "notify"  # gunicorn's arbiter sends READY=1
    assert unit.one("Service", "ExecReload") == "/bin/kill -s HUP $MAINPID"
    assert unit.one("Service", "KillSignal") == "SIGTERM"  # gunicorn: finish requests, then exit
    gunicorn = runpy.run_path(str(ROOT / "ops" / "gunicorn.conf.py"))
    assert int(unit.one("Service", "TimeoutStopSec")) > gunicorn["graceful_timeout"]


def test_worker_stops_warm_and_exactly_one_unit_runs_beat() -> None:
    worker = load("madoguchi-worker")
    assert " worker " in worker.one("Service", "ExecStart")
    assert worker.one("Service", "KillSignal") == "SIGTERM"  # Celery's warm shutdown
    assert (
        worker.one("Service", "KillMode") == "mixed"
    )  # TERM to the main process only, it stops its children
    assert int(worker.one("Service", "TimeoutStopSec")) >= 60
    assert worker.environment["MADOGUCHI_WORKER_CONCURRENCY"].isdigit()
    beats = [
        name
        for name in SERVICES
        for command in load(name).values("Service", "ExecStart")
        if re.search(r"\bcelery\b.*(\bbeat\b|\s-B\b|--beat\b)", command)
    ]
    assert beats == ["madoguchi-beat"]


def test_migrate_is_a_oneshot_running_the_deploy_steps_as_the_owner() -> None:
    unit = load("madoguchi-migrate")
    assert unit.one("Service", "Type") == "oneshot"
    assert "/etc/madoguchi/deploy.env" in unit.values("Service", "EnvironmentFile")
    role = unit.environment["MADOGUCHI_APP_ROLE"]
    commands = [
        command.split(f"{INSTALL_DIR}/manage.py ", 1)[1].replace("${MADOGUCHI_APP_ROLE}", role)
        for command in unit.values("Service", "ExecStart")
    ]
    assert commands == deploy_steps()
    assert "Install" not in unit.sections  # run by the deploy, never at boot


def _units_in_this_checkout(tmp_path: Path) -> list[Path]:
    """The units with the release path mapped onto this checkout, so systemd can check the executables exist."""
    if not (ROOT / ".venv" / "bin" / "gunicorn").exists():
        pytest.skip("no .venv in this checkout (make install)")
    copies = []
    for name in SERVICES:
        copy = tmp_path / f"{name}.service"
        copy.write_text(
            (UNITS / f"{name}.service").read_text(encoding="utf-8").replace(INSTALL_DIR, str(ROOT))
        )
        copies.append(copy)
    return copies


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    return found


def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    units = _units_in_this_checkout(tmp_path)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    # Unknown keys and bad values are only warnings for systemd: any line it prints about our units is a failure.
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "madoguchi" in line]
    assert not problems, problems
    assert result.returncode == 0, result.stderr


def test_systemd_analyze_security_rates_every_unit_ok(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    units = _units_in_this_checkout(tmp_path)
    # --threshold is in tenths: fail above an exposure of 2.0 ("OK" is below 4.0; these units score 1.5).
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    scores = re.findall(r"Overall exposure level for (\S+): ([\d.]+)", result.stdout)
    if not scores and "--offline" in result.stderr:
        pytest.skip(f"this systemd-analyze has no offline security check: {result.stderr.strip()}")
    assert len(scores) == len(SERVICES), result.stdout + result.stderr
    assert result.returncode == 0, scores


def env_example() -> dict[str, str]:
    """ops/env.example as systemd's EnvironmentFile reads it: KEY=value lines, # comments."""
    pairs = {}
    for line in (ROOT / "ops" / "env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"env.example: not KEY=value: {line!r}"
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"env.example: not a variable name: {key!r}"
            pairs[key] = value
    return pairs


# Read by the app but meaningless in production: the embedded database, the file mail backend, the benchmarks'
# limits (refused in secure mode).
DEVELOPMENT_ONLY = {"MADOGUCHI_EMBEDDED_DB", "EMAIL_BACKEND", "EMAIL_FILE_PATH", "MADOGUCHI_BENCH_LIMITS"}


def variables_the_app_reads() -> set[str]:
    config = (ROOT / "platform" / "madoguchi" / "config.py").read_text(encoding="utf-8")
    settings = (ROOT / "platform" / "madoguchi" / "settings" / "__init__.py").read_text(encoding="utf-8")
    names = set(re.findall(r"env\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", config))
    names |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"", settings))
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "SENTRY_DSN"} <= names  # the patterns still find them
    return names


def test_the_environment_template_names_every_production_variable_with_safe_values() -> None:
    example = env_example()
    missing = variables_the_app_reads() - DEVELOPMENT_ONLY - set(example)
    assert not missing, f"ops/env.example lacks {sorted(missing)}"
    assert example["MADOGUCHI_SECURE"] == "true"
    assert example["DJANGO_DEBUG"] == "false"
    assert example["LOG_FORMAT"] == "json"
    assert example["MADOGUCHI_ALLOW_INSECURE"] == ""
    assert "SENTRY_DSN" in example
    assert "SENTRY_ENVIRONMENT" in example
    # A template, not a deployment: every secret is a placeholder or empty.
    for key in ("DJANGO_SECRET_KEY", "MADOGUCHI_AUDIT_KEY", "MADOGUCHI_API_KEY_PEPPER"):
        assert example[key] in ("", "CHANGE-ME"), key
    for key in ("DATABASE_URL", "EMAIL_URL"):
        assert ":CHANGE-ME@" in example[key], key
    # What the units pass on the command line comes from this file.
    worker = load("madoguchi-worker").one("Service", "ExecStart")
    assert all(name in example for name in re.findall(r"\$\{(\w+)\}", worker))
