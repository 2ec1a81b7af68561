"""The reminder outbox: reconcile rows with the engine's plan, claim due rows, acknowledge.

Planning writes happen in the caller's transaction, so a plan never disagrees with the event
that changed it. Claims use SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (a no-op on SQLite,
where IMMEDIATE transactions serialise writers), then a conditional UPDATE, so two dispatchers
never claim the same row.
"""

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.api import Conflict
from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from recovery.treatment.selectors import episode_reminders_planned
from recovery.triage.services import triage_summaries_touch

ACTIVE = (Reminder.Status.SCHEDULED, Reminder.Status.CLAIMED)
SNOOZE = timedelta(minutes=10)


@dataclass(frozen=True)
class ReconcileResult:
    created: int = 0
    moved: int = 0
    cancelled: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.moved or self.cancelled)


def reminders_reconcile(*, episode: Episode, now: datetime | None = None) -> ReconcileResult:
    """Make the episode's reminder rows match the plan. Idempotent; sent rows are left alone."""
    now = now or timezone.now()
    planned = episode_reminders_planned(episode=episode, now=now)
    # Locked in key order, as the delivery recorder locks them: the two never deadlock.
    rows = {r.slot: r for r in Reminder.objects.select_for_update().filter(episode=episode).order_by("pk")}
    created = moved = cancelled = 0
    new = []
    for slot, plan in planned.items():
        row = rows.get(slot)
        if row is None:
            new.append(
                Reminder(
                    patient_id=episode.patient_id,
                    episode=episode,
                    kind=plan.kind,
                    slot=slot,
                    due_at=plan.due,
                    safety=plan.safety,
                )
            )
        elif row.status == Reminder.Status.CANCELLED or (
            row.status == Reminder.Status.SCHEDULED and row.snoozed_until is None and row.due_at != plan.due
        ):
            # Moved, or planned again after a cancel (a rest restarted, say).
            row.status, row.due_at, row.kind, row.safety = Reminder.Status.SCHEDULED, plan.due, plan.kind, plan.safety
            row.save(update_fields=["status", "due_at", "kind", "safety", "updated_at"])
            moved += 1
    if new:
        Reminder.objects.bulk_create(new)
        created = len(new)
    obsolete = [r.pk for slot, r in rows.items() if slot not in planned and r.status in ACTIVE]
    if obsolete:
        cancelled = Reminder.objects.filter(pk__in=obsolete, status__in=ACTIVE).update(
            status=Reminder.Status.CANCELLED, claim_expires_at=None, updated_at=now
        )
    return ReconcileResult(created, moved, cancelled)


def reminders_reconcile_patient(*, patient: User, now: datetime | None = None) -> None:
    """After a profile change (time zone, sleep window, preferences): every open episode re-plans."""
    for episode in Episode.objects.filter(patient=patient, status=Episode.Status.OPEN):
        reminders_reconcile(episode=episode, now=now)
    triage_summaries_touch(patient_ids=[patient.pk])


def reminders_checkin_logged(*, episode: Episode, occurred_at: datetime, zone: ZoneInfo) -> int:
    """Cancel the check-in reminder of the local day this check-in belongs to (what a full re-plan would do)."""
    day = occurred_at.astimezone(zone).date()
    return Reminder.objects.filter(episode=episode, slot=f"checkin:{day.isoformat()}", status__in=ACTIVE).update(
        status=Reminder.Status.CANCELLED, claim_expires_at=None, updated_at=timezone.now()
    )


def reminders_replan_open_episodes(*, now: datetime | None = None) -> int:
    """Safety net for time-driven slots (tomorrow's check-in, the next sitting break): re-plan all open episodes."""
    count = 0
    for episode_id in Episode.objects.filter(status=Episode.Status.OPEN).values_list("pk", flat=True).iterator():
        with transaction.atomic():
            episode = Episode.objects.select_related("protocol_version").get(pk=episode_id)
            if reminders_reconcile(episode=episode, now=now).changed:
                triage_summaries_touch(patient_ids=[episode.patient_id])
        count += 1
    return count


def replans_episode(func):
    """Run a write service and re-plan its episode's reminders in the same transaction."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with transaction.atomic():
            result = func(*args, **kwargs)
            episode_id = _episode_id_of(result)
            if episode_id is not None:
                episode = Episode.objects.select_related("protocol_version").get(pk=episode_id)
                reminders_reconcile(episode=episode)
                triage_summaries_touch(patient_ids=[episode.patient_id])  # last: the summary row is the last lock
        return result

    return wrapper


def _episode_id_of(result) -> uuid.UUID | None:
    if isinstance(result, tuple):
        result = result[0]
    for attribute in ("record", "checkin"):
        result = getattr(result, attribute, result)
    if isinstance(result, Episode):
        return result.pk
    return getattr(result, "episode_id", None)


def reminders_claim_due(*, now: datetime, limit: int, ttl: timedelta) -> list[int]:
    """Claim up to `limit` reminders that are due, or whose earlier claim expired (a dead worker)."""
    with transaction.atomic():
        due = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Reminder.Status.SCHEDULED, due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        if len(due) < limit:
            due += list(
                Reminder.objects.select_for_update(skip_locked=True)
                .filter(status=Reminder.Status.CLAIMED, claim_expires_at__lte=now)
                .order_by("claim_expires_at")
                .values_list("pk", flat=True)[: limit - len(due)]
            )
        if not due:
            return []
        Reminder.objects.filter(pk__in=due).filter(
            Q(status=Reminder.Status.SCHEDULED) | Q(status=Reminder.Status.CLAIMED, claim_expires_at__lte=now)
        ).update(status=Reminder.Status.CLAIMED, claim_expires_at=now + ttl, attempts=F("attempts") + 1, updated_at=now)
        return due


def reminder_acknowledge(*, patient: User, reminder_id: int, action: str, now: datetime | None = None) -> Reminder:
    """The notification's buttons. Done always works; snooze and skip never touch a safety reminder."""
    now = now or timezone.now()
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id, patient=patient).first()
        if reminder is None:
            raise Http404("No such reminder.")
        if action in (Reminder.Action.SNOOZE, Reminder.Action.SKIP) and reminder.safety:
            raise Conflict({"action": ["Taking the ice or heat off cannot be snoozed or skipped."]})
        if reminder.status in (Reminder.Status.CANCELLED, Reminder.Status.SKIPPED):
            raise Conflict({"detail": f"This reminder is {reminder.status}."})
        reminder.acknowledged_at, reminder.ack_action = now, action
        fields = ["acknowledged_at", "ack_action", "updated_at"]
        if action == Reminder.Action.SNOOZE:
            # Same row and slot: the snoozed reminder replaces itself on the phone.
            reminder.status, reminder.due_at, reminder.snoozed_until = (
                Reminder.Status.SCHEDULED,
                now + SNOOZE,
                now + SNOOZE,
            )
            fields += ["status", "due_at", "snoozed_until"]
        elif action == Reminder.Action.SKIP:
            reminder.status = Reminder.Status.SKIPPED
            fields += ["status"]
        reminder.save(update_fields=fields)
        triage_summaries_touch(patient_ids=[reminder.patient_id])
        return reminder


ACK_SALT = "backcare.reminder-ack"
ACK_MAX_AGE = timedelta(days=7)


def reminder_ack_token(*, reminder_id: int) -> str:
    """A token that lets the service worker acknowledge this one reminder without a session or CSRF."""
    return signing.dumps({"r": reminder_id}, salt=ACK_SALT, compress=True)


def reminder_ack_token_check(*, token: str) -> int | None:
    try:
        return int(signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)["r"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
