"""Reads of the outbox."""

from datetime import datetime

from recovery.reminders.models import Reminder


def reminders_oldest_overdue(*, now: datetime) -> datetime | None:
    """Due instant of the oldest reminder still waiting to be claimed (served by the partial index)."""
    return (
        Reminder.objects.filter(status=Reminder.Status.SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
