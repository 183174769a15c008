"""IPA 安全なウェブサイトの作り方 1-(ii) OS command injection.

The application starts no shell: a static check below proves that no module outside the tests calls a shell
(shell=True, os.system, os.popen, os.exec*/spawn*, subprocess.getoutput, a command given as one string). The
request tests post shell metacharacter payloads into every form field and query string and assert that the file
each payload would create never appears.

Later work adds its pages without touching this module: forms go into tests/security/targets.FORMS, pages are
walked from the URLconfs (targets.paths), and new Python files are scanned automatically.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tenants.models import Municipality
from tests.security.payloads import command_injection, command_marker
from tests.security.targets import (
    HOSTS,
    FormTarget,
    Host,
    case_id,
    client_for,
    form_cases,
    paths,
    prepare,
    relax_for_attacks,
    sign_in,
    submit,
)

ROOT = Path(settings.BASE_DIR)
SKIP_DIRS = {".venv", ".tools", ".data", ".git", "node_modules", "tests", "__pycache__", "staticfiles"}
SHELL_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("os", "execl"),
    ("os", "execle"),
    ("os", "execlp"),
    ("os", "execlpe"),
    ("os", "execv"),
    ("os", "execve"),
    ("os", "execvp"),
    ("os", "execvpe"),
    ("os", "spawnl"),
    ("os", "spawnle"),
    ("os", "spawnlp"),
    ("os", "spawnlpe"),
    ("os", "spawnv"),
    ("os", "spawnve"),
    ("os", "spawnvp"),
    ("os", "spawnvpe"),
    ("os", "posix_spawn"),
    ("os", "posix_spawnp"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("pty", "spawn"),
}
SUBPROCESS_RUNNERS = {"run", "call", "check_call", "check_output", "Popen"}


@pytest.fixture(autouse=True)
def _attack_settings(settings):
    relax_for_attacks(settings)


@pytest.mark.parametrize(("host", "form"), form_cases(), ids=case_id)
def test_form_fields_never_reach_a_shell(city: Municipality, host: Host, form: FormTarget) -> None:
    client = client_for(host)
    prepare(client, host, form)
    marker = command_marker()
    for field in form.text_fields:
        for payload in command_injection(marker):
            response = submit(client, form, {**form.data, field: payload})
            assert response.status_code in form.ok_statuses | {429}, (field, payload)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("host", HOSTS)
def test_query_strings_never_reach_a_shell(city: Municipality, host: Host) -> None:
    client = client_for(host)
    sign_in(client, host, role="supervisor")
    marker = command_marker()
    payloads = command_injection(marker)
    for path in paths(host):
        response = client.get(path, {f"p{i}": payload for i, payload in enumerate(payloads)})
        assert response.status_code < 500, path
    assert not os.path.exists(marker)


def python_files() -> Iterator[Path]:
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory) / name


def _dotted(node: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def shell_uses(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every way `source` could hand a string to a shell."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in {"os", "subprocess", "pty"}:
            for alias in node.names:
                if (node.module, alias.name) in SHELL_CALLS:
                    yield node.lineno, f"from {node.module} import {alias.name}"
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name[-2:] in SHELL_CALLS:
            yield node.lineno, ".".join(name)
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                yield node.lineno, "shell=..."
        if name[-2:-1] == ("subprocess",) and name[-1] in SUBPROCESS_RUNNERS and node.args:
            command = node.args[0]
            if isinstance(command, ast.Constant | ast.JoinedStr | ast.BinOp):
                yield node.lineno, f"{'.'.join(name)} with the command as one string"


def test_the_code_base_never_uses_a_shell() -> None:
    scanned = 0
    found = []
    for path in python_files():
        scanned += 1
        for line, what in shell_uses(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert scanned > 20
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "import os\nos.system('ls')",
        "import os\nos.popen('ls')",
        "from os import system",
        "import subprocess\nsubprocess.run('ls', shell=True)",
        "import subprocess\nsubprocess.run(cmd, shell=flag)",
        "import subprocess\nsubprocess.check_output(f'ls {x}')",
        "import subprocess\nsubprocess.getoutput('ls')",
        "import os\nos.execvp('sh', ['sh'])",
    ],
)
def test_the_scan_catches_shell_uses(source: str) -> None:
    assert list(shell_uses(source))


def test_the_scan_allows_argument_lists() -> None:
    assert (
        list(shell_uses("import subprocess\nsubprocess.run(['pip-audit', '-f', 'json'], shell=False)")) == []
    )
