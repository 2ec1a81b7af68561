from django.db import models


class Heartbeat(models.Model):
    """Last time a periodic job ran; /healthz reads it to tell whether beat and worker live."""

    name = models.CharField(max_length=64, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at.isoformat()}"
