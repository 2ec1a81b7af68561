"""Reminder delivery: claimed reminders fan out to one Delivery per device, each sent and retried on its own.

The life of a reminder, after `reminders_claim_due` took it:

  deliveries_expand     one Delivery row per active device (idempotent); no device -> reminder failed
  deliveries_claim_due  SKIP LOCKED + conditional UPDATE, like reminders; the claim's expiry is its token
  deliveries_send_many  a chunk at a time: rows, devices and payloads read in a few queries; pushes posted
                        from a thread pool outside any transaction; every answer recorded in one
                        transaction, only for rows still holding the claim they were sent under:
                        sent -> reminder sent (first success); transient -> retry with backoff;
                        permanent or too many tries -> gone / failed; the last delivery of a reminder
                        to end without success fails the reminder. Episodes whose next slot follows the
                        one just ended are re-planned afterwards (a separate task in the worker).

A worker that dies mid-batch leaves its deliveries claimed; the claims expire and the next dispatch
takes them again. A late or redelivered task carries the old claim token and does nothing.
"""

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from backcare.push.transports import DEVICE_GONE, Outcome, active_devices, device_deactivate, transport_for
from recovery.episodes.models import Episode
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.reminders.services import reminder_ack_token, reminders_claim_due, reminders_reconcile
from recovery.treatment.selectors import episode_protocol
from recovery.triage.services import triage_summaries_touch

logger = logging.getLogger(__name__)

OPEN = (Delivery.Status.PENDING, Delivery.Status.CLAIMED, Delivery.Status.RETRY)
MAX_ATTEMPTS = 8
BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
# Once its deliveries exist a reminder needs no claim to be safe (they are claimed on their own);
# its claim is stretched past the longest retry run and only serves to repair a reminder left open.
REMINDER_HOLD = timedelta(hours=2)
NO_DEVICE = "no active device"


# --- what a notification says ------------------------------------------------------------------

# How long a push service should keep trying to reach an offline phone (seconds).
KIND_TTL = {
    "ice_remove": 2 * 3600,
    "heat_remove": 2 * 3600,
    "ice_start": 30 * 60,
    "heat_start": 30 * 60,
    "checkin": 4 * 3600,
    "review": 12 * 3600,
    "rest_nudge": 3600,
    "rest_limit": 3600,
    "movement_break": 15 * 60,
}
DEFAULT_TTL = 3600


def _texts(kind: str, protocol) -> tuple[str, str]:
    on = {"ice": protocol.ice_on_min, "heat": protocol.heat_on_min} if protocol else {"ice": 20, "heat": 20}
    texts = {
        "ice_start": (f"Put the ice on ({on['ice']} min)", "Wrap the ice pack in a thin towel, never on bare skin."),
        "ice_remove": ("Take the ice off now", "Let your skin rest before the next application."),
        "heat_start": (f"Put the heat on ({on['heat']} min)", "Moist heat, not too hot. Never fall asleep with it on."),
        "heat_remove": ("Take the heat off now", "Let your skin rest before the next application."),
        "checkin": ("Time for your check-in", "How is your back today? It takes a minute."),
        "review": ("Time to look at your progress", "See how the last days went, and what comes next."),
        "rest_nudge": ("Time for a short walk", "Gentle movement helps recovery: a few easy minutes on your feet."),
        "rest_limit": ("Bed rest is over for now", "Start gentle movement: short, easy walks."),
        "movement_break": (
            "Stand up and stretch",
            f"You have been sitting for {protocol.sitting_break_min if protocol else 30} minutes.",
        ),
    }
    return texts.get(kind, ("backcare reminder", "Open backcare to see what to do next."))


_NEEDS_PROTOCOL = {"ice_start", "heat_start", "movement_break"}


def reminder_payload(reminder: Reminder, *, protocol=None) -> dict:
    """What the phone shows. Says what to do; never pain, medication or anything else clinical."""
    if protocol is None and reminder.kind in _NEEDS_PROTOCOL:
        try:
            protocol = episode_protocol(episode=reminder.episode)
        except LookupError:
            protocol = None
    title, body = _texts(reminder.kind, protocol)
    # Safety reminders (take it off) can be confirmed, never snoozed or skipped.
    actions = [{"action": "done", "title": "Done"}]
    if not reminder.safety:
        actions.append({"action": "snooze", "title": "In 10 min"})
    return {
        "title": title,
        "body": body,
        "tag": reminder.slot,
        "kind": reminder.kind,
        "reminder_id": reminder.pk,
        # Lets the service worker's buttons call POST /api/reminders/ack/ without a session or CSRF.
        "ack_token": reminder_ack_token(reminder_id=reminder.pk),
        "actions": actions,
        "url": "/",
    }


def reminder_ttl(reminder: Reminder) -> int:
    return KIND_TTL.get(reminder.kind, DEFAULT_TTL)


# --- backoff ------------------------------------------------------------------------------------


def backoff_seconds(attempts: int, retry_after: float | None = None, *, rng: random.Random | None = None) -> float:
    """Delay before try number attempts+1: full jitter over 5 s * 2^(attempts-1), capped at 10 min.

    A push service's Retry-After wins when it asks for longer.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    delay = (rng or random).uniform(0, ceiling)  # noqa: S311 - jitter, not security
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay


# --- expand: reminders -> deliveries ---------------------------------------------------------------


@dataclass(frozen=True)
class ExpandResult:
    created: int = 0
    rearmed: int = 0
    failed: int = 0
    replan: tuple = ()  # episodes of failed reminders whose successor must be planned now


def deliveries_expand(*, reminder_ids: list[int], now: datetime) -> ExpandResult:
    """One Delivery per active device of each claimed reminder. Idempotent for a reminder claimed again.

    A reminder that comes round again after it was sent (snoozed, or re-planned after a cancel) is a
    new firing: its deliveries that had ended as sent or cancelled are armed again. While it stays
    claimed, no delivery of the current firing can be `sent` (the first success ends the claim), so
    a re-claim after an expired claim never re-sends.
    """
    if not reminder_ids:
        return ExpandResult()
    with transaction.atomic():
        reminders = list(
            Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.CLAIMED).only(
                "pk", "patient_id", "episode_id", "kind"
            )
        )
        if not reminders:
            return ExpandResult()
        by_patient: dict[int, list[tuple[str, int]]] = {}
        for user_id, device_type, device_id in active_devices(user_ids={r.patient_id for r in reminders}):
            by_patient.setdefault(user_id, []).append((device_type, device_id))
        existing: dict[int, dict[tuple[str, int], tuple[int, str]]] = {}
        for pk, reminder_id, device_type, device_id, status in Delivery.objects.filter(
            reminder_id__in=[r.pk for r in reminders]
        ).values_list("pk", "reminder_id", "device_type", "device_id", "status"):
            existing.setdefault(reminder_id, {})[(device_type, device_id)] = (pk, status)

        new, rearm, no_device, repair = [], [], [], []
        for reminder in reminders:
            devices = by_patient.get(reminder.patient_id, [])
            known = existing.get(reminder.pk, {})
            if not devices and not any(status in OPEN for _pk, status in known.values()):
                no_device.append(reminder.pk)
                continue
            touched = False
            for device in devices:
                row = known.get(device)
                if row is None:
                    new.append(
                        Delivery(
                            reminder_id=reminder.pk,
                            device_type=device[0],
                            device_id=device[1],
                            status=Delivery.Status.PENDING,
                            next_attempt_at=now,
                        )
                    )
                    touched = True
                elif row[1] in (Delivery.Status.SENT, Delivery.Status.CANCELLED):
                    rearm.append(row[0])
                    touched = True
            if known and not touched:
                repair.append(reminder.pk)
        if new:
            Delivery.objects.bulk_create(new, ignore_conflicts=True)
        rearmed = 0
        if rearm:
            rearmed = Delivery.objects.filter(
                pk__in=rearm, status__in=(Delivery.Status.SENT, Delivery.Status.CANCELLED)
            ).update(
                status=Delivery.Status.PENDING,
                attempts=0,
                next_attempt_at=now,
                claim_expires_at=None,
                last_error="",
                updated_at=now,
            )
        failed = 0
        if no_device:
            failed = Reminder.objects.filter(pk__in=no_device, status=Reminder.Status.CLAIMED).update(
                status=Reminder.Status.FAILED, last_error=NO_DEVICE, claim_expires_at=None, updated_at=now
            )
        skip = set(no_device)
        held = [r.pk for r in reminders if r.pk not in skip]
        if held:
            Reminder.objects.filter(pk__in=held, status=Reminder.Status.CLAIMED).update(
                claim_expires_at=now + REMINDER_HOLD, updated_at=now
            )
        # Claimed again with nothing new to send (a repair after a lost claim): end it if all its
        # deliveries have ended.
        for reminder_id in repair:
            _reminder_finish_if_done(reminder_id=reminder_id, now=now)
    replan = tuple(dict.fromkeys(r.episode_id for r in reminders if r.pk in skip and r.kind in REPLAN_AFTER))
    return ExpandResult(created=len(new), rearmed=rearmed, failed=failed, replan=replan if failed else ())


# --- claim ----------------------------------------------------------------------------------------


def deliveries_claim_due(*, now: datetime, limit: int, ttl: timedelta) -> list[int]:
    """Claim up to `limit` deliveries due now, or whose earlier claim expired. Their claim expires at now + ttl.

    That expiry is the claim's token: `delivery_send(claim=...)` acts only while the row still holds it.
    """
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=(Delivery.Status.PENDING, Delivery.Status.RETRY), next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if len(due) < limit:
            due += list(
                Delivery.objects.select_for_update(skip_locked=True)
                .filter(status=Delivery.Status.CLAIMED, claim_expires_at__lte=now)
                .order_by("claim_expires_at")
                .values_list("pk", flat=True)[: limit - len(due)]
            )
        if not due:
            return []
        changed = (
            Delivery.objects.filter(pk__in=due)
            .filter(
                Q(status__in=(Delivery.Status.PENDING, Delivery.Status.RETRY), next_attempt_at__lte=now)
                | Q(status=Delivery.Status.CLAIMED, claim_expires_at__lte=now)
            )
            .update(status=Delivery.Status.CLAIMED, claim_expires_at=now + ttl, updated_at=now)
        )
        # The rows are locked by this transaction, so the conditional update must change every one.
        if changed != len(due):
            raise RuntimeError(f"claimed {changed} of {len(due)} locked deliveries")
        return due


def deliveries_release(*, delivery_ids: list[int], claim: datetime) -> int:
    """Give back claims that were never handed to a sender (the broker refused the message)."""
    return Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.CLAIMED, claim_expires_at=claim).update(
        status=Delivery.Status.PENDING, claim_expires_at=None, updated_at=timezone.now()
    )


# --- send -----------------------------------------------------------------------------------------


_RELATED = ("reminder", "reminder__episode", "reminder__episode__protocol_version")
# Kinds whose successor the engine plans only once they have come due (the next start, tomorrow's
# check-in, the next sitting break): their episode is re-planned when they end. The rest (remove,
# rest, review) have no successor, or it is already planned.
REPLAN_AFTER = frozenset({"ice_start", "heat_start", "checkin", "movement_break"})


@dataclass
class _Job:
    delivery: Delivery
    claim: datetime
    cancel: str = ""
    device: Any = None
    payload: dict | None = None
    outcome: Outcome | None = None
    at: datetime | None = None
    duration_ms: int = 0
    error: bool = False


def delivery_send(*, delivery_id: int, claim: datetime | None = None, now: datetime | None = None) -> str:
    """Send one claimed delivery and record the answer. Returns what happened (sent, retry, gone, failed,
    cancelled, skipped, lost, error). Network I/O happens outside any transaction."""
    results = _send_batch([delivery_id], claim=claim, now=now, threads=1, replan=_replan_each)
    return results.get(delivery_id, "skipped")


def deliveries_send_many(
    *,
    delivery_ids: list[int],
    claim: datetime | None = None,
    threads: int = 1,
    now: datetime | None = None,
    replan: Callable[[list], None] | None = None,
) -> dict[str, int]:
    """Send a batch of claimed deliveries: read in a few queries, posted from a thread pool (no database
    work in the threads), recorded in one transaction. One failing device (or a bug on one row) never
    stops the others. `replan(episode_ids)` takes the episodes whose reminders ended and need their next
    slot planned (default: re-planned here, after the batch is recorded)."""
    results = _send_batch(delivery_ids, claim=claim, now=now, threads=threads, replan=replan or _replan_each)
    return dict(Counter(results.values()))


def _send_batch(delivery_ids, *, claim, now, threads: int, replan: Callable[[list], None]) -> dict[int, str]:
    now = now or timezone.now()
    rows = Delivery.objects.select_related(*_RELATED).in_bulk(delivery_ids)
    results: dict[int, str] = {}
    jobs: list[_Job] = []
    for delivery_id in dict.fromkeys(delivery_ids):
        row = rows.get(delivery_id)
        if row is None or row.status != Delivery.Status.CLAIMED or row.claim_expires_at is None:
            results[delivery_id] = "skipped"
        elif (claim is not None and row.claim_expires_at != claim) or row.claim_expires_at <= now:
            results[delivery_id] = "skipped"  # a newer claim owns it, or ours ran out and the next dispatch takes it
        elif row.reminder.status not in (Reminder.Status.CLAIMED, Reminder.Status.SENT):
            # Cancelled or skipped since the claim, or snoozed again: this firing is over, nothing is sent.
            jobs.append(_Job(row, row.claim_expires_at, cancel=f"reminder {row.reminder.status}"))
        else:
            jobs.append(_Job(row, row.claim_expires_at))

    sending = [job for job in jobs if not job.cancel]
    devices = _devices_for(sending)
    protocols: dict = {}
    payloads: dict[int, dict] = {}
    for job in sending:
        delivery = job.delivery
        job.device = devices.get((delivery.device_type, delivery.device_id))
        if transport_for(delivery.device_type) is None or job.device is None or not job.device.active:
            job.outcome, job.at = Outcome(None, True, None, DEVICE_GONE), now
            continue
        reminder = delivery.reminder
        if reminder.pk not in payloads:
            payloads[reminder.pk] = reminder_payload(reminder, protocol=_protocol_of(reminder, protocols))
        job.payload = payloads[reminder.pk]

    posting = [job for job in sending if job.outcome is None]
    if threads > 1 and len(posting) > 1:
        list(_send_pool(threads).map(_post, posting))
    else:
        for job in posting:
            _post(job)

    recorded, episodes = _record_batch([job for job in jobs if not job.error], now=timezone.now())
    results.update(recorded)
    results.update({job.delivery.pk: "error" for job in jobs if job.error})
    if episodes:
        replan(sorted(episodes, key=str))
    return results


def _devices_for(jobs: list[_Job]) -> dict[tuple[str, int], Any]:
    wanted: dict[str, list[int]] = {}
    for job in jobs:
        wanted.setdefault(job.delivery.device_type, []).append(job.delivery.device_id)
    devices = {}
    for device_type, ids in wanted.items():
        transport = transport_for(device_type)
        if transport is not None:
            devices.update({(device_type, d.pk): d for d in transport.device_model.objects.filter(pk__in=ids)})
    return devices


def _protocol_of(reminder: Reminder, cache: dict):
    if reminder.kind not in _NEEDS_PROTOCOL:
        return None
    if reminder.episode_id not in cache:
        try:
            cache[reminder.episode_id] = episode_protocol(episode=reminder.episode)
        except LookupError:
            cache[reminder.episode_id] = None
    return cache[reminder.episode_id]


def _post(job: _Job) -> None:
    """One push, in a pool thread: network only, no database."""
    delivery = job.delivery
    started = time.monotonic()
    try:
        job.outcome = transport_for(delivery.device_type).send(
            job.device,
            job.payload,
            collapse_key=delivery.reminder.slot,
            ttl=reminder_ttl(delivery.reminder),
            urgency="high" if delivery.reminder.safety else "normal",
        )
    except Exception:
        # Left claimed: its claim expires and the next dispatch tries again.
        logger.exception("delivery %s failed unexpectedly", delivery.pk)
        job.error = True
    job.at = timezone.now()
    job.duration_ms = int((time.monotonic() - started) * 1000)


_pool_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None


def _send_pool(size: int) -> ThreadPoolExecutor:
    """The process's sender threads, kept between batches (rebuilt after a fork: Celery's prefork children)."""
    global _pool
    key = (os.getpid(), size)
    with _pool_lock:
        if _pool is None or _pool[:2] != key:
            _pool = (*key, ThreadPoolExecutor(max_workers=size, thread_name_prefix="push-send"))
        return _pool[2]


def _status_after(job: _Job) -> tuple[str, str, int | None, datetime]:
    """The delivery's new status, error, status code and next attempt, from the push service's answer."""
    outcome, delivery = job.outcome, job.delivery
    attempts = delivery.attempts + 1
    if outcome.ok:
        return Delivery.Status.SENT, "", outcome.status_code, delivery.next_attempt_at
    if outcome.permanent:
        gone = outcome.gone or outcome.error == DEVICE_GONE
        return (
            (Delivery.Status.GONE if gone else Delivery.Status.FAILED),
            outcome.error,
            outcome.status_code,
            (delivery.next_attempt_at),
        )
    if attempts >= MAX_ATTEMPTS:
        error = f"gave up after {attempts} attempts: {outcome.error}"
        return Delivery.Status.FAILED, error, outcome.status_code, delivery.next_attempt_at
    delay = backoff_seconds(attempts, outcome.retry_after)
    return Delivery.Status.RETRY, outcome.error, outcome.status_code, job.at + timedelta(seconds=delay)


def _record_batch(jobs: list[_Job], *, now: datetime) -> tuple[dict[int, str], set]:
    """Record a batch's answers in one transaction: attempts, deliveries (only those still holding the
    claim they were sent under), then their reminders. Returns each delivery's result and the episodes
    to re-plan."""
    results: dict[int, str] = {}
    if not jobs:
        return results, set()
    ended: dict[int, str] = {}  # reminder -> its new status
    failed_reminders: list[int] = []
    with transaction.atomic():
        # Reminders first, then deliveries, each in key order: the order every writer takes them, so
        # two batches (or a batch and a re-plan) never deadlock. The locks also make the last failing
        # delivery of a reminder see all the others ended.
        reminders = dict(
            Reminder.objects.select_for_update()
            .filter(pk__in={job.delivery.reminder_id for job in jobs})
            .order_by("pk")
            .values_list("pk", "status")
        )
        held = dict(
            Delivery.objects.select_for_update()
            .filter(pk__in=[job.delivery.pk for job in jobs], status=Delivery.Status.CLAIMED)
            .order_by("pk")
            .values_list("pk", "claim_expires_at")
        )
        attempts, sent, cancelled, gone_devices = [], {}, {}, []
        for job in jobs:
            delivery = job.delivery
            holds = held.get(delivery.pk) == job.claim
            if job.cancel:
                if holds:
                    cancelled.setdefault(job.cancel, []).append(delivery.pk)
                results[delivery.pk] = "cancelled" if holds else "lost"
                continue
            status, error, code, next_attempt_at = _status_after(job)
            attempts.append(
                DeliveryAttempt(
                    delivery_id=delivery.pk,
                    at=job.at,
                    status_code=code,
                    outcome=str(status),
                    error=error[:2000],
                    duration_ms=job.duration_ms,
                )
            )
            if job.outcome.gone:
                gone_devices.append(delivery)
            if not holds:
                logger.warning("delivery %s: claim lost before its %s was recorded", delivery.pk, status)
                results[delivery.pk] = "lost"
                continue
            results[delivery.pk] = str(status)
            if status == Delivery.Status.SENT:
                sent.setdefault(code, []).append(delivery.pk)
                if reminders.get(delivery.reminder_id) == Reminder.Status.CLAIMED:
                    ended[delivery.reminder_id] = Reminder.Status.SENT
                continue
            Delivery.objects.filter(pk=delivery.pk).update(
                status=status,
                attempts=F("attempts") + 1,
                next_attempt_at=next_attempt_at,
                claim_expires_at=None,
                last_status_code=code,
                last_error=error[:2000],
                sent_at=None,
                updated_at=now,
            )
            if status in (Delivery.Status.GONE, Delivery.Status.FAILED):
                failed_reminders.append(delivery.reminder_id)
        DeliveryAttempt.objects.bulk_create(attempts)
        for code, ids in sent.items():
            Delivery.objects.filter(pk__in=ids).update(
                status=Delivery.Status.SENT,
                attempts=F("attempts") + 1,
                claim_expires_at=None,
                last_status_code=code,
                last_error="",
                sent_at=now,
                updated_at=now,
            )
        for reason, ids in cancelled.items():
            Delivery.objects.filter(pk__in=ids).update(
                status=Delivery.Status.CANCELLED, claim_expires_at=None, last_error=reason, updated_at=now
            )
        for delivery in gone_devices:
            # The subscription is gone for good: stop sending to it anywhere.
            device_deactivate(device_type=delivery.device_type, device_id=delivery.device_id)
        _reminders_mark_sent(
            reminder_ids=[pk for pk, status in ended.items() if status == Reminder.Status.SENT], now=now
        )
        for reminder_id in dict.fromkeys(failed_reminders):
            if reminder_id not in ended:
                finished = _reminder_finish_if_done(reminder_id=reminder_id, now=now)
                if finished is not None:
                    ended[reminder_id] = finished
    about = {job.delivery.reminder_id: job.delivery.reminder for job in jobs}
    episodes = {about[pk].episode_id for pk in ended if about[pk].kind in REPLAN_AFTER}
    return results, episodes


def _reminders_mark_sent(*, reminder_ids: list[int], now: datetime) -> int:
    """Claimed reminders become sent; sent_at keeps the first success (a snoozed one is sent again)."""
    if not reminder_ids:
        return 0
    return Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.CLAIMED).update(
        status=Reminder.Status.SENT,
        sent_at=Coalesce(F("sent_at"), Value(now, output_field=DateTimeField())),
        claim_expires_at=None,
        last_error="",
        updated_at=now,
    )


def _reminder_finish_if_done(*, reminder_id: int, now: datetime) -> str | None:
    """When no delivery of a claimed reminder is still open, the reminder ends: sent if one got through."""
    counts = dict(
        Delivery.objects.filter(reminder_id=reminder_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    if any(counts.get(s) for s in OPEN):
        return None
    if counts.get(Delivery.Status.SENT):
        return Reminder.Status.SENT if _reminders_mark_sent(reminder_ids=[reminder_id], now=now) == 1 else None
    last = (
        Delivery.objects.filter(reminder_id=reminder_id)
        .exclude(last_error="")
        .order_by("-updated_at", "-pk")
        .values_list("device_type", "last_error")
        .first()
    )
    total = sum(counts.values())
    error = f"no delivery succeeded ({total} device{'s' if total != 1 else ''})"
    if last:
        error += f"; last: {last[0]}: {last[1]}"
    changed = Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.CLAIMED).update(
        status=Reminder.Status.FAILED, last_error=error[:2000], claim_expires_at=None, updated_at=now
    )
    return Reminder.Status.FAILED if changed else None


def _replan(*, episode_id) -> None:
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                # The episode lock first, as every write service takes it: re-plans of one episode queue up.
                episode = Episode.objects.select_for_update(of=("self",)).select_related("protocol_version")
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


def _replan_each(episode_ids: list) -> None:
    for episode_id in episode_ids:
        _replan(episode_id=episode_id)


def reminders_replan_episodes(*, episode_ids: list) -> int:
    """Plan what comes after reminders that ended (each episode in its own transaction)."""
    _replan_each(list(dict.fromkeys(episode_ids)))
    return len(episode_ids)


# --- the dispatcher's work, as one service ------------------------------------------------------------


@dataclass(frozen=True)
class DispatchResult:
    reminders: int
    expanded: ExpandResult
    deliveries: list[int]
    claim: datetime


def reminders_dispatch(*, now: datetime, limit: int = 500, ttl: timedelta = timedelta(seconds=120)) -> DispatchResult:
    """Claim due reminders and expand them in one transaction (a reminder is never claimed without its
    deliveries), then claim due deliveries. The caller queues the sends after commit."""
    with transaction.atomic():
        reminder_ids = reminders_claim_due(now=now, limit=limit, ttl=ttl)
        expanded = deliveries_expand(reminder_ids=reminder_ids, now=now)
    delivery_ids = deliveries_claim_due(now=now, limit=limit * 4, ttl=ttl)
    return DispatchResult(len(reminder_ids), expanded, delivery_ids, now + ttl)


# --- status (manage.py reminders_status) ----------------------------------------------------------


def outbox_status(*, now: datetime | None = None) -> dict:
    """Queue lag, counts by status and the dispatcher's heartbeat age: is the outbox keeping up?"""
    from backcare.core.models import Heartbeat

    now = now or timezone.now()
    oldest_due = (
        Reminder.objects.filter(status=Reminder.Status.SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    oldest_delivery = (
        Delivery.objects.filter(status__in=(Delivery.Status.PENDING, Delivery.Status.RETRY), next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    expired_claims = Reminder.objects.filter(status=Reminder.Status.CLAIMED, claim_expires_at__lte=now).count()
    expired_claims += Delivery.objects.filter(status=Delivery.Status.CLAIMED, claim_expires_at__lte=now).count()

    def counts(model) -> dict[str, int]:
        found = dict(model.objects.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        return {status: found.get(status, 0) for status in model.Status.values}

    beat = Heartbeat.objects.filter(name="dispatcher").first()
    return {
        "now": now.isoformat(),
        "queue_lag_seconds": round((now - oldest_due).total_seconds(), 3) if oldest_due else 0.0,
        "delivery_lag_seconds": round((now - oldest_delivery).total_seconds(), 3) if oldest_delivery else 0.0,
        "expired_claims": expired_claims,
        "reminders": counts(Reminder),
        "deliveries": counts(Delivery),
        "dispatcher_heartbeat_age_seconds": round((now - beat.at).total_seconds(), 3) if beat else None,
    }
