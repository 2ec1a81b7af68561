"""FCM and APNs transports against their loopback stand-ins (tests/support/fcm_service.py, apns_service.py):
what is sent, what each answer means for the ledger, tokens made once and kept, refused credentials told
once; and, with a transport switched off, registration refused, capabilities shown, no reachable device."""

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone
from push_notifications.models import APNSDevice, GCMDevice

from backcare.push.models import PushAlert
from backcare.push.native import collapse_id
from backcare.push.transports import transport_for
from tests.factories import CareLinkFactory, EpisodeFactory

SLOT = "ice_remove:4b0b3f4c-2d7e-4f7a-9a51-2f0c3c1d9e10"
PAYLOAD = {
    "title": "Take the ice off now",
    "body": "20 minutes are up.",
    "tag": SLOT,
    "kind": "ice_remove",
    "reminder_id": 42,
    "ack_token": "signed.token",
    "actions": [{"action": "done", "title": "Done"}],
    "url": "/",
}


def device(token: str) -> SimpleNamespace:
    return SimpleNamespace(registration_id=token)


def send(kind: str, token: str, *, slot: str = SLOT, ttl: int = 600, urgency: str = "high", payload=None):
    return transport_for(kind).send(device(token), payload or PAYLOAD, collapse_key=slot, ttl=ttl, urgency=urgency)


def test_collapse_id_is_the_slot_or_its_hash_past_64_bytes():
    assert collapse_id(SLOT) == SLOT
    long = "movement:" + "x" * 80
    assert len(collapse_id(long)) == 64 and collapse_id(long) == collapse_id(long) != long
    assert len(collapse_id("é" * 40).encode()) == 64  # 80 bytes in UTF-8: hashed


# --- FCM ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fcm_message_shape_priority_ttl_and_collapse_key(fcm):
    token = fcm.device("pixel")
    assert send("fcm", token).ok
    assert send("fcm", token, slot="checkin:2025-03-01", ttl=3600, urgency="normal").ok
    safety, normal = fcm.wait_for(2, timeout=5)
    assert safety.message["token"] == token
    assert (safety.collapse_key, safety.ttl, safety.priority) == (SLOT, "600s", "HIGH")
    assert safety.android["notification"]["tag"] == SLOT
    assert safety.message["notification"] == {"title": "Take the ice off now", "body": "20 minutes are up."}
    assert safety.data["reminder_id"] == "42" and json.loads(safety.data["actions"])[0]["action"] == "done"
    assert safety.data["ack_token"] == "signed.token" and safety.data["kind"] == "ice_remove"
    assert (normal.collapse_key, normal.ttl, normal.priority) == ("checkin:2025-03-01", "3600s", "NORMAL")


@pytest.mark.django_db
def test_fcm_access_token_is_fetched_once_for_many_threads_and_again_after_expiry(fcm):
    tokens = [fcm.device(f"d{i}") for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda t: send("fcm", t), tokens))
    assert all(o.ok for o in outcomes)
    assert fcm.token_requests == [(200, "")]  # one exchange, shared by every thread
    with time_machine.travel(timezone.now() + timedelta(hours=2)):  # the token has expired
        assert send("fcm", tokens[0]).ok
    assert fcm.token_requests == [(200, ""), (200, "")]


@pytest.mark.django_db
def test_fcm_answers_map_to_the_ledger(fcm):
    token = fcm.device("pixel")
    fcm.respond("pixel", 404, (429, 7), 503, 500)
    gone = send("fcm", token)
    assert gone.gone and gone.permanent and "UNREGISTERED" in gone.error
    throttled = send("fcm", token)
    assert (throttled.status_code, throttled.permanent, throttled.retry_after) == (429, False, 7.0)
    assert not send("fcm", token).permanent and not send("fcm", token).permanent  # 503, 500: retried
    assert send("fcm", token).ok
    unknown = send("fcm", "not-a-token-it-issued")  # INVALID_ARGUMENT: fails, the device is not called gone
    assert unknown.permanent and not unknown.gone and unknown.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_fcm_refused_key_is_reported_once_and_the_transport_rests(fcm, settings, caplog, client, patient):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.BACKCARE_FCM_CREDENTIALS = json.dumps(fcm.service_account_info(key=other_key))
    tokens = [fcm.device(f"d{i}") for i in range(5)]
    with caplog.at_level(logging.ERROR, logger="backcare.push.alerts"):
        outcomes = [send("fcm", t) for t in tokens]
    assert all(not o.ok and not o.permanent and o.retry_after >= 590 for o in outcomes)  # retried later
    assert "credentials refused" in outcomes[0].error
    assert len(fcm.token_requests) == 1 and fcm.token_requests[0][0] == 400  # then it rests: no more tries
    assert not fcm.received
    assert len([r for r in caplog.records if "credentials refused" in r.getMessage()]) == 1
    assert PushAlert.objects.filter(kind="fcm").count() == 1

    client.force_login(patient)
    response = client.get("/healthz")
    assert response.status_code == 503
    push = response.json()["checks"]["push"]
    assert push["ok"] is False and push["alerts"][0]["kind"] == "fcm" and "invalid_grant" in push["alerts"][0]["error"]

    # The operator puts the right key in: a new configuration is tried at once, and the old alert is over.
    settings.BACKCARE_FCM_CREDENTIALS = json.dumps(fcm.service_account_info())
    assert send("fcm", tokens[0]).ok
    assert client.get("/healthz").json()["checks"]["push"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_fcm_after_the_cooloff_one_try_goes_out_and_a_success_clears_the_alert(fcm, settings):
    token = fcm.device("pixel")
    assert send("fcm", token).ok
    fcm.revoke_tokens()  # the key was disabled at Google: its token stops working (401)
    refused = send("fcm", token)
    assert not refused.ok and "credentials refused" in refused.error and refused.retry_after > 0
    assert PushAlert.objects.filter(kind="fcm").exists()
    settings.BACKCARE_PUSH_CREDENTIAL_COOLOFF = 1.0
    guard = transport_for("fcm").guard
    guard._resting = dict.fromkeys(guard._resting, 0.0)  # the cool-off is over
    assert send("fcm", token).ok  # a fresh token, accepted
    assert not PushAlert.objects.exists()


# --- APNs --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_apns_request_shape_priority_expiration_and_collapse_id(apns):
    token = apns.device("iphone")
    before = int(timezone.now().timestamp())
    assert send("apns", token).ok
    assert send("apns", token, slot="checkin:2025-03-01", ttl=3600, urgency="normal").ok
    safety, normal = apns.wait_for(2, timeout=5)
    assert safety.headers["apns-topic"] == apns.topic and safety.headers["apns-push-type"] == "alert"
    assert (safety.collapse_id, safety.priority) == (SLOT, "10")
    assert before + 600 <= safety.expiration <= before + 600 + 5
    aps = safety.payload["aps"]
    assert aps["alert"] == {"title": "Take the ice off now", "body": "20 minutes are up."}
    assert aps["interruption-level"] == "time-sensitive" and aps["thread-id"] == "ice_remove"
    assert safety.payload["reminder_id"] == 42 and safety.payload["ack_token"] == "signed.token"
    assert (normal.collapse_id, normal.priority) == ("checkin:2025-03-01", "5")
    assert "interruption-level" not in normal.payload["aps"]


@pytest.mark.django_db
def test_apns_one_provider_token_and_a_kept_http2_connection_per_sender_thread(apns):
    tokens = [apns.device(f"d{i}") for i in range(48)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda t: send("apns", t), tokens))
    assert all(o.ok for o in outcomes), (apns.errors, [o for o in outcomes if not o.ok][:3])
    assert not apns.errors
    assert transport_for("apns").tokens_made == 1
    assert len({r.headers["authorization"] for r in apns.received}) == 1
    assert apns.connections <= 8  # each thread keeps its connection: 48 pushes, at most 8 handshakes


@pytest.mark.django_db
def test_apns_provider_token_is_made_again_after_50_minutes(apns, monkeypatch):
    token = apns.device("iphone")
    assert send("apns", token).ok
    monkeypatch.setattr("backcare.push.apns.TOKEN_REUSE_SECONDS", -1)  # as if 50 minutes had passed
    assert send("apns", token).ok
    assert transport_for("apns").tokens_made == 2


@pytest.mark.django_db
def test_apns_answers_map_to_the_ledger(apns):
    token = apns.device("iphone")
    apns.respond("iphone", 410, (429, 5), 500, 503)
    gone = send("apns", token)
    assert gone.gone and gone.permanent and gone.status_code == 410 and "Unregistered" in gone.error
    throttled = send("apns", token)
    assert (throttled.status_code, throttled.permanent, throttled.retry_after) == (429, False, 5.0)
    assert not send("apns", token).permanent and not send("apns", token).permanent
    assert send("apns", token).ok
    unknown = send("apns", "ab" * 32)  # BadDeviceToken: fails, but is not taken for gone
    assert unknown.permanent and not unknown.gone and "BadDeviceToken" in unknown.error


@pytest.mark.django_db(transaction=True)
def test_apns_wrong_key_is_reported_once_and_the_transport_rests(apns, settings, caplog):
    other = ec.generate_private_key(ec.SECP256R1())
    settings.BACKCARE_APNS_KEY = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    tokens = [apns.device(f"d{i}") for i in range(5)]
    with caplog.at_level(logging.ERROR, logger="backcare.push.alerts"):
        outcomes = [send("apns", t) for t in tokens]
    assert all(not o.ok and not o.permanent and o.retry_after > 0 for o in outcomes)
    assert [r.reason for r in apns.received] == ["InvalidProviderToken"]  # one try, then rest
    assert len([r for r in caplog.records if "credentials refused" in r.getMessage()]) == 1
    assert list(PushAlert.objects.values_list("kind", flat=True)) == ["apns"]


@pytest.mark.django_db(transaction=True)
def test_a_refusal_seen_by_several_threads_at_once_is_logged_once(apns, settings, caplog):
    other = ec.generate_private_key(ec.SECP256R1())
    settings.BACKCARE_APNS_KEY = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    tokens = [apns.device(f"d{i}") for i in range(16)]
    start = threading.Barrier(8)

    def go(token):
        start.wait() if tokens.index(token) < 8 else None
        return send("apns", token)

    with caplog.at_level(logging.ERROR, logger="backcare.push.alerts"), ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(go, tokens))
    assert not any(o.ok for o in outcomes)
    assert len([r for r in caplog.records if "credentials refused" in r.getMessage()]) == 1
    assert PushAlert.objects.count() == 1


# --- switched off ------------------------------------------------------------------------------------

FCM_TOKEN = "dGVzdC1pbnN0YW5jZQ:APA91bH" + "x" * 40
APNS_TOKEN = "ab" * 32


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "fcm", "registration_id": FCM_TOKEN}, "FCM"),
        ({"type": "apns", "registration_id": APNS_TOKEN}, "APNs"),
    ],
)
def test_registering_a_kind_that_is_off_is_refused_naming_it(patient_api, body, named):
    response = patient_api.post("/api/devices/", body, format="json")
    assert response.status_code == 400
    (message,) = response.json()["type"]
    assert named in message and "switched off" in message and "webpush" in message
    assert not GCMDevice.objects.exists() and not APNSDevice.objects.exists()


@pytest.mark.django_db
def test_capabilities_tell_which_kinds_are_accepted(patient_api, api, settings):
    assert api.get("/api/push/capabilities/").status_code in (401, 403)
    body = patient_api.get("/api/push/capabilities/").json()
    assert body == {"kinds": {"webpush": True, "fcm": False, "apns": False}, "accepted": ["webpush"]}
    settings.BACKCARE_APNS_KEY = "-----BEGIN PRIVATE KEY----- unused"
    body = patient_api.get("/api/push/capabilities/").json()
    assert body["kinds"]["apns"] is True and body["accepted"] == ["webpush", "apns"]


@pytest.mark.django_db
def test_registering_works_once_the_kind_is_on(patient_api, native_on):
    response = patient_api.post("/api/devices/", {"type": "fcm", "registration_id": FCM_TOKEN}, format="json")
    assert response.status_code == 201


@pytest.mark.django_db
def test_triage_counts_a_device_of_a_kind_that_is_off_as_no_reachable_device(physio, physio_api, settings):
    link = CareLinkFactory(physiotherapist=physio, consented_at=timezone.now() - timedelta(days=3))
    EpisodeFactory(patient=link.patient, onset=timezone.now() - timedelta(days=3))
    GCMDevice.objects.create(user=link.patient, registration_id=FCM_TOKEN, cloud_message_type="FCM")

    (row,) = physio_api.get("/api/physio/patients/").json()["results"]
    assert row["has_active_device"] is False and "no_active_device" in row["reasons"]

    settings.BACKCARE_FCM_CREDENTIALS = '{"client_email": "unused@example.test"}'
    (row,) = physio_api.get("/api/physio/patients/").json()["results"]
    assert row["has_active_device"] is True and "no_active_device" not in row["reasons"]
