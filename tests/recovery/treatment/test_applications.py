import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.treatment.models import Application

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(ONSET + timedelta(minutes=5), tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_episode(patient_api, clock):
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def start(client, kind="ice", **extra):
    app_id = uuid.uuid4()
    return client.put(f"/api/applications/{app_id}/", {"kind": kind, **extra}), app_id


def test_ice_cycle_start_stop_pause(patient_api, open_episode, clock):
    response, app_id = start(patient_api)
    assert response.status_code == 201, response.content
    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert state["state"] == "ice_on"
    assert state["running"]["seconds_left"] == 20 * 60
    assert state["next_action"]["kind"] == "ice_remove"
    assert state["next_action"]["safety"] is True
    # A second start while one runs: 409.
    assert start(patient_api)[0].status_code == 409
    clock.shift(timedelta(minutes=15))
    stop = patient_api.post(f"/api/applications/{app_id}/stop/", {})
    assert stop.status_code == 200
    assert stop.json()["auto_closed"] is False
    # Too early for the next one: 409 with the instant it becomes allowed.
    early, _ = start(patient_api)
    assert early.status_code == 409
    assert early.json()["allowed_from"] == "2026-11-02T10:50:00+00:00"
    # Stop without a running application: 409.
    assert patient_api.post(f"/api/applications/{app_id}/stop/", {}).status_code == 409


def test_heat_is_refused_in_the_acute_phase(patient_api, open_episode):
    response, _ = start(patient_api, kind="heat")
    assert response.status_code == 409
    assert response.json()["allowed_from"] == "2026-11-05T09:00:00+00:00"


def test_left_running_is_closed_at_the_cap(patient_api, open_episode, clock):
    _, app_id = start(patient_api)
    clock.shift(timedelta(hours=3))
    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert state["state"] == "idle"
    # The next start closes the overdue one in the database first.
    response, _ = start(patient_api)
    assert response.status_code == 201, response.content
    app = Application.objects.get(client_uuid=app_id)
    assert app.auto_closed is True
    assert app.stopped_at == ONSET + timedelta(minutes=25)


def test_offline_replay_out_of_order_is_merged_or_refused(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=6))
    late, _ = start(patient_api, started_at="2026-11-02T12:40:00Z", stopped_at="2026-11-02T13:00:00Z")
    early, _ = start(patient_api, started_at="2026-11-02T09:10:00Z", stopped_at="2026-11-02T09:30:00Z")
    crowded, _ = start(patient_api, started_at="2026-11-02T11:30:00Z", stopped_at="2026-11-02T11:50:00Z")
    assert (late.status_code, early.status_code, crowded.status_code) == (201, 201, 409)
    assert Application.objects.count() == 2


def test_periodic_sweep_closes_overdue_applications(patient_api, open_episode, clock):
    from recovery.tasks import applications_close_overdue

    _, app_id = start(patient_api)
    clock.shift(timedelta(minutes=19))
    assert applications_close_overdue() == 0
    clock.shift(timedelta(minutes=2))
    assert applications_close_overdue() == 1
    app = Application.objects.get(client_uuid=app_id)
    assert (app.auto_closed, app.stopped_at) == (True, ONSET + timedelta(minutes=25))
    assert applications_close_overdue() == 0


def test_put_twice_is_one_row(patient_api, open_episode, clock):
    first, app_id = start(patient_api)
    clock.shift(timedelta(minutes=1))
    # A replayed "start now" names no start: the same application, not a conflict.
    again = patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice"})
    same_start = patient_api.put(
        f"/api/applications/{app_id}/", {"kind": "ice", "started_at": first.json()["started_at"]}
    )
    assert (first.status_code, again.status_code, same_start.status_code) == (201, 200, 200)
    other_kind = patient_api.put(f"/api/applications/{app_id}/", {"kind": "heat"})
    other_start = patient_api.put(f"/api/applications/{app_id}/", {"kind": "ice", "started_at": ONSET.isoformat()})
    assert (other_kind.status_code, other_start.status_code) == (409, 409)
    assert Application.objects.count() == 1


def test_a_real_stop_arriving_after_the_cap_replaces_the_auto_closure(patient_api, open_episode, clock):
    """The start and stop were queued offline; the start reached the server after its cap."""
    clock.shift(timedelta(hours=2))
    response, app_id = start(patient_api, started_at="2026-11-02T09:10:00Z")
    assert response.json()["auto_closed"] is True
    stop = patient_api.post(f"/api/applications/{app_id}/stop/", {"stopped_at": "2026-11-02T09:25:00Z"})
    assert stop.status_code == 200, stop.content
    assert (stop.json()["stopped_at"], stop.json()["auto_closed"]) == ("2026-11-02T09:25:00Z", False)
    # Once the real stop is stored, another one is a conflict.
    late = patient_api.post(f"/api/applications/{app_id}/stop/", {"stopped_at": "2026-11-02T09:20:00Z"})
    assert late.status_code == 409
    assert Application.objects.get().stopped_at == datetime(2026, 11, 2, 9, 25, tzinfo=UTC)


def test_list_filters_by_episode_and_detail_is_mine_only(patient_api, other_api, open_episode, clock):
    theirs_episode = other_api.post("/api/episodes/", {"onset": ONSET.isoformat()}).json()["id"]
    _, theirs = start(other_api)
    _, mine = start(patient_api)
    rows = patient_api.get("/api/applications/", {"episode": open_episode}).json()["results"]
    assert [row["id"] for row in rows] == [str(mine)]
    assert patient_api.get("/api/applications/", {"episode": theirs_episode}).status_code == 404
    assert patient_api.get("/api/applications/", {"episode": "x"}).status_code == 400
    assert patient_api.get(f"/api/applications/{theirs}/").status_code == 404
    assert patient_api.post(f"/api/applications/{theirs}/stop/", {}).status_code == 404
