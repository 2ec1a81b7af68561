"""Reminder delivery fixtures: a loopback WebPush receiver, devices subscribed to it, due reminders."""

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from push_notifications.models import WebPushDevice

from backcare.accounts.models import Profile
from backcare.push.transports import http_session_reset
from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from recovery.reminders.planning import reminders_reconcile
from recovery.treatment.models import Application
from tests.factories import EpisodeFactory, UserFactory
from tests.support.push_receiver import PushReceiver


@pytest.fixture
def receiver(settings):
    """A real HTTPS WebPush service on 127.0.0.1 that checks VAPID and decrypts; the sender trusts its CA."""
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as push_receiver:
        settings.BACKCARE_PUSH_CA_BUNDLE = push_receiver.ca_file
        yield push_receiver
        http_session_reset()  # pooled connections point at a receiver that is going away


def subscribe(user, receiver: PushReceiver, name: str, **fields) -> WebPushDevice:
    sub = receiver.subscription(name)
    return WebPushDevice.objects.create(
        user=user,
        registration_id=sub["endpoint"],
        p256dh=sub["keys"]["p256dh"],
        auth=sub["keys"]["auth"],
        browser="CHROME",
        **fields,
    )


def make_reminder(
    episode: Episode,
    *,
    kind: str = "checkin",
    slot: str | None = None,
    due_at: datetime | None = None,
    safety: bool = False,
) -> Reminder:
    return Reminder.objects.create(
        patient_id=episode.patient_id,
        episode=episode,
        kind=kind,
        slot=slot or f"{kind}:{uuid.uuid4().hex[:8]}",
        due_at=due_at or timezone.now() - timedelta(seconds=1),
        safety=safety,
    )


def quiet_patient(**profile):
    """A patient whose plan holds only safety reminders: nothing but what a test creates is ever due."""
    user = UserFactory()
    Profile.objects.filter(user=user).update(notify_treatment=False, notify_checkin=False, **profile)
    return user


def ice_running(user, *, minutes_ago: float = 25) -> tuple[Episode, Application]:
    """An episode with an ice application left on past its 20 min: its remove reminder (safety) is due.

    Planned by the engine, so re-planning after the send keeps the same single slot.
    """
    now = timezone.now()
    episode = EpisodeFactory(patient=user, onset=now - timedelta(hours=1))
    app = Application.objects.create(
        patient=user,
        episode=episode,
        client_uuid=uuid.uuid4(),
        kind="ice",
        started_at=now - timedelta(minutes=minutes_ago),
    )
    with transaction.atomic():
        reminders_reconcile(episode=episode, now=now)
    return episode, app


ROOT = Path(__file__).resolve().parents[3]


def worker_env(*, database_url: str, redis_url: str, receiver: PushReceiver, **extra: str) -> dict[str, str]:
    """The environment of a Celery process a test starts: this test's database, broker, VAPID key and the
    receiver's CA; no proxy variable, so nothing can route a push elsewhere."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        DJANGO_SETTINGS_MODULE="backcare.settings.test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BACKCARE_VAPID_PRIVATE_KEY=settings.BACKCARE_VAPID_PRIVATE_KEY,
        BACKCARE_PUSH_CA_BUNDLE=receiver.ca_file,
        BACKCARE_PUSH_ENDPOINT_HOSTS="127.0.0.1",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env
