from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "apps.issuance"
    label = "issuance"
    verbose_name = "Issuance"

    def ready(self) -> None:
        from apps.issuance import signals  # noqa: F401
        from apps.issuance.counter import booking_link

        booking_link.connect()

        from apps.issuance.audit_labels import labels
        from apps.security.audit_models import register_action_labels

        register_action_labels(labels())
