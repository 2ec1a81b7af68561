"""Celery tasks. Their names are public (beat's schedule and messages already queued use them): never rename."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backcare.core.services import heartbeat_record
from backcare.push.transports import send_threads
from recovery.reminders import planning
from recovery.reminders.claims import deliveries_release
from recovery.reminders.dispatch import reminders_dispatch
from recovery.reminders.sending import deliveries_send_many
from recovery.treatment.services import applications_close_all_overdue
from recovery.triage import services as triage

logger = logging.getLogger(__name__)


@shared_task(name="recovery.tasks.applications_close_overdue", ignore_result=True)
def applications_close_overdue() -> int:
    # Keeps the timeline true even when nobody opens the app: an application left on ends at its cap.
    return applications_close_all_overdue(now=timezone.now())


@shared_task(name="recovery.tasks.reminders_replan_open_episodes", ignore_result=True)
def reminders_replan_open_episodes() -> int:
    return planning.reminders_replan_open_episodes(now=timezone.now())


@shared_task(name="recovery.tasks.triage_summaries_refresh", ignore_result=True)
def triage_summaries_refresh() -> int:
    # Keeps the physiotherapists' queue cheap to read: summaries out of date are computed ahead of the read.
    return triage.triage_summaries_refresh(now=timezone.now())


# --- reminder delivery (the outbox dispatcher) ---------------------------------------------------

DISPATCH_BATCH = 500
SEND_CHUNK = 50


def _claim_ttl() -> timedelta:
    return settings.BACKCARE_DISPATCH_CLAIM_TTL


def _queue_send(chunk: list[int], claim: datetime) -> None:
    try:
        send_deliveries.delay(chunk, claim.isoformat())
    except Exception:
        # The broker refused the message (down, full): give the claims back so the next dispatch that
        # reaches it sends them, instead of waiting for the claims to expire.
        logger.exception("queueing %d deliveries failed; released for the next dispatch", len(chunk))
        deliveries_release(delivery_ids=chunk, claim=claim)


@shared_task(name="recovery.tasks.dispatch_due", ignore_result=True)
def dispatch_due() -> dict:
    """Beat runs this every second: claim due reminders, fan them out, queue the sends after commit."""
    now: datetime = timezone.now()
    with transaction.atomic():
        result = reminders_dispatch(now=now, limit=DISPATCH_BATCH, ttl=_claim_ttl())
        for start in range(0, len(result.deliveries), SEND_CHUNK):
            chunk = result.deliveries[start : start + SEND_CHUNK]
            transaction.on_commit(lambda chunk=chunk: _queue_send(chunk, result.claim), robust=True)
        if result.expanded.replan:
            episodes = [str(e) for e in result.expanded.replan]
            transaction.on_commit(lambda: reminders_replan_episodes.delay(episodes), robust=True)
    heartbeat_record(name="dispatcher", at=now)
    expanded = result.expanded
    return {
        "reminders": result.reminders,
        "deliveries": len(result.deliveries),
        "failed": expanded.failed,
        "expired": expanded.expired,
    }


@shared_task(name="recovery.tasks.send_deliveries", ignore_result=True)
def send_deliveries(delivery_ids: list[int], claim: str | None = None) -> dict:
    """Send a chunk of claimed deliveries from a small thread pool. A late or repeated message whose
    claim has been taken again (or has expired) sends nothing."""
    token = datetime.fromisoformat(claim) if claim else None
    return deliveries_send_many(
        delivery_ids=delivery_ids,
        claim=token,
        threads=send_threads(),
        # Planning the next slot is not urgent (it is due a cycle later): it must not hold up sending.
        replan=lambda episodes: reminders_replan_episodes.delay([str(e) for e in episodes]),
    )


@shared_task(name="recovery.tasks.reminders_replan_episodes", ignore_result=True)
def reminders_replan_episodes(episode_ids: list[str]) -> int:
    return planning.reminders_replan_episodes(episode_ids=episode_ids)
