from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "backcare.web"
    label = "web"
    verbose_name = "Web app (PWA)"
