"""End to end through the real dispatcher, a real Celery worker (Redis) and the loopback WebPush receiver,
asserting on what the receiver decrypted: "Start now" from a delivered push is followed by exactly one
"Take the ice off now" at start + 20 min; an application recorded late from the offline queue with its stop
never pushes, even with the dispatcher running all through the sync."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from backcare.accounts.models import Profile
from recovery.episodes.services import episode_open
from recovery.reminders.models import Reminder
from recovery.tasks import dispatch_due
from recovery.treatment.models import Application
from tests.factories import UserFactory
from tests.recovery.reminders.conftest import subscribe
from tests.recovery.reminders.test_delivery_worker import beat_until, purged_queue, worker  # noqa: F401, F811 - fixtures

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
# ruff: noqa: F811 - the worker fixtures are imported by name


def treatment_patient():
    user = UserFactory()
    Profile.objects.filter(user=user).update(notify_treatment=True, notify_checkin=False, timezone="UTC")
    return user


def titles(receiver, name: str) -> list[str]:
    return [m.payload["title"] for m in receiver.received if m.status == 201 and m.name == name]


def test_start_now_from_a_push_is_followed_by_exactly_one_take_it_off_at_start_plus_20(receiver, worker, api):
    patient = treatment_patient()
    subscribe(patient, receiver, "phone")
    episode_open(patient=patient, onset=timezone.now() - timedelta(minutes=2), trigger="lifting")
    assert beat_until(lambda: "Put the ice on (20 min)" in titles(receiver, "phone"))
    push = next(m.payload for m in receiver.received if m.payload["kind"] == "ice_start")
    assert [a["action"] for a in push["actions"]] == ["start", "snooze"]

    # The "Start now" button, as the service worker sends it: the payload's token, no session.
    body = {"reminder": push["reminder_id"], "action": "start", "token": push["ack_token"]}
    response = api.post("/api/reminders/ack/", body, format="json")
    assert response.json() == {"status": "ok", "result": "started"}
    assert api.post("/api/reminders/ack/", body, format="json").json()["result"] == "already_started"
    app = Application.objects.get(patient=patient)

    # Nothing to take off before start + 20 min...
    with time_machine.travel(app.started_at + timedelta(minutes=19, seconds=50), tick=True):
        beat_until(lambda: False, timeout=2)
        assert "Take the ice off now" not in titles(receiver, "phone")
    # ...then exactly one, however many dispatches run.
    with time_machine.travel(app.started_at + timedelta(minutes=20, seconds=1), tick=True):
        assert beat_until(lambda: "Take the ice off now" in titles(receiver, "phone"))
        beat_until(lambda: False, timeout=3)
    removes = [m for m in receiver.received if m.status == 201 and m.payload["kind"] == "ice_remove"]
    assert len(removes) == 1
    assert removes[0].payload["tag"] == f"ice_remove:{app.client_uuid}"
    assert [a["action"] for a in removes[0].payload["actions"]] == ["stop"]
    remove = Reminder.objects.get(slot=f"ice_remove:{app.client_uuid}")
    assert remove.sent_at >= app.started_at + timedelta(minutes=20)
    assert Application.objects.filter(patient=patient).count() == 1


def test_a_late_offline_start_and_stop_never_push_with_the_dispatcher_running_throughout(receiver, worker, api):
    patient = treatment_patient()
    subscribe(patient, receiver, "phone")
    now = timezone.now()
    episode_open(patient=patient, onset=now - timedelta(hours=3), trigger="lifting")
    api.force_authenticate(patient)
    # The dispatcher runs all the time the sync is written, as beat would: it must never see the start alone.
    stop = threading.Event()

    def beat():
        while not stop.is_set():
            dispatch_due.apply_async(expires=5)
            time.sleep(0.05)

    beating = threading.Thread(target=beat, daemon=True)
    beating.start()
    try:
        for start_min, stop_min in ((10, 28), (130, 148)):
            app_id = str(uuid.uuid4())
            items = [
                {
                    "kind": "application",
                    "id": app_id,
                    "data": {"kind": "ice", "started_at": (now - timedelta(hours=3, minutes=-start_min)).isoformat()},
                },
                {
                    "kind": "application_stop",
                    "id": app_id,
                    "data": {"stopped_at": (now - timedelta(hours=3, minutes=-stop_min)).isoformat()},
                },
            ]
            results = api.post("/api/sync/", {"items": items}, format="json").json()["results"]
            assert {r["status"] for r in results} <= {200, 201}, results
        time.sleep(3)  # many more dispatches
    finally:
        stop.set()
        beating.join(5)
    assert not [m for m in receiver.received if m.payload.get("kind") == "ice_remove"]
    assert not Reminder.objects.filter(patient=patient, kind="ice_remove").exists()
