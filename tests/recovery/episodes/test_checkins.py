import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from tests.factories import CheckInFactory, EpisodeFactory, UserFactory

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def put(client, body, checkin_id=None):
    checkin_id = checkin_id or uuid.uuid4()
    return client.put(f"/api/checkins/{checkin_id}/", body), checkin_id


def test_full_checkin(patient_api, episode):
    body = {
        "occurred_at": "2026-11-22T09:45:00+01:00",
        "pain": 7,
        "spasm_frequency": "frequent",
        "stiffness": 8,
        "sleep_quality": "poor",
        "water_glasses": 6,
        "note": "worse after sitting",
        "red_flags": {"saddle_numbness": False, "fever": False},
    }
    response, checkin_id = put(patient_api, body)
    assert response.status_code == 201
    data = response.json()
    assert data["id"] == str(checkin_id)
    assert data["episode"] == str(episode.id)
    assert data["occurred_at"] == "2026-11-22T08:45:00Z"
    assert data["recorded_at"] == "2026-11-22T10:00:00Z"
    assert (data["pain"], data["stiffness"], data["water_glasses"]) == (7, 8, 6)
    assert data["escalation"] is None
    assert RedFlagEvent.objects.count() == 0


def test_pain_zero_is_kept_as_zero(patient_api, episode):
    response, checkin_id = put(patient_api, {"pain": 0})
    assert response.status_code == 201
    assert response.json()["pain"] == 0
    assert patient_api.get(f"/api/checkins/{checkin_id}/").json()["pain"] == 0


def test_occurred_at_defaults_to_now(patient_api, episode):
    response, _ = put(patient_api, {"pain": 3})
    assert response.json()["occurred_at"] == "2026-11-22T10:00:00Z"


def test_replay_returns_the_same_record_without_duplicating(patient_api, episode):
    body = {"pain": 4, "occurred_at": "2026-11-22T09:00:00Z", "red_flags": {"fever": True}}
    first, checkin_id = put(patient_api, body)
    # The same instant written with another offset is the same body.
    second, _ = put(patient_api, {**body, "occurred_at": "2026-11-22T10:00:00+01:00"}, checkin_id)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert CheckIn.objects.count() == 1
    assert RedFlagEvent.objects.count() == 1


def test_replay_with_a_different_body_is_refused(patient_api, episode):
    _, checkin_id = put(patient_api, {"pain": 4})
    response, _ = put(patient_api, {"pain": 5}, checkin_id)
    assert response.status_code == 409
    assert "different content" in response.json()["id"][0]
    assert CheckIn.objects.get().pain == 4


def test_several_checkins_per_day(patient_api, episode):
    for pain in (6, 5, 4):
        assert put(patient_api, {"pain": pain})[0].status_code == 201
    assert CheckIn.objects.count() == 3


def test_checkin_without_an_episode_is_refused(patient_api):
    response, _ = put(patient_api, {"pain": 4})
    assert response.status_code == 400
    assert "episode" in response.json()
    assert CheckIn.objects.count() == 0


def test_offline_checkin_is_filed_in_its_resolved_episode(patient_api, patient):
    past = EpisodeFactory(
        patient=patient, onset=NOW - timedelta(days=5), status="resolved", resolved_at=NOW - timedelta(days=1)
    )
    current = EpisodeFactory(patient=patient, onset=NOW - timedelta(hours=2))
    old, _ = put(patient_api, {"pain": 2, "occurred_at": (NOW - timedelta(days=2)).isoformat()})
    new, _ = put(patient_api, {"pain": 6})
    assert old.json()["episode"] == str(past.id)
    assert new.json()["episode"] == str(current.id)


def test_checkin_before_onset_or_in_future_is_refused(patient_api, episode):
    before, _ = put(patient_api, {"pain": 3, "occurred_at": (episode.onset - timedelta(hours=1)).isoformat()})
    future, _ = put(patient_api, {"pain": 3, "occurred_at": "2026-11-22T10:10:00Z"})
    assert before.status_code == future.status_code == 400
    assert "occurred_at" in before.json() and "occurred_at" in future.json()
    assert CheckIn.objects.count() == 0


@pytest.mark.parametrize("code", ["bowel_bladder_loss", "saddle_numbness", "progressive_leg_weakness"])
def test_emergency_answers_escalate(patient_api, episode, code):
    response, _ = put(patient_api, {"pain": 8, "red_flags": {code: True}})
    assert response.status_code == 201
    escalation = response.json()["escalation"]
    assert escalation["level"] == "emergency"
    assert "emergency" in escalation["actions"][0].lower()
    assert escalation["flags"][0]["code"] == code
    assert escalation["flags"][0]["guidance"]
    event = RedFlagEvent.objects.get()
    assert (event.code, event.level, event.episode_id) == (code, "emergency", episode.id)
    assert event.ruleset_version >= 1


@pytest.mark.parametrize("code", ["fever", "leg_numbness", "major_trauma", "unexplained_weight_loss"])
def test_urgent_answers_escalate(patient_api, episode, code):
    response, _ = put(patient_api, {"pain": 5, "red_flags": {code: True}})
    assert response.json()["escalation"]["level"] == "urgent"
    assert RedFlagEvent.objects.get().level == "urgent"


def test_the_most_severe_level_wins_and_every_flag_is_recorded(patient_api, episode):
    answers = {"fever": True, "saddle_numbness": True, "pain_worse_or_spreading": True, "leg_numbness": False}
    response, _ = put(patient_api, {"pain": 9, "red_flags": answers})
    escalation = response.json()["escalation"]
    assert escalation["level"] == "emergency"
    assert [f["level"] for f in escalation["flags"]] == ["emergency", "urgent", "soon"]
    assert RedFlagEvent.objects.count() == 3


def test_escalation_is_shown_again_on_replay_and_detail(patient_api, episode):
    body = {"pain": 8, "red_flags": {"bowel_bladder_loss": True}}
    _, checkin_id = put(patient_api, body)
    replay, _ = put(patient_api, body, checkin_id)
    assert replay.json()["escalation"]["level"] == "emergency"
    assert patient_api.get(f"/api/checkins/{checkin_id}/").json()["escalation"]["level"] == "emergency"


def test_list_filters_by_episode_and_is_newest_first(patient_api, patient):
    past = EpisodeFactory(
        patient=patient, onset=NOW - timedelta(days=5), status="resolved", resolved_at=NOW - timedelta(days=1)
    )
    current = EpisodeFactory(patient=patient, onset=NOW - timedelta(hours=5))
    CheckInFactory(episode=past, occurred_at=NOW - timedelta(days=3))
    a = CheckInFactory(episode=current, occurred_at=NOW - timedelta(hours=2))
    b = CheckInFactory(episode=current, occurred_at=NOW - timedelta(hours=1))
    everything = patient_api.get("/api/checkins/").json()["results"]
    assert len(everything) == 3
    only_current = patient_api.get(f"/api/checkins/?episode={current.id}").json()["results"]
    assert [c["id"] for c in only_current] == [str(b.client_uuid), str(a.client_uuid)]
    assert patient_api.get("/api/checkins/?episode=not-a-uuid").status_code == 400


def test_list_pages_do_not_skip_or_repeat(patient_api, episode):
    for minutes in range(7):
        CheckInFactory(episode=episode, occurred_at=NOW - timedelta(minutes=minutes * 10))
    CheckInFactory(episode=episode, occurred_at=NOW - timedelta(minutes=10))  # a tie on occurred_at
    seen, url = [], "/api/checkins/?limit=3"
    while url:
        page = patient_api.get(url).json()
        seen += [c["id"] for c in page["results"]]
        url = page["next"]
    assert len(seen) == 8 == len(set(seen))


def test_sync_replays_a_batch_without_duplicates(patient_api, episode):
    items = [
        {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 6, "occurred_at": "2026-11-22T09:00:00Z"}},
        {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 5, "occurred_at": "2026-11-22T09:30:00Z"}},
        {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 11}},
    ]
    first = patient_api.post("/api/sync/", {"items": items})
    assert first.status_code == 200
    assert [r["status"] for r in first.json()["results"]] == [201, 201, 400]
    assert "pain" in first.json()["results"][2]["errors"]
    second = patient_api.post("/api/sync/", {"items": items[:2]})
    assert [r["status"] for r in second.json()["results"]] == [200, 200]
    assert CheckIn.objects.count() == 2
    assert first.json()["results"][0]["record"] == second.json()["results"][0]["record"]


def test_sync_carries_the_escalation(patient_api, episode):
    item = {"kind": "checkin", "id": str(uuid.uuid4()), "data": {"pain": 9, "red_flags": {"saddle_numbness": True}}}
    result = patient_api.post("/api/sync/", {"items": [item]}).json()["results"][0]
    assert result["record"]["escalation"]["level"] == "emergency"


def test_sync_and_put_share_one_record(patient_api, episode):
    body = {"pain": 3, "occurred_at": "2026-11-22T09:00:00Z"}
    _, checkin_id = put(patient_api, body)
    result = patient_api.post("/api/sync/", {"items": [{"kind": "checkin", "id": str(checkin_id), "data": body}]})
    assert result.json()["results"][0]["status"] == 200
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_checkin_store_it_once():
    user = UserFactory()
    Episode.objects.create(patient=user, onset=NOW - timedelta(hours=1))
    checkin_id = uuid.uuid4()
    barrier = threading.Barrier(4)
    statuses = []

    def send():
        client = APIClient()
        client.force_authenticate(user)
        barrier.wait()
        try:
            body = {"pain": 6, "occurred_at": "2026-11-22T09:30:00Z", "red_flags": {"fever": True}}
            statuses.append(client.put(f"/api/checkins/{checkin_id}/", body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert CheckIn.objects.filter(patient=user).count() == 1
    assert RedFlagEvent.objects.filter(patient=user).count() == 1


def test_a_new_checkin_costs_a_fixed_number_of_queries(patient_api, episode, django_assert_max_num_queries):
    # Guards the hot path measured by bench/api.py: episode (with profile), insert, reminder cancel,
    # savepoints. The red-flag checklist is read only when answered.
    put(patient_api, {"pain": 5})  # warm caches (content types, sessions) so the count is the steady state
    with django_assert_max_num_queries(5):
        response, _ = put(patient_api, {"pain": 4})
    assert response.status_code == 201
