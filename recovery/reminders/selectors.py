"""Reads of the outbox: the patient's reminders, and how the outbox is keeping up (healthz, reminders_status)."""

import uuid
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.models import Heartbeat
from recovery.episodes.selectors import episode_get
from recovery.reminders.models import Delivery, Reminder


def reminder_list(
    *, patient: User, episode_id: uuid.UUID | None = None, status: str | None = None
) -> QuerySet[Reminder]:
    """The patient's reminders, optionally of one of their episodes (another's is not found) or one status."""
    reminders = Reminder.objects.filter(patient=patient, recipient__isnull=True)  # not the care team's alerts
    if episode_id is not None:
        episode_get(patient=patient, episode_id=episode_id)
        reminders = reminders.filter(episode_id=episode_id)
    if status is not None:
        reminders = reminders.filter(status=status)
    return reminders


def reminders_oldest_overdue(*, now: datetime) -> datetime | None:
    """Due instant of the oldest reminder still waiting to be claimed (served by the partial index)."""
    return (
        Reminder.objects.filter(status=Reminder.Status.SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def _deliveries_oldest_overdue(*, now: datetime) -> datetime | None:
    return (
        Delivery.objects.filter(status__in=(Delivery.Status.PENDING, Delivery.Status.RETRY), next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def _counts_by_status(model) -> dict[str, int]:
    found = dict(model.objects.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: found.get(status, 0) for status in model.Status.values}


def _seconds_since(now: datetime, then: datetime | None) -> float | None:
    return round((now - then).total_seconds(), 3) if then else None


def outbox_status(*, now: datetime | None = None) -> dict:
    """Queue lag, counts by status and the dispatcher's heartbeat age: is the outbox keeping up?"""
    now = now or timezone.now()
    expired_claims = sum(
        model.objects.filter(status=model.Status.CLAIMED, claim_expires_at__lte=now).count()
        for model in (Reminder, Delivery)
    )
    beat = Heartbeat.objects.filter(name="dispatcher").first()
    return {
        "now": now.isoformat(),
        "queue_lag_seconds": _seconds_since(now, reminders_oldest_overdue(now=now)) or 0.0,
        "delivery_lag_seconds": _seconds_since(now, _deliveries_oldest_overdue(now=now)) or 0.0,
        "expired_claims": expired_claims,
        "reminders": _counts_by_status(Reminder),
        "deliveries": _counts_by_status(Delivery),
        "dispatcher_heartbeat_age_seconds": _seconds_since(now, beat.at if beat else None),
    }
