"""End to end: a real Celery worker (Redis), the dispatcher, and a real HTTPS WebPush receiver on 127.0.0.1."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from backcare.celery import app as celery_app
from backcare.core.models import Heartbeat
from backcare.push.transports import topic_for
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.reminders.planning import reminders_reconcile
from recovery.tasks import dispatch_due
from tests.recovery.reminders.conftest import ice_running, quiet_patient, subscribe, worker_env

WAIT_SECONDS = 30
QUEUES = ["celery", "dispatch"]  # sends, and the dispatcher's own queue


@pytest.fixture
def purged_queue():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert not settings.CELERY_BROKER_URL.endswith("/0")
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.fixture
def worker(purged_queue):
    assert not celery_app.conf.task_always_eager
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES) as running:
        yield running


def beat_until(condition, *, timeout=WAIT_SECONDS, every=0.5):
    """Queue dispatch_due through Redis, as beat would, until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dispatch_due.apply_async(expires=5)
        if condition():
            return True
        time.sleep(every)
    return condition()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_due_reminders_arrive_decrypted_and_cancelled_ones_never(receiver, worker):
    slots = {}
    for i in range(5):
        patient = quiet_patient()
        subscribe(patient, receiver, f"p{i}")
        episode, app = ice_running(patient)
        slots[f"p{i}"] = f"ice_remove:{app.client_uuid}"
    # This one took the ice off in time: the remove reminder is cancelled by the re-plan.
    patient = quiet_patient()
    subscribe(patient, receiver, "stopped")
    episode, app = ice_running(patient, minutes_ago=10)
    app.stopped_at = timezone.now()
    app.save(update_fields=["stopped_at"])
    with transaction.atomic():
        reminders_reconcile(episode=episode)
    assert Reminder.objects.get(episode=episode).status == "cancelled"
    Heartbeat.objects.filter(name="dispatcher").delete()

    assert beat_until(lambda: receiver.delivered >= 5 and Reminder.objects.filter(status="sent").count() == 5)
    time.sleep(1.5)  # a few more dispatches: nothing else may arrive

    messages = [m for m in receiver.received if m.status == 201]
    assert sorted(m.name for m in messages) == sorted(slots)
    for message in messages:
        slot = slots[message.name]
        assert message.payload["tag"] == slot and message.topic == topic_for(slot)
        assert message.payload["kind"] == "ice_remove" and message.urgency == "high"
        assert message.payload["title"] == "Take the ice off now"
    assert not [m for m in receiver.received if m.name == "stopped"]
    assert Delivery.objects.filter(status="sent").count() == 5
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 5
    assert Reminder.objects.filter(status="cancelled").count() == 1
    assert Heartbeat.objects.filter(name="dispatcher").exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_in_parallel_send_each_slot_once(receiver, worker, monkeypatch):
    # Small batches, so the two dispatchers interleave over the same due rows.
    monkeypatch.setattr("recovery.tasks.DISPATCH_BATCH", 5)
    patients, devices_each = 40, 2
    expected = Counter()
    for i in range(patients):
        patient = quiet_patient()
        for d in range(devices_each):
            subscribe(patient, receiver, f"p{i}d{d}")
        _episode, app = ice_running(patient)
        for d in range(devices_each):
            expected[(f"p{i}d{d}", topic_for(f"ice_remove:{app.client_uuid}"))] = 1
    total = patients * devices_each
    stop = threading.Event()
    start = threading.Barrier(2)
    runs = Counter()

    def dispatcher(name):
        try:
            start.wait()
            while not stop.is_set():
                result = dispatch_due()  # in this thread; its sends go through Redis to the worker
                runs[name] += 1
                if result["deliveries"]:
                    runs[f"{name}-claimed"] += result["deliveries"]
                time.sleep(0.01)
        finally:
            connections.close_all()

    started = time.monotonic()
    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    try:
        received = receiver.wait_for(total, timeout=WAIT_SECONDS)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # both keep dispatching for a while: no second copy may follow
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert len(received) == total, f"{len(received)} of {total} in {elapsed:.1f} s"
    got = Counter((m.name, m.topic) for m in receiver.received if m.status == 201)
    assert got == expected  # every (device, slot) exactly once
    assert runs["a-claimed"] + runs["b-claimed"] == total
    assert Reminder.objects.filter(status="sent").count() == patients
    assert Delivery.objects.filter(status="sent").count() == total
    print(f"\n{total} deliveries through the receiver in {elapsed:.2f} s ({total / elapsed:.0f}/s); runs {dict(runs)}")


def _worker_process(receiver, log_path):
    """A real prefork worker in its own process group (so kill -9 reaches its children too)."""
    env = worker_env(
        database_url=f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        redis_url=settings.CELERY_BROKER_URL,
        receiver=receiver,
    )
    command = [sys.executable, "-m", "celery", "-A", "backcare", "worker", "-c", "2", "-P", "prefork", "-l", "INFO"]
    command += ["-Q", ",".join(QUEUES)]
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed with the test's tmp_path
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_worker(timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if celery_app.control.ping(timeout=0.5):
            return True
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_claims_that_are_taken_again(receiver, purged_queue, settings, tmp_path):
    settings.BACKCARE_DISPATCH_CLAIM_TTL = timedelta(seconds=3)
    names = [f"p{i}" for i in range(6)]
    for name in names:
        patient = quiet_patient()
        subscribe(patient, receiver, name)
        ice_running(patient)
        receiver.respond(name, ("slow", 2.0))  # the first answers take 2 s: the worker dies waiting
    log = tmp_path / "worker.log"
    first = _worker_process(receiver, log)
    try:
        assert _wait_for_worker(), log.read_text()
        dispatch_due()  # claims every delivery for 3 s and queues the chunk to the worker
        deadline = time.monotonic() + 10
        while len(receiver._connections) == 0 and time.monotonic() < deadline:  # requests in flight
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool children, mid-request
        first.wait(10)
    assert Delivery.objects.filter(status="claimed").count() == len(names)  # left behind by the dead worker

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES):
        assert beat_until(lambda: Delivery.objects.filter(status="sent").count() == len(names), timeout=30)

    # The push service may have accepted a first copy whose answer the dead worker never read: the
    # retry is a second copy under the same Topic, which replaces the first on the phone.
    got = Counter(m.name for m in receiver.received if m.status == 201)
    assert set(got) == set(names) and all(1 <= n <= 2 for n in got.values())
    for name in names:
        assert len({m.topic for m in receiver.received if m.name == name}) == 1
    assert Reminder.objects.filter(status="sent").count() == len(names)
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == len(names)
