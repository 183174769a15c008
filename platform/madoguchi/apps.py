from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class MadoguchiConfig(AppConfig):
    name = "madoguchi"
    verbose_name = "Madoguchi"

    def ready(self) -> None:
        from madoguchi.celery import ensure_broker_dirs

        ensure_broker_dirs()
        # whitenoise warns about a missing STATIC_ROOT; it is filled by collectstatic in production.
        if settings.STATIC_ROOT:
            Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
