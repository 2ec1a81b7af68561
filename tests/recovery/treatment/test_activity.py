"""Walks with pain before and after: replay-safe, finished, never overlapping."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.treatment.models import Activity

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = ONSET + timedelta(hours=8)  # 17:00Z

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_episode(patient_api, clock):
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def walk(started_at="2026-11-02T12:00:00Z", minutes=30, pain_before=5, pain_after=4, **extra):
    return {
        "kind": "walking",
        "started_at": started_at,
        "minutes": minutes,
        "pain_before": pain_before,
        "pain_after": pain_after,
        **extra,
    }


def put_walk(client, activity_id=None, **body):
    activity_id = activity_id or uuid.uuid4()
    return client.put(f"/api/activities/{activity_id}/", body), activity_id


def test_log_a_walk(patient_api, open_episode):
    response, activity_id = put_walk(patient_api, **walk())
    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": str(activity_id),
        "episode": open_episode,
        "kind": "walking",
        "started_at": "2026-11-02T12:00:00Z",
        "minutes": 30,
        "pain_before": 5,
        "pain_after": 4,
    }
    assert patient_api.get(f"/api/activities/{activity_id}/").json() == response.json()


def test_same_body_twice_is_one_row_another_body_is_409(patient_api, open_episode):
    first, activity_id = put_walk(patient_api, **walk())
    same, _ = put_walk(patient_api, activity_id, **walk(started_at="2026-11-02T13:00:00+01:00"))
    changed, _ = put_walk(patient_api, activity_id, **walk(pain_after=6))
    assert (first.status_code, same.status_code, changed.status_code) == (201, 200, 409)
    assert "id" in changed.json()
    assert Activity.objects.get().pain_after == 4


def test_overlapping_walks_are_refused_touching_ones_merged(patient_api, open_episode):
    # An offline queue replayed out of order: the later walk first.
    late, late_id = put_walk(patient_api, **walk(started_at="2026-11-02T14:00:00Z", minutes=40))
    early, _ = put_walk(patient_api, **walk(started_at="2026-11-02T13:00:00Z", minutes=60))  # ends as it starts
    crossing, _ = put_walk(patient_api, **walk(started_at="2026-11-02T14:30:00Z", minutes=30))
    inside, _ = put_walk(patient_api, **walk(started_at="2026-11-02T14:10:00Z", minutes=5))
    assert [r.status_code for r in (late, early, crossing, inside)] == [201, 201, 409, 409]
    assert crossing.json()["overlaps"] == {
        "id": str(late_id),
        "started_at": "2026-11-02T14:00:00+00:00",
        "stopped_at": "2026-11-02T14:40:00+00:00",
    }
    walks = sorted(Activity.objects.all(), key=lambda a: a.started_at)
    assert len(walks) == 2
    assert walks[0].started_at + timedelta(minutes=walks[0].minutes) <= walks[1].started_at


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "running"}, "kind"),
        ({"kind": None}, "kind"),
        ({"started_at": None}, "started_at"),
        ({"started_at": "2026-11-02T17:06:00Z", "minutes": 1}, "started_at"),
        ({"started_at": "2026-11-02T16:50:00Z", "minutes": 30}, "minutes"),  # would end in the future
        ({"started_at": "2026-11-02T12:00:00"}, "started_at"),
        ({"started_at": "2026-11-01T12:00:00Z"}, "episode"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": 601}, "minutes"),
        ({"minutes": 30.5}, "minutes"),
        ({"minutes": "30"}, "minutes"),
        ({"minutes": True}, "minutes"),
        ({"pain_before": 11}, "pain_before"),
        ({"pain_before": -1}, "pain_before"),
        ({"pain_after": 7.5}, "pain_after"),
        ({"pain_after": None}, "pain_after"),
        ({"episode": str(uuid.uuid4())}, "episode"),
        ({"steps": 4000}, "steps"),
        ({"payload_hash": "x"}, "payload_hash"),
    ],
    ids=lambda value: str(value)[:60],
)
def test_bad_walk_is_refused_naming_the_field(patient_api, open_episode, change, field):
    response, _ = put_walk(patient_api, **{**walk(), **change})
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Activity.objects.exists()


@pytest.mark.parametrize("missing", ["kind", "started_at", "minutes", "pain_before", "pain_after"])
def test_every_walk_field_is_required(patient_api, open_episode, missing):
    body = walk()
    del body[missing]
    response, _ = put_walk(patient_api, **body)
    assert response.status_code == 400
    assert missing in response.json()


def test_walk_after_the_resolution_is_refused(patient_api, open_episode):
    patient_api.post(f"/api/episodes/{open_episode}/resolve/", {"resolved_at": "2026-11-02T15:00:00Z"})
    before, _ = put_walk(patient_api, **walk(started_at="2026-11-02T14:00:00Z"))
    after, _ = put_walk(patient_api, **walk(started_at="2026-11-02T16:00:00Z"))
    named, _ = put_walk(patient_api, **walk(started_at="2026-11-02T16:00:00Z", episode=open_episode))
    assert (before.status_code, after.status_code, named.status_code) == (201, 400, 400)
    assert "started_at" in named.json()
    assert Activity.objects.count() == 1


def test_list_filters_by_episode(patient_api, other_api, open_episode):
    other_episode = other_api.post("/api/episodes/", {"onset": ONSET.isoformat()}).json()["id"]
    _, theirs = put_walk(other_api, **walk())
    _, mine = put_walk(patient_api, **walk())
    assert [r["id"] for r in patient_api.get("/api/activities/").json()["results"]] == [str(mine)]
    assert patient_api.get("/api/activities/", {"episode": other_episode}).status_code == 404
    assert patient_api.get(f"/api/activities/{theirs}/").status_code == 404
