from datetime import datetime

from django.utils import timezone

from .models import Heartbeat


def heartbeat_record(*, name: str, at: datetime | None = None) -> Heartbeat:
    beat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"at": at or timezone.now()})
    return beat
