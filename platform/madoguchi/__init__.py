"""The Django project: settings, URL configurations, Celery app (the composition root)."""

from madoguchi.celery import app as celery_app

__all__ = ["celery_app"]
