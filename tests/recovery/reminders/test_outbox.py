"""The reminder outbox: rows follow the engine's plan in the event's transaction; claims are exclusive."""

import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.db.models import F

from recovery.episodes.models import Episode
from recovery.reminders.acks import reminder_ack_token
from recovery.reminders.claims import reminders_claim_due
from recovery.reminders.models import Reminder
from recovery.reminders.planning import reminders_reconcile, reminders_replan_open_episodes
from tests.factories import UserFactory

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday; London is on UTC then

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


def active(episode_id) -> dict[str, Reminder]:
    rows = Reminder.objects.filter(episode_id=episode_id, status__in=["scheduled", "claimed"])
    return {r.slot: r for r in rows}


def test_opening_an_episode_plans_its_reminders(episode_id):
    slots = active(episode_id)
    assert slots["ice_start:onset:0"].due_at == ONSET
    assert slots["ice_start:onset:1"].due_at == ONSET + timedelta(minutes=110)
    assert slots["checkin:2026-11-02"].due_at == datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
    assert "review:7" in slots and "review:14" in slots
    assert not any(r.safety for r in slots.values())


def test_reconciling_twice_changes_nothing(episode_id):
    episode = Episode.objects.get(pk=episode_id)
    before = {r.pk: (r.slot, r.due_at, r.status) for r in Reminder.objects.filter(episode=episode)}
    result = reminders_reconcile(episode=episode)
    assert (result.created, result.moved, result.cancelled) == (0, 0, 0)
    after = {r.pk: (r.slot, r.due_at, r.status) for r in Reminder.objects.filter(episode=episode)}
    assert before == after


def test_starting_ice_plans_the_safety_remove_and_moves_the_next_start(patient_api, episode_id, clock):
    app_id = uuid.uuid4()
    assert patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"}).status_code == 201
    slots = active(episode_id)
    remove = slots[f"ice_remove:{app_id}"]
    assert (remove.safety, remove.due_at) == (True, ONSET + timedelta(minutes=25))
    assert slots[f"ice_start:{app_id}:0"].due_at == ONSET + timedelta(minutes=25 + 90)
    # The start reminders anchored on onset are obsolete now.
    assert Reminder.objects.get(episode_id=episode_id, slot="ice_start:onset:1").status == "cancelled"

    clock.shift(timedelta(minutes=10))
    assert patient_api.post(f"/api/applications/{app_id}/stop/", {}).status_code == 200
    slots = active(episode_id)
    assert f"ice_remove:{app_id}" not in slots  # taken off early: nothing left to remind
    assert slots[f"ice_start:{app_id}:0"].due_at == ONSET + timedelta(minutes=15 + 90)


def test_sent_rows_are_left_alone(patient_api, episode_id, clock):
    Reminder.objects.filter(episode_id=episode_id, slot="ice_start:onset:0").update(status="sent")
    assert patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"}).status_code == 201
    assert Reminder.objects.get(episode_id=episode_id, slot="ice_start:onset:0").status == "sent"


def test_a_checkin_cancels_that_days_checkin_reminder(patient_api, episode_id):
    assert patient_api.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 6}).status_code == 201
    assert Reminder.objects.get(episode_id=episode_id, slot="checkin:2026-11-02").status == "cancelled"
    # The next re-plan adds tomorrow's.
    reminders_replan_open_episodes()
    assert "checkin:2026-11-03" in active(episode_id)


def test_a_sleep_window_change_replans(patient_api, episode_id, clock):
    clock.move_to(datetime(2026, 11, 2, 21, 0, tzinfo=UTC))
    response = patient_api.patch("/api/me/profile/", {"sleep_start": "21:30:00", "sleep_end": "06:00:00"})
    assert response.status_code == 200
    starts = sorted((r for r in active(episode_id).values() if r.kind == "ice_start"), key=lambda r: r.due_at)
    assert starts[-1].due_at == datetime(2026, 11, 3, 6, 0, tzinfo=UTC)


def test_resolving_cancels_everything_but_a_running_remove(patient_api, episode_id):
    app_id = uuid.uuid4()
    patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    assert patient_api.post(f"/api/episodes/{episode_id}/resolve/", {}).status_code == 200
    assert list(active(episode_id)) == [f"ice_remove:{app_id}"]


def test_claim_takes_due_rows_once(episode_id, clock):
    now = ONSET + timedelta(minutes=5)
    first = reminders_claim_due(now=now, limit=100, ttl=timedelta(seconds=60))
    assert [Reminder.objects.get(pk=pk).slot for pk in first] == ["ice_start:onset:0"]
    assert reminders_claim_due(now=now, limit=100, ttl=timedelta(seconds=60)) == []
    claimed = Reminder.objects.get(pk=first[0])
    assert (claimed.status, claimed.attempts) == ("claimed", 1)
    # A dead worker's claim is taken again once it expires.
    again = reminders_claim_due(now=now + timedelta(seconds=61), limit=100, ttl=timedelta(seconds=60))
    assert again == first
    assert Reminder.objects.get(pk=first[0]).attempts == 2


def test_a_reminder_cancelled_after_its_claim_stays_cancelled(patient_api, episode_id):
    now = ONSET + timedelta(minutes=5)
    [claimed] = reminders_claim_due(now=now, limit=10, ttl=timedelta(seconds=60))
    patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"})  # makes the onset slot obsolete
    assert Reminder.objects.get(pk=claimed).status == "cancelled"
    assert reminders_claim_due(now=now + timedelta(minutes=5), limit=10, ttl=timedelta(seconds=60)) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_are_disjoint():
    user = UserFactory()
    episode = Episode.objects.create(patient=user, onset=ONSET)
    Reminder.objects.bulk_create(
        Reminder(patient=user, episode=episode, kind="checkin", slot=f"s{i}", due_at=ONSET) for i in range(200)
    )
    barrier = threading.Barrier(4)
    results = []

    def claim():
        barrier.wait()
        try:
            got = []
            while batch := reminders_claim_due(now=ONSET, limit=7, ttl=timedelta(seconds=60)):
                got += batch
            results.append(got)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [pk for got in results for pk in got]
    assert len(claimed) == 200 == len(set(claimed))


def test_ack_done_snooze_skip(patient_api, episode_id, clock):
    reminder = Reminder.objects.get(episode_id=episode_id, slot="ice_start:onset:0")
    snoozed = patient_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "snooze"})
    assert snoozed.status_code == 200
    reminder.refresh_from_db()
    assert (reminder.status, reminder.due_at) == ("scheduled", ONSET + timedelta(minutes=15))
    # A re-plan does not undo the snooze.
    reminders_reconcile(episode=reminder.episode)
    reminder.refresh_from_db()
    assert reminder.due_at == ONSET + timedelta(minutes=15)
    assert patient_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "skip"}).json()["status"] == "skipped"


def test_safety_reminders_cannot_be_snoozed_or_skipped(patient_api, episode_id):
    app_id = uuid.uuid4()
    patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    remove = Reminder.objects.get(episode_id=episode_id, slot=f"ice_remove:{app_id}")
    for action in ("snooze", "skip"):
        response = patient_api.post(f"/api/reminders/{remove.pk}/ack/", {"action": action})
        assert response.status_code == 409
        assert "action" in response.json()
    remove.refresh_from_db()
    assert (remove.status, remove.due_at) == ("scheduled", ONSET + timedelta(minutes=25))
    assert patient_api.post(f"/api/reminders/{remove.pk}/ack/", {"action": "done"}).status_code == 200


def test_token_ack_from_the_service_worker(api, episode_id):
    reminder = Reminder.objects.get(episode_id=episode_id, slot="ice_start:onset:0")
    token = reminder_ack_token(reminder=reminder)
    ok = api.post("/api/reminders/ack/", {"reminder": reminder.pk, "action": "snooze", "token": token})
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "result": "snoozed"}
    other = Reminder.objects.get(episode_id=episode_id, slot="ice_start:onset:1")
    forged = api.post("/api/reminders/ack/", {"reminder": other.pk, "action": "skip", "token": token})
    assert forged.status_code == 404
    assert Reminder.objects.get(pk=other.pk).status == "scheduled"


def test_another_patients_reminder_is_404(other_api, episode_id):
    reminder = Reminder.objects.filter(episode_id=episode_id).first()
    assert other_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "done"}).status_code == 404
    assert other_api.get("/api/reminders/").json()["results"] == []
    assert other_api.get(f"/api/reminders/?episode={episode_id}").status_code == 404


def test_list_filters(patient_api, episode_id):
    everything = patient_api.get("/api/reminders/").json()["results"]
    assert len(everything) == Reminder.objects.filter(episode_id=episode_id).count()
    scheduled = patient_api.get("/api/reminders/?status=scheduled").json()["results"]
    assert {r["status"] for r in scheduled} == {"scheduled"}
    mine = patient_api.get(f"/api/reminders/?episode={episode_id}&status=scheduled").json()["results"]
    assert [r["id"] for r in mine] == [r["id"] for r in scheduled]


@pytest.mark.parametrize(
    "query, errors",
    [
        (
            "status=nonsense",
            {"status": ["Must be one of scheduled, claimed, sent, failed, cancelled, skipped, expired."]},
        ),
        ("status=", {"status": ["Must be one of scheduled, claimed, sent, failed, cancelled, skipped, expired."]}),
        ("episode=not-a-uuid", {"episode": ["Must be a valid UUID."]}),
        ("episode=", {"episode": ["Must be a valid UUID."]}),
    ],
)
def test_list_filters_say_what_is_wrong(patient_api, query, errors):
    response = patient_api.get(f"/api/reminders/?{query}")
    assert response.status_code == 400 and response.json() == errors


def test_daily_checkin_reminder_across_dst_fires_at_local_time(patient_api, patient):
    """Berlin and New York: 19:00 local before and after each change, one slot per local day."""
    for zone, onset, days in (
        ("Europe/Berlin", datetime(2026, 10, 23, 12, 0, tzinfo=UTC), ("2026-10-24", "2026-10-25", "2026-10-26")),
        ("America/New_York", datetime(2026, 3, 6, 15, 0, tzinfo=UTC), ("2026-03-07", "2026-03-08", "2026-03-09")),
    ):
        Episode.objects.filter(patient=patient).update(status="resolved", resolved_at=F("onset"))
        patient.profile.timezone, patient.profile.sleep_start, patient.profile.sleep_end = zone, time(23), time(7)
        patient.profile.save()
        with time_machine.travel(onset, tick=False) as traveller:
            episode_id = patient_api.post("/api/episodes/", {"onset": onset.isoformat()}).json()["id"]
            for day in days:
                traveller.move_to(datetime.fromisoformat(f"{day}T12:00:00+00:00"))
                reminders_replan_open_episodes()
        rows = Reminder.objects.filter(episode_id=episode_id, kind="checkin").order_by("due_at")
        local = {r.slot: r.due_at.astimezone(ZoneInfo(zone)) for r in rows}
        for day in days:
            assert local[f"checkin:{day}"].strftime("%Y-%m-%d %H:%M") == f"{day} 19:00"


@pytest.mark.parametrize(
    "body,field",
    [({"action": "later"}, "action"), ({}, "action"), ({"action": "done", "status": "sent"}, "status")],
)
def test_ack_bad_input(patient_api, episode_id, body, field):
    reminder = Reminder.objects.get(episode_id=episode_id, slot="ice_start:onset:0")
    response = patient_api.post(f"/api/reminders/{reminder.pk}/ack/", body)
    assert response.status_code == 400
    assert field in response.json()
    reminder.refresh_from_db()
    assert (reminder.status, reminder.ack_action) == ("scheduled", "")
