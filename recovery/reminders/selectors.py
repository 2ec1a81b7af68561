"""Reads of the outbox: the patient's reminders, and how the outbox is keeping up (healthz, reminders_status)."""

import uuid
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import NotFound
from backcare.core.models import Heartbeat
from recovery.episodes.selectors import episode_get
from recovery.reminders import actions
from recovery.reminders.models import Delivery, Reminder
from recovery.reminders.payloads import reminder_texts
from recovery.treatment.models import Application
from recovery.treatment.selectors import episode_protocol


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


def reminders_expired_count(*, since: datetime) -> int:
    """Reminders expired (claimed after their freshness window) that were due since `since` (a partial index)."""
    return Reminder.objects.filter(status=Reminder.Status.EXPIRED, due_at__gte=since).count()


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


def reminder_detail(*, patient: User, reminder_id: int, now: datetime | None = None) -> dict:
    """One of the patient's reminders as the app's reminder screen shows it: what it asks, whether it is
    still due, already done or too late, and the one-tap answers it allows now (another's is not found)."""
    now = now or timezone.now()
    reminder = Reminder.objects.select_related("episode__protocol_version").filter(pk=reminder_id, patient=patient)
    reminder = reminder.first()
    if reminder is None:
        raise NotFound("No such reminder.")
    try:
        protocol = episode_protocol(episode=reminder.episode)
    except LookupError:
        protocol = None
    title, body = reminder_texts(reminder, protocol=protocol)
    until = actions.fresh_until(kind=reminder.kind, safety=reminder.safety, due_at=reminder.due_at, protocol=protocol)
    state = _reminder_state(reminder, until=until, now=now)
    offered = actions.allowed(kind=reminder.kind, safety=reminder.safety) if state == "due" else ()
    return {
        "id": reminder.pk,
        "kind": reminder.kind,
        "title": title,
        "body": body,
        "due_at": reminder.due_at,
        "safety": reminder.safety,
        "status": reminder.status,
        "state": state,
        "fresh_until": until,
        "actions": [{"action": a, "title": str(actions.BUTTON_TITLES[a])} for a in offered if a != actions.DONE],
        "url": actions.screen_url(kind=reminder.kind, reminder_id=reminder.pk),
    }


def _reminder_state(reminder: Reminder, *, until: datetime | None, now: datetime) -> str:
    """due, done (answered, or what it asks has happened), too_late (past its freshness), or closed."""
    kind = reminder.kind
    if kind in actions.REMOVE_KINDS:
        key = reminder.slot.split(":", 1)[-1]
        app = Application.objects.filter(episode_id=reminder.episode_id, client_uuid=_uuid_or_none(key)).first()
        if reminder.ack_action == actions.STOP or (app is not None and app.stopped_at and not app.auto_closed):
            return "done"
        return "due" if app is not None else "closed"
    if kind in actions.START_KINDS and until is not None:
        since = reminder.due_at - (until - reminder.due_at)
        started = Application.objects.filter(
            episode_id=reminder.episode_id, kind=actions.START_KINDS[kind], started_at__gte=since
        ).exists()
        if reminder.ack_action == actions.START or started:
            return "done"
    elif reminder.acknowledged_at is not None and reminder.ack_action != actions.SNOOZE:
        return "done"
    if reminder.status == Reminder.Status.SKIPPED:
        return "done"
    if reminder.status in (Reminder.Status.CANCELLED, Reminder.Status.EXPIRED):
        return "too_late" if reminder.status == Reminder.Status.EXPIRED else "closed"
    if until is not None and now > until:
        return "too_late"
    return "due"


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
