"""Reminder delivery: claimed reminders fan out to one Delivery per device, each sent and retried on its own.

The life of a reminder, after `reminders_claim_due` took it:

  deliveries_expand     one Delivery row per active device (idempotent); no device -> reminder failed
  deliveries_claim_due  SKIP LOCKED + conditional UPDATE, like reminders; the claim's expiry is its token
  delivery_send         check the claim and the reminder, send outside any transaction, record the attempt,
                        then: sent -> reminder sent (first success) and its episode re-planned;
                        transient -> retry with backoff; permanent or too many tries -> gone / failed;
                        the last delivery of a reminder to end without success fails the reminder.

A worker that dies mid-batch leaves its deliveries claimed; the claims expire and the next dispatch
takes them again. A late or redelivered task carries the old claim token and does nothing.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .delivery import Outcome, active_devices, device_get, transport_for
from .models import Delivery, DeliveryAttempt, Episode, Reminder
from .reminder_services import reminder_ack_token, reminders_claim_due, reminders_reconcile
from .treatment_selectors import episode_protocol

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
            Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.CLAIMED).only("pk", "patient_id")
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
    return ExpandResult(created=len(new), rearmed=rearmed, failed=failed)


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


# --- send -----------------------------------------------------------------------------------------


_RELATED = ("reminder", "reminder__episode", "reminder__episode__protocol_version")
_UNSET = object()


def delivery_send(*, delivery_id: int, claim: datetime | None = None, now: datetime | None = None) -> str:
    """Send one claimed delivery and record the answer. Returns what happened (sent, retry, gone, failed,
    cancelled, skipped, lost). Network I/O happens outside any transaction."""
    delivery = Delivery.objects.select_related(*_RELATED).filter(pk=delivery_id).first()
    if delivery is None:
        return "skipped"
    return _deliver(delivery, claim=claim, now=now)


def _deliver(delivery: Delivery, *, claim: datetime | None, now: datetime | None = None, device=_UNSET) -> str:
    now = now or timezone.now()
    if delivery.status != Delivery.Status.CLAIMED or delivery.claim_expires_at is None:
        return "skipped"
    if (claim is not None and delivery.claim_expires_at != claim) or delivery.claim_expires_at <= now:
        return "skipped"  # a newer claim owns it, or ours ran out and the next dispatch will take it
    claim = delivery.claim_expires_at
    reminder = delivery.reminder
    if reminder.status not in (Reminder.Status.CLAIMED, Reminder.Status.SENT):
        # Cancelled or skipped since the claim, or snoozed again: this firing is over, nothing is sent.
        return _record(delivery, claim, None, now, 0, cancel=f"reminder {reminder.status}")
    transport = transport_for(delivery.device_type)
    if device is _UNSET:
        device = device_get(delivery.device_type, delivery.device_id)
    if transport is None or device is None or not device.active:
        outcome = Outcome(None, True, None, "device inactive or removed")
        return _record(delivery, claim, outcome, now, 0, gone=True)
    payload = reminder_payload(reminder)
    started = time.monotonic()
    outcome = transport.send(
        device,
        payload,
        collapse_key=reminder.slot,
        ttl=reminder_ttl(reminder),
        urgency="high" if reminder.safety else "normal",
    )
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery, claim, outcome, timezone.now(), duration_ms)


def _record(
    delivery: Delivery,
    claim: datetime,
    outcome: Outcome | None,
    now: datetime,
    duration_ms: int,
    *,
    cancel: str = "",
    gone: bool = False,
) -> str:
    attempts = delivery.attempts + (0 if cancel else 1)
    next_attempt_at = delivery.next_attempt_at
    if cancel:
        status, error, code = Delivery.Status.CANCELLED, cancel, None
    elif outcome.ok:
        status, error, code = Delivery.Status.SENT, "", outcome.status_code
    else:
        error, code = outcome.error, outcome.status_code
        if outcome.permanent:
            status = Delivery.Status.GONE if (gone or outcome.gone) else Delivery.Status.FAILED
        elif attempts >= MAX_ATTEMPTS:
            status = Delivery.Status.FAILED
            error = f"gave up after {attempts} attempts: {error}"
        else:
            status = Delivery.Status.RETRY
            next_attempt_at = now + timedelta(seconds=backoff_seconds(attempts, outcome.retry_after))
    finished = None  # the reminder's new status when this delivery ended it
    ends_badly = status in (Delivery.Status.GONE, Delivery.Status.FAILED)
    with transaction.atomic():
        if ends_badly:
            # Failures of one reminder's deliveries record one at a time, so the last one to end sees
            # all the others ended. (A success needs no lock: its UPDATE of the reminder takes the row.)
            Reminder.objects.select_for_update().filter(pk=delivery.reminder_id).values_list("pk").first()
        if not cancel:
            DeliveryAttempt.objects.create(
                delivery_id=delivery.pk,
                at=now,
                status_code=code,
                outcome=str(status),
                error=error[:2000],
                duration_ms=duration_ms,
            )
        changed = Delivery.objects.filter(
            pk=delivery.pk, status=Delivery.Status.CLAIMED, claim_expires_at=claim
        ).update(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            claim_expires_at=None,
            last_status_code=code,
            last_error=error[:2000],
            sent_at=now if status == Delivery.Status.SENT else None,
            updated_at=now,
        )
        if changed != 1:
            logger.warning("delivery %s: claim lost before its %s was recorded", delivery.pk, status)
            return "lost"
        if status == Delivery.Status.SENT:
            # Another device got it first (seen when the batch was read): nothing to change.
            if delivery.reminder.status != Reminder.Status.SENT and _reminder_mark_sent(
                reminder_id=delivery.reminder_id, now=now
            ):
                finished = Reminder.Status.SENT
        elif ends_badly:
            finished = _reminder_finish_if_done(reminder_id=delivery.reminder_id, now=now)
    if finished is not None:
        # Sent (or given up on): plan what comes after it, so the next slot exists.
        _replan(episode_id=delivery.reminder.episode_id)
    return str(status) if not cancel else "cancelled"


def _reminder_mark_sent(*, reminder_id: int, now: datetime) -> bool:
    return (
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.CLAIMED).update(
            status=Reminder.Status.SENT,
            sent_at=Coalesce(F("sent_at"), Value(now, output_field=DateTimeField())),
            claim_expires_at=None,
            last_error="",
            updated_at=now,
        )
        == 1
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
        return Reminder.Status.SENT if _reminder_mark_sent(reminder_id=reminder_id, now=now) else None
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
                if episode is not None:
                    reminders_reconcile(episode=episode, now=timezone.now())
            return
        except IntegrityError:
            # A concurrent re-plan (an API write) created the same slot first; the second pass sees it.
            if attempt == 2:
                logger.exception("re-plan of episode %s failed", episode_id)
        except Exception:
            logger.exception("re-plan of episode %s failed", episode_id)
            return


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


def deliveries_send_many(*, delivery_ids: list[int], claim: datetime | None = None, threads: int = 1) -> dict[str, int]:
    """Send each delivery on its own: one failing device (or a bug on one row) never stops the others.

    The rows and their devices are read in a few queries up front; each delivery then sends and records
    on its own. With threads > 1 each thread has its own database connection, closed when the batch is done.
    """
    import queue
    import threading
    from collections import Counter

    from django.db import connections

    rows = Delivery.objects.select_related(*_RELATED).in_bulk(delivery_ids)
    wanted: dict[str, list[int]] = {}
    for row in rows.values():
        wanted.setdefault(row.device_type, []).append(row.device_id)
    devices = {}
    for device_type, ids in wanted.items():
        transport = transport_for(device_type)
        if transport is not None:
            devices.update({(device_type, d.pk): d for d in transport.device_model.objects.filter(pk__in=ids)})

    results: Counter = Counter()
    lock = threading.Lock()

    def one(delivery_id: int) -> None:
        row = rows.get(delivery_id)
        try:
            result = (
                "skipped"
                if row is None
                else _deliver(row, claim=claim, device=devices.get((row.device_type, row.device_id)))
            )
        except Exception:
            # The row stays claimed; its claim expires and the next dispatch tries again.
            logger.exception("delivery %s failed unexpectedly", delivery_id)
            result = "error"
        with lock:
            results[result] += 1

    if threads <= 1 or len(delivery_ids) <= 1:
        for delivery_id in delivery_ids:
            one(delivery_id)
        return dict(results)

    work: queue.SimpleQueue = queue.SimpleQueue()
    for delivery_id in delivery_ids:
        work.put(delivery_id)

    def run():
        try:
            while True:
                try:
                    delivery_id = work.get_nowait()
                except queue.Empty:
                    return
                one(delivery_id)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=run, name=f"send-{i}") for i in range(min(threads, len(delivery_ids)))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return dict(results)


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
