from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "backcare.push"
    label = "push"
    verbose_name = "Push notifications"

    def ready(self):
        from backcare.core.health import health_check_register
        from backcare.push.capabilities import push_health_check

        health_check_register(name="push", check=push_health_check)
