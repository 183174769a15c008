from django.apps import AppConfig


class AvailabilityConfig(AppConfig):
    name = "console.availability"
    label = "console_availability"
    verbose_name = "Availability and incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.security.audit_models import register_action_labels
        from console.availability.audit_labels import LABELS

        register_action_labels(LABELS)
