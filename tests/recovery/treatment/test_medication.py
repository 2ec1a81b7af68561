"""Medication intakes: by class and dose, replay-safe, with sane single-dose ranges."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from recovery.treatment.models import MedicationIntake
from recovery.treatment.services import DOSE_RANGES_MG

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = ONSET + timedelta(hours=6)

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


def put_med(client, med_id=None, **body):
    med_id = med_id or uuid.uuid4()
    return client.put(f"/api/medications/{med_id}/", body), med_id


def test_log_an_intake(patient_api, open_episode):
    response, med_id = put_med(patient_api, med_class="nsaid", name="ibuprofen", dose_mg=400)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": str(med_id),
        "episode": open_episode,
        "taken_at": "2026-11-02T15:00:00Z",
        "med_class": "nsaid",
        "name": "ibuprofen",
        "dose_mg": 400.0,
    }
    assert patient_api.get(f"/api/medications/{med_id}/").json() == response.json()
    stored = MedicationIntake.objects.get()
    assert (stored.dose_mg, stored.taken_at) == (Decimal("400.00"), NOW)


def test_same_body_twice_is_one_row_another_body_is_409(patient_api, open_episode, clock):
    body = {"med_class": "acetaminophen", "dose_mg": 500, "taken_at": "2026-11-02T11:00:00+01:00"}
    first, med_id = put_med(patient_api, **body)
    clock.shift(timedelta(hours=1))
    # The same content, written differently (another offset, 500.0): still a replay.
    same, _ = put_med(patient_api, med_id, med_class="acetaminophen", dose_mg=500.0, taken_at="2026-11-02T10:00:00Z")
    changed, _ = put_med(patient_api, med_id, **{**body, "dose_mg": 1000})
    assert (first.status_code, same.status_code, changed.status_code) == (201, 200, 409)
    assert "id" in changed.json()
    assert same.json() == first.json()
    assert MedicationIntake.objects.get().dose_mg == Decimal("500.00")


def test_a_replayed_taken_now_is_the_same_intake(patient_api, open_episode, clock):
    first, med_id = put_med(patient_api, med_class="nsaid", dose_mg=200)
    clock.shift(timedelta(minutes=3))
    again, _ = put_med(patient_api, med_id, med_class="nsaid", dose_mg=200)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["taken_at"] == first.json()["taken_at"]
    assert MedicationIntake.objects.count() == 1


def test_a_replay_after_the_episode_was_resolved_is_still_answered(patient_api, open_episode, clock):
    body = {"med_class": "opioid", "dose_mg": 50, "taken_at": "2026-11-02T14:00:00Z"}
    first, med_id = put_med(patient_api, **body)
    assert patient_api.post(f"/api/episodes/{open_episode}/resolve/", {}).status_code == 200
    clock.shift(timedelta(hours=2))
    assert put_med(patient_api, med_id, **body)[0].status_code == 200
    late, _ = put_med(patient_api, med_class="opioid", dose_mg=50)
    assert late.status_code == 400
    assert "taken_at" in late.json() or "episode" in late.json()
    assert MedicationIntake.objects.count() == 1


@pytest.mark.parametrize("med_class", list(DOSE_RANGES_MG))
def test_each_class_takes_doses_inside_its_range_only(patient_api, open_episode, med_class):
    low, high = DOSE_RANGES_MG[med_class]
    for dose in (low, high):
        response, _ = put_med(patient_api, med_class=med_class, dose_mg=float(dose))
        assert response.status_code == 201, (dose, response.content)
    for dose in (low - Decimal("0.01"), high + Decimal("0.01")):
        response, _ = put_med(patient_api, med_class=med_class, dose_mg=float(dose))
        assert response.status_code == 400, (dose, response.content)
        assert "dose_mg" in response.json()
    assert MedicationIntake.objects.count() == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({"med_class": "cannabis", "dose_mg": 10}, "med_class"),
        ({"med_class": "NSAID", "dose_mg": 10}, "med_class"),
        ({"med_class": 1, "dose_mg": 10}, "med_class"),
        ({"dose_mg": 10}, "med_class"),
        ({"med_class": "nsaid"}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": 0}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": -400}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": 4000}, "dose_mg"),  # 4 g of ibuprofen at once
        ({"med_class": "opioid", "dose_mg": 1000}, "dose_mg"),
        ({"med_class": "other", "dose_mg": 5000.01}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": 0.125}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": "400"}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": True}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": None}, "dose_mg"),
        ({"med_class": "nsaid", "dose_mg": 400, "taken_at": "2026-11-02T15:06:00Z"}, "taken_at"),
        ({"med_class": "nsaid", "dose_mg": 400, "taken_at": "2026-11-02T15:00:00"}, "taken_at"),
        ({"med_class": "nsaid", "dose_mg": 400, "taken_at": "2026-11-01T15:00:00Z"}, "episode"),
        ({"med_class": "nsaid", "dose_mg": 400, "name": "x" * 81}, "name"),
        ({"med_class": "nsaid", "dose_mg": 400, "name": 5}, "name"),
        ({"med_class": "nsaid", "dose_mg": 400, "episode": str(uuid.uuid4())}, "episode"),
        ({"med_class": "nsaid", "dose_mg": 400, "unit": "g"}, "unit"),
        ({"med_class": "nsaid", "dose_mg": 400, "patient": 1}, "patient"),
    ],
    ids=lambda value: str(value)[:70],
)
def test_bad_intake_is_refused_naming_the_field(patient_api, open_episode, body, field):
    response, _ = put_med(patient_api, **body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not MedicationIntake.objects.exists()


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "1e-400", "12345678901234567890"])
def test_numbers_json_cannot_hold_as_a_dose_are_refused(patient_api, open_episode, raw):
    body = '{"med_class": "other", "dose_mg": ' + raw + "}"
    response = patient_api.generic("PUT", f"/api/medications/{uuid.uuid4()}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "dose_mg" in response.json()
    assert not MedicationIntake.objects.exists()


def test_intake_before_the_onset_of_the_named_episode_is_refused(patient_api, open_episode):
    response, _ = put_med(
        patient_api, med_class="nsaid", dose_mg=400, taken_at="2026-11-02T08:00:00Z", episode=open_episode
    )
    assert response.status_code == 400
    assert "taken_at" in response.json()


def test_list_filters_by_episode_and_hides_other_patients(patient_api, other_api, open_episode, clock):
    other_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    _, theirs = put_med(other_api, med_class="opioid", dose_mg=10)
    _, first = put_med(patient_api, med_class="nsaid", dose_mg=400, taken_at="2026-11-02T10:00:00Z")
    _, second = put_med(patient_api, med_class="nsaid", dose_mg=400, taken_at="2026-11-02T14:00:00Z")
    rows = patient_api.get("/api/medications/", {"episode": open_episode}).json()["results"]
    assert [row["id"] for row in rows] == [str(second), str(first)]
    assert [row["id"] for row in patient_api.get("/api/medications/").json()["results"]] == [str(second), str(first)]
    assert patient_api.get(f"/api/medications/{theirs}/").status_code == 404
    mine, _ = put_med(patient_api, theirs, med_class="opioid", dose_mg=10)
    assert mine.status_code == 201  # their id, my own new record
    assert MedicationIntake.objects.filter(client_uuid=theirs).count() == 2


def test_physiotherapist_cannot_log_medication(physio_api, open_episode):
    assert put_med(physio_api, med_class="nsaid", dose_mg=400)[0].status_code == 403
