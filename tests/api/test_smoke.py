import uuid

import pytest
import time_machine

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-22T10:00:00+00:00", tick=False)
def test_open_episode_and_checkin_roundtrip(patient_api):
    response = patient_api.post("/api/episodes/", {"onset": "2026-11-22T08:00:00+01:00", "trigger": "lifting"})
    assert response.status_code == 201, response.content
    episode_id = response.json()["id"]
    checkin_id = uuid.uuid4()
    body = {"pain": 6, "red_flags": {"saddle_numbness": True}}
    response = patient_api.put(f"/api/checkins/{checkin_id}/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["episode"] == episode_id
    assert data["escalation"]["level"] == "emergency"
    assert patient_api.put(f"/api/checkins/{checkin_id}/", body).status_code == 200
