from django.conf import settings
from django.utils import timezone

from .models import Heartbeat


def heartbeat_status(*, name: str) -> dict:
    """Whether heartbeat `name` is younger than BACKCARE_HEARTBEAT_MAX_AGE, in /healthz's JSON shape."""
    beat = Heartbeat.objects.filter(name=name).first()
    if beat is None:
        return {"ok": False, "last": None, "error": "no heartbeat yet"}
    age = (timezone.now() - beat.at).total_seconds()
    max_age = settings.BACKCARE_HEARTBEAT_MAX_AGE.total_seconds()
    return {"ok": age <= max_age, "last": beat.at.isoformat(), "age_seconds": round(age, 1)}
