"""A plan that ends, through the API: good days offer ending it, resolving stops every non-safety reminder (a
running application's remove reminder still goes), a new episode can be opened and the old one stays readable."""

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from recovery.reminders.planning import ACTIVE, reminders_replan_episodes
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
ONSET = datetime(2026, 10, 20, 10, 0, tzinfo=BERLIN).astimezone(UTC)


def berlin(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def berliner():
    return UserFactory(with_profile="Europe/Berlin")


@pytest.fixture
def client(berliner):
    return client_for(berliner)


def open_episode(client) -> str:
    response = client.post("/api/episodes/", {"onset": ONSET.isoformat()}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def checkin(client, pain: int, at: datetime) -> None:
    body = {"pain": pain, "occurred_at": at.isoformat()}
    response = client.put(f"/api/checkins/{uuid.uuid4()}/", body, format="json")
    assert response.status_code == 201, response.content


def state(client, episode_id: str) -> dict:
    response = client.get(f"/api/episodes/{episode_id}/state/")
    assert response.status_code == 200, response.content
    return response.json()


def active(episode_id: str) -> dict[str, Reminder]:
    return {r.slot: r for r in Reminder.objects.filter(episode_id=episode_id, status__in=ACTIVE)}


def test_two_good_days_offer_ending_the_plan_once(client, django_capture_on_commit_callbacks):
    with time_machine.travel(ONSET + timedelta(minutes=5), tick=False) as clock:
        episode_id = open_episode(client)
        for day, pain in ((date(2026, 10, 26), 2), (date(2026, 10, 27), 1)):
            clock.move_to(berlin(day, 19, 5))
            with django_capture_on_commit_callbacks() as queued:
                checkin(client, pain, berlin(day, 19))
            assert queued, "a check-in queues a re-plan of its episode"
        assert "plan_end" not in active(episode_id)  # the worker re-plans; no worker here
        reminders_replan_episodes(episode_ids=[episode_id])
        plan_end = active(episode_id)["plan_end"]
        assert (plan_end.due_at, plan_end.safety) == (berlin(date(2026, 10, 28), 10), False)
        now = state(client, episode_id)
        assert now["feeling_better"] is True
        # A bad evening withdraws the offer before it is sent.
        clock.move_to(berlin(date(2026, 10, 27), 21))
        checkin(client, 6, berlin(date(2026, 10, 27), 20, 55))
        reminders_replan_episodes(episode_ids=[episode_id])
        assert "plan_end" not in active(episode_id)
        assert state(client, episode_id)["feeling_better"] is False


def test_state_says_when_start_reminders_end(client):
    with time_machine.travel(ONSET + timedelta(minutes=5), tick=False):
        episode_id = open_episode(client)
        assert state(client, episode_id)["starts_end_at"] == "2026-11-02T18:00:00Z"  # 19:00 CET


def test_resolving_stops_every_non_safety_reminder_but_a_running_applications_remove(client):
    with time_machine.travel(ONSET + timedelta(hours=2), tick=False) as clock:
        episode_id = open_episode(client)
        app_id = str(uuid.uuid4())
        response = client.put(f"/api/applications/{app_id}/", {"kind": "ice"}, format="json")
        assert response.status_code == 201, response.content
        kinds = {r.kind for r in active(episode_id).values()}
        assert {"ice_remove", "checkin", "review"} <= kinds
        clock.shift(timedelta(minutes=5))
        response = client.post(f"/api/episodes/{episode_id}/resolve/", {}, format="json")
        assert response.status_code == 200, response.content
        # The ice is still on the skin: its remove reminder is the one that stays (and only it).
        left = active(episode_id)
        assert [(r.kind, r.safety) for r in left.values()] == [("ice_remove", True)]
        # Taking it off after the resolution is recorded, and then nothing is left to send.
        clock.shift(timedelta(minutes=5))
        response = client.post(f"/api/applications/{app_id}/stop/", {}, format="json")
        assert response.status_code == 200, response.content
        assert active(episode_id) == {}


def test_treatment_notifications_off_never_cancel_a_remove_reminder(client):
    with time_machine.travel(ONSET + timedelta(hours=2), tick=False):
        episode_id = open_episode(client)
        response = client.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"}, format="json")
        assert response.status_code == 201, response.content
        response = client.patch("/api/me/profile/", {"notify_treatment": False}, format="json")
        assert response.status_code == 200, response.content
        left = active(episode_id)
        assert [r.kind for r in left.values() if r.safety] == ["ice_remove"]
        assert not [r for r in left.values() if r.kind.endswith("_start")]


def test_fewer_heat_reminders_re_plan_at_once(client):
    with time_machine.travel(berlin(date(2026, 10, 26), 8), tick=False):
        episode_id = open_episode(client)
        before = {r.kind for r in active(episode_id).values()}
        assert "heat_start" in before
        response = client.patch("/api/me/profile/", {"heat_reminders_per_day": 2}, format="json")
        assert response.status_code == 200, response.content
        heat = sorted(r.slot for r in active(episode_id).values() if r.kind == "heat_start")
        # 07:00-23:00 in halves: 10:50 and 18:50 (the middle of each half, less half the 20 min run).
        assert heat == ["heat_start:2026-10-26:0"]
        assert active(episode_id)["heat_start:2026-10-26:0"].due_at == berlin(date(2026, 10, 26), 10, 50)


def test_resolve_then_open_a_new_episode_and_the_old_one_stays_in_the_history(client, berliner):
    with time_machine.travel(ONSET + timedelta(hours=1), tick=False) as clock:
        old = open_episode(client)
        checkin(client, 4, ONSET + timedelta(minutes=50))
        assert client.post(f"/api/episodes/{old}/resolve/", {}, format="json").status_code == 200
        clock.shift(timedelta(days=3))
        response = client.post("/api/episodes/", {"onset": (ONSET + timedelta(days=3)).isoformat()}, format="json")
        assert response.status_code == 201, response.content
        new = response.json()["id"]
        checkin(client, 7, ONSET + timedelta(days=3, minutes=10))
        episodes = client.get("/api/episodes/").json()["results"]
        assert [(e["id"], e["status"]) for e in episodes] == [(new, "open"), (old, "resolved")]
        assert episodes[1]["resolved_at"]
        old_checkins = client.get(f"/api/checkins/?episode={old}").json()["results"]
        assert [c["pain"] for c in old_checkins] == [4]
        assert [c["pain"] for c in client.get(f"/api/checkins/?episode={new}").json()["results"]] == [7]
        assert Episode.objects.filter(patient=berliner).count() == 2


def test_nobody_else_sees_the_old_episodes(client, other_api):
    with time_machine.travel(ONSET + timedelta(hours=1), tick=False):
        old = open_episode(client)
        checkin(client, 4, ONSET + timedelta(minutes=50))
        client.post(f"/api/episodes/{old}/resolve/", {}, format="json")
    assert other_api.get(f"/api/checkins/?episode={old}").status_code == 404
    assert other_api.get(f"/api/episodes/{old}/").status_code == 404
    assert other_api.get("/api/episodes/").json()["results"] == []
    assert other_api.post(f"/api/episodes/{old}/resolve/", {}, format="json").status_code == 404


def test_resolving_cancels_waiting_retries_of_non_safety_reminders_only(client):
    from recovery.reminders.models import Delivery

    with time_machine.travel(ONSET + timedelta(hours=2), tick=False):
        episode_id = open_episode(client)
        rows = {}
        for kind, safety in (("checkin", False), ("ice_remove", True)):
            reminder = Reminder.objects.create(
                patient_id=Episode.objects.get(pk=episode_id).patient_id,
                episode_id=episode_id,
                kind=kind,
                slot=f"{kind}:sent-before",
                due_at=ONSET,
                safety=safety,
                status="sent",
            )
            rows[kind] = Delivery.objects.create(
                reminder=reminder, device_type="webpush", device_id=1, status="retry", next_attempt_at=ONSET
            )
        assert client.post(f"/api/episodes/{episode_id}/resolve/", {}, format="json").status_code == 200
        statuses = {kind: Delivery.objects.get(pk=row.pk).status for kind, row in rows.items()}
        assert statuses == {"checkin": "cancelled", "ice_remove": "retry"}
