"""Services take the actor, not the request (docs/architecture.md, "Who acted").

A Celery task, a management command and the REST API call the same services as the pages; they have no request. So
no module that writes or reads for others (services, selectors, the audit log, lockout, audited saves, tasks,
presenters) imports `HttpRequest` or takes a parameter named `request`: it takes an `Actor` built at the edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "apps", ROOT / "tenants", ROOT / "base"]
# File names (stems) of the modules held to the rule: what writes or reads for others.
_RULED_PREFIXES = ("services", "selectors", "audit", "tasks", "presenters")
_RULED_NAMES = {"lockout", "audited", "actors", "counters", "signs", "engine", "mappings", "booking_link"}
# Request-layer modules whose name starts like a ruled one.
_REQUEST_LAYER = {
    "audit_middleware",
    "audit_signals",
}  # middleware; receivers of the login signals (the edge)


def ruled_modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts or path.stem in _REQUEST_LAYER:
                continue
            if path.stem.startswith(_RULED_PREFIXES) or path.stem in _RULED_NAMES:
                found.append(path)
    return sorted(found)


def request_uses(path: Path) -> list[str]:
    """What in `path` ties it to a request: an import of HttpRequest, or a parameter named `request`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.http":
            problems += [
                f"line {node.lineno}: imports HttpRequest" for a in node.names if a.name == "HttpRequest"
            ]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
            if "request" in names:
                problems.append(f"line {node.lineno}: {node.name}() takes a request")
    return problems


def test_the_rule_covers_the_services_of_every_app() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in ruled_modules()}
    assert "apps/security/audit.py" in names
    assert "apps/security/lockout.py" in names
    assert "apps/booking/staff/services.py" in names
    assert "apps/issuance/cards/services.py" in names


@pytest.mark.parametrize("path", ruled_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_service_selector_or_audit_module_needs_the_request(path: Path) -> None:
    assert request_uses(path) == []


def test_the_check_finds_a_request_parameter(tmp_path: Path) -> None:
    module = tmp_path / "services.py"
    module.write_text(
        "from django.http import HttpRequest\n\ndef thing_save(*, actor: object, request: HttpRequest) -> None: ...\n"
    )
    assert request_uses(module) == ["line 1: imports HttpRequest", "line 3: thing_save() takes a request"]
