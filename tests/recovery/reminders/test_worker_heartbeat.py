"""A real Celery worker, in a thread, against the real Redis of backcare.settings.test."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from backcare.celery import app as celery_app
from backcare.core.models import Heartbeat
from backcare.core.tasks import beat_heartbeat

WAIT_SECONDS = 20


def wait_for_heartbeat(name: str, timeout: float) -> Heartbeat | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = Heartbeat.objects.filter(name=name).first()
        if beat is not None:
            return beat
        time.sleep(0.1)
    return None


@pytest.fixture
def purged_queue():
    # Test settings point at a Redis db of their own (not the one `make run` uses).
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert not settings.CELERY_BROKER_URL.endswith("/0")
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)  # the worker thread must see committed rows, and commits its own
def test_worker_runs_beat_heartbeat_and_healthz_turns_200(client, purged_queue):
    assert not celery_app.conf.task_always_eager  # the task must cross Redis to a worker
    Heartbeat.objects.all().delete()  # in case an interrupted run left one committed
    assert client.get("/healthz").status_code == 503  # no heartbeat yet

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        beat_heartbeat.delay()
        beat = wait_for_heartbeat("beat", WAIT_SECONDS)  # a wait on state, bounded; no timed assertion

        assert beat is not None, f"no Heartbeat row within {WAIT_SECONDS} s: is the worker consuming?"
        response = client.get("/healthz")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["checks"]["beat"]["ok"] is True
    assert body["checks"]["beat"]["last"] == beat.at.isoformat()
    assert body["checks"]["broker"] == {"ok": True, "transport": "redis"}
