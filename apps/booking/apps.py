from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "apps.booking"
    label = "booking"
    verbose_name = "Booking"

    def ready(self) -> None:
        from apps.booking import signals  # noqa: F401
