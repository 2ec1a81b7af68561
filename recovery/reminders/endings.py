"""How a reminder ends once its deliveries have: sent at the first success, failed when the last one ends
without any. Used by the sender's recorder and by the dispatcher's repair of a reminder left claimed."""

from datetime import datetime

from django.db.models import Count, DateTimeField, F, Value
from django.db.models.functions import Coalesce

from recovery.reminders.models import Delivery, Reminder


def reminders_mark_sent(*, reminder_ids: list[int], now: datetime) -> int:
    """Claimed reminders become sent; sent_at keeps the first success (a snoozed one is sent again).
    Expects the reminder rows locked (by the recorder, or by the dispatcher's claim)."""
    if not reminder_ids:
        return 0
    return Reminder.objects.filter(pk__in=reminder_ids, status=Reminder.Status.CLAIMED).update(
        status=Reminder.Status.SENT,
        sent_at=Coalesce(F("sent_at"), Value(now, output_field=DateTimeField())),
        claim_expires_at=None,
        last_error="",
        updated_at=now,
    )


def reminder_finish_if_done(*, reminder_id: int, now: datetime) -> str | None:
    """When no delivery of a claimed reminder is still open, the reminder ends: sent if one got through,
    else failed with the last error. Expects the reminder row locked: every writer that ends a delivery
    takes it first, so none ends meanwhile."""
    counts = dict(
        Delivery.objects.filter(reminder_id=reminder_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    if any(counts.get(s) for s in Delivery.OPEN):
        return None
    if counts.get(Delivery.Status.SENT):
        return Reminder.Status.SENT if reminders_mark_sent(reminder_ids=[reminder_id], now=now) == 1 else None
    changed = Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.CLAIMED).update(
        status=Reminder.Status.FAILED,
        last_error=_failure_reason(reminder_id, total=sum(counts.values()))[:2000],
        claim_expires_at=None,
        updated_at=now,
    )
    return Reminder.Status.FAILED if changed else None


def _failure_reason(reminder_id: int, *, total: int) -> str:
    last = (
        Delivery.objects.filter(reminder_id=reminder_id)
        .exclude(last_error="")
        .order_by("-updated_at", "-pk")
        .values_list("device_type", "last_error")
        .first()
    )
    error = f"no delivery succeeded ({total} device{'s' if total != 1 else ''})"
    return f"{error}; last: {last[0]}: {last[1]}" if last else error
