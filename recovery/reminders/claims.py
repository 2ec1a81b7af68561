"""Claims: a dispatcher takes due rows for itself, so that two dispatchers never send the same one.

One rule for both claimable tables (reminders, deliveries): lock up to `limit` rows that are due, then rows
whose earlier claim expired (a dead worker), with SELECT ... FOR UPDATE SKIP LOCKED (a no-op on SQLite,
where IMMEDIATE transactions serialise writers); then one conditional UPDATE marks them claimed until
now + ttl. The claim's expiry is its token: a sender acts on a row only while it still holds that expiry.
SKIP LOCKED never waits, so a claim takes no part in the lock order.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from recovery.reminders.models import Delivery, Reminder


@dataclass(frozen=True)
class _Claimable:
    model: type[models.Model]
    waiting: Q  # rows that wait for a claim once due
    due_field: str  # when they come due
    also_set: dict = field(default_factory=dict)  # what else a claim writes


_REMINDERS = _Claimable(Reminder, Q(status=Reminder.Status.SCHEDULED), "due_at", {"attempts": F("attempts") + 1})
_DELIVERIES = _Claimable(Delivery, Q(status__in=(Delivery.Status.PENDING, Delivery.Status.RETRY)), "next_attempt_at")


def reminders_claim_due(*, now: datetime, limit: int, ttl: timedelta) -> list[int]:
    """Claim up to `limit` reminders that are due, or whose earlier claim expired; counts the attempt."""
    return _claim_due(_REMINDERS, now=now, limit=limit, ttl=ttl)


def deliveries_claim_due(*, now: datetime, limit: int, ttl: timedelta) -> list[int]:
    """Claim up to `limit` deliveries due now, or whose earlier claim expired. Their claim expires at now + ttl.

    That expiry is the claim's token: `delivery_send(claim=...)` acts only while the row still holds it.
    """
    return _claim_due(_DELIVERIES, now=now, limit=limit, ttl=ttl)


def deliveries_release(*, delivery_ids: list[int], claim: datetime) -> int:
    """Give back claims that were never handed to a sender (the broker refused the message)."""
    return Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.CLAIMED, claim_expires_at=claim).update(
        status=Delivery.Status.PENDING, claim_expires_at=None, updated_at=timezone.now()
    )


def _claim_due(table: _Claimable, *, now: datetime, limit: int, ttl: timedelta) -> list[int]:
    claimed = Q(status=table.model.Status.CLAIMED)
    due = table.waiting & Q(**{f"{table.due_field}__lte": now})
    expired = claimed & Q(claim_expires_at__lte=now)
    with transaction.atomic():
        pks = _lock(table.model, due, order_by=table.due_field, limit=limit)
        if len(pks) < limit:
            pks += _lock(table.model, expired, order_by="claim_expires_at", limit=limit - len(pks))
        if not pks:
            return []
        changed = (
            table.model.objects.filter(pk__in=pks)
            .filter(due | expired)
            .update(status=table.model.Status.CLAIMED, claim_expires_at=now + ttl, updated_at=now, **table.also_set)
        )
        # The rows are locked by this transaction, so the conditional update must change every one.
        if changed != len(pks):
            raise RuntimeError(f"claimed {changed} of {len(pks)} locked {table.model._meta.verbose_name_plural}")
        return pks


def _lock(model: type[models.Model], condition: Q, *, order_by: str, limit: int) -> list[int]:
    return list(
        model.objects.select_for_update(skip_locked=True)
        .filter(condition)
        .order_by(order_by)
        .values_list("pk", flat=True)[:limit]
    )
