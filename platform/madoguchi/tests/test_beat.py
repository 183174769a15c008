"""Every periodic task in the beat schedule is a task the worker knows (else it is rejected every run)."""

from __future__ import annotations

from django.conf import settings

from madoguchi.celery import app


def test_every_beat_entry_names_a_registered_task() -> None:
    app.loader.import_default_modules()
    missing = [
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks
    ]
    assert missing == []
    assert len(settings.CELERY_BEAT_SCHEDULE) >= 7


def test_the_worker_knows_every_task_module_of_the_project() -> None:
    """A task module the worker does not import is a task it rejects ("unregistered task") while the web process
    happily queues it: found on `make run`, where booking mails were never sent. Checked in a fresh process, as the
    worker starts, so that this test's own imports cannot register anything."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    defined = {
        ".".join(path.relative_to(root).with_suffix("").parts)
        for folder in ("apps", "tenants")
        for path in (root / folder).rglob("*.py")
        if "tests" not in path.parts and re.search(r"^@(shared_task|app\.task)", path.read_text(), re.M)
    }
    assert "apps.booking.reservations.tasks" in defined
    script = (
        "import django; django.setup(); from madoguchi.celery import app; "
        "app.loader.import_default_modules(); print('\\n'.join(sorted({t.__module__ for t in app.tasks.values()})))"
    )
    registered = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": f"{root / 'platform'}:{root}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Modules, not task names: a task moved to a feature package keeps its old name (pinned with name=).
    missing = sorted(defined - set(registered))
    assert missing == []
