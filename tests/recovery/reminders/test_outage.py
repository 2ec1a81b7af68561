"""Fault: the dispatcher and the worker stopped for two hours (time-machine), then started again. What still
matters arrives - every "take it off" reminder, however late, while the application may still be on - and
the rest (starts, sitting breaks, walks, a check-in past its grace) is expired, never sent: the phone gets no
flood. `manage.py reminders_status` and /healthz count them."""

import io
import json
import uuid
from datetime import timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from backcare.accounts.models import Profile
from backcare.celery import app as celery_app
from recovery.apps import reminders_lag_check
from recovery.episodes.services import episode_open
from recovery.reminders.models import Reminder
from recovery.reminders.planning import reminders_reconcile
from recovery.treatment.models import Application
from tests.factories import UserFactory
from tests.recovery.reminders.conftest import make_reminder, subscribe
from tests.recovery.reminders.test_delivery_worker import QUEUES, beat_until, purged_queue  # noqa: F401 - fixture

pytestmark = [pytest.mark.worker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]
# ruff: noqa: F811 - the queue fixture is imported by name

OUTAGE = timedelta(hours=2)


def patient_with_ice_on(receiver, name: str):
    """An episode opened 15 min ago, with ice put on 5 min ago: its remove reminder is due in 15 min."""
    user = UserFactory()
    Profile.objects.filter(user=user).update(notify_treatment=True, notify_checkin=True, timezone="UTC")
    subscribe(user, receiver, name)
    now = timezone.now()
    episode = episode_open(patient=user, onset=now - timedelta(minutes=15), trigger="lifting").record
    app = Application.objects.create(
        patient=user, episode=episode, client_uuid=uuid.uuid4(), kind="ice", started_at=now - timedelta(minutes=5)
    )
    with transaction.atomic():
        reminders_reconcile(episode=episode, now=now)
    # Non-safety reminders falling due during the outage, each past its freshness window by its end.
    make_reminder(episode, kind="movement_break", due_at=now + timedelta(minutes=20))
    make_reminder(episode, kind="rest_nudge", due_at=now + timedelta(minutes=30))
    make_reminder(episode, kind="checkin", slot="checkin:outage", due_at=now - timedelta(minutes=10))
    return episode, app


def test_two_hours_without_dispatcher_and_worker_deliver_the_removes_and_expire_the_rest(receiver, purged_queue):
    apps = [patient_with_ice_on(receiver, f"p{i}")[1] for i in range(3)]
    removes = {f"ice_remove:{app.client_uuid}" for app in apps}
    assert Reminder.objects.filter(slot__in=removes, status="scheduled").count() == 3

    # Two hours later the dispatcher and the worker start again.
    with (
        time_machine.travel(timezone.now() + OUTAGE, tick=True),
        start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES),
    ):
        assert beat_until(lambda: Reminder.objects.filter(slot__in=removes, status="sent").count() == 3)
        beat_until(lambda: False, timeout=3)  # more dispatches, and the re-plans they queue
        out = io.StringIO()
        call_command("reminders_status", "--json", stdout=out)
        health = reminders_lag_check()

    delivered = [m for m in receiver.received if m.status == 201]
    # Every "take it off" arrived, once each, urgent.
    got = [m for m in delivered if m.payload["kind"] == "ice_remove"]
    assert sorted(m.payload["tag"] for m in got) == sorted(removes)
    assert all(m.payload["title"] == "Take the ice off now" and m.urgency == "high" for m in got)
    # Nothing stale did: the only others are the next starts, due 15 min before the restart (still fresh).
    others = [m for m in delivered if m.payload["kind"] != "ice_remove"]
    assert all(m.payload["kind"] == "ice_start" for m in others), [m.payload["kind"] for m in others]
    expired = Reminder.objects.filter(status="expired")
    assert {r.kind for r in expired} == {"movement_break", "rest_nudge", "checkin"}
    assert expired.count() == 9 and not expired.filter(safety=True).exists()
    status = json.loads(out.getvalue())
    assert status["reminders"]["expired"] == 9
    assert status["reminders"]["sent"] == len(delivered)
    assert health["expired_last_24h"] == 9
