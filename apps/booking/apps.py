from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "apps.booking"
    label = "booking"
    verbose_name = "Booking"

    def ready(self) -> None:
        from apps.booking import signals  # noqa: F401
        from apps.booking.audit_labels import LABELS
        from apps.security.audit_models import register_action_labels

        register_action_labels(LABELS)
