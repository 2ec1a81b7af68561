"""Devices API: a patient registers this browser (WebPush) or app (FCM, APNs) for reminders, lists, renames and
removes their devices, and asks for a test push. GET /api/push/vapid-key/ gives the key to subscribe with.

No test here sends to a push service: endpoints are https://127.0.0.1 (a closed port, or the loopback
receiver where a message is really sent), or well-known push hosts that are only stored, never contacted.
"""

import json
import os
import threading
import time

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import override_settings
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice
from pywebpush import WebPusher

from backcare.push import services
from backcare.push.vapid import b64url_decode, b64url_encode, generate_private_key, public_key_b64, vapid_headers_for
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.support.push_receiver import PushReceiver

# FCM and APNs are switched on (never sent to): registering is what these tests are about.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("native_on")]

CLOSED = "https://127.0.0.1:9/push"  # nothing listens there; these endpoints are stored, never sent to
FCM_TOKEN = "dGVzdC1pbnN0YW5jZQ:APA91bH" + "x" * 140
APNS_TOKEN = "ab" * 32


def keys() -> dict:
    return {"p256dh": public_key_b64(generate_private_key()), "auth": b64url_encode(os.urandom(16))}


def webpush_body(endpoint: str | None = None, **extra) -> dict:
    endpoint = endpoint or f"{CLOSED}/{os.urandom(8).hex()}"
    return {"type": "webpush", "subscription": {"endpoint": endpoint, "keys": keys()}, **extra}


def all_devices() -> dict:
    return {
        "webpush": list(WebPushDevice.objects.order_by("pk").values()),
        "fcm": list(GCMDevice.objects.order_by("pk").values()),
        "apns": list(APNSDevice.objects.order_by("pk").values()),
    }


@pytest.fixture
def real_push_hosts():
    """The production list of push services (test settings allow only 127.0.0.1). Stored, never sent to."""
    with override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=settings.PUSH_SERVICE_HOSTS):
        yield


def register(client, body, status=201) -> dict:
    response = client.post("/api/devices/", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


# --- the VAPID key -------------------------------------------------------------------------------


def test_vapid_key_is_the_configured_public_key(patient_api):
    response = patient_api.get("/api/push/vapid-key/")
    assert response.status_code == 200
    key = response.json()["public_key"]
    assert key == settings.BACKCARE_VAPID_PUBLIC_KEY
    raw = b64url_decode(key)
    assert len(raw) == 65 and raw[0] == 4 and "=" not in key


def test_vapid_key_is_for_any_signed_in_account_only(api, physio_api):
    assert physio_api.get("/api/push/vapid-key/").status_code == 200
    assert api.get("/api/push/vapid-key/").status_code in (401, 403)


def test_vapid_key_without_a_configured_key_is_503(patient_api):
    with override_settings(BACKCARE_VAPID_PRIVATE_KEY="", BACKCARE_VAPID_PUBLIC_KEY=""):
        response = patient_api.get("/api/push/vapid-key/")
    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]


# --- registering ---------------------------------------------------------------------------------


def test_register_a_browser(patient_api, patient):
    body = webpush_body(name="Laptop")
    data = register(patient_api, body)

    device = WebPushDevice.objects.get()
    assert data == {
        "id": f"webpush:{device.pk}",
        "type": "webpush",
        "name": "Laptop",
        "active": True,
        "date_created": data["date_created"],
        "last_test": None,
        "last_delivery": None,
    }
    assert device.user == patient
    assert device.registration_id == body["subscription"]["endpoint"]  # the full https endpoint
    assert (device.p256dh, device.auth) == (
        body["subscription"]["keys"]["p256dh"],
        body["subscription"]["keys"]["auth"],
    )
    assert device.browser == "CHROME"
    assert patient_api.get("/api/devices/").json() == [data]


def test_a_registered_browser_receives_what_is_sent_with_its_stored_keys(patient_api):
    """End to end: the row the API stores is enough to reach the browser (the loopback receiver)."""
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as receiver:
        # What a browser posts: PushSubscription.toJSON(), expirationTime included.
        subscription = {**receiver.subscription("phone"), "expirationTime": None}
        register(patient_api, {"type": "webpush", "subscription": subscription})
        device = WebPushDevice.objects.get()
        stored = {"endpoint": device.registration_id, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
        with requests.Session() as session:
            session.verify, session.trust_env = receiver.ca_file, False
            response = WebPusher(stored, requests_session=session).send(
                json.dumps({"title": "hello"}), headers=vapid_headers_for(device.registration_id), ttl=60
            )
        assert response.status_code == 201
        assert receiver.wait_for(1, timeout=5)[0].payload == {"title": "hello"}


@pytest.mark.parametrize(
    "endpoint, browser",
    [
        ("https://fcm.googleapis.com/fcm/send/abc:APA91b", "CHROME"),
        ("https://updates.push.services.mozilla.com/wpush/v2/gAAAAA", "FIREFOX"),
        ("https://wns2-par02p.notify.windows.com/w/?token=BQYAAA", "EDGE"),
        ("https://web.push.apple.com/QGuQyavXutnMH", "SAFARI"),
    ],
)
def test_browser_is_taken_from_the_push_service(patient_api, endpoint, browser, real_push_hosts):
    register(patient_api, webpush_body(endpoint))
    assert WebPushDevice.objects.get().browser == browser


def test_in_tests_only_loopback_endpoints_can_be_registered(patient_api):
    """Test settings allow 127.0.0.1 only, so nothing a test stores can make the sender leave the machine."""
    assert settings.BACKCARE_PUSH_ENDPOINT_HOSTS == ["127.0.0.1"]
    response = patient_api.post("/api/devices/", webpush_body("https://fcm.googleapis.com/fcm/send/x"), format="json")
    assert response.status_code == 400
    assert response.json() == {"subscription": {"endpoint": ["fcm.googleapis.com is not a known push service."]}}


def test_register_an_fcm_app(patient_api, patient):
    data = register(patient_api, {"type": "fcm", "registration_id": FCM_TOKEN, "name": "Pixel"})
    device = GCMDevice.objects.get()
    assert data["id"] == f"fcm:{device.pk}" and data["type"] == "fcm" and data["name"] == "Pixel"
    assert (device.user, device.registration_id, device.cloud_message_type) == (patient, FCM_TOKEN, "FCM")


def test_register_an_apns_app(patient_api, patient):
    data = register(patient_api, {"type": "apns", "registration_id": APNS_TOKEN.upper()})
    device = APNSDevice.objects.get()
    assert data == {
        "id": f"apns:{device.pk}",
        "type": "apns",
        "name": None,
        "active": True,
        "date_created": data["date_created"],
        "last_test": None,
        "last_delivery": None,
    }
    assert device.registration_id == APNS_TOKEN  # stored in lower case: one token, one row


def test_list_holds_every_kind_newest_first_and_only_mine(patient_api, other_api):
    first = register(patient_api, webpush_body())
    second = register(patient_api, {"type": "fcm", "registration_id": FCM_TOKEN})
    third = register(patient_api, {"type": "apns", "registration_id": APNS_TOKEN})
    register(other_api, webpush_body(name="theirs"))
    listed = patient_api.get("/api/devices/").json()
    assert [row["id"] for row in listed] == [third["id"], second["id"], first["id"]]
    assert {row["type"] for row in listed} == {"webpush", "fcm", "apns"}
    fields = {"id", "type", "name", "active", "date_created", "last_test", "last_delivery"}
    assert all(set(row) == fields for row in listed)


# --- registering again ---------------------------------------------------------------------------


def test_re_registering_my_browser_returns_it_reactivated_with_the_new_keys(patient_api):
    body = webpush_body(name="Laptop")
    first = register(patient_api, body)
    WebPushDevice.objects.update(active=False)  # the push service had said 410

    again = {**body, "subscription": {**body["subscription"], "keys": keys()}}
    del again["name"]
    second = register(patient_api, again, status=200)

    assert second["id"] == first["id"]
    assert second["active"] is True and second["name"] == "Laptop"  # a missing name keeps the old one
    device = WebPushDevice.objects.get()
    assert device.p256dh == again["subscription"]["keys"]["p256dh"]
    assert register(patient_api, {**again, "name": "Work laptop"}, status=200)["name"] == "Work laptop"
    assert WebPushDevice.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{"type": "fcm", "registration_id": FCM_TOKEN}, {"type": "apns", "registration_id": APNS_TOKEN}],
    ids=["fcm", "apns"],
)
def test_re_registering_my_app_returns_it(patient_api, body):
    first = register(patient_api, body)
    second = register(patient_api, body, status=200)
    assert first["id"] == second["id"]
    if body["type"] == "apns":  # hex is case-insensitive: the same token
        upper = {**body, "registration_id": body["registration_id"].upper()}
        assert register(patient_api, upper, status=200)["id"] == first["id"]


def test_a_browser_registered_by_another_account_moves_to_me_with_a_new_id(patient_api, other_api, other_patient):
    """A browser profile changed hands: the account now using it gets the reminders, the previous one stops.
    A new id (not theirs) means nothing queued for them reaches me, and their device name stays theirs."""
    body = webpush_body(name="Zebediah's private laptop")
    theirs = register(other_api, body)

    mine = register(patient_api, {"type": "webpush", "subscription": body["subscription"]}, status=201)

    assert mine["id"] != theirs["id"]
    assert mine["name"] is None
    assert "Zebediah" not in json.dumps(mine)
    assert other_api.get("/api/devices/").json() == []
    assert other_api.get(f"/api/devices/{theirs['id']}/").status_code == 404
    assert WebPushDevice.objects.get().user_id != other_patient.pk


def test_an_app_token_registered_by_another_account_moves_to_me(patient_api, other_api):
    theirs = register(other_api, {"type": "fcm", "registration_id": FCM_TOKEN})
    mine = register(patient_api, {"type": "fcm", "registration_id": FCM_TOKEN})
    assert mine["id"] != theirs["id"]
    assert GCMDevice.objects.count() == 1
    assert other_api.get("/api/devices/").json() == []


def test_duplicate_rows_of_one_endpoint_collapse_into_mine(patient_api, patient, other_patient):
    """Rows the library or the admin created without the API's checks are cleaned up on registration."""
    body = webpush_body()
    for owner in (other_patient, patient, patient):
        WebPushDevice.objects.create(user=owner, registration_id=body["subscription"]["endpoint"], p256dh="x", auth="y")
    mine = WebPushDevice.objects.filter(user=patient).order_by("pk").first()
    assert register(patient_api, body, status=200)["id"] == f"webpush:{mine.pk}"
    assert list(WebPushDevice.objects.values_list("pk", flat=True)) == [mine.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("accounts, attempts", [(1, 6), (2, 2)])
def test_concurrent_registrations_of_one_endpoint_leave_one_row(accounts, attempts, monkeypatch):
    make_room = services._make_room

    def slow_make_room(user):  # widen the window between "is it there?" and the insert
        time.sleep(0.1)
        make_room(user)

    monkeypatch.setattr(services, "_make_room", slow_make_room)
    users = [UserFactory() for _ in range(accounts)]
    body = webpush_body()
    barrier = threading.Barrier(attempts)
    statuses = []

    def attempt(user):
        try:
            barrier.wait()
            statuses.append(client_for(user).post("/api/devices/", body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(users[i % accounts],)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # One account: one new device, the rest returned. Two: the second takes it over from the first.
    assert sorted(statuses) == ([200] * (attempts - 1) + [201] if accounts == 1 else [201] * attempts)
    assert WebPushDevice.objects.count() == 1


# --- the most devices an account may have ------------------------------------------------------


@override_settings(BACKCARE_MAX_DEVICES_PER_USER=3)
def test_over_the_limit_the_oldest_inactive_device_makes_room(patient_api):
    oldest, newer, newest = (register(patient_api, webpush_body()) for _ in range(3))
    WebPushDevice.objects.filter(pk__in=[int(oldest["id"].split(":")[1]), int(newer["id"].split(":")[1])]).update(
        active=False
    )
    register(patient_api, webpush_body())
    remaining = {row["id"] for row in patient_api.get("/api/devices/").json()}
    assert oldest["id"] not in remaining and newer["id"] in remaining and newest["id"] in remaining
    assert len(remaining) == 3


@override_settings(BACKCARE_MAX_DEVICES_PER_USER=2)
def test_over_the_limit_with_every_device_active_is_409(patient_api):
    register(patient_api, webpush_body())
    register(patient_api, {"type": "fcm", "registration_id": FCM_TOKEN})
    before = all_devices()
    response = patient_api.post("/api/devices/", webpush_body(), format="json")
    assert response.status_code == 409
    assert "Remove one" in response.json()["detail"]
    assert all_devices() == before
    # Re-registering one it has is not a new device: still fine at the limit.
    register(patient_api, {"type": "fcm", "registration_id": FCM_TOKEN}, status=200)


# --- one device ----------------------------------------------------------------------------------


def test_get_rename_and_delete_my_device(patient_api):
    device = register(patient_api, webpush_body(name="Old name"))
    url = f"/api/devices/{device['id']}/"
    assert patient_api.get(url).json() == device

    response = patient_api.patch(url, {"name": "  Kitchen tablet "}, format="json")
    assert response.status_code == 200
    assert response.json() == {**device, "name": "Kitchen tablet"}
    assert patient_api.patch(url, {}, format="json").json()["name"] == "Kitchen tablet"  # nothing to change
    assert patient_api.patch(url, {"name": None}, format="json").json()["name"] is None
    assert patient_api.patch(url, {"name": "x"}, format="json").json()["name"] == "x"
    assert patient_api.patch(url, {"name": ""}, format="json").json()["name"] is None

    assert patient_api.delete(url).status_code == 204
    assert patient_api.get(url).status_code == 404
    assert patient_api.delete(url).status_code == 404
    assert patient_api.get("/api/devices/").json() == []
    assert not WebPushDevice.objects.exists()


@pytest.mark.parametrize("kind", ["webpush", "fcm", "apns"])
def test_another_patients_device_is_404_and_untouched(patient_api, other_api, kind):
    body = {
        "webpush": webpush_body(name="their device"),
        "fcm": {"type": "fcm", "registration_id": FCM_TOKEN, "name": "their device"},
        "apns": {"type": "apns", "registration_id": APNS_TOKEN, "name": "their device"},
    }[kind]
    theirs = register(other_api, body)
    url = f"/api/devices/{theirs['id']}/"
    before = all_devices()
    for response in (
        patient_api.get(url),
        patient_api.patch(url, {"name": "mine now"}, format="json"),
        patient_api.delete(url),
    ):
        assert response.status_code == 404, response.content
        assert response.json() == {"detail": "Not found."}
    assert all_devices() == before
    assert patient_api.get("/api/devices/").json() == []


@pytest.mark.parametrize(
    "path",
    ["webpush:0", "webpush:-1", "webpush:abc", "gcm:1", "wns:1", "12", "webpush:1234567890123456789", "webpush%3A1"],
)
def test_a_device_id_that_is_not_one_is_a_json_404(patient_api, path):
    response = patient_api.get(f"/api/devices/{path}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_physiotherapist_registers_devices_for_red_flag_alerts(physio_api, physio, patient_api):
    # Issue 13: a red flag reaches the physiotherapist's phone, so they register devices like a patient.
    data = register(physio_api, webpush_body(name="Clinic phone"))
    device = WebPushDevice.objects.get()
    assert (device.user, data["name"]) == (physio, "Clinic phone")
    assert [d["id"] for d in physio_api.get("/api/devices/").json()] == [data["id"]]
    assert patient_api.get(f"/api/devices/{data['id']}/").status_code == 404  # theirs alone
    assert physio_api.delete(f"/api/devices/{data['id']}/").status_code == 204


def test_anonymous_gets_nothing(api):
    for method, url in (("get", "/api/devices/"), ("post", "/api/devices/"), ("post", "/api/devices/test/")):
        assert getattr(api, method)(url, {}, format="json").status_code in (401, 403)


# --- bad input -----------------------------------------------------------------------------------


def _sub(**changes) -> dict:
    body = webpush_body()
    subscription = body["subscription"]
    for path, value in changes.items():
        target, _, name = path.rpartition("__")
        holder = subscription["keys"] if target == "keys" else subscription
        if value is ...:
            holder.pop(name)
        else:
            holder[name] = value
    return body


BAD_REGISTRATIONS = [
    # (body, where the error is named)
    (_sub(endpoint="http://127.0.0.1:9/push/x"), ("subscription", "endpoint")),
    (_sub(endpoint="http://fcm.googleapis.com/fcm/send/x"), ("subscription", "endpoint")),
    (_sub(endpoint="ftp://fcm.googleapis.com/x"), ("subscription", "endpoint")),
    (_sub(endpoint="fcm.googleapis.com/fcm/send/x"), ("subscription", "endpoint")),
    (_sub(endpoint="https:///nohost"), ("subscription", "endpoint")),
    (_sub(endpoint="https://user:pw@fcm.googleapis.com/fcm/send/x"), ("subscription", "endpoint")),
    (_sub(endpoint="https://fcm.googleapis.com/fcm/send/x#frag"), ("subscription", "endpoint")),
    (_sub(endpoint="https://fcm.googleapis.com:99999/x"), ("subscription", "endpoint")),
    (_sub(endpoint="https://fcm.googleapis.com/a b"), ("subscription", "endpoint")),
    (_sub(endpoint="https://127.0.0.2/internal"), ("subscription", "endpoint")),  # not a push service (SSRF)
    (_sub(endpoint="https://evil.example/fcm.googleapis.com"), ("subscription", "endpoint")),
    (_sub(endpoint="https://notify.windows.com.evil.example/x"), ("subscription", "endpoint")),
    (_sub(endpoint="https://fcm.googleapis.com/" + "x" * 2048), ("subscription", "endpoint")),
    (_sub(endpoint=""), ("subscription", "endpoint")),
    (_sub(endpoint=None), ("subscription", "endpoint")),
    (_sub(endpoint=5), ("subscription", "endpoint")),
    (_sub(endpoint=...), ("subscription", "endpoint")),
    (_sub(keys__p256dh=b64url_encode(os.urandom(64))), ("subscription", "keys", "p256dh")),
    (_sub(keys__p256dh=b64url_encode(b"\x04" + b"\x00" * 64)), ("subscription", "keys", "p256dh")),  # off the curve
    (_sub(keys__p256dh=b64url_encode(b"\x05" + os.urandom(64))), ("subscription", "keys", "p256dh")),
    (_sub(keys__p256dh="B" + "+" * 86), ("subscription", "keys", "p256dh")),  # standard base64 alphabet
    (_sub(keys__p256dh="not base64!"), ("subscription", "keys", "p256dh")),
    (_sub(keys__p256dh=...), ("subscription", "keys", "p256dh")),
    (_sub(keys__auth=b64url_encode(os.urandom(15))), ("subscription", "keys", "auth")),
    (_sub(keys__auth=b64url_encode(os.urandom(32))), ("subscription", "keys", "auth")),
    (_sub(keys__auth=""), ("subscription", "keys", "auth")),
    (_sub(keys__auth=16), ("subscription", "keys", "auth")),
    (_sub(keys__auth=...), ("subscription", "keys", "auth")),
    (_sub(keys__extra="x"), ("subscription", "keys", "extra")),
    (_sub(keys=...), ("subscription", "keys")),
    (_sub(keys="p256dh"), ("subscription", "keys", "non_field_errors")),
    (_sub(expirationTime="tomorrow"), ("subscription", "expirationTime")),
    (_sub(unknown=1), ("subscription", "unknown")),
    ({"type": "webpush"}, ("subscription",)),
    ({"type": "webpush", "subscription": "https://fcm.googleapis.com/x"}, ("subscription", "non_field_errors")),
    ({**webpush_body(), "registration_id": "https://fcm.googleapis.com/x"}, ("registration_id",)),
    ({**webpush_body(), "user": 1}, ("user",)),
    ({**webpush_body(), "active": False}, ("active",)),
    ({**webpush_body(), "name": 5}, ("name",)),
    ({**webpush_body(), "name": "x" * 256}, ("name",)),
    ({"subscription": webpush_body()["subscription"]}, ("type",)),
    ({**webpush_body(), "type": "WEBPUSH"}, ("type",)),
    ({**webpush_body(), "type": "gcm"}, ("type",)),
    ({**webpush_body(), "type": ["webpush"]}, ("type",)),
    ({**webpush_body(), "type": None}, ("type",)),
    ({"type": "fcm"}, ("registration_id",)),
    ({"type": "fcm", "registration_id": ""}, ("registration_id",)),
    ({"type": "fcm", "registration_id": "has space"}, ("registration_id",)),
    ({"type": "fcm", "registration_id": 123456}, ("registration_id",)),
    ({"type": "fcm", "registration_id": "x" * 4097}, ("registration_id",)),
    ({"type": "fcm", "registration_id": FCM_TOKEN, "subscription": {}}, ("subscription",)),
    ({"type": "apns", "registration_id": "zz" * 32}, ("registration_id",)),
    ({"type": "apns", "registration_id": "ab" * 31}, ("registration_id",)),
    ({"type": "apns", "registration_id": "abc" + "ab" * 32}, ("registration_id",)),
    ({"type": "apns", "registration_id": "ab" * 101}, ("registration_id",)),
]


def _named(body: dict, path: tuple) -> bool:
    for key in path:
        if not isinstance(body, dict) or key not in body:
            return False
        body = body[key]
    return True


@pytest.mark.parametrize(
    "body, path", BAD_REGISTRATIONS, ids=lambda v: json.dumps(v)[:70] if isinstance(v, dict) else ".".join(v)
)
def test_bad_registration_is_400_naming_the_field_and_stores_nothing(patient_api, body, path, real_push_hosts):
    before = all_devices()
    response = patient_api.post("/api/devices/", body, format="json")
    assert response.status_code == 400, response.content
    assert _named(response.json(), path), response.json()
    assert all_devices() == before


def test_an_http_endpoint_is_refused_with_a_reason(patient_api, real_push_hosts):
    response = patient_api.post("/api/devices/", _sub(endpoint="http://fcm.googleapis.com/fcm/send/x"), format="json")
    assert response.json() == {
        "subscription": {"endpoint": ["Must be an https:// URL (push services only accept TLS)."]}
    }


def test_bad_rename_is_400_and_changes_nothing(patient_api):
    device = register(patient_api, webpush_body(name="kept"))
    url = f"/api/devices/{device['id']}/"
    for body, field in (
        ({"name": 5}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"active": False}, "active"),
        ({"registration_id": "https://fcm.googleapis.com/x"}, "registration_id"),
        ({"id": "webpush:1"}, "id"),
    ):
        response = patient_api.patch(url, body, format="json")
        assert response.status_code == 400 and field in response.json(), response.content
    assert patient_api.get(url).json() == device


def test_endpoint_hosts_come_from_settings(patient_api):
    with override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=[".example-push.test"]):
        assert (
            patient_api.post("/api/devices/", _sub(endpoint="https://127.0.0.1:9/x"), format="json").status_code == 400
        )
        register(patient_api, _sub(endpoint="https://eu.example-push.test/x"))
        response = patient_api.post("/api/devices/", _sub(endpoint="https://example-push.test/x"), format="json")
        assert response.status_code == 400
