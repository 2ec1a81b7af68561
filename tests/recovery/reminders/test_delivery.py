"""Reminder delivery on PostgreSQL, sending to a real HTTPS WebPush receiver on 127.0.0.1 (no worker)."""

import io
import json
import random
import re
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from backcare.push import transports as delivery
from backcare.push.services import device_test_request, device_test_send
from backcare.push.transports import Outcome, retry_after_seconds, topic_for
from recovery.reminders.acks import reminder_ack_token_check, reminder_acknowledge
from recovery.reminders.dispatch import NO_DEVICE, REMINDER_HOLD, deliveries_expand, reminders_dispatch
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.reminders.sending import BACKOFF_CAP, MAX_ATTEMPTS, backoff_seconds, deliveries_send_many, delivery_send
from recovery.treatment.models import MedicationIntake
from tests.factories import CheckInFactory, EpisodeFactory, UserFactory
from tests.recovery.reminders.conftest import make_reminder, subscribe

TTL = timedelta(seconds=120)
PAYLOAD_KEYS = {"title", "body", "tag", "kind", "reminder_id", "ack_token", "actions", "url"}


@pytest.fixture
def no_replan(monkeypatch):
    """For tests with several hand-made reminders in one episode: their slots are not in the engine's
    plan, so the re-plan that follows a send would cancel the others (as it should in real life)."""
    monkeypatch.setattr("recovery.reminders.planning._replan", lambda **kwargs: None)


def dispatch(now=None):
    """Claim and expand due reminders, then claim due deliveries (what dispatch_due does, minus queuing)."""
    return reminders_dispatch(now=now or timezone.now(), limit=500, ttl=TTL)


def send_all(result):
    return [delivery_send(delivery_id=pk, claim=result.claim) for pk in result.deliveries]


# --- pure parts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "slot",
    ["checkin:2025-03-01", "ice_remove:6f1c0c2e-8d7e-4a57-9a53-2b8f7f4c1c11", "movement:2025-03-01T10:30:00+00:00"],
)
def test_topic_is_url_safe_base64_of_at_most_32_chars(slot):
    topic = topic_for(slot)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic)
    assert topic == topic_for(slot)  # the same slot always collapses onto itself
    assert topic != topic_for(slot + "x")


def test_backoff_is_exponential_from_5s_with_full_jitter_capped_at_10_min():
    class Top:  # the top of each jitter range
        def uniform(self, low, high):
            return high

    assert [backoff_seconds(n, rng=Top()) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    rng = random.Random(7)
    samples = [backoff_seconds(3, rng=rng) for _ in range(2000)]
    assert 0 <= min(samples) < 2 and 18 < max(samples) <= 20  # full jitter: anywhere in [0, 20]
    assert all(0 <= backoff_seconds(50, rng=rng) <= BACKOFF_CAP for _ in range(100))


def test_retry_after_wins_only_when_larger():
    class Top:
        def uniform(self, low, high):
            return high

    assert backoff_seconds(1, 120.0, rng=Top()) == 120.0
    assert backoff_seconds(5, 1.0, rng=Top()) == 80.0


def test_retry_after_header_forms():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert retry_after_seconds("999999") == 3600.0  # a day-long ask is capped
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- claims -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_threads_claiming_concurrently_get_disjoint_sets():
    user = UserFactory()
    WebPushDevice.objects.create(user=user, registration_id="https://127.0.0.1:9/push/x", p256dh="k", auth="a")
    episode = EpisodeFactory(patient=user)
    for i in range(300):
        make_reminder(episode, slot=f"checkin:{i}")
    now = timezone.now()
    barrier = threading.Barrier(2)
    got: dict[str, list] = {}

    def claimer(name):
        try:
            barrier.wait()
            deliveries = []
            while True:
                result = reminders_dispatch(now=now, limit=40, ttl=TTL)
                if not result.reminders and not result.deliveries:
                    break
                deliveries += result.deliveries
            got[name] = deliveries
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = set(got["a"]), set(got["b"])
    assert a and b, "both dispatchers should have found work"
    assert not a & b
    assert len(got["a"]) + len(got["b"]) == 300 == len(a | b)
    assert Delivery.objects.filter(status="claimed").count() == 300
    assert Reminder.objects.filter(status="claimed", attempts=1).count() == 300


@pytest.mark.django_db
def test_claim_takes_a_row_once_and_an_expired_claim_again(patient, episode):
    WebPushDevice.objects.create(user=patient, registration_id="https://127.0.0.1:9/push/x", p256dh="k", auth="a")
    reminder = make_reminder(episode)
    t0 = timezone.now()
    first = dispatch(t0)
    assert first.reminders == 1 and len(first.deliveries) == 1
    assert dispatch(t0).deliveries == []  # claimed: nobody else gets it
    assert dispatch(t0 + TTL - timedelta(seconds=1)).deliveries == []  # not expired yet
    again = dispatch(t0 + TTL)
    assert again.deliveries == first.deliveries  # the dead worker's claim is taken over
    assert again.claim != first.claim
    # The first claimant's late message does nothing: its token is no longer the row's.
    assert delivery_send(delivery_id=first.deliveries[0], claim=first.claim, now=t0 + TTL) == "skipped"
    reminder.refresh_from_db()
    assert reminder.status == "claimed" and reminder.attempts == 1  # held by its deliveries, not re-claimed
    assert Delivery.objects.get().status == "claimed"


@pytest.mark.django_db
def test_claim_expiry_from_the_clock(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    make_reminder(episode)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = dispatch()
        traveller.shift(TTL.total_seconds() + 1)
        # Sending under the expired claim would race the next dispatcher: it is left alone.
        assert delivery_send(delivery_id=first.deliveries[0], claim=first.claim) == "skipped"
        again = dispatch()
        assert again.deliveries == first.deliveries
        assert send_all(again) == ["sent"]
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_expand_is_idempotent_and_adds_a_new_device(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    reminder = make_reminder(episode)
    now = timezone.now()
    dispatch(now)
    assert deliveries_expand(reminder_ids=[reminder.pk], now=now).created == 0
    subscribe(patient, receiver, "laptop")
    assert deliveries_expand(reminder_ids=[reminder.pk], now=now).created == 1
    assert Delivery.objects.filter(reminder=reminder).count() == 2


# --- outcomes -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reminder_cancelled_after_claim_is_not_sent(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    reminder = make_reminder(episode)
    result = dispatch()
    Reminder.objects.filter(pk=reminder.pk).update(status="cancelled")  # the patient took the ice off
    assert send_all(result) == ["cancelled"]
    assert receiver.received == []
    assert Delivery.objects.get().status == "cancelled"
    assert not DeliveryAttempt.objects.exists()
    reminder.refresh_from_db()
    assert reminder.status == "cancelled"


@pytest.mark.django_db
def test_skipped_after_claim_is_not_sent(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    reminder = make_reminder(episode)
    result = dispatch()
    reminder_acknowledge(patient=patient, reminder_id=reminder.pk, action="skip")
    assert send_all(result) == ["cancelled"]
    assert receiver.received == []


@pytest.mark.django_db
def test_no_active_device_fails_the_reminder(patient, episode):
    WebPushDevice.objects.create(
        user=patient, registration_id="https://127.0.0.1:9/push/x", p256dh="k", auth="a", active=False
    )
    reminder = make_reminder(episode)
    result = dispatch()
    assert result.expanded.failed == 1 and result.deliveries == []
    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error, reminder.claim_expires_at) == ("failed", NO_DEVICE, None)


@pytest.mark.django_db
@pytest.mark.parametrize("code", [404, 410])
def test_gone_subscription_deactivates_the_device(patient, episode, receiver, code):
    device = subscribe(patient, receiver, "phone")
    receiver.respond("phone", code)
    reminder = make_reminder(episode)
    assert send_all(dispatch()) == ["gone"]
    device.refresh_from_db()
    assert device.active is False
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.outcome) == (code, "gone")
    reminder.refresh_from_db()
    assert reminder.status == "failed" and "subscription gone" in reminder.last_error
    # The next reminder finds no device and fails at once, without a request.
    later = make_reminder(episode)
    dispatch()
    later.refresh_from_db()
    assert later.status == "failed" and later.last_error == NO_DEVICE
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_429_is_retried_after_backoff_then_201_succeeds(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    receiver.respond("phone", 429)
    reminder = make_reminder(episode)
    t0 = timezone.now()
    assert send_all(dispatch(t0)) == ["retry"]
    row = Delivery.objects.get()
    assert row.status == "retry" and row.attempts == 1 and row.last_status_code == 429
    assert t0 <= row.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    reminder.refresh_from_db()
    assert reminder.status == "claimed"
    result = dispatch(row.next_attempt_at)
    assert result.deliveries == [row.pk]
    assert send_all(result) == ["sent"]
    row.refresh_from_db()
    reminder.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert reminder.status == "sent" and reminder.sent_at == row.sent_at
    assert list(DeliveryAttempt.objects.values_list("status_code", "outcome")) == [(429, "retry"), (201, "sent")]
    assert [r.status for r in receiver.received] == [429, 201]


@pytest.mark.django_db
def test_retry_after_from_the_push_service_is_honoured(patient, episode, monkeypatch):
    WebPushDevice.objects.create(user=patient, registration_id="https://127.0.0.1:9/push/x", p256dh="k", auth="a")
    monkeypatch.setattr(delivery.WebPushTransport, "send", lambda self, *a, **k: Outcome(503, False, 300.0, "503 busy"))
    make_reminder(episode)
    t0 = timezone.now()
    assert send_all(dispatch(t0)) == ["retry"]
    assert Delivery.objects.get().next_attempt_at >= t0 + timedelta(seconds=300)


@pytest.mark.django_db
def test_transient_errors_give_up_after_max_attempts(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    receiver.respond("phone", *[500] * MAX_ATTEMPTS)
    reminder = make_reminder(episode)
    now = timezone.now()
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        result = dispatch(now)
        outcomes += send_all(result)
        row = Delivery.objects.get()
        now = max(now, row.next_attempt_at)
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    row = Delivery.objects.get()
    assert row.attempts == MAX_ATTEMPTS and row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert DeliveryAttempt.objects.count() == MAX_ATTEMPTS
    reminder.refresh_from_db()
    assert reminder.status == "failed" and "gave up" in reminder.last_error
    # Never tried again (the failure re-plans the episode, whose own new slots may be dispatched).
    later = dispatch(now + timedelta(hours=1)).deliveries
    assert not Delivery.objects.filter(pk__in=later, reminder=reminder).exists()


@pytest.mark.django_db
def test_one_failing_device_does_not_stop_the_others(patient, episode, receiver):
    subscribe(patient, receiver, "broken")
    subscribe(patient, receiver, "phone")
    WebPushDevice.objects.create(  # nothing listens there: a connection error, stays on this machine
        user=patient, registration_id="https://127.0.0.1:1/push/nowhere", p256dh="k", auth="a"
    )
    receiver.respond("broken", 500)
    reminder = make_reminder(episode)
    result = dispatch()
    assert sorted(send_all(result)) == ["failed", "retry", "sent"]  # bad keys: failed for good
    by_name = {
        d.device_id: d.status
        for d in Delivery.objects.all()  # one row per device, each on its own
    }
    assert sorted(by_name.values()) == ["failed", "retry", "sent"]
    reminder.refresh_from_db()
    assert reminder.status == "sent"
    assert [r.name for r in receiver.received if r.status == 201] == ["phone"]


@pytest.mark.django_db
def test_connection_refused_is_transient(patient, episode, settings):
    settings.BACKCARE_PUSH_CA_BUNDLE = None
    device = WebPushDevice.objects.create(
        user=patient, registration_id="https://127.0.0.1:1/push/x", p256dh="k", auth="a"
    )
    outcome = delivery.WebPushTransport().send(device, {"title": "t"}, collapse_key="c", ttl=60)
    assert outcome.permanent and "keys" in outcome.error  # junk keys are refused before any request
    from tests.support.push_receiver import PushReceiver

    with PushReceiver() as r:
        sub = r.subscription("x")
    device.p256dh, device.auth = sub["keys"]["p256dh"], sub["keys"]["auth"]
    outcome = delivery.WebPushTransport().send(device, {"title": "t"}, collapse_key="c", ttl=60)
    assert (outcome.status_code, outcome.permanent) == (None, False)
    assert "ConnectionError" in outcome.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8/push/x", "127.0.0.1/push/x", "abc123", "https://push.example.invalid/x"]
)
def test_endpoints_that_are_not_https_or_not_allowed_are_refused_without_a_request(patient, episode, endpoint):
    device = WebPushDevice.objects.create(user=patient, registration_id=endpoint, p256dh="k", auth="a")
    make_reminder(episode)
    assert send_all(dispatch()) == ["failed"]
    delivery_row = Delivery.objects.get()
    assert delivery_row.last_status_code is None
    assert "https" in delivery_row.last_error or "not a known push service" in delivery_row.last_error
    device.refresh_from_db()
    assert device.active  # the device's fault is not known; it stays for the devices API to clean up


@pytest.mark.django_db
def test_fcm_and_apns_devices_are_no_device_while_their_transport_is_off(patient, episode):
    GCMDevice.objects.create(user=patient, registration_id="fcm-token", cloud_message_type="FCM")
    APNSDevice.objects.create(user=patient, registration_id="ab" * 32)
    reminder = make_reminder(episode)
    assert send_all(dispatch()) == []  # nothing is expanded for a kind this server cannot deliver to
    assert not Delivery.objects.exists()
    reminder.refresh_from_db()
    assert reminder.status == "failed" and reminder.last_error == NO_DEVICE


# --- what is sent -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_collapse_key_topic_tag_urgency_and_a_payload_without_clinical_details(patient, episode, receiver, no_replan):
    subscribe(patient, receiver, "phone")
    CheckInFactory(episode=episode, pain=9, note="awful night, took ibuprofen")
    MedicationIntake.objects.create(
        patient=patient,
        episode=episode,
        client_uuid="00000000-0000-0000-0000-000000000001",
        taken_at=timezone.now(),
        med_class="nsaid",
        name="Ibuprofen",
        dose_mg=400,
        payload_hash="x",
    )
    safety = make_reminder(episode, kind="ice_remove", slot="ice_remove:abc", safety=True)
    checkin = make_reminder(episode, kind="checkin", slot="checkin:2025-03-01")
    send_all(dispatch())
    messages = {m.payload["kind"]: m for m in receiver.wait_for(2, timeout=5)}
    assert set(messages) == {"ice_remove", "checkin"}
    for reminder, urgency in ((safety, "high"), (checkin, "normal")):
        message = messages[reminder.kind]
        assert message.topic == topic_for(reminder.slot)
        assert message.urgency == urgency
        assert message.ttl and message.ttl > 0
        assert set(message.payload) == PAYLOAD_KEYS
        assert message.payload["tag"] == reminder.slot
        assert message.payload["reminder_id"] == reminder.pk
        assert reminder_ack_token_check(token=message.payload["ack_token"])["r"] == reminder.pk
        # The token is opaque random-looking text: left out of the no-clinical-words check.
        text = json.dumps({k: v for k, v in message.payload.items() if k != "ack_token"}).lower()
        for secret in ("pain", "ibuprofen", "nsaid", "400", "awful", "medic", "dose"):
            assert secret not in text
    assert messages["ice_remove"].payload["title"] == "Take the ice off now"
    remove = messages["ice_remove"].payload
    assert remove["actions"] == [{"action": "stop", "title": "It's off"}]  # never snoozed
    assert remove["url"] == f"/#/reminder/{safety.pk}"
    assert messages["checkin"].payload["title"] == "Time for your check-in"
    # A check-in opens its screen: no button needed.
    assert messages["checkin"].payload["actions"] == [] and messages["checkin"].payload["url"] == "/#/checkin"


@pytest.mark.django_db
def test_start_texts_read_the_prescribed_on_time(patient, episode, receiver):
    from recovery.models import Prescription

    Prescription.objects.create(episode=episode, overrides={"ice_on_min": 15})
    subscribe(patient, receiver, "phone")
    make_reminder(episode, kind="ice_start", slot="ice_start:onset:0")
    send_all(dispatch())
    (message,) = receiver.wait_for(1, timeout=5)
    assert message.payload["title"] == "Put the ice on (15 min)"


@pytest.mark.django_db
def test_vapid_token_is_signed_once_per_origin(patient, episode, receiver, no_replan):
    from backcare.push import vapid

    vapid._tokens.clear()
    before = vapid._tokens.signed
    for name in ("a", "b", "c"):
        subscribe(patient, receiver, name)
    make_reminder(episode)
    make_reminder(episode)
    assert send_all(dispatch()) == ["sent"] * 6
    assert vapid._tokens.signed - before == 1
    assert {m.vapid_sub for m in receiver.received} == {vapid.vapid_subject()}


# --- after sending ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_snoozed_reminder_is_sent_again_under_the_same_tag(patient, episode, receiver, no_replan):
    # no_replan: the hand-made slot is not in the engine's plan; a re-plan would also add the engine's
    # own start reminder, due at once when the clock is near the end of the sleep window.
    subscribe(patient, receiver, "phone")
    reminder = make_reminder(episode)
    send_all(dispatch())
    reminder.refresh_from_db()
    first_sent = reminder.sent_at
    reminder_acknowledge(patient=patient, reminder_id=reminder.pk, action="snooze")
    assert dispatch().deliveries == []  # not due for 10 minutes
    later = timezone.now() + timedelta(minutes=10, seconds=1)
    result = dispatch(later)
    assert result.expanded.rearmed == 1
    assert send_all(result) == ["sent"]
    reminder.refresh_from_db()
    assert reminder.status == "sent" and reminder.sent_at == first_sent  # sent_at: the first success
    first, second = receiver.wait_for(2, timeout=5)
    assert first.topic == second.topic and first.payload["tag"] == second.payload["tag"] == reminder.slot


@pytest.mark.django_db
def test_a_sent_reminder_replans_its_episode_so_the_next_slot_exists(patient, monkeypatch):
    monkeypatch.setattr(delivery.WebPushTransport, "send", lambda self, *a, **k: Outcome(201, False))
    WebPushDevice.objects.create(user=patient, registration_id="https://127.0.0.1:9/push/x", p256dh="k", auth="a")
    evening = datetime(2025, 3, 3, 19, 0, 5, tzinfo=UTC)  # the patient's zone is UTC: 19:00 check-in
    with time_machine.travel(evening, tick=False):
        episode = EpisodeFactory(patient=patient, onset=evening - timedelta(days=1))
        today = make_reminder(episode, kind="checkin", slot="checkin:2025-03-03", due_at=evening - timedelta(seconds=5))
        assert send_all(dispatch()) == ["sent"]
    today.refresh_from_db()
    assert today.status == "sent"
    tomorrow = Reminder.objects.get(episode=episode, slot="checkin:2025-03-04")
    assert tomorrow.status == "scheduled" and tomorrow.due_at == evening.replace(day=4, second=0)


@pytest.mark.django_db
def test_every_attempt_is_recorded_with_its_duration(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    receiver.respond("phone", 503, ("slow", 0.05))
    make_reminder(episode)
    now = timezone.now()
    send_all(dispatch(now))
    send_all(dispatch(Delivery.objects.get().next_attempt_at))
    attempts = list(DeliveryAttempt.objects.order_by("at"))
    assert [(a.status_code, a.outcome) for a in attempts] == [(503, "retry"), (201, "sent")]
    assert attempts[1].duration_ms >= 50


@pytest.mark.django_db
def test_push_test_reaches_every_active_device_now(patient, receiver):
    phone = subscribe(patient, receiver, "phone")
    subscribe(patient, receiver, "old", active=False)
    subscribe(UserFactory(), receiver, "someone-else")
    test = device_test_request(user=patient)  # queued on commit (here: never committed, so sent below)
    assert test.devices == [f"webpush:{phone.pk}"]
    results = device_test_send(user_id=patient.pk, device_keys=test.devices)
    assert [(r.device_id, r.status_code, r.reason) for r in results] == [(phone.pk, 201, "sent")]
    (message,) = receiver.wait_for(1, timeout=5)
    assert message.name == "phone" and message.payload["kind"] == "test"
    assert set(message.payload) == PAYLOAD_KEYS


@pytest.mark.django_db
def test_reminders_status_command(patient, episode):
    make_reminder(episode, due_at=timezone.now() - timedelta(minutes=3))
    out = io.StringIO()
    call_command("reminders_status", stdout=out)
    text = out.getvalue()
    assert re.search(r"queue lag: 1[89]\d\.\d s", text), text
    assert "scheduled=1" in text and "dispatcher heartbeat: never" in text
    out = io.StringIO()
    call_command("reminders_status", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert status["reminders"]["scheduled"] == 1 and status["deliveries"]["pending"] == 0


@pytest.mark.django_db
def test_an_unexpected_error_on_one_delivery_leaves_it_claimed_and_the_rest_sent(
    patient, episode, receiver, monkeypatch
):
    broken = subscribe(patient, receiver, "broken")
    subscribe(patient, receiver, "phone")
    real_send = delivery.WebPushTransport.send

    def send(self, device, *args, **kwargs):
        if device.pk == broken.pk:
            raise RuntimeError("a bug")
        return real_send(self, device, *args, **kwargs)

    monkeypatch.setattr(delivery.WebPushTransport, "send", send)
    make_reminder(episode)
    result = dispatch()
    assert deliveries_send_many(delivery_ids=result.deliveries, claim=result.claim) == {"error": 1, "sent": 1}
    statuses = dict(Delivery.objects.values_list("device_id", "status"))
    assert statuses[broken.pk] == "claimed"  # its claim expires; the next dispatch takes it again
    assert [m.name for m in receiver.wait_for(1, timeout=5)] == ["phone"]


@pytest.mark.django_db
def test_a_reminder_left_claimed_after_its_deliveries_ended_is_repaired_on_reclaim(patient, episode, receiver):
    subscribe(patient, receiver, "phone")
    receiver.respond("phone", 400)
    reminder = make_reminder(episode)
    t0 = timezone.now()
    result = dispatch(t0)
    # As if the process died between recording the delivery and ending the reminder.
    Delivery.objects.filter(pk=result.deliveries[0]).update(status="failed", claim_expires_at=None, last_error="400")
    assert dispatch(t0 + REMINDER_HOLD - timedelta(seconds=1)).reminders == 0  # still held
    assert dispatch(t0 + REMINDER_HOLD).reminders == 1
    reminder.refresh_from_db()
    assert reminder.status == "failed" and "400" in reminder.last_error


@pytest.mark.django_db(transaction=True)
def test_dispatch_due_task_queues_chunks_after_commit_and_records_its_heartbeat(monkeypatch):
    from backcare.core.models import Heartbeat
    from recovery import tasks

    user = UserFactory()
    WebPushDevice.objects.create(user=user, registration_id="https://127.0.0.1:9/push/x", p256dh="k", auth="a")
    episode = EpisodeFactory(patient=user)
    for i in range(120):
        make_reminder(episode, slot=f"checkin:{i}")
    queued = []
    monkeypatch.setattr(tasks.send_deliveries, "delay", lambda ids, claim: queued.append((ids, claim)))
    assert tasks.dispatch_due() == {"reminders": 120, "deliveries": 120, "failed": 0, "expired": 0}
    assert [len(ids) for ids, _ in queued] == [50, 50, 20]
    claims = {claim for _, claim in queued}
    assert len(claims) == 1
    assert Delivery.objects.filter(claim_expires_at=datetime.fromisoformat(claims.pop())).count() == 120
    assert Heartbeat.objects.filter(name="dispatcher").exists()
