"""Answering questionnaires: scored and stored with version and rule, replay-safe, refused clearly, offline via the
batch; only the PEG without a licence file; nobody reads what is not theirs."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.outcomes.models import QuestionnaireResponse
from tests.factories import CareLinkFactory

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = ONSET + timedelta(hours=12)
PEG = {"questionnaire": "peg", "answers": {"pain": 7, "enjoyment": 6, "activity": 4}}

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


def put(client, body, response_id=None):
    return client.put(f"/api/questionnaire-responses/{response_id or uuid.uuid4()}/", body, format="json")


def test_a_deployment_without_a_licence_file_offers_only_the_peg(patient_api, unlicensed, open_episode):
    listed = patient_api.get("/api/questionnaires/")
    assert listed.status_code == 200
    assert [q["code"] for q in listed.json()] == ["peg"]
    assert patient_api.get("/api/questionnaires/startback/").status_code == 404
    assert patient_api.get("/api/questionnaires/odi/").status_code == 404
    assert [q["questionnaire"] for q in patient_api.get("/api/questionnaires/open/").json()] == ["peg"]
    refused = put(patient_api, {"questionnaire": "odi", "answers": {"pain_intensity": "s1"}})
    assert refused.status_code == 400
    assert refused.json()["questionnaire"] == ["Not a questionnaire offered here."]


def test_a_licensed_deployment_offers_all_three_with_its_wording(patient_api, licensed, open_episode):
    listed = {q["code"]: q for q in patient_api.get("/api/questionnaires/").json()}
    assert sorted(listed) == ["odi", "peg", "startback"]
    assert listed["startback"]["items"][8]["options"][3] == {"code": "very_much", "text": "Three"}
    assert listed["odi"]["title"] == "Test disability form"
    opened = {q["questionnaire"] for q in patient_api.get("/api/questionnaires/open/").json()}
    assert opened == {"peg", "startback", "odi"}


def test_a_half_worded_licence_file_is_not_offered(patient_api, settings, tmp_path, open_episode):
    (tmp_path / "odi.json").write_text('{"items": {"pain_intensity": {"text": "only one"}}}')
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = str(tmp_path)
    assert [q["code"] for q in patient_api.get("/api/questionnaires/").json()] == ["peg"]


def test_peg_is_scored_and_stored_with_its_version_and_rule(patient_api, open_episode):
    response_id = uuid.uuid4()
    answered = put(patient_api, PEG, response_id)
    assert answered.status_code == 201, answered.content
    body = answered.json()
    assert body["score"] == 5.67 and body["scoring_rule"] == "mean@1" and body["questionnaire_version"] == 1
    assert body["episode"] == open_episode and body["answered"] == 3
    row = QuestionnaireResponse.objects.get(client_uuid=response_id)
    assert (row.questionnaire.code, row.questionnaire.version, row.scoring_rule) == ("peg", 1, "mean@1")
    assert patient_api.get(f"/api/questionnaire-responses/{response_id}/").json()["score"] == 5.67
    assert [r["id"] for r in patient_api.get("/api/questionnaire-responses/").json()["results"]] == [str(response_id)]


def test_a_replay_answers_the_stored_response_and_other_content_is_a_conflict(patient_api, open_episode):
    response_id = uuid.uuid4()
    assert put(patient_api, PEG, response_id).status_code == 201
    again = put(patient_api, PEG, response_id)
    assert again.status_code == 200
    assert QuestionnaireResponse.objects.count() == 1
    changed = put(patient_api, {**PEG, "answers": {"pain": 1, "enjoyment": 1, "activity": 1}}, response_id)
    assert changed.status_code == 409
    assert QuestionnaireResponse.objects.count() == 1


def test_too_few_answers_is_a_clear_400_and_nothing_is_stored(patient_api, open_episode):
    refused = put(patient_api, {"questionnaire": "peg", "answers": {"pain": 7, "enjoyment": None}})
    assert refused.status_code == 400
    assert refused.json()["answers"] == ["Too few answers to score the PEG: every item must be answered; 1 were."]
    assert QuestionnaireResponse.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"questionnaire": "peg", "answers": {"pain": 11, "enjoyment": 1, "activity": 1}}, "answers"),
        ({"questionnaire": "peg", "answers": {"pain": 1.5, "enjoyment": 1, "activity": 1}}, "answers"),
        ({"questionnaire": "peg", "answers": "7"}, "answers"),
        ({"questionnaire": "nope", "answers": {}}, "questionnaire"),
        ({**PEG, "owner": 1}, "owner"),
        ({**PEG, "occurred_at": (NOW + timedelta(hours=1)).isoformat()}, "occurred_at"),
        ({**PEG, "occurred_at": (ONSET - timedelta(days=1)).isoformat()}, "occurred_at"),
        ({**PEG, "episode": str(uuid.uuid4())}, "episode"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(patient_api, open_episode, body, field):
    refused = put(patient_api, body)
    assert refused.status_code == 400, refused.content
    assert field in refused.json()
    assert QuestionnaireResponse.objects.count() == 0


def test_without_an_open_episode_the_answer_is_refused(patient_api, clock):
    refused = put(patient_api, PEG)
    assert refused.status_code == 400 and "episode" in refused.json()


def test_startback_and_odi_are_scored_where_licensed(patient_api, licensed, open_episode):
    answers = {f"q{n}": "agree" for n in range(1, 9)} | {"q9": "extremely"}
    startback = put(patient_api, {"questionnaire": "startback", "answers": answers}).json()
    assert (startback["score"], startback["band"], startback["subscores"]) == (9, "high", {"total": 9, "distress": 5})
    sections = [
        "pain_intensity",
        "personal_care",
        "lifting",
        "walking",
        "sitting",
        "standing",
        "sleeping",
        "social_life",
        "travelling",
    ]
    odi_answers = dict.fromkeys(sections[:7], "s2") | {"social_life": "s1", "travelling": "s1", "sex_life": None}
    odi = put(patient_api, {"questionnaire": "odi", "answers": odi_answers}).json()
    assert (odi["score"], odi["band"], odi["answered"], odi["scoring_rule"]) == (35.56, "moderate", 9, "odi@1")
    assert "sex_life" not in odi["answers"]


def test_offline_batch_replays_a_response_once(patient_api, open_episode):
    item = {"kind": "questionnaire_response", "id": str(uuid.uuid4()), "data": PEG}
    first = patient_api.post("/api/sync/", {"items": [item, item]}, format="json").json()["results"]
    assert [r["status"] for r in first] == [201, 200]
    assert first[0]["record"]["score"] == 5.67
    again = patient_api.post("/api/sync/", {"items": [item]}, format="json").json()["results"]
    assert again[0]["status"] == 200
    bad = {"kind": "questionnaire_response", "id": str(uuid.uuid4()), "data": {"questionnaire": "peg", "answers": {}}}
    refused = patient_api.post("/api/sync/", {"items": [bad]}, format="json").json()["results"][0]
    assert refused["status"] == 400 and "answers" in refused["errors"]
    assert QuestionnaireResponse.objects.count() == 1


# --- isolation ----------------------------------------------------------------------------------------------------


def test_another_patient_never_sees_or_overwrites_my_response(patient_api, other_api, other_patient, open_episode):
    response_id = uuid.uuid4()
    assert put(patient_api, PEG, response_id).status_code == 201
    assert other_api.get(f"/api/questionnaire-responses/{response_id}/").status_code == 404
    assert other_api.get("/api/questionnaire-responses/").json()["results"] == []
    assert other_api.get(f"/api/questionnaire-responses/?episode={open_episode}").status_code == 404
    # The same client id under another patient is another record (ids are per patient), never mine.
    other_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert put(other_api, PEG, response_id).status_code == 201
    assert QuestionnaireResponse.objects.get(client_uuid=response_id, patient=other_patient).episode_id != open_episode


def test_the_patient_routes_are_for_patients_only(api, physio_api):
    response_id = uuid.uuid4()
    for client, status in ((api, {401, 403}), (physio_api, {403})):
        assert client.get("/api/questionnaires/").status_code in status
        assert client.get("/api/questionnaires/peg/").status_code in status
        assert client.get("/api/questionnaires/open/").status_code in status
        assert client.get("/api/questionnaire-responses/").status_code in status
        assert client.get(f"/api/questionnaire-responses/{response_id}/").status_code in status
        assert put(client, PEG, response_id).status_code in status


def test_the_physiotherapist_sees_scores_and_trend_of_linked_patients_only(
    patient, patient_api, physio, physio_api, open_episode, clock
):
    url = f"/api/physio/patients/{patient.pk}/outcomes/"
    assert physio_api.get(url).status_code == 404  # not linked
    link = CareLinkFactory(patient=patient, physiotherapist=physio)
    assert (
        put(patient_api, {"questionnaire": "peg", "answers": {"pain": 3, "enjoyment": 3, "activity": 3}}).status_code
        == 201
    )
    clock.shift(timedelta(days=7))
    assert put(patient_api, PEG).status_code == 201
    outcomes = physio_api.get(url)
    assert outcomes.status_code == 200
    peg = outcomes.json()[0]
    assert peg["questionnaire"] == "peg" and peg["trend"] == "worsening"
    assert [p["score"] for p in peg["scores"]] == [3.0, 5.67]
    link.status, link.ended_at = "revoked", link.consented_at + timedelta(days=1)
    link.save()
    assert physio_api.get(url).status_code == 404
    assert patient_api.get(url).status_code == 403


def test_the_physio_timeline_shows_the_scores(patient, patient_api, physio, physio_api, open_episode):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    response_id = uuid.uuid4()
    assert put(patient_api, PEG, response_id).status_code == 201
    page = physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?kinds=questionnaire")
    assert page.status_code == 200, page.content
    (entry,) = page.json()["results"]
    assert entry["kind"] == "questionnaire"
    assert entry["data"]["id"] == str(response_id)
    assert (entry["data"]["questionnaire"], entry["data"]["score"], entry["data"]["scoring_rule"]) == (
        "peg",
        5.67,
        "mean@1",
    )


def test_my_data_export_carries_my_responses(patient_api, open_episode):
    response_id = uuid.uuid4()
    assert put(patient_api, PEG, response_id).status_code == 201
    exported = patient_api.get("/api/me/export/").json()
    (mine,) = exported["questionnaire_responses"]
    assert (mine["id"], mine["score"], mine["scoring_rule"]) == (str(response_id), 5.67, "mean@1")
