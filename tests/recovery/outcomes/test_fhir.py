"""The episode's FHIR bundle carries the questionnaires: Questionnaire, QuestionnaireResponse linked to it, and the
scores as Observations with their LOINC codes; the whole bundle validates with fhir.resources (R4B models, as the
export's own test). The CSV timeline carries the scores."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = ONSET + timedelta(hours=30)

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(patient_api, licensed):
    with time_machine.travel(NOW, tick=False):
        assert patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()}).status_code == 201
        bodies = [
            {"questionnaire": "peg", "answers": {"pain": 7, "enjoyment": 6, "activity": 4}},
            {
                "questionnaire": "startback",
                "answers": {f"q{n}": "agree" if n < 8 else "disagree" for n in range(1, 9)} | {"q9": "moderately"},
            },
            {
                "questionnaire": "odi",
                "answers": {
                    "pain_intensity": "s3",
                    "lifting": "s4",
                    "walking": "s1",
                    "sitting": "s2",
                    "standing": "s2",
                    "sleeping": "s1",
                    "social_life": "s1",
                    "travelling": "s2",
                    "personal_care": "s0",
                },
            },
        ]
        for body in bodies:
            response = patient_api.put(f"/api/questionnaire-responses/{uuid.uuid4()}/", body, format="json")
            assert response.status_code == 201, response.content
        yield


def _bundle(client) -> dict:
    response = client.get("/api/me/export/fhir/")
    assert response.status_code == 200, response.content
    data = json.loads(response.content)
    Bundle.model_validate(data)
    for entry in data["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return data


def _of(data: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def test_the_bundle_holds_questionnaires_responses_and_coded_scores(patient_api, answered):
    data = _bundle(patient_api)
    questionnaires = {q["url"]: q for q in _of(data, "Questionnaire")}
    assert set(questionnaires) == {f"urn:backcare:questionnaire:{c}" for c in ("peg", "startback", "odi")}
    assert questionnaires["urn:backcare:questionnaire:startback"]["code"][0]["code"] == "91349-1"
    assert questionnaires["urn:backcare:questionnaire:odi"]["code"][0]["code"] == "97908-8"
    responses = _of(data, "QuestionnaireResponse")
    assert {r["questionnaire"] for r in responses} == {f"{url}|1" for url in questionnaires}
    observations = {o["code"]["coding"][0]["code"]: o for o in _of(data, "Observation") if "coding" in o["code"]}
    assert observations["91147-9"]["valueQuantity"]["value"] == 5.67  # PEG mean
    assert observations["91351-7"]["valueQuantity"]["value"] == 7.0  # STarT Back total
    assert observations["91350-9"]["valueQuantity"]["value"] == 3.0  # distress subscore
    assert observations["91352-5"]["valueCodeableConcept"]["coding"][0]["code"] == "LA8982-6"  # medium
    odi = observations["97909-6"]
    assert odi["valueQuantity"]["value"] == 35.56 and odi["interpretation"][0]["text"] == "moderate"  # 16/45
    # Each score derives from its response, which is in the bundle.
    response_refs = {f"urn:uuid:{r['id']}" for r in responses}
    for code in ("91147-9", "91351-7", "97909-6"):
        assert observations[code]["derivedFrom"][0]["reference"] in response_refs
    odi_response = next(r for r in responses if r["questionnaire"].startswith("urn:backcare:questionnaire:odi"))
    assert "sex_life" not in {item["linkId"] for item in odi_response["item"]}  # skipped: not answered


def test_without_the_licence_the_bundle_keeps_structure_but_no_licensed_wording(patient_api, answered, settings):
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = None
    data = _bundle(patient_api)
    startback = next(q for q in _of(data, "Questionnaire") if q["url"].endswith("startback"))
    assert all("text" not in item for item in startback["item"])
    peg = next(q for q in _of(data, "Questionnaire") if q["url"].endswith("peg"))
    assert all(item["text"] for item in peg["item"])


def test_the_csv_timeline_carries_the_scores(patient_api, answered):
    response = patient_api.get("/api/me/export/timeline.csv")
    assert response.status_code == 200
    rows = [row for row in csv.DictReader(io.StringIO(response.content.decode())) if row["kind"] == "questionnaire"]
    assert sorted((r["questionnaire"], r["score"], r["band"]) for r in rows) == [
        ("odi", "35.56", "moderate"),
        ("peg", "5.67", ""),
        ("startback", "7.00", "medium"),
    ]
