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
