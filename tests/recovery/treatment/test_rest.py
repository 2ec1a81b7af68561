"""Bed rest: start, stop, offline records, replays, and never two periods at once."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from backcare.core.errors import Conflict
from recovery.episodes.models import Episode
from recovery.treatment.models import RestPeriod
from recovery.treatment.services import rest_put
from tests.factories import EpisodeFactory

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def at(hours: float) -> datetime:
    return ONSET + timedelta(hours=hours)


def iso(hours: float) -> str:
    return at(hours).isoformat()


@pytest.fixture
def clock():
    with time_machine.travel(at(0.25), tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_episode(patient_api, clock):
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def put_rest(client, rest_id=None, **body):
    rest_id = rest_id or uuid.uuid4()
    return client.put(f"/api/rest/{rest_id}/", body), rest_id


def assert_no_overlap(episode_id) -> None:
    rests = list(RestPeriod.objects.filter(episode_id=episode_id).order_by("started_at"))
    assert sum(r.stopped_at is None for r in rests) <= 1
    for earlier, later in zip(rests, rests[1:], strict=False):
        assert earlier.stopped_at is not None and earlier.stopped_at <= later.started_at, (earlier, later)


def test_start_now_then_stop(patient_api, open_episode, clock):
    response, rest_id = put_rest(patient_api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": str(rest_id),
        "episode": open_episode,
        "started_at": "2026-11-02T09:15:00Z",
        "stopped_at": None,
    }
    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert state["rest"]["resting_since"] == "2026-11-02T09:15:00Z"

    clock.shift(timedelta(hours=3))
    stop = patient_api.post(f"/api/rest/{rest_id}/stop/", {})
    assert stop.status_code == 200, stop.content
    assert stop.json()["stopped_at"] == "2026-11-02T12:15:00Z"
    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert (state["rest"]["resting_since"], state["rest"]["total_minutes"]) == (None, 180)
    assert patient_api.get(f"/api/rest/{rest_id}/").json()["stopped_at"] == "2026-11-02T12:15:00Z"


def test_stop_without_a_running_rest_is_refused(patient_api, open_episode, clock):
    assert patient_api.post(f"/api/rest/{uuid.uuid4()}/stop/", {}).status_code == 404
    _, rest_id = put_rest(patient_api)
    clock.shift(timedelta(hours=1))
    assert patient_api.post(f"/api/rest/{rest_id}/stop/", {}).status_code == 200
    again = patient_api.post(f"/api/rest/{rest_id}/stop/", {})
    assert again.status_code == 409
    assert "not running" in again.json()["detail"]
    # A replayed stop with the same instant is answered, one with another instant is refused.
    assert patient_api.post(f"/api/rest/{rest_id}/stop/", {"stopped_at": iso(1.25)}).status_code == 200
    assert patient_api.post(f"/api/rest/{rest_id}/stop/", {"stopped_at": iso(1)}).status_code == 409
    assert RestPeriod.objects.get(client_uuid=rest_id).stopped_at == at(1.25)


def test_put_twice_is_one_row(patient_api, open_episode, clock):
    first, rest_id = put_rest(patient_api)
    clock.shift(timedelta(minutes=2))
    # A replayed "start now" names no start: it is the same rest, not a new one.
    again, _ = put_rest(patient_api, rest_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    same_start, _ = put_rest(patient_api, rest_id, started_at=first.json()["started_at"])
    assert same_start.status_code == 200
    assert RestPeriod.objects.count() == 1


def test_reusing_an_id_for_another_start_is_refused(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=2))
    _, rest_id = put_rest(patient_api, started_at=iso(1))
    other, _ = put_rest(patient_api, rest_id, started_at=iso(0.5))
    assert other.status_code == 409
    assert "id" in other.json()
    assert RestPeriod.objects.get().started_at == at(1)


def test_offline_record_with_its_stop_and_its_replays(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=6))
    body = {"started_at": iso(1), "stopped_at": iso(3)}
    first, rest_id = put_rest(patient_api, **body)
    replay, _ = put_rest(patient_api, rest_id, **body)
    # The start alone arriving after the full record (an out-of-order queue) is the same rest.
    start_only, _ = put_rest(patient_api, rest_id, started_at=iso(1))
    assert (first.status_code, replay.status_code, start_only.status_code) == (201, 200, 200)
    assert start_only.json()["stopped_at"] == "2026-11-02T12:00:00Z"
    other_stop, _ = put_rest(patient_api, rest_id, started_at=iso(1), stopped_at=iso(4))
    assert other_stop.status_code == 409
    assert other_stop.json()["stopped_at"] == "2026-11-02T12:00:00+00:00"
    assert RestPeriod.objects.get().stopped_at == at(3)


def test_replayed_put_with_a_stop_stops_the_running_rest(patient_api, open_episode, clock):
    _, rest_id = put_rest(patient_api, started_at=iso(0.25))
    clock.shift(timedelta(hours=2))
    response, _ = put_rest(patient_api, rest_id, started_at=iso(0.25), stopped_at=iso(2))
    assert response.status_code == 200, response.content
    assert RestPeriod.objects.get().stopped_at == at(2)


def test_a_second_start_while_resting_is_refused_naming_the_running_one(patient_api, open_episode, clock):
    _, running = put_rest(patient_api)
    clock.shift(timedelta(minutes=30))
    response, _ = put_rest(patient_api)
    assert response.status_code == 409
    body = response.json()
    assert "overlaps" in body["detail"] and "still running" in body["detail"]
    assert body["overlaps"] == {"id": str(running), "started_at": "2026-11-02T09:15:00+00:00"}
    assert RestPeriod.objects.count() == 1


def test_out_of_order_offline_queue_is_merged_or_refused_never_overlapping(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=20))
    late, late_id = put_rest(patient_api, started_at=iso(10), stopped_at=iso(12))
    early, _ = put_rest(patient_api, started_at=iso(2), stopped_at=iso(4))  # before it: merged
    touching, _ = put_rest(patient_api, started_at=iso(4), stopped_at=iso(10))  # fills the gap exactly
    crossing, _ = put_rest(patient_api, started_at=iso(11), stopped_at=iso(13))
    inside, _ = put_rest(patient_api, started_at=iso(10.5), stopped_at=iso(11.5))
    around, _ = put_rest(patient_api, started_at=iso(1), stopped_at=iso(15))
    assert [r.status_code for r in (late, early, touching)] == [201, 201, 201]
    assert [r.status_code for r in (crossing, inside, around)] == [409, 409, 409]
    assert crossing.json()["overlaps"]["id"] == str(late_id)
    assert crossing.json()["overlaps"]["stopped_at"] == "2026-11-02T21:00:00+00:00"
    assert RestPeriod.objects.count() == 3
    assert_no_overlap(open_episode)
    # Cumulative rest since onset: 2 + 6 + 2 hours.
    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert state["rest"]["total_minutes"] == 10 * 60


def test_a_running_rest_blocks_records_after_its_start_only(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=10))
    _, running = put_rest(patient_api, started_at=iso(5))
    after, _ = put_rest(patient_api, started_at=iso(6), stopped_at=iso(7))
    straddling, _ = put_rest(patient_api, started_at=iso(4), stopped_at=iso(6))
    before, _ = put_rest(patient_api, started_at=iso(2), stopped_at=iso(5))
    open_before, _ = put_rest(patient_api, started_at=iso(1))
    assert [r.status_code for r in (after, straddling, before, open_before)] == [409, 409, 201, 409]
    assert after.json()["overlaps"]["id"] == str(running)
    assert_no_overlap(open_episode)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"started_at": iso(0.1), "stopped_at": iso(0.1)}, "stopped_at"),
        ({"started_at": iso(0.2), "stopped_at": iso(0.1)}, "stopped_at"),
        ({"started_at": iso(0.5)}, "started_at"),  # 15 minutes in the future (5 are tolerated)
        ({"started_at": iso(0), "stopped_at": iso(1)}, "stopped_at"),
        ({"started_at": iso(-1)}, "episode"),  # before the onset: no episode at that time
        ({"started_at": "2026-11-02T09:05:00"}, "started_at"),  # no offset
        ({"started_at": 1700000000}, "started_at"),
        ({"stopped_at": "yesterday"}, "stopped_at"),
        ({"episode": str(uuid.uuid4())}, "episode"),
        ({"episode": 5}, "episode"),
        ({"patient": 1}, "patient"),
        ({"client_uuid": str(uuid.uuid4())}, "client_uuid"),
    ],
    ids=lambda value: str(value)[:60],
)
def test_bad_rest_input_is_refused_naming_the_field(patient_api, open_episode, body, field):
    response, _ = put_rest(patient_api, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not RestPeriod.objects.exists()


def test_rest_before_the_onset_of_the_named_episode_is_refused(patient_api, open_episode):
    response, _ = put_rest(patient_api, started_at=iso(-1), stopped_at=iso(0.1), episode=open_episode)
    assert response.status_code == 400
    assert "started_at" in response.json()
    assert not RestPeriod.objects.exists()


def test_stop_before_its_start_or_in_the_future_is_refused(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=2))
    _, rest_id = put_rest(patient_api, started_at=iso(1))
    for stopped_at in (iso(1), iso(0.5), iso(3)):
        response = patient_api.post(f"/api/rest/{rest_id}/stop/", {"stopped_at": stopped_at})
        assert response.status_code == 400, response.content
        assert "stopped_at" in response.json()
    assert RestPeriod.objects.get().stopped_at is None


def test_resolved_episode_takes_no_rest_after_its_resolution(patient_api, open_episode, clock):
    clock.shift(timedelta(hours=10))
    _, running = put_rest(patient_api, started_at=iso(6))
    assert patient_api.post(f"/api/episodes/{open_episode}/resolve/", {"resolved_at": iso(8)}).status_code == 200

    after, _ = put_rest(patient_api, started_at=iso(9), stopped_at=iso(9.5))
    assert after.status_code == 400
    assert "started_at" in after.json()
    still_open, _ = put_rest(patient_api, started_at=iso(1))
    assert still_open.status_code == 400
    assert "stopped_at" in still_open.json()
    ending_late, _ = put_rest(patient_api, started_at=iso(1), stopped_at=iso(9))
    assert "stopped_at" in ending_late.json()
    inside, _ = put_rest(patient_api, started_at=iso(1), stopped_at=iso(2))
    assert inside.status_code == 201

    # Resolving the episode ended the running rest at the resolution; a later stop cannot move it.
    assert patient_api.get(f"/api/rest/{running}/").json()["stopped_at"] == "2026-11-02T17:00:00Z"
    late_stop = patient_api.post(f"/api/rest/{running}/stop/", {"stopped_at": iso(9)})
    assert late_stop.status_code in (400, 409)
    assert patient_api.get(f"/api/rest/{running}/").json()["stopped_at"] == "2026-11-02T17:00:00Z"
    assert_no_overlap(open_episode)


def test_list_is_newest_first_and_filters_by_episode(patient_api, patient, open_episode, clock):
    clock.shift(timedelta(hours=10))
    old = EpisodeFactory(
        patient=patient,
        onset=at(-100),
        status=Episode.Status.RESOLVED,
        resolved_at=at(-50),
    )
    put_rest(patient_api, started_at=iso(-90), stopped_at=iso(-80), episode=str(old.id))
    _, first = put_rest(patient_api, started_at=iso(1), stopped_at=iso(2))
    _, second = put_rest(patient_api, started_at=iso(3), stopped_at=iso(4))

    rows = patient_api.get("/api/rest/").json()["results"]
    assert len(rows) == 3
    only = patient_api.get("/api/rest/", {"episode": open_episode}).json()["results"]
    assert [row["id"] for row in only] == [str(second), str(first)]
    page = patient_api.get("/api/rest/", {"episode": open_episode, "limit": 1}).json()
    assert [row["id"] for row in page["results"]] == [str(second)]
    assert [row["id"] for row in patient_api.get(page["next"]).json()["results"]] == [str(first)]
    assert patient_api.get("/api/rest/", {"episode": str(uuid.uuid4())}).status_code == 404
    assert patient_api.get("/api/rest/", {"episode": "nope"}).status_code == 400


def test_another_patients_rest_is_not_found_and_its_id_makes_my_own(patient_api, other_api, open_episode, clock):
    other_episode = other_api.post("/api/episodes/", {"onset": ONSET.isoformat()}).json()["id"]
    _, theirs = put_rest(other_api)
    assert patient_api.get(f"/api/rest/{theirs}/").status_code == 404
    assert patient_api.post(f"/api/rest/{theirs}/stop/", {}).status_code == 404
    mine, _ = put_rest(patient_api, theirs)
    assert mine.status_code == 201
    assert mine.json()["episode"] == open_episode
    into_theirs, _ = put_rest(patient_api, started_at=iso(0.1), stopped_at=iso(0.2), episode=other_episode)
    assert into_theirs.status_code == 400
    assert RestPeriod.objects.filter(client_uuid=theirs).count() == 2
    assert RestPeriod.objects.filter(episode_id=other_episode).count() == 1


def test_physiotherapist_cannot_use_rest(physio_api, open_episode):
    assert put_rest(physio_api)[0].status_code == 403
    assert physio_api.get("/api/rest/").status_code == 403


# --- concurrent writes (real transactions, one connection per thread) ------------------------------


def _race(*calls):
    """Run the calls at the same moment in threads of their own; their results (or exceptions), in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_store_one_rest(patient):
    with time_machine.travel(at(5), tick=False):
        EpisodeFactory(patient=patient, onset=ONSET)
        rest_id = uuid.uuid4()

        def put():
            return rest_put(patient=patient, client_uuid=rest_id, started_at=at(1), stopped_at=at(2))

        results = _race(put, put, put)
    assert sorted(r.created for r in results) == [False, False, True], results
    assert RestPeriod.objects.filter(client_uuid=rest_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_rests_store_one(patient):
    with time_machine.travel(at(5), tick=False):
        episode = EpisodeFactory(patient=patient, onset=ONSET)

        def put(start, stop):
            return lambda: rest_put(
                patient=patient, client_uuid=uuid.uuid4(), started_at=at(start), stopped_at=at(stop)
            )

        # Every pair of these overlaps: exactly one may be stored, whichever comes first.
        results = _race(put(1, 3), put(2, 4), put(2.5, 2.75), put(0.5, 2.6))
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception)), results
    assert_no_overlap(episode.id)


def test_resolving_the_episode_ends_a_running_rest(patient_api, open_episode, clock):
    rest_id = uuid.uuid4()
    assert patient_api.put(f"/api/rest/{rest_id}/", {}).status_code == 201
    clock.shift(timedelta(hours=1))
    assert patient_api.post(f"/api/episodes/{open_episode}/resolve/", {}).status_code == 200
    assert RestPeriod.objects.get(client_uuid=rest_id).stopped_at == at(1.25)
