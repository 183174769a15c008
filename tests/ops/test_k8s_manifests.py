"""The Kubernetes manifests of ops/k8s/: each overlay renders offline with kubectl's kustomize, every object is valid
against the Kubernetes schemas (kubernetes-validate, offline), and what an operator relies on holds."""

from __future__ import annotations

import configparser
import functools
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.ops.test_systemd_units import deploy_steps, env_example

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "ops" / "k8s"
OVERLAYS = sorted(
    path.name for path in (K8S / "overlays").iterdir() if (path / "kustomization.yaml").is_file()
)
# The oldest Kubernetes these manifests support (the preStop sleep action is 1.30) and the newest schemas shipped.
SCHEMA_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
APP_IMAGE, PGBOUNCER_IMAGE = "madoguchi", "madoguchi-pgbouncer"

Obj = dict[str, Any]


@functools.cache
def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip(
            "kubectl is not installed (Debian's kubectl package; `make k8s-deps` installs it as root)"
        )
    result = subprocess.run(
        [kubectl, "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    version = json.loads(result.stdout or "{}").get("kustomizeVersion", "")
    major = re.match(r"v(\d+)\.", version)
    # The kustomizations use `labels` and `replicas` (kustomize 4+); Debian 12's kubernetes-client 1.20 has v2.
    if major is None or int(major.group(1)) < 5:
        pytest.skip(
            f"kubectl's built-in kustomize is {version or 'unknown'}; these manifests need v5 (kubectl 1.27+)"
        )
    return kubectl


@functools.cache
def render(target: str) -> tuple[Obj, ...]:
    kubectl = _kubectl()
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(objects: tuple[Obj, ...], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def pod_specs(objects: tuple[Obj, ...]) -> list[tuple[str, Obj]]:
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    ]


def containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def component(objects: tuple[Obj, ...], name: str) -> Obj:
    return find(objects, "Deployment", f"madoguchi-{name}")


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[Obj, ...]:
    return render(f"overlays/{request.param}")


def test_there_are_staging_and_production_overlays() -> None:
    assert {"staging", "production"} <= set(OVERLAYS)


def test_each_overlay_renders_the_whole_stack(overlay: tuple[Obj, ...]) -> None:
    kinds = {(o["kind"], re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"])) for o in overlay}
    for expected in [
        ("Deployment", "madoguchi-web"),
        ("Deployment", "madoguchi-worker"),
        ("Deployment", "madoguchi-beat"),
        ("Deployment", "madoguchi-pgbouncer"),
        ("Job", "madoguchi-migrate"),
        ("Service", "madoguchi-web"),
        ("Service", "madoguchi-pgbouncer"),
        ("ConfigMap", "madoguchi-config"),
        ("ConfigMap", "madoguchi-pgbouncer"),
        ("Secret", "madoguchi-secrets"),
        ("PodDisruptionBudget", "madoguchi-web"),
    ]:
        assert expected in kinds, f"{expected} missing"
    namespaces = {o["metadata"].get("namespace") for o in overlay}
    assert len(namespaces) == 1, namespaces
    assert None not in namespaces


def test_every_object_is_valid_against_the_kubernetes_schemas(overlay: tuple[Obj, ...]) -> None:
    problems = []
    for obj in overlay:
        for version in SCHEMA_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{version} {obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_web_probes_liveness_on_healthz_and_readiness_on_readyz(overlay: tuple[Obj, ...]) -> None:
    from tenants.middleware import HOSTLESS_PATHS

    web = component(overlay, "web")["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"] for port in web["ports"]}
    probes = {kind: web[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in probes.values():
        # Answered on any host (the kubelet sends the pod's address), and not redirected to https by secure mode.
        assert probe["path"] in HOSTLESS_PATHS
        assert probe["port"] in port_names
        assert {"name": "X-Forwarded-Proto", "value": "https"} in probe["httpHeaders"]
    assert web["ports"][0]["containerPort"] == int(_config(overlay)["GUNICORN_BIND"].rsplit(":", 1)[1])


def test_exactly_one_beat_recreated_never_rolled(overlay: tuple[Obj, ...]) -> None:
    beat = component(overlay, "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    runs_beat = [
        f"{name}/{c['name']}"
        for name, spec in pod_specs(overlay)
        for c in containers(spec)
        if "beat" in c.get("command", []) or {"-B", "--beat"} & set(c.get("command", []))
    ]
    assert runs_beat == [f"{beat['metadata']['name']}/beat"]
    assert not [o for o in overlay if o["kind"] == "HorizontalPodAutoscaler"]
    assert not [o for o in overlay if o["kind"] == "PodDisruptionBudget" and "beat" in o["metadata"]["name"]]


def test_the_migration_job_runs_the_deploy_steps_in_order_as_the_owner(overlay: tuple[Obj, ...]) -> None:
    job = find(overlay, "Job", "madoguchi-migrate")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0  # a failed migration is looked at, not retried blindly
    steps = []
    for container in containers(spec):
        command = container["command"]
        assert command[:2] == ["python", "/app/manage.py"], command
        steps.append(" ".join(command[2:]))
        owner_url = {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "madoguchi-secrets", "key": "DATABASE_URL_OWNER"}},
        }
        assert owner_url in container["env"], container["name"]
    assert steps == deploy_steps()
    # Only the Job gets the owner's credentials.
    for name, pod in pod_specs(overlay):
        if name != job["metadata"]["name"]:
            assert "DATABASE_URL_OWNER" not in str(pod), name


def test_no_secret_holds_a_real_value(overlay: tuple[Obj, ...]) -> None:
    secrets = [o for o in overlay if o["kind"] == "Secret"]
    assert secrets
    for secret in secrets:
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert values, secret["metadata"]["name"]
        filled = {key for key, value in values.items() if value}
        assert not filled, f"{secret['metadata']['name']} holds values for {sorted(filled)}"
    config = _config(overlay)
    leaked = [key for key in config if re.search(r"SECRET_KEY$|PASSWORD|PEPPER$|AUDIT_KEY|DSN|_URL", key)]
    assert not leaked, f"secrets in the ConfigMap: {leaked}"


def test_sentry_and_every_production_variable_reach_the_containers(overlay: tuple[Obj, ...]) -> None:
    secret = find(overlay, "Secret", "madoguchi-secrets")["stringData"]
    config = _config(overlay)
    assert "SENTRY_DSN" in secret
    assert "SENTRY_ENVIRONMENT" in config
    missing = set(env_example()) - set(secret) - set(config)
    assert not missing, f"in ops/env.example but not in the ConfigMap or Secret: {sorted(missing)}"
    for name, spec in pod_specs(overlay):
        if "pgbouncer" in name:
            continue
        for container in containers(spec):
            sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
            assert sources == {"madoguchi-config", "madoguchi-secrets"}, f"{name}/{container['name']}"


def test_every_container_has_limits_and_runs_as_non_root_on_a_read_only_root(
    overlay: tuple[Obj, ...],
) -> None:
    for name, spec in pod_specs(overlay):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["automountServiceAccountToken"] is False, name
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in containers(spec):
            where = f"{name}/{container['name']}"
            resources = container["resources"]
            assert set(resources["requests"]) >= {"cpu", "memory"}, where
            assert set(resources["limits"]) >= {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]  # noqa: S108 (the container's path)
            assert tmp, f"{where}: nothing mounted on /tmp"
            assert tmp[0]["name"] in empty_dirs, f"{where}: /tmp is not an emptyDir"


def test_web_worker_and_pgbouncer_spread_and_have_disruption_budgets(overlay: tuple[Obj, ...]) -> None:
    budgets = [o for o in overlay if o["kind"] == "PodDisruptionBudget"]
    for name in ("web", "worker", "pgbouncer"):
        deployment = component(overlay, name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}, name
        covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, name


def test_the_images_tags_are_set_by_the_overlay() -> None:
    base = {c["image"] for _name, spec in pod_specs(render("base")) for c in containers(spec)}
    assert base == {APP_IMAGE, PGBOUNCER_IMAGE}  # the base names the images, never a tag
    for name in OVERLAYS:
        images = {c["image"] for _n, spec in pod_specs(render(f"overlays/{name}")) for c in containers(spec)}
        assert len(images) == 2, images
        for image in images:
            repository, _sep, tag = image.rpartition(":")
            assert "/" in repository, f"{name}: {image} is not from the overlay's registry"
            assert tag not in ("", "latest"), f"{name}: {image} has no release tag"


def _config(objects: tuple[Obj, ...]) -> dict[str, str]:
    return find(objects, "ConfigMap", "madoguchi-config")["data"]


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None)
    parser.read_string(text)
    return parser


def _pgbouncer_ini(objects: tuple[Obj, ...]) -> configparser.ConfigParser:
    return _ini(find(objects, "ConfigMap", "madoguchi-pgbouncer")["data"]["pgbouncer.ini"])


def test_pgbouncer_runs_session_mode_with_the_same_settings_as_ops_pgbouncer_ini(
    overlay: tuple[Obj, ...],
) -> None:
    cluster = _pgbouncer_ini(overlay)
    host = _ini((ROOT / "ops" / "pgbouncer.ini").read_text(encoding="utf-8"))
    for ini in (cluster, host):
        assert ini["pgbouncer"]["pool_mode"] == "session"
        assert ini["pgbouncer"]["server_reset_query"] == "DISCARD ALL"
    only_addresses = {"listen_addr"}
    assert {k: v for k, v in cluster["pgbouncer"].items() if k not in only_addresses} == {
        k: v for k, v in host["pgbouncer"].items() if k not in only_addresses
    }
    assert dict(cluster["users"]) == dict(host["users"])
    strip_host = functools.partial(re.sub, r"host=\S+ ", "")
    assert strip_host(cluster["databases"]["madoguchi"]) == strip_host(host["databases"]["madoguchi"])
    assert "host=madoguchi-postgresql " in cluster["databases"]["madoguchi"]
    find(overlay, "Service", "madoguchi-postgresql")  # the name PgBouncer connects to exists


def _db_option(ini: configparser.ConfigParser, key: str) -> int:
    match = re.search(rf"\b{key}=(\d+)", ini["databases"]["madoguchi"])
    assert match, key
    return int(match.group(1))


def test_the_connection_budget_fits_pgbouncer_for_each_overlays_shape(overlay: tuple[Obj, ...]) -> None:
    """ops/README.md, "Connection budget": the application's peak during a rolling deploy fits one PgBouncer's
    application pool (each replica can carry it all), and the pool plus the deploy's cap fit max_db_connections."""
    config = _config(overlay)
    ini = _pgbouncer_ini(overlay)

    def peak_pods(name: str) -> int:
        spec = component(overlay, name)["spec"]
        surge = spec["strategy"].get("rollingUpdate", {}).get("maxSurge", 0)
        replicas: int = spec["replicas"]
        return replicas + (math.ceil(replicas * int(surge[:-1]) / 100) if isinstance(surge, str) else surge)

    web = peak_pods("web") * int(config["GUNICORN_WORKERS"]) * int(config["GUNICORN_THREADS"])
    # Each worker process holds one connection; the nightly dump adds two (its snapshot and pg_dump).
    worker = peak_pods("worker") * int(config["MADOGUCHI_WORKER_CONCURRENCY"]) + 2
    beat = peak_pods("beat")
    application = web + worker + beat
    pool = int(ini["pgbouncer"]["default_pool_size"])
    deploy = int(re.search(r"max_user_connections=(\d+)", ini["users"]["madoguchi_owner"]).group(1))
    shape = f"web {web} + worker {worker} + beat {beat} = {application}, pool {pool}, deploy {deploy}"
    assert application <= pool, shape
    assert pool + int(ini["pgbouncer"]["reserve_pool_size"]) + deploy <= _db_option(ini, "max_db_connections")
    assert int(ini["pgbouncer"]["max_client_conn"]) >= application + deploy


def test_pgbouncer_accepts_both_configurations() -> None:
    """Debian's PgBouncer refuses to start on an unknown or malformed setting: start it on each file, on a Unix
    socket in a scratch folder only (no TCP port), until it says it is up."""
    pgbouncer = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if pgbouncer is None:
        pytest.skip("pgbouncer is not installed (Debian's pgbouncer package)")
    # Not under pytest's tmp_path: its parents are private to root, and PgBouncer runs as nobody when we are root.
    with tempfile.TemporaryDirectory(prefix="madoguchi-pgbouncer-") as scratch:
        _start_each(pgbouncer, Path(scratch))


def _start_each(pgbouncer: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    userlist = tmp_path / "userlist.txt"
    userlist.write_text('"madoguchi_app" "x"\n', encoding="utf-8")
    userlist.chmod(0o644)
    for source in (ROOT / "ops" / "pgbouncer.ini", K8S / "base" / "pgbouncer.ini"):
        text = source.read_text(encoding="utf-8")
        text = re.sub(r"^listen_addr = .*$", "listen_addr =", text, flags=re.MULTILINE)
        text = re.sub(r"^unix_socket_dir =.*$", f"unix_socket_dir = {tmp_path}", text, flags=re.MULTILINE)
        text = re.sub(r"^auth_file = .*$", f"auth_file = {userlist}", text, flags=re.MULTILINE)
        ini = tmp_path / "pgbouncer.ini"
        ini.write_text(text, encoding="utf-8")
        ini.chmod(0o644)
        log = _start_until_up(
            [pgbouncer, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(ini)], tmp_path
        )
        assert "process up" in log, f"{source}: {log}"
        assert not re.search(r"\b(ERROR|WARNING|FATAL)\b", log), log


def _start_until_up(argv: list[str], tmp_path: Path, *, deadline: float = 20.0) -> str:
    """Start PgBouncer (as root it must be told which user to become) and stop it once it is up, it has exited
    (a bad file), or the deadline has passed; its log."""
    output = tmp_path / "pgbouncer.log"
    with output.open("w") as sink, subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT) as proc:
        try:
            end = time.monotonic() + deadline
            while time.monotonic() < end and proc.poll() is None:
                if "process up" in output.read_text(encoding="utf-8"):
                    break
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return output.read_text(encoding="utf-8")
