"""POST /api/sync/ with every kind of queued write: each answered as its own endpoint would, replays never duplicate."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.episodes.models import CheckIn
from recovery.treatment.models import Activity, Application, MedicationIntake, RestPeriod

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = ONSET + timedelta(hours=12)

pytestmark = pytest.mark.django_db


def iso(hours: float) -> str:
    return (ONSET + timedelta(hours=hours)).isoformat()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_episode(patient_api, clock):
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def item(kind: str, data: dict, client_id=None) -> dict:
    return {"kind": kind, "id": str(client_id or uuid.uuid4()), "data": data}


def sync(client, items: list[dict]) -> list[dict]:
    response = client.post("/api/sync/", {"items": items})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    return results


def counts(patient) -> dict[str, int]:
    return {
        model.__name__: model.objects.filter(patient=patient).count()
        for model in (CheckIn, Application, RestPeriod, MedicationIntake, Activity)
    }


def full_queue() -> list[dict]:
    app_id, rest_id = uuid.uuid4(), uuid.uuid4()
    return [
        item("checkin", {"pain": 6, "occurred_at": iso(1)}),
        item("application", {"kind": "ice", "started_at": iso(1)}, app_id),
        item("application_stop", {"stopped_at": iso(1.25)}, app_id),
        item("rest", {"started_at": iso(2)}, rest_id),
        item("rest_stop", {"stopped_at": iso(5)}, rest_id),
        item("medication", {"med_class": "muscle_relaxant", "dose_mg": 4, "taken_at": iso(6)}),
        item(
            "activity",
            {"kind": "walking", "started_at": iso(7), "minutes": 30, "pain_before": 5, "pain_after": 5},
        ),
    ]


def test_every_kind_is_stored_and_a_replay_never_duplicates(patient_api, patient, open_episode):
    queue = full_queue()
    first = sync(patient_api, queue)
    assert [r["status"] for r in first] == [201, 201, 200, 201, 200, 201, 201]
    assert counts(patient) == dict.fromkeys(counts(patient), 1)
    for result, queued in zip(first, queue, strict=True):
        assert (result["kind"], result["id"]) == (queued["kind"], queued["id"])
        assert result["record"]["id"] == queued["id"]
        assert result["record"]["episode"] == open_episode
    assert first[2]["record"]["stopped_at"] == "2026-11-02T10:15:00Z"
    assert first[4]["record"]["stopped_at"] == "2026-11-02T14:00:00Z"
    assert first[5]["record"]["dose_mg"] == 4.0

    again = sync(patient_api, queue)
    assert [r["status"] for r in again] == [200] * len(queue)
    final = {r["id"]: r["record"] for r in first}  # a start's record is answered before its stop
    assert [r["record"] for r in again] == [final[r["id"]] for r in again]
    assert counts(patient) == dict.fromkeys(counts(patient), 1)

    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert state["rest"]["total_minutes"] == 180
    assert state["ready_to_run"] is True
    assert "no_driving" in {w["code"] for w in state["warnings"]}


def test_records_match_what_the_single_endpoints_answer(patient_api, open_episode):
    results = sync(patient_api, full_queue())
    # Each record is the one as it stood after its item; the last item of an id has the final one.
    last = {result["id"]: result for result in results}
    for result in last.values():
        kind = result["kind"].removesuffix("_stop")
        path = {
            "checkin": "checkins",
            "application": "applications",
            "rest": "rest",
            "medication": "medications",
            "activity": "activities",
        }[kind]
        single = patient_api.get(f"/api/{path}/{result['id']}/").json()
        if kind == "checkin":
            single.pop("recorded_at")
            result["record"].pop("recorded_at")
        assert result["record"] == single


def test_a_stop_queued_before_its_start_is_merged(patient_api, patient, open_episode):
    """An offline queue replayed out of order: each stop comes before the start it belongs to."""
    rest_id, app_id = uuid.uuid4(), uuid.uuid4()
    results = sync(
        patient_api,
        [
            item("rest_stop", {"stopped_at": iso(4)}, rest_id),
            item("application_stop", {"stopped_at": iso(1.2)}, app_id),
            item("application", {"kind": "ice", "started_at": iso(1)}, app_id),
            item("rest", {"started_at": iso(2)}, rest_id),
        ],
    )
    assert [r["status"] for r in results] == [200, 200, 201, 201]
    assert results[0]["record"]["stopped_at"] == "2026-11-02T13:00:00Z"
    assert RestPeriod.objects.get(client_uuid=rest_id).stopped_at.isoformat() == iso(4)
    assert Application.objects.get(client_uuid=app_id).stopped_at.isoformat() == iso(1.2)


def test_each_item_is_refused_on_its_own_with_its_endpoints_status(patient_api, patient, open_episode):
    rest_id = uuid.uuid4()
    results = sync(
        patient_api,
        [
            item("rest", {"started_at": iso(2), "stopped_at": iso(4)}, rest_id),
            item("rest", {"started_at": iso(3), "stopped_at": iso(5)}),  # overlaps the first
            item("rest", {"started_at": iso(5), "stopped_at": iso(4)}),  # stops before it starts
            item("rest_stop", {}, uuid.uuid4()),  # nothing to stop
            item("rest_stop", {}, rest_id),  # not running
            item("medication", {"med_class": "aspirin", "dose_mg": 100}),
            item("medication", {"med_class": "nsaid", "dose_mg": 40000}),
            item("medication", {"med_class": "nsaid", "dose_mg": 400, "taken_at": iso(13)}),  # in the future
            item(
                "activity", {"kind": "walking", "started_at": iso(1), "minutes": 601, "pain_before": 1, "pain_after": 1}
            ),
            item("application", {"kind": "heat"}),  # not in the acute phase
            item("teleport", {}),
            item("rest", "2026-11-02T10:00:00Z"),
        ],
    )
    expected = [
        (201, None),
        (409, "overlaps"),
        (400, "stopped_at"),
        (404, "detail"),
        (409, "detail"),
        (400, "med_class"),
        (400, "dose_mg"),
        (400, "taken_at"),
        (400, "minutes"),
        (409, "allowed_from"),
        (400, "kind"),
        (400, "data"),
    ]
    assert [(r["status"]) for r in results] == [status for status, _ in expected]
    for result, (_, field) in zip(results, expected, strict=True):
        if field:
            assert field in result["errors"], result
            assert "record" not in result
    assert counts(patient) == {"CheckIn": 0, "Application": 0, "RestPeriod": 1, "MedicationIntake": 0, "Activity": 0}


def test_a_changed_replay_is_a_conflict_not_a_second_row(patient_api, patient, open_episode):
    med_id = uuid.uuid4()
    body = {"med_class": "nsaid", "dose_mg": 400, "taken_at": iso(3)}
    results = sync(
        patient_api,
        [
            item("medication", body, med_id),
            item("medication", body, med_id),
            item("medication", {**body, "dose_mg": 600}, med_id),
        ],
    )
    assert [r["status"] for r in results] == [201, 200, 409]
    assert MedicationIntake.objects.filter(patient=patient).get().dose_mg == 400


def test_another_patients_ids_in_a_sync_never_reach_their_records(patient_api, other_api, open_episode):
    other_episode = other_api.post("/api/episodes/", {"onset": ONSET.isoformat()}).json()["id"]
    rest_id = uuid.uuid4()
    assert other_api.put(f"/api/rest/{rest_id}/", {"started_at": iso(1)}).status_code == 201
    results = sync(
        patient_api,
        [
            item("rest_stop", {"stopped_at": iso(2)}, rest_id),
            item(
                "activity",
                {
                    "kind": "walking",
                    "started_at": iso(1),
                    "minutes": 10,
                    "pain_before": 1,
                    "pain_after": 1,
                    "episode": other_episode,
                },
            ),
        ],
    )
    assert [r["status"] for r in results] == [404, 400]
    assert "episode" in results[1]["errors"]
    assert RestPeriod.objects.get(client_uuid=rest_id).stopped_at is None
    assert other_episode not in str(results)


def test_physiotherapist_cannot_sync(physio_api):
    response = physio_api.post("/api/sync/", {"items": [item("rest", {})]})
    assert response.status_code == 403
