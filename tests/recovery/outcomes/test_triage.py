"""A high STarT Back risk and a worsening PEG are triage signals: they raise the need, show on the row, and the
queue can be filtered by them (?reason=startback_high,peg_worsening). Ranked alike by the database and Python."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from push_notifications.models import WebPushDevice
from rest_framework.test import APIClient

from tests.factories import CareLinkFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PEG_LOW = {"questionnaire": "peg", "answers": {"pain": 2, "enjoyment": 2, "activity": 2}}
PEG_HIGH = {"questionnaire": "peg", "answers": {"pain": 8, "enjoyment": 7, "activity": 7}}
HIGH_RISK = {"questionnaire": "startback", "answers": {f"q{n}": "agree" for n in range(1, 9)} | {"q9": "extremely"}}


@pytest.fixture
def clock():
    with time_machine.travel(NOW - timedelta(days=8), tick=False) as traveller:
        yield traveller


def _patient(physio, name: str, *answers: tuple[int, dict]) -> None:
    """A linked patient with an episode opened 8 days ago, answering `answers` (day offset, body)."""
    patient = UserFactory(display_name=name)
    CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=NOW - timedelta(days=30))
    WebPushDevice.objects.create(user=patient, registration_id=f"https://127.0.0.1:9/{uuid.uuid4()}", active=True)
    client = APIClient()
    client.force_authenticate(patient)
    onset = NOW - timedelta(days=8)
    with time_machine.travel(onset + timedelta(minutes=5), tick=False):
        assert client.post("/api/episodes/", {"onset": onset.isoformat()}).status_code == 201
    for day, body in answers:
        with time_machine.travel(onset + timedelta(days=day, hours=1), tick=False):
            response = client.put(f"/api/questionnaire-responses/{uuid.uuid4()}/", body, format="json")
            assert response.status_code == 201, response.content


def _queue(physio_api, query: str = "") -> list[dict]:
    with time_machine.travel(NOW, tick=False):
        response = physio_api.get(f"/api/physio/patients/{query}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_high_risk_and_worsening_peg_are_signals_and_filters(physio, physio_api, licensed, settings):
    settings.BACKCARE_TRIAGE_RANK_STRICT = True  # the database's rank must agree with Python's
    _patient(physio, "Rita Risk", (0, HIGH_RISK))
    _patient(physio, "Wendy Worse", (0, PEG_LOW), (7, PEG_HIGH))
    _patient(physio, "Ben Better", (0, PEG_HIGH), (7, PEG_LOW))
    rows = {row["patient"]["display_name"]: row for row in _queue(physio_api)}
    assert "startback_high" in rows["Rita Risk"]["reasons"] and rows["Rita Risk"]["startback_risk"] == "high"
    assert "peg_worsening" in rows["Wendy Worse"]["reasons"] and rows["Wendy Worse"]["peg_trend"] == "worsening"
    assert rows["Ben Better"]["peg_trend"] == "improving" and "peg_worsening" not in rows["Ben Better"]["reasons"]
    assert rows["Rita Risk"]["need"] > rows["Ben Better"]["need"] < rows["Wendy Worse"]["need"]
    names = [row["patient"]["display_name"] for row in _queue(physio_api, "?reason=startback_high")]
    assert names == ["Rita Risk"]
    names = [row["patient"]["display_name"] for row in _queue(physio_api, "?reason=peg_worsening,startback_high")]
    assert sorted(names) == ["Rita Risk", "Wendy Worse"]
