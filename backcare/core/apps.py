from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "backcare.core"
    label = "core"
    verbose_name = "Operations"
