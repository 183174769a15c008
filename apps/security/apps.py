from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "apps.security"
    label = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from apps.security import audit_signals, mfa_session, signals  # noqa: F401
