"""Sending: a batch of claimed deliveries is posted, and every answer recorded.

  read      rows, devices and payloads in a few queries (`_jobs_for`, `_prepare`)
  post      from a thread pool, outside any transaction; network only (`_post`), each push within its total
            deadline (BACKCARE_PUSH_DEADLINE)
  record    as answers come in (`_answered`: those that finish together, in one transaction each), so a
            slow push service never holds up the recording of anyone else's reminder; only for rows
            still holding the claim they were sent under: sent ->
            the reminder is sent (first success); transient -> retry with backoff; permanent or too
            many tries -> gone / failed; the last delivery of a reminder to end without success fails
            the reminder (`_record_batch`)
  re-plan   episodes whose next slot follows a reminder that just ended (a separate task in the worker)

A worker that dies mid-batch leaves its deliveries claimed; the claims expire and the next dispatch takes
them again. A late or redelivered task carries the old claim token and does nothing.
"""

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backcare.push.selectors import devices_by_key
from backcare.push.services import DeviceResult, device_deactivate, device_statuses_record
from backcare.push.transports import DEVICE_GONE, Outcome, transport_for
from recovery.reminders.endings import reminder_finish_if_done, reminders_mark_sent
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.reminders.payloads import reminder_payload, reminder_protocol, reminder_ttl, reminder_urgency
from recovery.reminders.planning import REPLAN_AFTER, reminders_replan_episodes

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0
_RELATED = ("reminder", "reminder__episode", "reminder__episode__protocol_version")
# After the first answer of a round, wait this long for more, so answers that come together are
# recorded together (one transaction) while a slow one is recorded on its own, later.
GROUP_LINGER = 0.05


def backoff_seconds(attempts: int, retry_after: float | None = None, *, rng: random.Random | None = None) -> float:
    """Delay before try number attempts+1: full jitter over 5 s * 2^(attempts-1), capped at 10 min.

    A push service's Retry-After wins when it asks for longer.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    delay = (rng or random).uniform(0, ceiling)  # noqa: S311 - jitter, not security
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay


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


def _replan_here(episode_ids: list) -> None:
    reminders_replan_episodes(episode_ids=episode_ids)


def delivery_send(*, delivery_id: int, claim: datetime | None = None, now: datetime | None = None) -> str:
    """Send one claimed delivery and record the answer. Returns what happened (sent, retry, gone, failed,
    cancelled, skipped, lost, error). Network I/O happens outside any transaction."""
    results = _send_batch([delivery_id], claim=claim, now=now, threads=1, replan=_replan_here)
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
    results = _send_batch(delivery_ids, claim=claim, now=now, threads=threads, replan=replan or _replan_here)
    return dict(Counter(results.values()))


def _send_batch(delivery_ids, *, claim, now, threads: int, replan: Callable[[list], None]) -> dict[int, str]:
    now = now or timezone.now()
    results, jobs = _jobs_for(delivery_ids, claim=claim, now=now)
    sending = [job for job in jobs if not job.cancel]
    _prepare(sending, now=now)
    _recheck(sending)
    answered = [job for job in jobs if job.cancel or job.outcome is not None]  # nothing to post
    for group in _answered([job for job in sending if job.outcome is None and not job.cancel], threads=threads):
        group, answered = answered + group, []
        recorded, episodes = _record_batch([job for job in group if not job.error], now=timezone.now())
        results.update(recorded)
        results.update({job.delivery.pk: "error" for job in group if job.error})
        if episodes:
            replan(sorted(episodes, key=str))
    return results


# --- read --------------------------------------------------------------------------------------------


def _jobs_for(delivery_ids, *, claim: datetime | None, now: datetime) -> tuple[dict[int, str], list[_Job]]:
    """A job for each row that still holds a live claim (ours, if `claim` is given); the rest are skipped."""
    rows = Delivery.objects.select_related(*_RELATED).in_bulk(delivery_ids)
    skipped: dict[int, str] = {}
    jobs: list[_Job] = []
    for delivery_id in dict.fromkeys(delivery_ids):
        row = rows.get(delivery_id)
        if row is None or row.status != Delivery.Status.CLAIMED or row.claim_expires_at is None:
            skipped[delivery_id] = "skipped"
        elif (claim is not None and row.claim_expires_at != claim) or row.claim_expires_at <= now:
            skipped[delivery_id] = "skipped"  # a newer claim owns it, or ours ran out and the next dispatch takes it
        elif row.reminder.status not in (Reminder.Status.CLAIMED, Reminder.Status.SENT):
            # Cancelled or skipped since the claim, or snoozed again: this firing is over, nothing is sent.
            jobs.append(_Job(row, row.claim_expires_at, cancel=f"reminder {row.reminder.status}"))
        else:
            jobs.append(_Job(row, row.claim_expires_at))
    return skipped, jobs


def _prepare(jobs: list[_Job], *, now: datetime) -> None:
    """Each job's device and payload (one per reminder); a device gone or unknown is answered here."""
    devices = devices_by_key(keys=[(job.delivery.device_type, job.delivery.device_id) for job in jobs])
    protocols: dict = {}
    payloads: dict[int, dict] = {}
    for job in jobs:
        delivery = job.delivery
        job.device = devices.get((delivery.device_type, delivery.device_id))
        if transport_for(delivery.device_type) is None or job.device is None or not job.device.active:
            job.outcome, job.at = Outcome(None, True, None, DEVICE_GONE), now
            continue
        reminder = delivery.reminder
        if reminder.pk not in payloads:
            payloads[reminder.pk] = reminder_payload(reminder, protocol=reminder_protocol(reminder, cache=protocols))
        job.payload = payloads[reminder.pk]


def _recheck(jobs: list[_Job]) -> None:
    """Read the reminders' status again just before posting: one cancelled since the batch was read (the
    application's stop recorded meanwhile) is not sent. The recorder checks again under its lock."""
    ids = {job.delivery.reminder_id for job in jobs}
    if not ids:
        return
    status = dict(Reminder.objects.filter(pk__in=ids).values_list("pk", "status"))
    for job in jobs:
        now_status = status.get(job.delivery.reminder_id)
        if now_status not in (Reminder.Status.CLAIMED, Reminder.Status.SENT):
            job.cancel, job.outcome = f"reminder {now_status}", None


# --- post --------------------------------------------------------------------------------------------


def _answered(jobs: list[_Job], *, threads: int) -> Iterator[list[_Job]]:
    """Post the jobs; yield them in groups as their answers come in (at least one group, maybe empty)."""
    if threads <= 1 or len(jobs) <= 1:
        for job in jobs:
            _post(job)
        yield jobs
        return
    pending = {_send_pool(threads).submit(_post, job): job for job in jobs}
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        more, _ = wait(pending.keys() - done, timeout=GROUP_LINGER, return_when=ALL_COMPLETED)
        yield [pending.pop(future) for future in (*done, *more)]


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
            urgency=reminder_urgency(delivery.reminder),
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


# --- record ------------------------------------------------------------------------------------------


@dataclass
class _Answers:
    """A batch's answers, sorted into the writes that record them."""

    results: dict[int, str] = field(default_factory=dict)  # delivery -> what happened
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    sent: dict[int | None, list[int]] = field(default_factory=dict)  # status code -> deliveries
    unsent: list[tuple[int, dict]] = field(default_factory=list)  # (delivery, fields): retry, gone or failed
    cancelled: dict[str, list[int]] = field(default_factory=dict)  # reason -> deliveries
    gone_devices: list[Delivery] = field(default_factory=list)
    reminders_sent: set[int] = field(default_factory=set)
    reminders_check: list[int] = field(default_factory=list)  # a delivery of theirs ended without success


def _record_batch(jobs: list[_Job], *, now: datetime) -> tuple[dict[int, str], set]:
    """Record a batch's answers in one transaction: attempts, deliveries (only those still holding the
    claim they were sent under), then their reminders. Returns each delivery's result and the episodes
    to re-plan."""
    if not jobs:
        return {}, set()
    with transaction.atomic():
        reminders, held = _lock_batch(jobs)
        answers = _Answers()
        for job in jobs:
            _sort_answer(job, holds=held.get(job.delivery.pk) == job.claim, reminders=reminders, answers=answers)
        _write_deliveries(answers, now=now)
        ended = _reminders_end(answers, now=now)
        # Each device's last delivery, as its owner's device list shows it (a reason code, no words).
        posted = [job for job in jobs if job.outcome is not None and job.payload is not None]
        device_statuses_record(what="delivery", results=[_device_result(job) for job in posted])
    about = {job.delivery.reminder_id: job.delivery.reminder for job in jobs}
    return answers.results, {about[pk].episode_id for pk in ended if about[pk].kind in REPLAN_AFTER}


def _device_result(job: _Job) -> DeviceResult:
    delivery, outcome = job.delivery, job.outcome
    return DeviceResult(
        delivery.device_type,
        delivery.device_id,
        delivery.reminder.patient_id,
        job.at,
        outcome.status_code,
        outcome.reason_code,
    )


def _lock_batch(jobs: list[_Job]) -> tuple[dict[int, str], dict[int, datetime]]:
    """Reminders first, then deliveries, each in key order: the order every writer takes them, so two
    batches (or a batch and a re-plan) never deadlock. The locks also make the last failing delivery of a
    reminder see all the others ended. Returns each reminder's status and each held delivery's claim."""
    reminders = dict(
        Reminder.objects.select_for_update(no_key=True)
        .filter(pk__in={job.delivery.reminder_id for job in jobs})
        .order_by("pk")
        .values_list("pk", "status")
    )
    held = dict(
        Delivery.objects.select_for_update(no_key=True)
        .filter(pk__in=[job.delivery.pk for job in jobs], status=Delivery.Status.CLAIMED)
        .order_by("pk")
        .values_list("pk", "claim_expires_at")
    )
    return reminders, held


def _sort_answer(job: _Job, *, holds: bool, reminders: dict[int, str], answers: _Answers) -> None:
    delivery = job.delivery
    if job.cancel:
        if holds:
            answers.cancelled.setdefault(job.cancel, []).append(delivery.pk)
        answers.results[delivery.pk] = "cancelled" if holds else "lost"
        return
    status, error, code, next_attempt_at = _status_after(job)
    answers.attempts.append(
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
        answers.gone_devices.append(delivery)
    if not holds:
        logger.warning("delivery %s: claim lost before its %s was recorded", delivery.pk, status)
        answers.results[delivery.pk] = "lost"
        return
    answers.results[delivery.pk] = str(status)
    if status == Delivery.Status.SENT:
        answers.sent.setdefault(code, []).append(delivery.pk)
        if reminders.get(delivery.reminder_id) == Reminder.Status.CLAIMED:
            answers.reminders_sent.add(delivery.reminder_id)
        return
    answers.unsent.append(
        (
            delivery.pk,
            {
                "status": status,
                "next_attempt_at": next_attempt_at,
                "last_status_code": code,
                "last_error": error[:2000],
            },
        )
    )
    if status in (Delivery.Status.GONE, Delivery.Status.FAILED):
        answers.reminders_check.append(delivery.reminder_id)


def _status_after(job: _Job) -> tuple[str, str, int | None, datetime]:
    """The delivery's new status, error, status code and next attempt, from the push service's answer."""
    outcome, delivery = job.outcome, job.delivery
    attempts = delivery.attempts + 1
    if outcome.ok:
        return Delivery.Status.SENT, "", outcome.status_code, delivery.next_attempt_at
    if outcome.permanent:
        gone = outcome.gone or outcome.error == DEVICE_GONE
        status = Delivery.Status.GONE if gone else Delivery.Status.FAILED
        return status, outcome.error, outcome.status_code, delivery.next_attempt_at
    if attempts >= MAX_ATTEMPTS:
        error = f"gave up after {attempts} attempts: {outcome.error}"
        return Delivery.Status.FAILED, error, outcome.status_code, delivery.next_attempt_at
    delay = backoff_seconds(attempts, outcome.retry_after)
    return Delivery.Status.RETRY, outcome.error, outcome.status_code, job.at + timedelta(seconds=delay)


def _write_deliveries(answers: _Answers, *, now: datetime) -> None:
    """The deliveries' rows (locked by `_lock_batch`), their attempts, and devices that are gone for good."""
    ended = {"attempts": F("attempts") + 1, "claim_expires_at": None, "updated_at": now}
    for pk, fields in answers.unsent:
        Delivery.objects.filter(pk=pk).update(**ended, **fields, sent_at=None)
    DeliveryAttempt.objects.bulk_create(answers.attempts)
    for code, ids in answers.sent.items():
        Delivery.objects.filter(pk__in=ids).update(
            **ended, status=Delivery.Status.SENT, last_status_code=code, last_error="", sent_at=now
        )
    for reason, ids in answers.cancelled.items():
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.CANCELLED, claim_expires_at=None, last_error=reason, updated_at=now
        )
    for delivery in answers.gone_devices:
        # The subscription is gone for good: stop sending to it anywhere.
        device_deactivate(device_type=delivery.device_type, device_id=delivery.device_id)


def _reminders_end(answers: _Answers, *, now: datetime) -> dict[int, str]:
    """End the batch's reminders that are done: sent at their first success, failed when their last delivery
    ended without one. Returns the reminders that ended, with their new status."""
    ended = dict.fromkeys(answers.reminders_sent, Reminder.Status.SENT)
    reminders_mark_sent(reminder_ids=list(ended), now=now)
    for reminder_id in dict.fromkeys(answers.reminders_check):
        if reminder_id not in ended:
            finished = reminder_finish_if_done(reminder_id=reminder_id, now=now)
            if finished is not None:
                ended[reminder_id] = finished
    return ended
