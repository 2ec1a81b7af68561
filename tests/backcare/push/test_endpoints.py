"""Hostile push endpoints (issue 14): the devices API and the sender read an endpoint with one parser, refuse
what could reach an internal address, never follow a redirect, bound each push by a total deadline, and
never tell the client what a push service or the network said.

Every connection here goes to the loopback receiver (127.0.0.1); names that "resolve" elsewhere go through a
resolver stand-in, and any connect to an address that is not loopback is refused in the test before a
packet leaves (and recorded, so a test fails if the sender even tried).
"""

import ipaddress
import socket
import time
from pathlib import Path

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from push_notifications.models import WebPushDevice

from backcare.push import endpoints
from backcare.push.endpoints import EndpointRefused, endpoint_parse
from backcare.push.transports import http_session_reset, transport_for
from tests.support.push_receiver import PushReceiver

pytestmark = pytest.mark.django_db

APPLE = [".push.apple.com", "fcm.googleapis.com"]


@pytest.fixture
def receiver(settings):
    http_session_reset()
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as push_receiver:
        settings.BACKCARE_PUSH_CA_BUNDLE = push_receiver.ca_file
        yield push_receiver
        http_session_reset()


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket connects to; one that is not loopback is refused here, before any packet."""
    seen = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        seen.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError("test: no traffic off loopback")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.fixture
def resolver(monkeypatch):
    """A resolver stand-in: resolver[name] = address; other names resolve as usual."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.lower() in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host.lower()], port or 443))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def device_for(user, endpoint: str, keys: dict) -> WebPushDevice:
    return WebPushDevice.objects.create(
        user=user, registration_id=endpoint, p256dh=keys["p256dh"], auth=keys["auth"], browser="CHROME"
    )


def send(device):
    return transport_for("webpush").send(device, {"title": "t", "body": "b"}, collapse_key="k", ttl=60)


# --- the parser ----------------------------------------------------------------------------------------


@override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=APPLE, BACKCARE_PUSH_ALLOW_LOOPBACK=False)
@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://127.0.0.2\\.push.apple.com/x", "bad_url"),  # urllib3 would connect to 127.0.0.2
        ("https://a.push.apple.com\\@127.0.0.2/x", "bad_url"),
        ("https://u@a.push.apple.com/x", "userinfo"),
        ("https://u:p@a.push.apple.com/x", "userinfo"),
        ("https://a.push.apple.com%2f@b.push.apple.com/x", "userinfo"),
        ("https://127.0.0.2/x", "ip_literal"),
        ("https://[::1]/x", "ip_literal"),
        ("https://[::ffff:127.0.0.2]/x", "ip_literal"),
        ("https://2130706434/x", "ip_literal"),  # 127.0.0.2 to inet_aton
        ("https://0x7f000002/x", "ip_literal"),
        ("https://127.1/x", "ip_literal"),
        ("https://a.push.apple.com:8443/x", "port"),
        ("https://a.push.apple.com:80/x", "port"),
        ("http://a.push.apple.com/x", "not_https"),
        ("https://a.push.apple.com/x#f", "bad_url"),
        ("https://evil.example/x", "host_not_allowed"),
        ("https://push.apple.com/x", "host_not_allowed"),
    ],
)
def test_the_parser_refuses_what_could_reach_elsewhere(url, reason):
    with pytest.raises(EndpointRefused) as refused:
        endpoint_parse(url)
    assert refused.value.reason == reason


@override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=APPLE, BACKCARE_PUSH_ALLOW_LOOPBACK=False)
def test_the_parser_keeps_an_ordinary_endpoint():
    parsed = endpoint_parse("https://Web.Push.Apple.com:443/3/device/abc?x=1")
    assert (parsed.host, parsed.port) == ("web.push.apple.com", 443)
    assert endpoint_parse("https://fcm.googleapis.com/fcm/send/x").port == 443


# 192.0.2.1 is a documentation address (RFC 5737): parsed here, never connected to.
@override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=["127.0.0.1", "192.0.2.1"], BACKCARE_PUSH_ALLOW_LOOPBACK=True)
def test_the_loopback_allowance_lets_in_loopback_only():
    assert endpoint_parse("https://127.0.0.1:8443/push/x").port == 8443
    with pytest.raises(EndpointRefused) as refused:
        endpoint_parse("https://192.0.2.1/push/x")
    assert refused.value.reason == "ip_literal"


@pytest.mark.parametrize(
    "address, allowed",
    [
        ("17.57.146.1", True),
        ("2a00:1450:4001::1", True),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::ffff:127.0.0.2", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("127.0.0.2", False),
        ("::1", False),
    ],
)
def test_addresses_a_push_may_connect_to(address, allowed):
    with override_settings(BACKCARE_PUSH_ALLOW_LOOPBACK=False):
        assert endpoints.address_allowed(address) is allowed


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.ip_addresses(v=4).filter(lambda ip: ip.is_private))
def test_no_private_address_is_allowed(ip):
    """Every private address (ipaddress' own registry), plain or IPv4-mapped, is refused; the classifier opens
    no socket, and the tests name no private address anything could be sent to."""
    with override_settings(BACKCARE_PUSH_ALLOW_LOOPBACK=False):
        assert endpoints.address_allowed(str(ip)) is False
        assert endpoints.address_allowed(f"::ffff:{ip}") is False


# --- the devices API uses it -----------------------------------------------------------------------------


def _register(client, endpoint: str):
    from tests.backcare.push.test_devices import keys

    body = {"type": "webpush", "subscription": {"endpoint": endpoint, "keys": keys()}}
    return client.post("/api/devices/", body, format="json")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.2\\.push.apple.com/x",
        "https://a.push.apple.com:8443/x",
        "https://a.push.apple.com:80/x",
        "https://2130706434/x",
    ],
)
def test_the_api_refuses_tricks_that_got_past_urlsplit(patient_api, endpoint):
    with override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=[*APPLE, "2130706434"], BACKCARE_PUSH_ALLOW_LOOPBACK=False):
        response = _register(patient_api, endpoint)
    assert response.status_code == 400, response.content
    assert list(response.json()["subscription"]) == ["endpoint"]
    assert not WebPushDevice.objects.exists()


def test_the_api_refuses_an_allowlisted_ip_literal(patient_api):
    with override_settings(BACKCARE_PUSH_ENDPOINT_HOSTS=["127.0.0.2"], BACKCARE_PUSH_ALLOW_LOOPBACK=False):
        response = _register(patient_api, "https://127.0.0.2/x")
    assert response.status_code == 400
    assert response.json() == {"subscription": {"endpoint": ["Must name the push service's host, not an IP address."]}}


# --- the sender refuses at send time, before connecting --------------------------------------------------


def test_the_sender_refuses_userinfo_it_finds_in_a_stored_row(patient, receiver, connects):
    sub = receiver.subscription("alice")
    device = device_for(patient, sub["endpoint"].replace("https://", "https://u:p@"), sub["keys"])
    outcome = send(device)
    assert connects == [] and receiver.connections_opened == 0
    assert (outcome.ok, outcome.permanent, outcome.reason_code) == (False, True, "refused_endpoint")


def test_the_sender_refuses_an_ip_literal_without_the_loopback_allowance(patient, receiver, connects, settings):
    sub = receiver.subscription("alice")
    device = device_for(patient, sub["endpoint"], sub["keys"])
    settings.BACKCARE_PUSH_ALLOW_LOOPBACK = False
    outcome = send(device)
    assert connects == [] and receiver.connections_opened == 0
    assert outcome.reason_code == "refused_endpoint" and outcome.permanent
    settings.BACKCARE_PUSH_ALLOW_LOOPBACK = True
    assert send(device).ok  # the same row, with the allowance the tests run under
    assert receiver.connections_opened == 1


def test_the_sender_refuses_a_backslash_host(patient, receiver, connects, resolver, settings):
    settings.BACKCARE_PUSH_ENDPOINT_HOSTS = APPLE
    resolver["web.push.apple.com"] = "127.0.0.1"
    sub = receiver.subscription("alice")
    device = device_for(patient, "https://127.0.0.1\\.push.apple.com/push/alice", sub["keys"])
    outcome = send(device)
    assert connects == []
    assert outcome.reason_code == "refused_endpoint"


@pytest.mark.parametrize("address", ["127.0.0.3", "127.0.0.2", "169.254.169.254"])
def test_a_push_host_that_resolves_to_an_internal_address_is_never_connected_to(
    patient, receiver, connects, resolver, settings, address
):
    settings.BACKCARE_PUSH_ENDPOINT_HOSTS = APPLE
    settings.BACKCARE_PUSH_ALLOW_LOOPBACK = False
    resolver["web.push.apple.com"] = address
    device = device_for(patient, "https://web.push.apple.com/push/alice", receiver.subscription("alice")["keys"])
    outcome = send(device)
    assert connects == []
    assert (outcome.ok, outcome.permanent, outcome.reason_code) == (False, False, "refused_address")
    assert "web.push.apple.com" in outcome.error and address in outcome.error  # for the ledger and the log


def test_a_redirect_is_never_followed(patient, settings, tmp_path, connects):
    with (
        PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as first,
        PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as second,
    ):
        bundle = tmp_path / "both.pem"  # trust both, so following the redirect would reach the second
        bundle.write_text(Path(first.ca_file).read_text() + Path(second.ca_file).read_text())
        settings.BACKCARE_PUSH_CA_BUNDLE = str(bundle)
        http_session_reset()
        try:
            for status in (301, 302):
                first.respond("alice", ("redirect", second.subscription("bob")["endpoint"], status))
                first.received.clear()
                sub = first.subscription("alice")
                outcome = send(device_for(patient, sub["endpoint"] + f"?{status}", sub["keys"]))
                assert second.connections_opened == 0 and second.received == []
                assert (outcome.status_code, outcome.permanent, outcome.reason_code) == (status, True, "redirect")
                assert [m.status for m in first.received] == [status]
        finally:
            http_session_reset()


# --- the total deadline ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [0.4, 0.04])  # cut inside the status line; after it, inside the headers
def test_a_trickling_push_service_is_cut_at_the_deadline(patient, receiver, settings, interval):
    """The receiver answers one byte at a time (the whole answer: 4-40 s); each read is well within the
    per-read timeout, so only a total deadline (1.5 s here) ends it. Retried later, like a 5xx. A status
    line read whole before the cut ("HTTP/1.1 201 Created") is not taken for an answer."""
    settings.BACKCARE_PUSH_DEADLINE = 1.5
    receiver.respond("alice", ("trickle", interval))
    sub = receiver.subscription("alice")
    outcome = send(device_for(patient, sub["endpoint"], sub["keys"]))
    assert (outcome.ok, outcome.permanent) == (False, False)
    assert outcome.reason_code == "timeout"
    waited = time.monotonic() + 30
    while not receiver.received and time.monotonic() < waited:  # the receiver notices the hang-up
        time.sleep(0.05)
    assert [m.status for m in receiver.received] == [599]
    device = device_for(patient, sub["endpoint"] + "?again", sub["keys"])
    assert send(device).ok  # the next push gets a fresh connection and goes through


# --- the test push: queued, answered at once, read back on the list without the push service's words ----


@pytest.fixture
def run_tasks(monkeypatch, django_capture_on_commit_callbacks):
    """Queued tasks run here, after commit, as a worker would run them (the task itself, given ids)."""
    from backcare.push import tasks

    ran = []

    def delay(*args):
        ran.append(args)
        tasks.device_test_send.apply(args=args).get()

    monkeypatch.setattr(tasks.device_test_send, "delay", delay)
    return ran


def test_a_test_push_is_queued_and_its_result_shows_on_the_device_list(
    patient_api, patient, receiver, run_tasks, django_capture_on_commit_callbacks
):
    from tests.backcare.push.test_devices import register

    device = register(patient_api, {"type": "webpush", "subscription": receiver.subscription("mine")})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = patient_api.post("/api/devices/test/", {}, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {"devices": 1, "queued": [device["id"]], "requested_at": response.json()["requested_at"]}
    assert receiver.received == [] and run_tasks == []  # nothing sent before commit, nor by the request
    (listed,) = patient_api.get("/api/devices/").json()
    assert listed["last_test"]["pending"] is True and listed["last_test"]["reason"] is None
    for callback in callbacks:
        callback()
    assert run_tasks == [(patient.pk, [device["id"]])]
    (message,) = receiver.wait_for(1, timeout=5)
    assert message.payload["kind"] == "test"
    (listed,) = patient_api.get("/api/devices/").json()
    assert listed["last_test"] == {
        "at": listed["last_test"]["at"],
        "status_class": "2xx",
        "reason": "sent",
        "requested_at": response.json()["requested_at"],
        "pending": False,
    }
    assert listed["last_delivery"] is None


@pytest.mark.parametrize(
    "answer, status_class, reason",
    [
        (("say", 403, "secret-internal-banner"), "4xx", "http_4xx"),
        (("say", 500, "secret-stack-trace"), "5xx", "http_5xx"),
    ],
)
def test_a_failed_test_push_tells_the_client_a_reason_code_never_the_remote_body(
    patient_api, receiver, run_tasks, django_capture_on_commit_callbacks, answer, status_class, reason, caplog
):
    from tests.backcare.push.test_devices import register

    register(patient_api, {"type": "webpush", "subscription": receiver.subscription("mine")})
    receiver.respond("mine", answer)
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_api.post("/api/devices/test/", {}, format="json")
    listing = patient_api.get("/api/devices/")
    for text in (response.content, listing.content):
        assert b"secret" not in text and b"127.0.0.1" not in text
    (listed,) = listing.json()
    assert (listed["last_test"]["status_class"], listed["last_test"]["reason"]) == (status_class, reason)
    assert "secret" in caplog.text  # the detail is for the operator's log


def test_a_test_push_to_an_internal_address_says_refused_address_only(
    patient_api, receiver, run_tasks, django_capture_on_commit_callbacks, resolver, connects, settings
):
    from tests.backcare.push.test_devices import keys

    settings.BACKCARE_PUSH_ENDPOINT_HOSTS = APPLE
    settings.BACKCARE_PUSH_ALLOW_LOOPBACK = False
    resolver["web.push.apple.com"] = "127.0.0.3"  # loopback, refused here (no allowance): never connected to
    body = {"type": "webpush", "subscription": {"endpoint": "https://web.push.apple.com/x", "keys": keys()}}
    assert patient_api.post("/api/devices/", body, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_api.post("/api/devices/test/", {}, format="json")
    assert response.status_code == 202
    listing = patient_api.get("/api/devices/")
    assert b"127.0.0.3" not in listing.content and b"127.0.0.3" not in response.content
    (listed,) = listing.json()
    assert (listed["last_test"]["status_class"], listed["last_test"]["reason"]) == (None, "refused_address")
    assert connects == []


def test_a_test_push_only_goes_to_the_callers_active_devices(patient, receiver, run_tasks):
    from backcare.push.services import device_test_send
    from tests.factories import UserFactory

    sub = receiver.subscription("theirs")
    theirs = device_for(UserFactory(), sub["endpoint"], sub["keys"])
    mine = device_for(patient, receiver.subscription("mine")["endpoint"], receiver.subscription("mine")["keys"])
    off = device_for(patient, receiver.subscription("off")["endpoint"], receiver.subscription("off")["keys"])
    WebPushDevice.objects.filter(pk=off.pk).update(active=False)
    keys = [f"webpush:{theirs.pk}", f"webpush:{mine.pk}", f"webpush:{off.pk}", "nonsense", "webpush:x"]
    results = device_test_send(user_id=patient.pk, device_keys=keys)
    assert [(r.device_id, r.reason) for r in results] == [(mine.pk, "sent")]
    assert [m.name for m in receiver.wait_for(1, timeout=5)] == ["mine"]


def test_removing_a_device_removes_what_was_known_about_it(patient_api, patient, receiver, run_tasks):
    from backcare.push.models import DeviceStatus
    from tests.backcare.push.test_devices import register

    device = register(patient_api, {"type": "webpush", "subscription": receiver.subscription("mine")})
    assert patient_api.post("/api/devices/test/", {}, format="json").status_code == 202
    assert DeviceStatus.objects.filter(user=patient).count() == 1
    assert patient_api.delete(f"/api/devices/{device['id']}/").status_code == 204
    assert not DeviceStatus.objects.exists()
