"""Planning: the reminder rows follow the engine's plan for the episode, in the caller's transaction.

A plan never disagrees with the event that changed it: write services are wrapped in `replans_episode`,
which re-plans in their transaction. Time-driven slots (tomorrow's check-in, the next sitting break) are
planned by `reminders_replan_open_episodes` (beat), and after a reminder of a kind in REPLAN_AFTER ends,
by `reminders_replan_episodes` (a task the sender queues).
"""

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from backcare.accounts.models import User
from recovery.episodes.models import Episode
from recovery.reminders.models import Delivery, Reminder
from recovery.treatment.selectors import episode_reminders_planned
from recovery.triage.services import triage_summaries_touch

logger = logging.getLogger(__name__)

ACTIVE = (Reminder.Status.SCHEDULED, Reminder.Status.CLAIMED)
# Kinds whose successor the engine plans only once they have come due (the next start, tomorrow's
# check-in, the next sitting break): their episode is re-planned when they end. The rest (remove,
# rest, review) have no successor, or it is already planned.
REPLAN_AFTER = frozenset({"ice_start", "heat_start", "checkin", "movement_break"})


@dataclass(frozen=True)
class ReconcileResult:
    created: int = 0
    moved: int = 0
    cancelled: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.moved or self.cancelled)


def reminders_reconcile(*, episode: Episode, now: datetime | None = None) -> ReconcileResult:
    """Make the episode's reminder rows match the plan. Idempotent; sent rows are left alone.

    Takes the episode's reminder rows FOR UPDATE, in key order (the order the sender's recorder takes
    them); the caller holds the transaction, and the episode's lock if it has one.
    """
    now = now or timezone.now()
    planned = episode_reminders_planned(episode=episode, now=now)
    # The episode's own rows: a physiotherapist's alert (recipient set) is no part of the patient's plan.
    mine = Reminder.objects.select_for_update(no_key=True).filter(episode=episode, recipient__isnull=True)
    rows = {r.slot: r for r in mine.order_by("pk")}
    new = [_reminder_new(episode, slot, plan) for slot, plan in planned.items() if slot not in rows]
    moved = sum(_reminder_follow(rows[slot], plan) for slot, plan in planned.items() if slot in rows)
    if new:
        Reminder.objects.bulk_create(new)
    obsolete = [r.pk for slot, r in rows.items() if slot not in planned and r.status in ACTIVE]
    cancelled = 0
    if obsolete:
        cancelled = Reminder.objects.filter(pk__in=obsolete, status__in=ACTIVE).update(
            status=Reminder.Status.CANCELLED, claim_expires_at=None, updated_at=now
        )
    return ReconcileResult(len(new), moved, cancelled)


def _reminder_new(episode: Episode, slot: str, plan) -> Reminder:
    return Reminder(
        patient_id=episode.patient_id, episode=episode, kind=plan.kind, slot=slot, due_at=plan.due, safety=plan.safety
    )


def _reminder_follow(row: Reminder, plan) -> bool:
    """Move a scheduled row to the plan's time, or schedule a cancelled one again (a rest restarted, say).
    A snoozed row keeps the time the patient asked for."""
    moved = row.status == Reminder.Status.SCHEDULED and row.snoozed_until is None and row.due_at != plan.due
    if row.status != Reminder.Status.CANCELLED and not moved:
        return False
    row.status, row.due_at, row.kind, row.safety = Reminder.Status.SCHEDULED, plan.due, plan.kind, plan.safety
    row.save(update_fields=["status", "due_at", "kind", "safety", "updated_at"])
    return True


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


def deliveries_cancel_after_resolve(*, episode: Episode, now: datetime | None = None) -> int:
    """A resolved episode sends nothing more but its safety reminders: the reconcile cancels the planned rows,
    and this the waiting retries of non-safety ones already sent to another device. One in flight (claimed)
    finishes: it is already on its way."""
    waiting = (Delivery.Status.PENDING, Delivery.Status.RETRY)
    return Delivery.objects.filter(reminder__episode=episode, reminder__safety=False, status__in=waiting).update(
        status=Delivery.Status.CANCELLED, last_error="episode resolved", updated_at=now or timezone.now()
    )


def reminders_replan_soon(*, episode_id) -> None:
    """Re-plan the episode in the worker once the caller's transaction commits: for writes whose effect on the
    plan is rare and not urgent (a check-in may start or break a run of good days, see protocol/ending.py),
    so their hot path does not pay for a full re-plan. Sent by name: recovery.tasks imports this module."""

    def send() -> None:
        current_app.send_task("recovery.tasks.reminders_replan_episodes", args=[[str(episode_id)]])

    transaction.on_commit(send, robust=True)


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
                # The episode's lock before its reminders', as every re-plan takes them (a service that took it
                # already, as most do, takes nothing more): one episode's re-plans queue up instead of interleaving.
                episode = Episode.objects.select_for_update(of=("self",), no_key=True).select_related(
                    "protocol_version"
                )
                episode = episode.get(pk=episode_id)
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


def reminders_replan_episodes(*, episode_ids: list) -> int:
    """Plan what comes after reminders that ended (each episode in its own transaction)."""
    for episode_id in dict.fromkeys(episode_ids):
        _replan(episode_id=episode_id)
    return len(episode_ids)


def _replan(*, episode_id) -> None:
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                # The episode lock first, as every write service takes it: re-plans of one episode queue up.
                episode = Episode.objects.select_for_update(of=("self",), no_key=True).select_related(
                    "protocol_version"
                )
                episode = episode.filter(pk=episode_id).first()
                if episode is not None and reminders_reconcile(episode=episode, now=timezone.now()).changed:
                    triage_summaries_touch(patient_ids=[episode.patient_id])
            return
        except IntegrityError:
            # A concurrent re-plan (an API write) created the same slot first; the second pass sees it.
            if attempt == 2:
                logger.exception("re-plan of episode %s failed", episode_id)
        except Exception:
            logger.exception("re-plan of episode %s failed", episode_id)
            return
