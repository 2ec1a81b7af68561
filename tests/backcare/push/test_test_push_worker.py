"""The queued test push, end to end: the API answers 202, a real Celery worker (Redis) sends to the loopback
receiver, and the device list shows the result."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from backcare.celery import app as celery_app
from backcare.push.transports import http_session_reset
from tests.backcare.push.test_devices import register
from tests.support.push_receiver import PushReceiver


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_test_push_is_sent_by_the_worker_and_read_back_on_the_list(patient_api, settings):
    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as receiver:
        settings.BACKCARE_PUSH_CA_BUNDLE = receiver.ca_file
        http_session_reset()
        try:
            device = register(patient_api, {"type": "webpush", "subscription": receiver.subscription("mine")})
            receiver.respond("mine", ("say", 503, "upstream secret"))
            with worker_running():
                response = patient_api.post("/api/devices/test/", {}, format="json")
                assert response.status_code == 202 and response.json()["queued"] == [device["id"]]
                listed = wait_for_result(patient_api)
                assert (listed["last_test"]["status_class"], listed["last_test"]["reason"]) == ("5xx", "http_5xx")
                assert b"secret" not in patient_api.get("/api/devices/").content
                response = patient_api.post("/api/devices/test/", {}, format="json")
                assert response.status_code == 202
                listed = wait_for_result(patient_api)
                assert (listed["last_test"]["status_class"], listed["last_test"]["reason"]) == ("2xx", "sent")
            assert [m.status for m in receiver.received] == [503, 201]
        finally:
            http_session_reset()


def worker_running():
    celery_app.control.purge()
    return start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=["celery"])


def wait_for_result(client, timeout: float = 30) -> dict:
    """The device as listed once its last test is no longer pending (an explicit wait on state)."""
    waited = time.monotonic() + timeout
    while True:
        (listed,) = client.get("/api/devices/").json()
        if not listed["last_test"]["pending"] or time.monotonic() > waited:
            return listed
        time.sleep(0.1)
