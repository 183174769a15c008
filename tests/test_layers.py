"""The layers import-linter cannot see: templates and URL names (docs/architecture.md, "Layers").

`lint-imports` checks Python imports (issuance -> booking -> security -> tenants -> base). A lower layer can still
depend on a higher one through a string: a booking template that includes `issuance/...`, booking code that
reverses `issuance_cards:list` or renders an issuance template. Those break the same way when issuance moves or
is left out, so they are held to the same direction here:

- no layer names a higher app's URL (in Python or in a template) or renders or includes its templates;
- no app includes or extends another app's templates (one app uses another only through its services and
  selectors, never its pages; a shared piece belongs in `includes/` or `components/`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "frontend" / "templates"
APPS = ["issuance", "booking", "security"]  # highest first, as in the layers contract
LOWER_PACKAGES = {"tenants": ROOT / "tenants", "base": ROOT / "base"}

# A lower layer's page that links upwards on purpose, with the reason. Each entry is a debt to pay, not a pattern.
ALLOWED: dict[str, str] = {
    # The staff home is the menu of every app's staff pages; it lives in security because the login lands there.
    # It belongs in the composition root (or each app registers its menu entries), see docs/architecture.md.
    "frontend/templates/security/staff_home.html": "the staff menu",
}

_APP_NAME = re.compile(r"""^app_name\s*=\s*["']([\w]+)["']""", re.M)
_TEMPLATE_TAG = re.compile(r"""\{%-?\s*(?:include|extends)\s+["']([^"']+)["']""")
_URL_TAG = re.compile(r"""\{%-?\s*url\s+["']([\w]+):""")
_PY_URL = re.compile(r"""["']([\w]+):[\w-]+["']""")
_PY_TEMPLATE = re.compile(r"""["']([\w]+)/[\w/.-]+\.(?:html|txt)["']""")


def _python_files(package: Path) -> list[Path]:
    return [p for p in package.rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts]


def _namespaces(app: str) -> set[str]:
    """The URL namespaces an app defines (`app_name` of each of its URLconfs)."""
    found: set[str] = set()
    for path in (ROOT / "apps" / app).rglob("urls*.py"):
        found.update(_APP_NAME.findall(path.read_text(encoding="utf-8")))
    return found


def _templates(app: str) -> list[Path]:
    return sorted((TEMPLATES / app).rglob("*.*")) if (TEMPLATES / app).is_dir() else []


def references(path: Path) -> tuple[set[str], set[str]]:
    """(URL namespaces, template directories) that `path` names: a template's `{% url %}` and
    `{% include/extends %}`, or a Python module's "namespace:name" and "dir/template.html" strings."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return set(_PY_URL.findall(text)), set(_PY_TEMPLATE.findall(text))
    return set(_URL_TAG.findall(text)), {name.split("/", 1)[0] for name in _TEMPLATE_TAG.findall(text)}


def _violations(sources: list[Path], namespaces: set[str], template_dirs: set[str]) -> list[str]:
    found = []
    for path in sources:
        relative = str(path.relative_to(ROOT))
        if relative in ALLOWED:
            continue
        urls, templates = references(path)
        for name in sorted(urls & namespaces):
            found.append(f"{relative}: names the URL namespace {name!r}")
        for name in sorted(templates & template_dirs):
            found.append(f"{relative}: uses templates under {name + '/'!r}")
    return found


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path) -> None:
    # The layer tests below pass on silence; this one makes sure silence means absence.
    page = tmp_path / "page.html"
    page.write_text(
        "{% include 'issuance/_row.html' %} <a href=\"{% url 'issuance_cards:list' %}\">", "utf-8"
    )
    module = tmp_path / "module.py"
    module.write_text('reverse("issuance_cards:list"); render(r, "issuance/cards/list.html")', "utf-8")
    assert references(page) == ({"issuance_cards"}, {"issuance"})
    assert references(module) == ({"issuance_cards"}, {"issuance"})
    assert _namespaces("issuance") >= {"issuance_cards", "issuance_counter"}
    assert _namespaces("booking") >= {"booking", "booking_staff"}


@pytest.mark.parametrize("lower", APPS[1:] + list(LOWER_PACKAGES))
def test_no_layer_names_a_higher_apps_urls_or_templates(lower: str) -> None:
    higher = APPS[: APPS.index(lower)] if lower in APPS else APPS
    namespaces = set().union(*(_namespaces(app) for app in higher))
    template_dirs = set(higher)
    package = LOWER_PACKAGES.get(lower, ROOT / "apps" / lower)
    sources = _python_files(package) + (_templates(lower) if lower in APPS else [])
    assert _violations(sources, namespaces, template_dirs) == []


@pytest.mark.parametrize("app", APPS)
def test_no_app_includes_another_apps_templates(app: str) -> None:
    others = set(APPS) - {app}
    sources = _python_files(ROOT / "apps" / app) + _templates(app)
    found = [v for v in _violations(sources, set(), others) if "templates under" in v]
    assert found == []
