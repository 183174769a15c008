from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Municipalities"

    def ready(self) -> None:
        from tenants.routing import connect_signals

        connect_signals()
