"""The loopback WebPush receiver is a faithful push service: it takes what real senders send, and refuses
what a real push service or browser would refuse. Senders here are pywebpush (WebPusher and webpush()),
with headers signed by backcare.push.vapid and by py-vapid, over TLS that trusts only receiver.ca_file."""

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException, webpush

from backcare.push.vapid import (
    private_key_from_text,
    private_key_to_raw_b64,
    public_key_b64,
    sign_token,
    vapid_headers_for,
)
from tests.support.push_receiver import PushReceiver, Received

PAYLOAD = {"title": "Time to take the ice off", "body": "20 minutes are up.", "tag": "ice-off:2026-11-22T10:20"}


@pytest.fixture
def receiver():
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as r:
        yield r


@pytest.fixture
def session(receiver):
    s = requests.Session()
    s.verify = receiver.ca_file
    s.trust_env = False
    yield s
    s.close()


def send(session, subscription, data=PAYLOAD, *, headers=None, ttl=60, **kwargs):
    headers = vapid_headers_for(subscription["endpoint"]) if headers is None else headers
    body = json.dumps(data) if isinstance(data, dict) else data
    return WebPusher(subscription, requests_session=session).send(body, headers=headers, ttl=ttl, **kwargs)


def token_headers(receiver, **claims) -> dict:
    key = private_key_from_text(settings.BACKCARE_VAPID_PRIVATE_KEY)
    claims = {"aud": receiver.base_url, "exp": int(time.time()) + 3600, "sub": "mailto:t@backcare.invalid", **claims}
    claims = {name: value for name, value in claims.items() if value is not None}
    return {"Authorization": f"vapid t={sign_token(claims, key)}, k={public_key_b64(key)}"}


# --- what it accepts -----------------------------------------------------------------------------


def test_decrypts_and_records_a_message(receiver, session):
    subscription = receiver.subscription("alice")
    assert subscription["endpoint"] == f"{receiver.base_url}/push/alice"
    assert receiver.base_url.startswith("https://127.0.0.1:")

    headers = {**vapid_headers_for(receiver.base_url), "Topic": "ice-off-1", "Urgency": "high"}
    response = send(session, subscription, headers=headers, ttl=120)

    assert response.status_code == 201, response.text
    assert response.headers["Location"].startswith(f"{receiver.base_url}/message/")
    (message,) = receiver.wait_for(1, timeout=5)
    assert isinstance(message, Received)
    assert message.name == "alice"
    assert message.payload == PAYLOAD
    assert (message.topic, message.ttl, message.urgency) == ("ice-off-1", 120, "high")
    assert message.vapid_sub == settings.BACKCARE_VAPID_SUBJECT
    assert message.status == 201
    assert abs(message.at - time.time()) < 5


def test_subscription_keys_are_kept_per_name_and_look_like_a_browsers(receiver):
    first = receiver.subscription("bob")
    assert receiver.subscription("bob") == first
    other = receiver.subscription("carol")
    assert other["keys"] != first["keys"]
    assert len(first["keys"]["p256dh"]) == 87 and first["keys"]["p256dh"].startswith("B")  # 65 bytes, 0x04...
    assert len(first["keys"]["auth"]) == 22  # 16 bytes
    assert "=" not in first["keys"]["p256dh"] + first["keys"]["auth"]


def test_pywebpush_one_shot_with_its_own_vapid_signing_is_accepted(receiver, session):
    """webpush() signs with py-vapid ('vapid t=...,k=...' without a space) and sets aud from the endpoint."""
    subscription = receiver.subscription("dave")
    response = webpush(
        subscription,
        json.dumps(PAYLOAD),
        vapid_private_key=private_key_to_raw_b64(private_key_from_text(settings.BACKCARE_VAPID_PRIVATE_KEY)),
        vapid_claims={"sub": "mailto:one-shot@backcare.invalid"},
        ttl=30,
        requests_session=session,
    )
    assert response.status_code == 201
    (message,) = receiver.wait_for(1, timeout=5)
    assert (message.payload, message.ttl, message.vapid_sub) == (PAYLOAD, 30, "mailto:one-shot@backcare.invalid")


def test_without_an_expected_key_any_valid_vapid_key_is_accepted(session):
    vapid = Vapid02()
    vapid.generate_keys()
    with PushReceiver() as receiver:
        session.verify = receiver.ca_file
        headers = vapid.sign({"aud": receiver.base_url, "sub": "mailto:x@backcare.invalid"})
        assert send(session, receiver.subscription("eve"), headers=headers).status_code == 201
        assert receiver.wait_for(1, timeout=5)[0].payload == PAYLOAD


def test_many_senders_at_once_on_kept_alive_connections(receiver):
    names = [f"p{i}" for i in range(8)]
    subscriptions = [receiver.subscription(name) for name in names]
    headers = vapid_headers_for(receiver.base_url)

    def sender(index: int) -> list[int]:
        with requests.Session() as s:
            s.verify, s.trust_env = receiver.ca_file, False
            return [send(s, subscriptions[index], {"n": n}, headers=headers).status_code for n in range(25)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for result in pool.map(sender, range(8)) for status in result]
    assert statuses == [201] * 200
    delivered = receiver.wait_for(200, timeout=10)
    assert len(delivered) == 200
    for name in names:
        assert sorted(m.payload["n"] for m in delivered if m.name == name) == list(range(25))


def test_count_only_keeps_no_payloads_but_still_decrypts(session):
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY, count_only=True) as receiver:
        session.verify = receiver.ca_file
        good = receiver.subscription("good")
        assert send(session, good).status_code == 201
        wrong_keys = {**good, "keys": receiver.subscription("other")["keys"]}
        assert send(session, wrong_keys).status_code == 400
        (message,) = receiver.wait_for(1, timeout=5)
        assert message.payload is None and message.status == 201
        assert receiver.delivered == 1


# --- queued answers ------------------------------------------------------------------------------


def test_queued_answers_then_201(receiver, session):
    subscription = receiver.subscription("frank")
    receiver.respond("frank", 410, 429, 500, 503, 404)
    responses = [send(session, subscription, {"n": n}) for n in range(6)]
    statuses = [response.status_code for response in responses]
    assert statuses == [410, 429, 500, 503, 404, 201]
    assert ["Location" in response.headers for response in responses] == [False] * 5 + [True]
    assert [m.status for m in receiver.received] == statuses
    assert [m.payload["n"] for m in receiver.received] == list(range(6))  # refused ones were decrypted too
    assert [m.payload["n"] for m in receiver.wait_for(1, timeout=1)] == [5]


def test_answers_are_queued_per_name(receiver, session):
    receiver.respond("gina", 410)
    assert send(session, receiver.subscription("hank")).status_code == 201
    assert send(session, receiver.subscription("gina")).status_code == 410


def test_slow_answer_waits_then_201(receiver, session):
    subscription = receiver.subscription("ivan")
    receiver.respond("ivan", ("slow", 0.3))
    started = time.monotonic()
    response = send(session, subscription)
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        receiver.respond("ivan", ("slow", 1.0))
        send(session, subscription, timeout=0.2)


@pytest.mark.parametrize("answer", [0, 99, 600, "410", True, ("slow", -1), ("fast", 1), ("slow",)])
def test_respond_refuses_what_it_cannot_answer(receiver, answer):
    with pytest.raises(ValueError):
        receiver.respond("x", answer)


def test_a_refused_request_does_not_use_up_a_queued_answer(receiver, session):
    subscription = receiver.subscription("jane")
    receiver.respond("jane", 410)
    assert send(session, subscription, headers={}).status_code == 401
    assert send(session, subscription).status_code == 410


# --- what it refuses -----------------------------------------------------------------------------


def test_a_vapid_key_other_than_the_expected_one_is_403(receiver, session):
    vapid = Vapid02()
    vapid.generate_keys()
    headers = vapid.sign({"aud": receiver.base_url, "sub": "mailto:intruder@example.invalid"})
    response = send(session, receiver.subscription("kate"), headers=headers)
    assert response.status_code == 403
    assert receiver.wait_for(1, timeout=0.2) == []
    (message,) = receiver.received
    assert (message.name, message.status, message.payload) == ("kate", 403, None)
    assert "application server key" in message.error


def test_a_signature_that_does_not_match_the_key_is_403(receiver, session):
    headers = token_headers(receiver)
    token = headers["Authorization"].split("t=", 1)[1].split(",", 1)[0]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = send(
        session,
        receiver.subscription("leo"),
        headers={"Authorization": headers["Authorization"].replace(token, forged)},
    )
    assert response.status_code == 403
    assert "signature" in receiver.received[0].error


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"aud": "https://127.0.0.1:1"}, "aud"),
        ({"aud": "https://fcm.googleapis.com"}, "aud"),
        ({"aud": None}, "aud"),
        ({"exp": int(time.time()) - 10}, "exp"),
        ({"exp": None}, "exp"),
        ({"exp": int(time.time()) + 25 * 3600}, "24 h"),
        ({"exp": "soon"}, "exp"),
        ({"sub": None}, "sub"),
        ({"sub": ""}, "sub"),
    ],
    ids=lambda value: value if isinstance(value, str) else json.dumps(value),
)
def test_bad_claims_are_403(receiver, session, claims, reason):
    response = send(session, receiver.subscription("mia"), headers=token_headers(receiver, **claims))
    assert response.status_code == 403
    (message,) = receiver.received
    assert reason in message.error and message.status == 403


@pytest.mark.parametrize(
    "authorization, status",
    [
        (None, 401),
        ("WebPush abc", 401),
        ("Bearer abc", 401),
        ("vapid", 400),
        ("vapid t=abc", 400),
        ("vapid t=a.b.c, k=!!", 400),
        ("vapid t=not-a-jwt, k=BAAA", 400),
        ("vapid t=e30.e30.AAAA, k=BAAA", 403),  # alg missing
    ],
)
def test_malformed_authorization_is_refused(receiver, session, authorization, status):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert send(session, receiver.subscription("ned"), headers=headers).status_code == status
    assert receiver.received[0].status == status


def test_a_body_encrypted_for_other_keys_is_400(receiver, session):
    alice = receiver.subscription("olga")
    wrong = {**alice, "keys": receiver.subscription("paul")["keys"]}
    assert send(session, wrong).status_code == 400
    (message,) = receiver.received
    assert message.status == 400 and "decrypt" in message.error


def test_the_old_aesgcm_encoding_is_400(receiver, session):
    assert send(session, receiver.subscription("quin"), content_encoding="aesgcm").status_code == 400
    assert "aes128gcm" in receiver.received[0].error


def test_missing_ttl_bad_topic_and_bad_urgency_are_400(receiver, session):
    subscription = receiver.subscription("rosa")
    body = WebPusher(subscription).encode(b"{}")["body"]
    base = {**vapid_headers_for(receiver.base_url), "Content-Encoding": "aes128gcm"}
    for extra, reason in (
        ({}, "TTL"),
        ({"TTL": "-1"}, "TTL"),
        ({"TTL": "60", "Topic": "x" * 33}, "Topic"),
        ({"TTL": "60", "Topic": "has space"}, "Topic"),
        ({"TTL": "60", "Urgency": "urgent"}, "Urgency"),
    ):
        response = session.post(subscription["endpoint"], data=body, headers={**base, **extra})
        assert response.status_code == 400, extra
        assert reason in receiver.received[-1].error
    assert receiver.delivered == 0


def test_an_unknown_subscription_is_404(receiver, session):
    receiver.subscription("sam")
    ghost = {**receiver.subscription("sam"), "endpoint": f"{receiver.base_url}/push/never-subscribed"}
    assert send(session, ghost).status_code == 404
    assert receiver.received[0].name == "never-subscribed"
    assert session.post(f"{receiver.base_url}/elsewhere", data=b"x").status_code == 404


def test_a_body_over_4096_bytes_is_413(receiver, session):
    response = send(session, receiver.subscription("tess"), {"text": "x" * 4100})
    assert response.status_code == 413


def test_only_clients_that_trust_ca_file_get_through(receiver):
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(receiver.subscription("uma")["endpoint"], data=b"x", timeout=5)
    assert receiver.received == []


def test_stopping_closes_the_port_and_removes_the_certificate(session):
    with PushReceiver() as receiver:
        session.verify = receiver.ca_file
        subscription = receiver.subscription("vic")
        assert send(session, subscription, headers=vapid_headers_for(receiver.base_url)).status_code == 201
        port, ca_file = int(receiver.base_url.rsplit(":", 1)[1]), receiver.ca_file
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert not os.path.exists(ca_file)


def test_pywebpush_raises_on_the_queued_error(receiver, session):
    """What a sender using webpush() sees for a 410: WebPushException carrying the response."""
    subscription = receiver.subscription("walt")
    receiver.respond("walt", 410)
    with pytest.raises(WebPushException) as raised:
        webpush(
            subscription,
            "{}",
            vapid_private_key=private_key_to_raw_b64(private_key_from_text(settings.BACKCARE_VAPID_PRIVATE_KEY)),
            vapid_claims={"sub": "mailto:x@backcare.invalid"},
            requests_session=session,
        )
    assert raised.value.response.status_code == 410
