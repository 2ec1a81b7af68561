"""Dispatch: due reminders are claimed and fanned out to one Delivery per active device; due deliveries
are claimed for the senders. `reminders_dispatch` is the dispatcher's whole step (beat, every second)."""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.db import transaction

from backcare.push.selectors import devices_active_of
from recovery.reminders import actions
from recovery.reminders.claims import deliveries_claim_due, reminders_claim_due
from recovery.reminders.endings import reminder_finish_if_done
from recovery.reminders.models import Delivery, Reminder
from recovery.reminders.planning import REPLAN_AFTER
from recovery.treatment.selectors import episode_protocol

# Once its deliveries exist a reminder needs no claim to be safe (they are claimed on their own);
# its claim is stretched past the longest retry run and only serves to repair a reminder left open.
REMINDER_HOLD = timedelta(hours=2)
NO_DEVICE = "no active device"


@dataclass(frozen=True)
class ExpandResult:
    created: int = 0
    rearmed: int = 0
    failed: int = 0
    replan: tuple = ()  # episodes of failed or expired reminders whose successor must be planned now
    expired: int = 0


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
        expired, stale_episodes = reminders_expire_stale(reminder_ids=reminder_ids, now=now)
        expanded = deliveries_expand(reminder_ids=[pk for pk in reminder_ids if pk not in expired], now=now)
        if expired:
            replan = tuple(dict.fromkeys((*expanded.replan, *stale_episodes)))
            expanded = replace(expanded, replan=replan, expired=len(expired))
    delivery_ids = deliveries_claim_due(now=now, limit=limit * 4, ttl=ttl)
    return DispatchResult(len(reminder_ids), expanded, delivery_ids, now + ttl)


# --- expire: claimed too late to be worth sending ----------------------------------------------------

# The shortest freshness window any kind can have (protocol bounds included): rows less late are not looked at.
_FRESH_FLOOR = timedelta(minutes=5)
_THIS_FIRING = (*Delivery.OPEN, Delivery.Status.GONE, Delivery.Status.FAILED)


def reminders_expire_stale(*, reminder_ids: list[int], now: datetime) -> tuple[set[int], list]:
    """Claimed reminders past their kind's freshness window become expired, never sent (safety ones never
    expire). Returns the expired ids, and the episodes whose next slot follows them. Expects the rows locked
    by their claim, in the caller's transaction."""
    if not reminder_ids:
        return set(), []
    late = Reminder.objects.filter(
        pk__in=reminder_ids, status=Reminder.Status.CLAIMED, safety=False, due_at__lt=now - _FRESH_FLOOR
    )
    # A reminder claimed again with deliveries of this firing under way (a repair after a lost claim) is not
    # stale: its deliveries end it as sent or failed.
    late = late.exclude(deliveries__status__in=_THIS_FIRING).select_related("episode__protocol_version")
    protocols: dict = {}
    stale, episodes = set(), []
    for reminder in late:
        protocol = None
        if actions.needs_protocol(reminder.kind):
            if reminder.episode_id not in protocols:
                try:
                    protocols[reminder.episode_id] = episode_protocol(episode=reminder.episode)
                except LookupError:
                    protocols[reminder.episode_id] = None
            protocol = protocols[reminder.episode_id]
        until = actions.fresh_until(
            kind=reminder.kind, safety=reminder.safety, due_at=reminder.due_at, protocol=protocol
        )
        if until is not None and now > until:
            stale.add(reminder.pk)
            if reminder.kind in REPLAN_AFTER:
                episodes.append(reminder.episode_id)
    if stale:
        Reminder.objects.filter(pk__in=stale, status=Reminder.Status.CLAIMED).update(
            status=Reminder.Status.EXPIRED,
            claim_expires_at=None,
            last_error="claimed after its freshness window",
            updated_at=now,
        )
    return stale, list(dict.fromkeys(episodes))


# --- expand: reminders -> deliveries -----------------------------------------------------------------


@dataclass
class _Fanout:
    """What the claimed reminders need, worked out before anything is written."""

    new: list[Delivery] = field(default_factory=list)  # a device with no delivery of this reminder yet
    rearm: list[int] = field(default_factory=list)  # deliveries of an earlier firing (sent or cancelled)
    no_device: list[int] = field(default_factory=list)  # reminders with nowhere to go: they fail
    repair: list[int] = field(default_factory=list)  # claimed again with nothing new to send


def deliveries_expand(*, reminder_ids: list[int], now: datetime) -> ExpandResult:
    """One Delivery per active device of each claimed reminder. Idempotent for a reminder claimed again.

    A reminder that comes round again after it was sent (snoozed, or re-planned after a cancel) is a
    new firing: its deliveries that had ended as sent or cancelled are armed again. While it stays
    claimed, no delivery of the current firing can be `sent` (the first success ends the claim), so
    a re-claim after an expired claim never re-sends. Expects the reminders locked by their claim, in
    the caller's transaction; takes their deliveries after them (the outbox's lock order).
    """
    if not reminder_ids:
        return ExpandResult()
    with transaction.atomic():
        reminders = list(
            Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.CLAIMED).only(
                "pk", "patient_id", "recipient_id", "episode_id", "kind"
            )
        )
        if not reminders:
            return ExpandResult()
        fanout = _fan_out(reminders, now=now)
        rearmed = _deliveries_arm(fanout, now=now)
        failed = _reminders_hold_or_fail(reminders, no_device=fanout.no_device, now=now)
        # Claimed again with nothing new to send (a repair after a lost claim): end it if all its
        # deliveries have ended.
        for reminder_id in fanout.repair:
            reminder_finish_if_done(reminder_id=reminder_id, now=now)
    no_device = set(fanout.no_device)
    replan = tuple(dict.fromkeys(r.episode_id for r in reminders if r.pk in no_device and r.kind in REPLAN_AFTER))
    return ExpandResult(created=len(fanout.new), rearmed=rearmed, failed=failed, replan=replan if failed else ())


def _fan_out(reminders: list[Reminder], *, now: datetime) -> _Fanout:
    devices: dict[int, list[tuple[str, int]]] = {}
    for user_id, device_type, device_id in devices_active_of(user_ids={_to(r) for r in reminders}):
        devices.setdefault(user_id, []).append((device_type, device_id))
    known: dict[int, dict[tuple[str, int], tuple[int, str]]] = {}
    for pk, reminder_id, device_type, device_id, status in Delivery.objects.filter(
        reminder_id__in=[r.pk for r in reminders]
    ).values_list("pk", "reminder_id", "device_type", "device_id", "status"):
        known.setdefault(reminder_id, {})[(device_type, device_id)] = (pk, status)
    fanout = _Fanout()
    for reminder in reminders:
        _fan_out_one(reminder, devices.get(_to(reminder), []), known.get(reminder.pk, {}), fanout, now=now)
    return fanout


def _to(reminder: Reminder) -> int:
    """Whose devices: the patient's, or a physiotherapist's for a red-flag alert."""
    return reminder.recipient_id or reminder.patient_id


def _fan_out_one(reminder: Reminder, devices: list, known: dict, fanout: _Fanout, *, now: datetime) -> None:
    if not devices and not any(status in Delivery.OPEN for _pk, status in known.values()):
        fanout.no_device.append(reminder.pk)
        return
    touched = False
    for device_type, device_id in devices:
        row = known.get((device_type, device_id))
        if row is None:
            fanout.new.append(
                Delivery(
                    reminder_id=reminder.pk,
                    device_type=device_type,
                    device_id=device_id,
                    status=Delivery.Status.PENDING,
                    next_attempt_at=now,
                )
            )
            touched = True
        elif row[1] in (Delivery.Status.SENT, Delivery.Status.CANCELLED):
            fanout.rearm.append(row[0])
            touched = True
    if known and not touched:
        fanout.repair.append(reminder.pk)


def _deliveries_arm(fanout: _Fanout, *, now: datetime) -> int:
    """Create the new deliveries and arm the earlier firing's again. Returns how many were re-armed."""
    if fanout.new:
        Delivery.objects.bulk_create(fanout.new, ignore_conflicts=True)
    if not fanout.rearm:
        return 0
    return Delivery.objects.filter(
        pk__in=fanout.rearm, status__in=(Delivery.Status.SENT, Delivery.Status.CANCELLED)
    ).update(
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        claim_expires_at=None,
        last_error="",
        updated_at=now,
    )


def _reminders_hold_or_fail(reminders: list[Reminder], *, no_device: list[int], now: datetime) -> int:
    """Reminders with no device fail; the others keep their claim for REMINDER_HOLD. Returns how many failed."""
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
    return failed
