from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Vendor console"

    def ready(self) -> None:
        from apps.security.audit_models import register_action_labels
        from base.prefetch import register_page_key
        from console.audit_labels import LABELS
        from console.context_processors import maintenance_request_key

        register_page_key(maintenance_request_key)
        register_action_labels(LABELS)
