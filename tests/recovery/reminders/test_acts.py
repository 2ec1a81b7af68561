"""Acting from a reminder: Start now, It's off, snooze, skip; the token's scope and expiry; freshness at claim;
a late offline start with its stop never pushes."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from push_notifications.models import WebPushDevice

from recovery.reminders.acks import reminder_ack_token
from recovery.reminders.dispatch import reminders_dispatch
from recovery.reminders.models import Reminder
from recovery.reminders.payloads import reminder_payload
from recovery.reminders.selectors import outbox_status
from recovery.reminders.sending import deliveries_send_many
from recovery.treatment.models import Application
from tests.recovery.reminders.conftest import subscribe

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # London is on UTC then

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(ONSET + timedelta(minutes=5), tick=False) as traveller:
        yield traveller


@pytest.fixture
def episode_id(patient_api, patient, clock):
    patient.profile.timezone = "Europe/London"
    patient.profile.save()
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def start_reminder(episode_id, slot="ice_start:onset:0") -> Reminder:
    return Reminder.objects.get(episode_id=episode_id, slot=slot)


def token_ack(api, reminder: Reminder, action: str, token: str | None = None):
    token = token or reminder_ack_token(reminder=reminder)
    return api.post("/api/reminders/ack/", {"reminder": reminder.pk, "action": action, "token": token})


def test_start_now_records_the_application_and_plans_its_remove_reminder(api, episode_id):
    reminder = start_reminder(episode_id)
    response = token_ack(api, reminder, "start")
    # The answer says what happened and nothing else: no episode, slot, time or kind.
    assert response.status_code == 200 and response.json() == {"status": "ok", "result": "started"}
    app = Application.objects.get(episode_id=episode_id)
    assert (app.kind, app.started_at, app.stopped_at) == ("ice", ONSET + timedelta(minutes=5), None)
    remove = Reminder.objects.get(episode_id=episode_id, slot=f"ice_remove:{app.client_uuid}")
    assert remove.due_at == ONSET + timedelta(minutes=25) and remove.status == "scheduled" and remove.safety
    reminder.refresh_from_db()
    assert reminder.ack_action == "start"


def test_a_double_tap_and_the_app_and_the_notification_make_one_application(api, patient_api, episode_id, clock):
    reminder = start_reminder(episode_id)
    assert token_ack(api, reminder, "start").json()["result"] == "started"
    assert token_ack(api, reminder, "start").json()["result"] == "already_started"
    assert patient_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "start"}).json()["result"] == (
        "already_started"
    )
    assert Application.objects.filter(episode_id=episode_id).count() == 1


def test_the_app_started_first_then_the_notification_is_the_same_start(api, patient_api, episode_id, clock):
    reminder = start_reminder(episode_id)
    assert patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"}).status_code == 201
    clock.shift(timedelta(minutes=2))
    assert token_ack(api, reminder, "start").json() == {"status": "ok", "result": "already_started"}
    assert Application.objects.filter(episode_id=episode_id).count() == 1


def test_a_start_an_hour_stale_starts_nothing(api, patient_api, episode_id, clock):
    reminder = start_reminder(episode_id)
    token = reminder_ack_token(reminder=reminder)
    clock.move_to(ONSET + timedelta(hours=1))
    response = token_ack(api, reminder, "start", token)
    assert response.status_code == 409 and "too old" in response.json()["detail"]
    # The app's session is held to the reminder's freshness too.
    response = patient_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "start"})
    assert response.status_code == 409
    assert not Application.objects.filter(episode_id=episode_id).exists()


def test_a_token_acts_only_on_its_reminder_and_only_with_its_buttons(api, patient_api, episode_id):
    a = start_reminder(episode_id)
    b = start_reminder(episode_id, "ice_start:onset:1")
    token_a = reminder_ack_token(reminder=a)
    response = api.post("/api/reminders/ack/", {"reminder": b.pk, "action": "start", "token": token_a})
    assert response.status_code == 404
    # A start reminder's token cannot skip (not one of its buttons), nor stop.
    for action in ("skip", "stop"):
        assert token_ack(api, a, action, token_a).status_code == 403
    # A remove reminder's token cannot start anything.
    app_id = uuid.uuid4()
    patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    remove = Reminder.objects.get(episode_id=episode_id, slot=f"ice_remove:{app_id}")
    for action in ("start", "snooze", "skip"):
        assert token_ack(api, remove, action).status_code in (403, 409)
    assert Application.objects.filter(episode_id=episode_id).count() == 1


def test_its_off_stops_the_running_application_at_the_tap(api, patient_api, episode_id, clock):
    app_id = uuid.uuid4()
    patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    remove = Reminder.objects.get(episode_id=episode_id, slot=f"ice_remove:{app_id}")
    token = reminder_ack_token(reminder=remove)
    clock.shift(timedelta(minutes=12))
    assert token_ack(api, remove, "stop", token).json() == {"status": "ok", "result": "stopped"}
    app = Application.objects.get(client_uuid=app_id)
    assert app.stopped_at == ONSET + timedelta(minutes=17) and not app.auto_closed
    remove.refresh_from_db()
    assert remove.status == "cancelled" and remove.ack_action == "stop"  # never sent now
    assert token_ack(api, remove, "stop", token).json()["result"] == "already_stopped"


def test_a_refused_start_says_why_in_a_few_translated_words(api, patient_api, episode_id, clock):
    first = uuid.uuid4()
    patient_api.put(f"/api/applications/{first}/", {"kind": "ice"})
    clock.shift(timedelta(minutes=15))
    assert patient_api.post(f"/api/applications/{first}/stop/", {}).status_code == 200
    clock.shift(timedelta(minutes=5))
    # The next start reminder, tapped before the pause is over (snoozed to now, say).
    nxt = Reminder.objects.filter(episode_id=episode_id, kind="ice_start", status="scheduled").first()
    Reminder.objects.filter(pk=nxt.pk).update(due_at=ONSET + timedelta(minutes=25))
    nxt.refresh_from_db()
    response = token_ack(api, nxt, "start")
    assert response.status_code == 409 and response.json()["detail"] == "Let your skin rest: the pause is not over yet."
    assert Application.objects.filter(episode_id=episode_id).count() == 1


def test_the_reminder_screen_shows_the_ask_and_its_answers(patient_api, other_api, episode_id, clock):
    reminder = start_reminder(episode_id)
    body = patient_api.get(f"/api/reminders/{reminder.pk}/").json()
    assert body["state"] == "due" and body["title"] == "Put the ice on (20 min)"
    assert [a["action"] for a in body["actions"]] == ["start", "snooze", "skip"]
    assert other_api.get(f"/api/reminders/{reminder.pk}/").status_code == 404
    patient_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "start"})
    assert patient_api.get(f"/api/reminders/{reminder.pk}/").json()["state"] == "done"
    later = start_reminder(episode_id, "ice_start:onset:1")
    clock.move_to(later.due_at + timedelta(hours=1))
    assert patient_api.get(f"/api/reminders/{later.pk}/").json()["state"] in ("too_late", "closed")


def test_non_safety_reminders_can_be_skipped_from_the_app(patient_api, episode_id):
    checkin = Reminder.objects.get(episode_id=episode_id, kind="checkin")
    response = patient_api.post(f"/api/reminders/{checkin.pk}/ack/", {"action": "skip"})
    assert response.status_code == 200 and response.json()["result"] == "skipped"


def test_payload_buttons_and_urls_by_kind(episode_id):
    start = reminder_payload(start_reminder(episode_id))
    assert [a["action"] for a in start["actions"]] == ["start", "snooze"]
    assert start["url"] == f"/#/reminder/{start['reminder_id']}"
    checkin = reminder_payload(Reminder.objects.get(episode_id=episode_id, kind="checkin"))
    assert checkin["actions"] == [] and checkin["url"] == "/#/checkin"


def test_stale_reminders_expire_at_claim_and_remove_reminders_never_do(patient, patient_api, episode_id, clock):
    WebPushDevice.objects.create(
        user=patient, registration_id="https://127.0.0.2/push/x", p256dh="k", auth="a", browser="CHROME"
    )
    app_id = uuid.uuid4()
    patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    # An outage: nothing dispatched for three hours; the next start (due 10:55) is an hour late.
    now = ONSET + timedelta(hours=3)
    clock.move_to(now)
    reminders_dispatch(now=now)
    remove = Reminder.objects.get(slot=f"ice_remove:{app_id}")
    assert remove.status == "claimed"  # on its way, however late
    assert Reminder.objects.filter(episode_id=episode_id, kind="ice_start", status="expired").exists()
    assert outbox_status(now=now)["reminders"]["expired"] >= 1


def test_reminders_status_counts_the_expired(episode_id, clock, capsys):
    Reminder.objects.filter(episode_id=episode_id, kind="review").update(status="expired")
    call_command("reminders_status")
    assert "expired=2" in capsys.readouterr().out


@pytest.mark.parametrize("stop_first", [False, True], ids=["start-then-stop", "stop-then-start"])
def test_a_late_offline_start_with_its_stop_in_one_batch_plans_no_remove_reminder(
    patient_api, episode_id, clock, stop_first
):
    clock.move_to(ONSET + timedelta(hours=3))
    app_id = str(uuid.uuid4())
    started, stopped = (ONSET + timedelta(minutes=10)).isoformat(), (ONSET + timedelta(minutes=28)).isoformat()
    items = [
        {"kind": "application", "id": app_id, "data": {"kind": "ice", "started_at": started}},
        {"kind": "application_stop", "id": app_id, "data": {"stopped_at": stopped}},
    ]
    if stop_first:
        items.reverse()
    results = patient_api.post("/api/sync/", {"items": items}, format="json").json()["results"]
    assert {r["status"] for r in results} <= {200, 201}, results
    # Never planned at all, not even for an instant: nothing the dispatcher could have claimed.
    assert not Reminder.objects.filter(slot=f"ice_remove:{app_id}").exists()
    app = Application.objects.get(client_uuid=app_id)
    assert app.stopped_at == ONSET + timedelta(minutes=28) and not app.auto_closed


def test_a_stop_recorded_after_the_claim_sends_nothing(patient, patient_api, episode_id, clock, receiver):
    subscribe(patient, receiver, "phone")
    app_id = uuid.uuid4()
    patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    clock.move_to(ONSET + timedelta(minutes=25, seconds=1))  # the remove reminder is due
    claimed = reminders_dispatch(now=ONSET + timedelta(minutes=25, seconds=1))
    remove = Reminder.objects.get(slot=f"ice_remove:{app_id}")
    assert remove.status == "claimed" and claimed.deliveries
    # The patient's "It's off" lands between the claim and the send.
    assert patient_api.post(f"/api/applications/{app_id}/stop/", {}).status_code == 200
    remove.refresh_from_db()
    assert remove.status == "cancelled"
    results = deliveries_send_many(delivery_ids=claimed.deliveries, claim=claimed.claim)
    assert set(results) == {"cancelled"}
    assert receiver.received == []
