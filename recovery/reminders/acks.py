"""Answers to a reminder, from the notification's buttons (service worker, signed token) or the app (session).

- start   (a start reminder) records the application at the tap, through the app's own service, so its
          remove reminder is planned; one application per reminder however often it is tapped, and the
          app's own start of the same kind since the reminder's time counts as it
- stop    (a remove reminder) stops the running application at the tap, through the app's stop service
- snooze, skip: a non-safety reminder, again in 10 minutes or not at all
- done    the first payloads' answer, still taken: marks the reminder acknowledged

The token authorises only its reminder's buttons, and only until they stop making sense (actions.py).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backcare.accounts.models import User
from backcare.core.errors import Conflict, Forbidden, Invalid, NotFound
from recovery.episodes.models import Episode
from recovery.reminders import actions
from recovery.reminders.models import Reminder
from recovery.treatment.models import Application
from recovery.treatment.selectors import episode_protocol
from recovery.treatment.services import application_put, application_stop
from recovery.triage.services import triage_summaries_touch

SNOOZE = timedelta(minutes=10)
ACK_SALT = "backcare.reminder-ack"
ACK_MAX_AGE = timedelta(days=7)
LEGACY_ACTIONS = (actions.DONE, actions.SNOOZE)  # what a token of the first payloads (no scope) may do
# The client id of the application a start reminder records: one per reminder, whoever taps.
START_NAMESPACE = uuid.UUID("5d0c8d2e-6f4b-4c1e-9a55-13a7c0de0013")
CLOSED = (Reminder.Status.CANCELLED, Reminder.Status.SKIPPED, Reminder.Status.EXPIRED)


@dataclass(frozen=True)
class AckResult:
    reminder: Reminder
    result: str  # started, already_started, stopped, already_stopped, snoozed, skipped, done


def reminder_ack_token(*, reminder: Reminder, protocol=None) -> str:
    """A token for the service worker: this reminder, its buttons' actions, until they stop making sense."""
    offered = actions.buttons(kind=reminder.kind, safety=reminder.safety)
    if reminder.kind in actions.REMOVE_KINDS or reminder.safety:
        until = reminder.due_at + actions.STOP_VALID
    else:
        until = actions.fresh_until(kind=reminder.kind, safety=False, due_at=reminder.due_at, protocol=protocol)
    return signing.dumps({"r": reminder.pk, "a": list(offered), "u": int(until.timestamp())}, salt=ACK_SALT)


def reminder_ack_token_check(*, token: str) -> dict | None:
    """The token's claims ({"r": reminder, "a": actions, "u": until}), or None (forged, too old, unreadable)."""
    try:
        claims = signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)
        claims["r"] = int(claims["r"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _protocol_of(reminder: Reminder):
    try:
        return episode_protocol(episode=reminder.episode)
    except LookupError:
        return None


def reminder_acknowledge(*, patient: User, reminder_id: int, action: str, now: datetime | None = None) -> AckResult:
    """The patient's answer from the app: any action their reminder allows (actions.allowed)."""
    # A physiotherapist's alert is acknowledged through its alert (linked, audited), never as a reminder.
    reminder = (
        Reminder.objects.select_related("episode")
        .filter(pk=reminder_id, patient=patient, recipient__isnull=True)
        .first()
    )
    if reminder is None:
        raise NotFound("No such reminder.")
    if action not in actions.allowed(kind=reminder.kind, safety=reminder.safety):
        if reminder.safety and action in (actions.SNOOZE, actions.SKIP):
            raise Conflict({"action": [_("Taking the ice or heat off cannot be snoozed or skipped.")]})
        raise Invalid({"action": [_("This reminder does not offer that.")]})
    return _answer(reminder, action=action, now=now)


def reminder_acknowledge_with_token(
    *, token: str, reminder_id: int, action: str, now: datetime | None = None
) -> AckResult:
    """The same answer from the notification: the token stands for the session, for its reminder's buttons only."""
    now = now or timezone.now()
    claims = reminder_ack_token_check(token=token)
    if claims is None or claims["r"] != reminder_id:
        raise NotFound("No such reminder.")
    reminder = Reminder.objects.select_related("episode").filter(pk=reminder_id, recipient__isnull=True).first()
    if reminder is None:
        raise NotFound("No such reminder.")
    scope = claims.get("a", LEGACY_ACTIONS)
    if action not in scope:
        raise Forbidden(_("This notification cannot do that."))
    if reminder.safety and action in (actions.SNOOZE, actions.SKIP):
        raise Conflict({"action": [_("Taking the ice or heat off cannot be snoozed or skipped.")]})
    if "u" in claims and now.timestamp() > claims["u"]:
        raise Conflict(_("This reminder is too old to act on: open the app."))
    return _answer(reminder, action=action, now=now)


def _answer(reminder: Reminder, *, action: str, now: datetime | None) -> AckResult:
    if action == actions.START:
        return _start(reminder)
    if action == actions.STOP:
        return _stop(reminder)
    return _acknowledge(reminder.pk, action=action, now=now or timezone.now())


def _locked(reminder: Reminder) -> Reminder:
    """Lock the episode, then its reminders in key order (the order the re-plan takes them); ours, fresh."""
    Episode.objects.select_for_update(of=("self",), no_key=True).filter(pk=reminder.episode_id).first()
    rows = list(Reminder.objects.select_for_update(no_key=True).filter(episode_id=reminder.episode_id).order_by("pk"))
    return next(row for row in rows if row.pk == reminder.pk)


def _acked(reminder: Reminder, action: str, now: datetime) -> None:
    # An update, not save(): the re-plan in the service may have changed the row meanwhile.
    Reminder.objects.filter(pk=reminder.pk).update(acknowledged_at=now, ack_action=action, updated_at=now)
    triage_summaries_touch(patient_ids=[reminder.patient_id])  # last: the summary row is the last lock


def _start(reminder: Reminder) -> AckResult:
    """Start the reminder's application now, through the app's start service. Idempotent (see the top)."""
    kind = actions.START_KINDS[reminder.kind]
    client_uuid = uuid.uuid5(START_NAMESPACE, f"reminder:{reminder.pk}")
    protocol = _protocol_of(reminder)
    window = timedelta(minutes=actions.freshness_minutes(kind=reminder.kind, safety=False, protocol=protocol))
    with transaction.atomic():
        reminder = _locked(reminder)
        now = timezone.now()
        mine = Application.objects.filter(patient_id=reminder.patient_id, client_uuid=client_uuid).exists()
        # The app started the same kind since this reminder's time (give or take its window): the same start.
        running = Application.objects.filter(
            episode_id=reminder.episode_id, kind=kind, stopped_at__isnull=True, started_at__gte=reminder.due_at - window
        ).exists()
        if mine or running:
            result = "already_started"
        else:
            if reminder.status in CLOSED:
                raise Conflict(_("This reminder is no longer due."))
            if now > reminder.due_at + window:
                raise Conflict(_("This reminder is too old to start from: open the app."))
            try:
                application_put(
                    patient=reminder.patient, client_uuid=client_uuid, kind=kind, episode_id=reminder.episode_id
                )
            except Conflict as exc:
                raise Conflict(_refusal_reason(exc)) from exc
            result = "started"
        _acked(reminder, actions.START, now)
    reminder.refresh_from_db()
    return AckResult(reminder, result)


def _refusal_reason(exc: Conflict) -> str:
    """The start service's refusal in a few translated words for a lock screen."""
    detail = exc.detail.get("detail", "") if isinstance(exc.detail, dict) else str(exc.detail)
    if "running" in detail:
        return _("Another application is running: take it off first.")
    if "skin rest" in detail or "pause" in detail:
        return _("Let your skin rest: the pause is not over yet.")
    if "resolved" in detail:
        return _("Your plan has ended.")
    if "ice phase is over" in detail:
        return _("The ice phase is over: use moist heat now.")
    return _("This cannot start now: open the app to see why.")


def _stop(reminder: Reminder) -> AckResult:
    """Stop the reminder's application now, through the app's stop service; already stopped is fine."""
    kind = actions.REMOVE_KINDS.get(reminder.kind)
    try:
        client_uuid = uuid.UUID(reminder.slot.split(":", 1)[1])
    except (IndexError, ValueError):
        client_uuid = None
    with transaction.atomic():
        # The application's row first, then the episode and its reminders: the order the app's own stop takes
        # them (its record, then the re-plan), so an "It's off" tap and the app's Stop never wait in a cycle.
        app = (
            Application.objects.select_for_update(of=("self",), no_key=True)
            .filter(episode_id=reminder.episode_id, client_uuid=client_uuid, kind=kind)
            .first()
            if client_uuid and kind
            else None
        )
        reminder = _locked(reminder)
        now = timezone.now()
        if app is None:
            raise Conflict(_("There is nothing to take off."))
        if app.stopped_at is None or app.auto_closed:
            # Closed at its cap by the server, it may still be on: the tap is its real stop.
            application_stop(patient=reminder.patient, client_uuid=app.client_uuid, stopped_at=now)
            result = "stopped"
        else:
            result = "already_stopped"
        _acked(reminder, actions.STOP, now)
    reminder.refresh_from_db()
    return AckResult(reminder, result)


def _acknowledge(reminder_id: int, *, action: str, now: datetime) -> AckResult:
    """Done, snooze, skip. Locks the reminder row, then the patient's triage summary (the outbox's lock order)."""
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(no_key=True).filter(Q(pk=reminder_id), recipient__isnull=True).first()
        )
        if reminder is None:
            raise NotFound("No such reminder.")
        if reminder.status in CLOSED:
            raise Conflict(_("This reminder is no longer due."))
        reminder.acknowledged_at, reminder.ack_action = now, action
        fields = ["acknowledged_at", "ack_action", "updated_at"]
        result = "done"
        if action == Reminder.Action.SNOOZE:
            # Same row and slot: the snoozed reminder replaces itself on the phone.
            reminder.status, reminder.due_at, reminder.snoozed_until = (
                Reminder.Status.SCHEDULED,
                now + SNOOZE,
                now + SNOOZE,
            )
            fields += ["status", "due_at", "snoozed_until"]
            result = "snoozed"
        elif action == Reminder.Action.SKIP:
            reminder.status = Reminder.Status.SKIPPED
            fields += ["status"]
            result = "skipped"
        reminder.save(update_fields=fields)
        triage_summaries_touch(patient_ids=[reminder.patient_id])
        return AckResult(reminder, result)
