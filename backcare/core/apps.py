from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "backcare.core"
    label = "core"
    verbose_name = "Operations"

    def ready(self):
        from .health import health_check_register
        from .selectors import heartbeat_status

        health_check_register(name="beat", check=lambda: heartbeat_status(name="beat"))
