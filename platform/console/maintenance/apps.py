from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "console.maintenance"
    label = "console_maintenance"
    verbose_name = "Maintenance windows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.security.audit_models import register_action_labels
        from base.prefetch import register_page_key
        from console.maintenance.audit_labels import LABELS
        from console.maintenance.cache import request_key

        register_action_labels(LABELS)
        register_page_key(request_key)
