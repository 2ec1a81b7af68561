from django.db import models


class PushAlert(models.Model):
    """A push service refused this server's credentials (backcare/push/alerts.py); /healthz reports it.

    One row per transport and configuration (a hash of it): a changed configuration is a fresh start.
    """

    kind = models.CharField(max_length=16)
    fingerprint = models.CharField(max_length=64)
    error = models.TextField()
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "fingerprint"], name="push_alert_once")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.error[:60]}"
