"""Acknowledgements: the notification's buttons (done, snooze, skip), from the app or the service worker.

The service worker has no session: the payload carries a signed token for its one reminder, made and
checked here.
"""

from datetime import datetime, timedelta

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Conflict, NotFound
from recovery.reminders.models import Reminder
from recovery.triage.services import triage_summaries_touch

SNOOZE = timedelta(minutes=10)
ACK_SALT = "backcare.reminder-ack"
ACK_MAX_AGE = timedelta(days=7)


def reminder_ack_token(*, reminder_id: int) -> str:
    """A token that lets the service worker acknowledge this one reminder without a session or CSRF."""
    return signing.dumps({"r": reminder_id}, salt=ACK_SALT, compress=True)


def reminder_ack_token_check(*, token: str) -> int | None:
    """The reminder the token is for, or None (forged, expired, unreadable)."""
    try:
        return int(signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)["r"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def reminder_acknowledge(*, patient: User, reminder_id: int, action: str, now: datetime | None = None) -> Reminder:
    """The patient's answer to their reminder. Done always works; snooze and skip never touch a safety reminder."""
    return _acknowledge(Q(pk=reminder_id, patient=patient), action=action, now=now)


def reminder_acknowledge_with_token(
    *, token: str, reminder_id: int, action: str, now: datetime | None = None
) -> Reminder:
    """The same answer from the service worker: the token stands for the patient's session."""
    if reminder_ack_token_check(token=token) != reminder_id:
        raise NotFound("No such reminder.")
    return _acknowledge(Q(pk=reminder_id), action=action, now=now)


def _acknowledge(which: Q, *, action: str, now: datetime | None) -> Reminder:
    """Locks the reminder row, then the patient's triage summary (the outbox's lock order)."""
    now = now or timezone.now()
    with transaction.atomic():
        # A physiotherapist's alert is acknowledged through its alert (linked, audited), never as a reminder.
        reminder = Reminder.objects.select_for_update().filter(which, recipient__isnull=True).first()
        if reminder is None:
            raise NotFound("No such reminder.")
        if action in (Reminder.Action.SNOOZE, Reminder.Action.SKIP) and reminder.safety:
            raise Conflict({"action": ["Taking the ice or heat off cannot be snoozed or skipped."]})
        if reminder.status in (Reminder.Status.CANCELLED, Reminder.Status.SKIPPED):
            raise Conflict(f"This reminder is {reminder.status}.")
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
