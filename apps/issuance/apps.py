from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "apps.issuance"
    label = "issuance"
    verbose_name = "Issuance"

    def ready(self) -> None:
        from apps.issuance import signals  # noqa: F401
