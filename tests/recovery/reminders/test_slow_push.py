"""One slow push service never holds up anyone else's reminder (issue 14).

A receiver subscription that trickles its answer one byte at a time is among 200 due deliveries: the sender
records every other answer as it comes in, while that one is still trickling, and cuts it at the push
deadline (then it is retried, like a 5xx). Assertions are on order and completion, never on time.
"""

from collections import Counter

import pytest
from django.utils import timezone

from backcare.push.models import DeviceStatus
from recovery.reminders import sending
from recovery.reminders.dispatch import reminders_dispatch
from recovery.reminders.models import Delivery
from tests.conftest import client_for
from tests.factories import EpisodeFactory
from tests.recovery.reminders.conftest import make_reminder, quiet_patient, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

PATIENTS, REMINDERS_EACH = 40, 5  # 200 due reminders, one delivery each


def test_one_trickling_device_among_200_due_reminders_does_not_hold_up_the_others(receiver, settings, monkeypatch):
    # Long enough for 199 loopback posts on a busy machine; the trickle would take ~40 s.
    settings.BACKCARE_PUSH_DEADLINE = 8.0
    devices = {}
    for number in range(PATIENTS):
        user = quiet_patient()
        episode = EpisodeFactory(patient=user, onset=timezone.now())
        devices[number] = subscribe(user, receiver, f"p{number}")
        for _ in range(REMINDERS_EACH):
            make_reminder(episode)
    receiver.respond("p0", ("trickle", 0.5))  # the first post to p0 trickles; its other four are answered at once

    groups: list[list[int]] = []
    record = sending._record_batch

    def recording(jobs, *, now):
        groups.append([job.delivery.pk for job in jobs])
        return record(jobs, now=now)

    monkeypatch.setattr(sending, "_record_batch", recording)
    dispatched = reminders_dispatch(now=timezone.now())
    assert len(dispatched.deliveries) == PATIENTS * REMINDERS_EACH
    results = sending.deliveries_send_many(
        delivery_ids=dispatched.deliveries, claim=dispatched.claim, threads=16, replan=lambda episodes: None
    )

    assert results == {"sent": 199, "retry": 1}
    slow = Delivery.objects.get(status=Delivery.Status.RETRY)
    assert slow.device_id == devices[0].pk and "answer within 8 s" in slow.last_error
    # Every other answer was recorded before the slow one ended: the slow one is recorded alone, last.
    assert groups[-1] == [slow.pk]
    assert Counter(pk for group in groups[:-1] for pk in group) == Counter(
        pk for pk in dispatched.deliveries if pk != slow.pk
    )
    assert len(groups) > 1
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 199
    assert slow.next_attempt_at is not None and slow.claim_expires_at is None  # retried later, like a 5xx
    status = DeviceStatus.objects.get(device_type="webpush", device_id=devices[0].pk)
    assert (status.delivery_reason, status.delivery_status_class) == ("timeout", "")
    assert DeviceStatus.objects.filter(delivery_reason="sent").count() == PATIENTS - 1


def test_the_device_list_shows_each_devices_last_delivery_without_the_push_services_words(receiver, settings):
    user = quiet_patient()
    episode = EpisodeFactory(patient=user, onset=timezone.now())
    ok, failing = subscribe(user, receiver, "ok"), subscribe(user, receiver, "failing")
    receiver.respond("failing", ("say", 400, "internal detail from the push service"))
    make_reminder(episode)
    dispatched = reminders_dispatch(now=timezone.now())
    sending.deliveries_send_many(delivery_ids=dispatched.deliveries, claim=dispatched.claim, threads=4)
    response = client_for(user).get("/api/devices/")
    assert b"internal detail" not in response.content
    listed = {row["id"]: row["last_delivery"] for row in response.json()}
    assert {key: (value["status_class"], value["reason"]) for key, value in listed.items()} == {
        f"webpush:{ok.pk}": ("2xx", "sent"),
        f"webpush:{failing.pk}": ("4xx", "http_4xx"),
    }
    failed = Delivery.objects.get(device_id=failing.pk)
    assert "internal detail" in failed.last_error  # the ledger keeps the words, for the operator
