from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "backcare.push"
    label = "push"
    verbose_name = "Push notifications"
