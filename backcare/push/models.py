"""What the server last heard about each device: its last test push and its last reminder delivery.

django-push-notifications owns the device tables, so this is a row of our own per device, keyed by
(type, id) like a recovery Delivery row. It holds reason codes and status classes only (what the device
list shows), never a push service's words: those stay in the server log and the delivery ledger.
"""

from django.conf import settings
from django.db import models


class DeviceStatus(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    device_type = models.CharField(max_length=16)
    device_id = models.BigIntegerField()
    test_requested_at = models.DateTimeField(null=True, blank=True)
    test_at = models.DateTimeField(null=True, blank=True)
    test_status_class = models.CharField(max_length=3, blank=True, default="")
    test_reason = models.CharField(max_length=32, blank=True, default="")
    delivery_at = models.DateTimeField(null=True, blank=True)
    delivery_status_class = models.CharField(max_length=3, blank=True, default="")
    delivery_reason = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device_type", "device_id"], name="push_device_status_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.device_type}:{self.device_id}"


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
