from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "console.support"
    label = "console_support"
    verbose_name = "Support access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.security.audit_models import register_action_labels
        from console.support.audit_labels import LABELS

        register_action_labels(LABELS)
