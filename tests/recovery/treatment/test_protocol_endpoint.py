"""GET /api/episodes/{id}/protocol/: the protocol as shown to the patient."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.episodes.models import Episode
from recovery.protocol.definition import BOUNDS, PRESCRIBABLE
from recovery.treatment.services import prescription_create

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(ONSET + timedelta(hours=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_episode(patient_api, clock):
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def test_without_prescription_the_version_values_apply(patient_api, open_episode):
    response = patient_api.get(f"/api/episodes/{open_episode}/protocol/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["episode"] == open_episode
    assert body["version"] == 2
    assert body["values"] == body["defaults"]
    assert body["values"]["ice_on_min"] == 20
    assert body["values"]["rest_cap_hours"] == 48
    assert body["prescriptions"] == []
    assert body["prescribable"] == sorted(PRESCRIBABLE)
    assert body["bounds"] == {name: {"min": low, "max": high} for name, (low, high) in BOUNDS.items()}
    assert body["bounds"]["ice_on_min"] == {"min": 5, "max": 20}


def test_prescriptions_change_the_values_and_are_listed_newest_first(patient_api, open_episode, physio, clock):
    episode = Episode.objects.get(pk=open_episode)
    physio.display_name = "Dr Ana Physio"
    physio.save()
    prescription_create(episode=episode, overrides={"ice_on_min": 15}, author=physio, note="sensitive skin")
    clock.shift(timedelta(hours=1))
    prescription_create(
        episode=episode, overrides={"ice_on_min": 15, "rest_cap_hours": 36}, author=physio, note="move sooner"
    )
    clock.shift(timedelta(hours=1))
    body = patient_api.get(f"/api/episodes/{open_episode}/protocol/").json()
    assert body["values"]["ice_on_min"] == 15
    assert body["values"]["rest_cap_hours"] == 36
    assert body["defaults"]["rest_cap_hours"] == 48
    assert body["prescriptions"] == [
        {
            "overrides": {"ice_on_min": 15, "rest_cap_hours": 36},
            "note": "move sooner",
            "author": "Dr Ana Physio",
            "created_at": "2026-11-02T11:00:00Z",
        },
        {
            "overrides": {"ice_on_min": 15},
            "note": "sensitive skin",
            "author": "Dr Ana Physio",
            "created_at": "2026-11-02T10:00:00Z",
        },
    ]
    # The physiotherapist is shown by name only.
    assert physio.email not in str(body)
    # The state endpoint follows the same values.
    state = patient_api.get(f"/api/episodes/{open_episode}/state/").json()
    assert state["protocol"] == body["values"]
    assert state["rest"]["cap_hours"] == 36


def test_an_author_whose_account_is_gone_is_shown_as_null(patient_api, open_episode, physio):
    prescription_create(episode=Episode.objects.get(pk=open_episode), overrides={}, author=physio, note="x")
    physio.delete()
    (entry,) = patient_api.get(f"/api/episodes/{open_episode}/protocol/").json()["prescriptions"]
    assert entry["author"] is None


def test_another_patients_protocol_is_not_found(patient_api, other_api, open_episode, physio_api):
    theirs = other_api.post("/api/episodes/", {"onset": ONSET.isoformat()}).json()["id"]
    assert patient_api.get(f"/api/episodes/{theirs}/protocol/").status_code == 404
    assert physio_api.get(f"/api/episodes/{open_episode}/protocol/").status_code == 403
