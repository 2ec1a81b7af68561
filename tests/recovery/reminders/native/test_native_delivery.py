"""End to end through a real Celery worker (Redis) to the FCM and APNs stand-ins on 127.0.0.1: what arrives
(collapse key, TTL, priority, payload), unregistered devices deactivated, retries, a refused key told once,
and bursts with a 410 in the middle and a storm of 429s."""

import json
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone
from push_notifications.models import APNSDevice, GCMDevice

from backcare.push.models import PushAlert
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.reminders.payloads import reminder_ttl
from tests.recovery.reminders.conftest import ice_running, make_reminder, quiet_patient
from tests.recovery.reminders.test_delivery_worker import beat_until


def android(fcm, name: str, user=None) -> GCMDevice:
    user = user or quiet_patient()
    return GCMDevice.objects.create(user=user, registration_id=fcm.device(name), cloud_message_type="FCM")


def iphone(apns, name: str, user=None) -> APNSDevice:
    user = user or quiet_patient()
    return APNSDevice.objects.create(user=user, registration_id=apns.device(name))


@pytest.fixture
def quick_retries(monkeypatch):
    """Backoff from 0.2 s instead of 5 s (the worker runs in this process): retries within the test."""
    monkeypatch.setattr("recovery.reminders.sending.BACKOFF_BASE", 0.2)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_reminders_arrive_on_fcm_and_apns_with_collapse_key_ttl_priority_and_payload(fcm, apns, worker):
    a = android(fcm, "pixel")
    _, ice_a = ice_running(a.user)
    i = iphone(apns, "iphone")
    _, ice_i = ice_running(i.user)
    both = quiet_patient()
    android(fcm, "tablet", both)
    iphone(apns, "ipad", both)
    episode, _ = ice_running(both, minutes_ago=5)  # on for 5 min: its remove reminder is not due yet
    checkin = make_reminder(episode, kind="checkin", slot="checkin:2025-03-01")
    started = int(time.time())

    assert beat_until(lambda: fcm.delivered >= 2 and apns.delivered >= 2)

    slot_a, slot_i = f"ice_remove:{ice_a.client_uuid}", f"ice_remove:{ice_i.client_uuid}"
    by_name = {m.name: m for m in fcm.received}
    safety = Reminder.objects.get(slot=slot_a)
    msg = by_name["pixel"]
    assert (msg.collapse_key, msg.priority, msg.ttl) == (slot_a, "HIGH", f"{reminder_ttl(safety)}s")
    assert msg.android["notification"]["tag"] == slot_a
    assert msg.message["notification"]["title"] == "Take the ice off now"
    assert msg.data["kind"] == "ice_remove" and msg.data["reminder_id"] == str(safety.pk) and msg.data["ack_token"]
    msg = by_name["tablet"]
    assert (msg.collapse_key, msg.priority, msg.ttl) == ("checkin:2025-03-01", "NORMAL", f"{reminder_ttl(checkin)}s")

    by_name = {m.name: m for m in apns.received}
    push = by_name["iphone"]
    ttl = reminder_ttl(Reminder.objects.get(slot=slot_i))
    assert (push.collapse_id, push.priority, push.headers["apns-push-type"]) == (slot_i, "10", "alert")
    assert started + ttl <= push.expiration <= int(time.time()) + ttl
    assert push.payload["aps"]["alert"]["title"] == "Take the ice off now"
    assert push.payload["aps"]["interruption-level"] == "time-sensitive" and push.payload["kind"] == "ice_remove"
    assert (by_name["ipad"].collapse_id, by_name["ipad"].priority) == ("checkin:2025-03-01", "5")

    assert beat_until(lambda: Delivery.objects.filter(status="sent").count() == 4)
    assert set(Reminder.objects.filter(status="sent").values_list("slot", flat=True)) == {
        slot_a,
        slot_i,
        "checkin:2025-03-01",
    }
    assert fcm.token_requests == [(200, "")]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_unregistered_devices_are_deactivated_and_throttled_ones_retried(fcm, apns, worker, quick_retries):
    gone_fcm, gone_apns = android(fcm, "old-pixel"), iphone(apns, "old-iphone")
    slow_fcm, slow_apns = android(fcm, "busy-pixel"), iphone(apns, "busy-iphone")
    fcm.respond("old-pixel", 404)
    apns.respond("old-iphone", 410)
    fcm.respond("busy-pixel", 503, (429, 1))
    apns.respond("busy-iphone", (429, 1))
    for device in (gone_fcm, gone_apns, slow_fcm, slow_apns):
        ice_running(device.user)

    assert beat_until(lambda: Delivery.objects.filter(status__in=["sent", "gone"]).count() == 4)

    gone_fcm.refresh_from_db()
    gone_apns.refresh_from_db()
    assert not gone_fcm.active and not gone_apns.active
    statuses = dict(Delivery.objects.values_list("device_id", "status").filter(device_type="fcm"))
    assert statuses == {gone_fcm.pk: "gone", slow_fcm.pk: "sent"}
    statuses = dict(Delivery.objects.values_list("device_id", "status").filter(device_type="apns"))
    assert statuses == {gone_apns.pk: "gone", slow_apns.pk: "sent"}
    fcm_codes = list(
        DeliveryAttempt.objects.filter(delivery__device_type="fcm", delivery__device_id=slow_fcm.pk)
        .order_by("at")
        .values_list("status_code", "outcome", "at")
    )
    assert [(code, outcome) for code, outcome, _ in fcm_codes] == [(503, "retry"), (429, "retry"), (200, "sent")]
    assert fcm_codes[2][2] - fcm_codes[1][2] >= timedelta(seconds=1)  # Retry-After honoured
    apns_codes = list(
        DeliveryAttempt.objects.filter(delivery__device_type="apns", delivery__device_id=slow_apns.pk)
        .order_by("at")
        .values_list("status_code", "outcome")
    )
    assert apns_codes == [(429, "retry"), (200, "sent")]
    # The gone devices' reminders failed (no other device); nothing more goes to them.
    assert Reminder.objects.filter(status="failed").count() == 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_refused_fcm_key_is_told_once_and_the_reminders_go_out_once_it_is_fixed(
    fcm, worker, settings, client, patient
):
    right = settings.BACKCARE_FCM_CREDENTIALS
    wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.BACKCARE_FCM_CREDENTIALS = json.dumps(fcm.service_account_info(key=wrong_key))
    devices = [android(fcm, f"p{n}") for n in range(6)]
    for device in devices:
        ice_running(device.user)

    assert beat_until(lambda: Delivery.objects.filter(status="retry").count() == 6)
    assert [code for code, _ in fcm.token_requests] == [400]  # one refusal; then the transport rests
    assert not fcm.received
    assert PushAlert.objects.filter(kind="fcm").count() == 1
    assert all("credentials refused" in e for e in Delivery.objects.values_list("last_error", flat=True))
    client.force_login(patient)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["checks"]["push"]["alerts"][0]["kind"] == "fcm"

    # Fixed: a new configuration is tried as soon as the deliveries are due again.
    settings.BACKCARE_FCM_CREDENTIALS = right
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert beat_until(lambda: Delivery.objects.filter(status="sent").count() == 6)
    assert client.get("/healthz").json()["checks"]["push"]["ok"] is True


# --- bursts ------------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_burst_with_a_410_in_the_middle_and_a_429_storm(fcm, apns, worker, quick_retries):
    iphones = [iphone(apns, f"i{n}") for n in range(20)]
    androids = [android(fcm, f"a{n}") for n in range(20)]
    apns.respond("i10", 410)  # one device uninstalled, mid-burst
    for n in range(20):
        fcm.respond(f"a{n}", (429, 1))  # FCM throttles every first try
    for device in iphones + androids:
        ice_running(device.user)

    assert beat_until(lambda: Delivery.objects.filter(status__in=["sent", "gone"]).count() == 40, timeout=60)

    assert apns.delivered == 19 and fcm.delivered == 20
    assert not APNSDevice.objects.get(pk=iphones[10].pk).active
    assert APNSDevice.objects.filter(active=True).count() == 19 and GCMDevice.objects.filter(active=True).count() == 20
    attempts = Delivery.objects.filter(device_type="fcm").values_list("attempts", flat=True)
    assert set(attempts) == {2}  # each throttled once, sent on the retry
    assert fcm.token_requests == [(200, "")]
    assert not apns.errors
