import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backcare.settings.local")

app = Celery("backcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["backcare.core", "backcare.accounts", "backcare.push", "recovery"])
