"""Client-id writes: the stored payload hashes never change, and a refusal reads the same from an endpoint and
from the offline batch (a domain error mapped by the one rule of backcare.core.api)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from backcare.core import errors
from recovery.episodes.models import CheckIn
from recovery.treatment.models import Activity, MedicationIntake
from recovery.treatment.services import application_stop, rest_stop

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = ONSET + timedelta(hours=6)

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_episode(patient_api):
    with time_machine.travel(NOW, tick=False):
        response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
        assert response.status_code == 201
        yield response.json()["id"]


# Hashes stored by the code before the replay rule was written once (backcare.core.replay). A stored
# record is only ever compared with a new hash: if these change, every later replay becomes a 409.
STORED_HASHES = [
    (
        "checkins",
        CheckIn,
        {
            "occurred_at": "2026-11-02T10:45:00+01:00",
            "pain": 7,
            "note": "worse after sitting",
            "red_flags": {"saddle_numbness": False, "fever": False},
        },
        "5bbc5af3215a067395e0adffa228dc0db3057ecbbe7160149606fa1fafcc981e",
    ),
    ("checkins", CheckIn, {"pain": 3}, "41e9b94a9385513762fc9e08efebf6268ddc944361e18344afb8ba7c78a4fb87"),
    (
        "medications",
        MedicationIntake,
        {"taken_at": "2026-11-02T14:00:00+01:00", "med_class": "nsaid", "name": "ibuprofen", "dose_mg": 400},
        "c68ca27b36249802a959ee491f28cd63717aff69790e71f809eb92f791390110",
    ),
    (
        "activities",
        Activity,
        {
            "kind": "walking",
            "started_at": "2026-11-02T11:00:00+01:00",
            "minutes": 30,
            "pain_before": 5,
            "pain_after": 4,
        },
        "5e70a15cfa7c864593a4b5b8a1c2ac524e7d75016d5624d9e29b5b82682139e6",
    ),
]


@pytest.mark.parametrize("path, model, body, stored_hash", STORED_HASHES)
def test_the_payload_hash_of_a_write_never_changes(patient_api, open_episode, path, model, body, stored_hash):
    record_id = uuid.uuid4()
    with time_machine.travel(NOW, tick=False):
        assert patient_api.put(f"/api/{path}/{record_id}/", body).status_code == 201
        assert model.objects.get(client_uuid=record_id).payload_hash == stored_hash
        # The same instant in another offset is the same content: a replay.
        in_utc = {
            k: datetime.fromisoformat(v).astimezone(UTC).isoformat() if k.endswith("_at") else v
            for k, v in body.items()
        }
        assert patient_api.put(f"/api/{path}/{record_id}/", in_utc).status_code == 200


@pytest.mark.parametrize(
    "stop, what",
    [(application_stop, "application"), (rest_stop, "rest period")],
)
def test_services_say_not_found_in_the_domains_words(patient, stop, what):
    with pytest.raises(errors.NotFound) as raised:
        stop(patient=patient, client_uuid=uuid.uuid4())
    assert raised.value.detail == f"No such {what}."


@pytest.mark.parametrize(
    "kind, path, body",
    [
        ("rest_stop", "rest/{id}/stop/", {}),
        ("application_stop", "applications/{id}/stop/", {}),
        ("medication", "medications/{id}/", {"med_class": "nsaid", "dose_mg": 40000}),
        ("rest", "rest/{id}/", {"started_at": "2026-11-02T13:00:00Z", "stopped_at": "2026-11-02T12:00:00Z"}),
        ("application", "applications/{id}/", {"kind": "heat"}),
    ],
)
def test_a_refused_item_of_the_batch_reads_as_its_endpoint_answers(patient_api, open_episode, kind, path, body):
    with time_machine.travel(NOW, tick=False):
        single = patient_api.generic(
            "PUT" if kind in ("medication", "rest", "application") else "POST",
            "/api/" + path.format(id=uuid.uuid4()),
            data=json.dumps(body),
            content_type="application/json",
        )
        batch = patient_api.post("/api/sync/", {"items": [{"kind": kind, "id": str(uuid.uuid4()), "data": body}]})
    assert single.status_code >= 400
    (result,) = batch.json()["results"]
    assert (result["status"], result["errors"]) == (single.status_code, single.json())
