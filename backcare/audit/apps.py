from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "backcare.audit"
    label = "audit"
    verbose_name = "Access log"
