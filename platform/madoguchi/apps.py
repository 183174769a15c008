from django.apps import AppConfig


class MadoguchiConfig(AppConfig):
    name = "madoguchi"
    verbose_name = "Madoguchi"

    def ready(self) -> None:
        from madoguchi.celery import ensure_broker_dirs

        ensure_broker_dirs()
