"""platform/ is a source root, not a package: the standard library's `platform` module must stay reachable."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_source_root_has_no_init_file() -> None:
    assert (ROOT / "platform" / "madoguchi").is_dir()
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_platform_is_the_standard_library_module_in_tests() -> None:
    import platform

    assert Path(platform.__file__).parent == Path(sysconfig.get_paths()["stdlib"])
    assert platform.system() == "Linux"


def test_django_celery_and_uuid_import_platform_fine_under_manage_py() -> None:
    code = (
        "import platform, uuid, celery, sentry_sdk; from madoguchi.celery import app; "
        "print(platform.python_implementation(), uuid.uuid4().version, app.main)"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["CPython", "4", "madoguchi"]
