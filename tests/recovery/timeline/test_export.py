"""Exports: the FHIR R4 Bundle of an episode, the timeline as CSV, and the patient's own data as JSON.

The bundle is validated with fhir.resources' R4B models (FHIR 4.3.0; its Bundle, Patient, EpisodeOfCare,
Observation, Procedure, MedicationStatement and Flag match R4 4.0.1 for every element written).
"""

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from backcare.audit.models import AccessLog
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.timeline.csv import CSV_HEADER, csv_cell
from recovery.treatment.models import Application, MedicationIntake
from tests.factories import CareLinkFactory, CheckInFactory, EpisodeFactory, UserFactory, history_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
FHIR = "/api/physio/patients/{}/export/fhir/"
CSV = "/api/physio/patients/{}/export/timeline.csv"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def berliner(clock):
    return UserFactory(display_name="Bea Berlin", with_profile="Europe/Berlin")


@pytest.fixture
def episode(berliner, physio):
    CareLinkFactory(patient=berliner, physiotherapist=physio, consented_at=NOW - timedelta(days=10))
    episode = EpisodeFactory(patient=berliner, onset=NOW - timedelta(days=4))
    history_create(episode=episode, start=NOW - timedelta(days=3, hours=12), days=3, author=physio)
    return episode


def _bundle(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    assert "attachment" in response["Content-Disposition"]
    return json.loads(response.content)


def _validated(data: dict) -> Bundle:
    bundle = Bundle.model_validate(data)
    for entry in data["entry"]:  # and each resource as its own type
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return bundle


def _by_type(data: dict, name: str) -> list[dict]:
    return [entry["resource"] for entry in data["entry"] if entry["resource"]["resourceType"] == name]


# --- FHIR ---------------------------------------------------------------------------------------------


def test_the_bundle_validates_as_fhir_and_holds_the_episode(episode, berliner, physio_api):
    data = _bundle(physio_api.get(FHIR.format(berliner.pk)))
    bundle = _validated(data)
    assert bundle.type == "collection"
    assert {entry.fullUrl for entry in bundle.entry} == {f"urn:uuid:{e['resource']['id']}" for e in data["entry"]}
    (patient,) = _by_type(data, "Patient")
    assert patient["name"] == [{"text": "Bea Berlin"}]
    (care,) = _by_type(data, "EpisodeOfCare")
    assert care["status"] == "active"
    pain = [o for o in _by_type(data, "Observation") if o["code"]["coding"][0]["code"] == "72514-3"]
    assert len(pain) == CheckIn.objects.filter(episode=episode).count() == 9
    assert len(_by_type(data, "QuestionnaireResponse")) == 1  # the history's PEG (issue 17)
    assert len(_by_type(data, "Procedure")) == Application.objects.filter(episode=episode).count()
    assert len(_by_type(data, "MedicationStatement")) == MedicationIntake.objects.filter(episode=episode).count()
    assert len(_by_type(data, "Flag")) == RedFlagEvent.objects.filter(episode=episode).count() == 1
    # Every reference points at a resource of the bundle.
    urls = {entry["fullUrl"] for entry in data["entry"]}
    references = re.findall(r'"reference":\s*"([^"]+)"', json.dumps(data))
    assert references and set(references) <= urls


def test_pain_is_loinc_72514_3_an_integer_and_zero_stays_zero(episode, berliner, physio_api):
    CheckInFactory(episode=episode, pain=0, occurred_at=NOW - timedelta(minutes=5), note="no pain at all")
    data = _bundle(physio_api.get(FHIR.format(berliner.pk)))
    _validated(data)
    # The check-ins' observations (the questionnaires' scores have their own codes: tests/recovery/outcomes).
    observations = [o for o in _by_type(data, "Observation") if "derivedFrom" not in o]
    for obs in observations:
        assert obs["code"]["coding"][0] == {
            "system": "http://loinc.org",
            "code": "72514-3",
            "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        }
        assert isinstance(obs["valueInteger"], int) and 0 <= obs["valueInteger"] <= 10
        assert obs["status"] == "final"
    zero = [obs for obs in observations if obs.get("note") == [{"text": "no pain at all"}]]
    assert [obs["valueInteger"] for obs in zero] == [0]
    assert zero[0]["effectiveDateTime"] == "2026-11-20T12:55:00+01:00"  # Berlin, winter time


def test_every_instant_carries_the_patients_offset_across_a_dst_change(physio, physio_api):
    with time_machine.travel(datetime(2026, 11, 3, 12, 0, tzinfo=UTC), tick=False):
        patient = UserFactory(with_profile="America/New_York")
        CareLinkFactory(patient=patient, physiotherapist=physio)
        episode = EpisodeFactory(patient=patient, onset=datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
        CheckInFactory(episode=episode, pain=6, occurred_at=datetime(2026, 10, 31, 14, 0, tzinfo=UTC))  # EDT
        CheckInFactory(episode=episode, pain=4, occurred_at=datetime(2026, 11, 2, 14, 0, tzinfo=UTC))  # EST
        Application.objects.create(
            patient=patient,
            episode=episode,
            client_uuid=uuid.uuid4(),
            kind="ice",
            started_at=datetime(2026, 10, 31, 15, 0, tzinfo=UTC),
            stopped_at=datetime(2026, 10, 31, 15, 20, tzinfo=UTC),
        )
        data = _bundle(physio_api.get(FHIR.format(patient.pk)))
    _validated(data)
    times = sorted(obs["effectiveDateTime"] for obs in _by_type(data, "Observation"))
    assert times == ["2026-10-31T10:00:00-04:00", "2026-11-02T09:00:00-05:00"]
    (procedure,) = _by_type(data, "Procedure")
    assert procedure["performedPeriod"] == {"start": "2026-10-31T11:00:00-04:00", "end": "2026-10-31T11:20:00-04:00"}
    assert procedure["status"] == "completed"
    assert procedure["code"]["coding"][0]["code"] == "ice"
    instants = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', json.dumps(data))
    assert instants and all(OFFSET.match(value) for value in instants), instants


def test_medication_and_red_flags(episode, berliner, physio_api):
    data = _bundle(physio_api.get(FHIR.format(berliner.pk)))
    statement = _by_type(data, "MedicationStatement")[0]
    assert statement["medicationCodeableConcept"]["text"] == "ibuprofen"
    assert statement["dosage"][0]["doseAndRate"][0]["doseQuantity"] == {
        "value": 400.0,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert statement["dosage"][0]["text"] == "400 mg"
    (flag,) = _by_type(data, "Flag")
    assert flag["status"] == "active"
    assert flag["code"]["coding"][0]["code"] == "saddle_numbness"
    assert flag["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "PH"  # emergency: high priority


def test_a_resolved_episode_is_finished_and_its_flags_inactive(episode, berliner, physio_api):
    Episode.objects.filter(pk=episode.pk).update(status=Episode.Status.RESOLVED, resolved_at=NOW - timedelta(hours=1))
    data = _bundle(physio_api.get(FHIR.format(berliner.pk) + f"?episode={episode.pk}"))
    _validated(data)
    (care,) = _by_type(data, "EpisodeOfCare")
    assert care["status"] == "finished" and care["period"]["end"] == "2026-11-20T12:00:00+01:00"
    assert {flag["status"] for flag in _by_type(data, "Flag")} == {"inactive"}


def test_the_same_export_twice_names_the_same_resources(episode, berliner, physio_api):
    first = _bundle(physio_api.get(FHIR.format(berliner.pk)))
    second = _bundle(physio_api.get(FHIR.format(berliner.pk)))
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_fhir_query_count_does_not_grow_with_the_data(clock, physio, physio_api, django_assert_max_num_queries):
    counts = []
    for days in (1, 6):
        patient = UserFactory(with_profile="Europe/Berlin")
        CareLinkFactory(patient=patient, physiotherapist=physio)
        episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=days + 1))
        history_create(episode=episode, start=NOW - timedelta(days=days), days=days, author=physio)
        with django_assert_max_num_queries(12) as captured:
            assert physio_api.get(FHIR.format(patient.pk)).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


# --- the physiotherapist: visibility and the access log -------------------------------------------------


@pytest.mark.parametrize("url", [FHIR, CSV])
def test_every_export_is_written_to_the_access_log(episode, berliner, physio, physio_api, url):
    response = physio_api.get(url.format(berliner.pk))
    assert response.status_code == 200
    (row,) = AccessLog.objects.filter(patient_id=berliner.pk)
    assert row.actor_id == physio.pk
    assert row.action == ("patient.export.fhir" if url == FHIR else "patient.export.csv")
    # And the patient sees it.
    log = APIClient()
    log.force_authenticate(berliner)
    assert [r["action"] for r in log.get("/api/care/access-log/").json()["results"]] == [row.action]


@pytest.mark.parametrize("url", [FHIR, CSV])
def test_if_the_log_cannot_be_written_nothing_is_exported(episode, berliner, physio_api, url):
    from unittest import mock

    with mock.patch.object(AccessLog.objects, "append_reads", side_effect=DatabaseError("disk full")):
        response = physio_api.get(url.format(berliner.pk))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "Bea Berlin" not in response.content.decode()


@pytest.mark.parametrize("url", [FHIR, CSV])
def test_unlinked_revoked_and_unknown_are_the_same_404(episode, berliner, other_physio_api, physio_api, url):
    for client, target in ((other_physio_api, berliner.pk), (physio_api, 999_999_999)):
        response = client.get(url.format(target), HTTP_ACCEPT="text/csv" if url == CSV else "application/fhir+json")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "No such patient."}
    assert not AccessLog.objects.exists()


def test_a_patient_without_an_episode_has_nothing_to_export(clock, physio, physio_api):
    patient = UserFactory()
    CareLinkFactory(patient=patient, physiotherapist=physio)
    response = physio_api.get(FHIR.format(patient.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "The patient has no episode yet."}


def test_another_patients_episode_is_no_such_episode(episode, berliner, physio_api):
    stranger = EpisodeFactory()
    response = physio_api.get(FHIR.format(berliner.pk) + f"?episode={stranger.pk}")
    assert response.status_code == 400
    assert response.json() == {"episode": ["No such episode."]}


# --- CSV ------------------------------------------------------------------------------------------


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    assert tuple(reader.fieldnames) == CSV_HEADER
    return list(reader)


def test_the_csv_has_every_event_zeros_stay_zeros_and_instants_have_offsets(episode, berliner, physio_api):
    CheckInFactory(episode=episode, pain=0, stiffness=0, water_glasses=0, occurred_at=NOW - timedelta(minutes=1))
    rows = _csv(physio_api.get(CSV.format(berliner.pk)))
    timeline = physio_api.get(f"/api/physio/patients/{berliner.pk}/timeline/?limit=200").json()
    assert [(r["kind"], int(r["ref"])) for r in rows] == [(e["kind"], e["ref"]) for e in timeline["results"]]
    newest = next(r for r in rows if r["kind"] == "checkin")
    assert (newest["pain"], newest["stiffness"], newest["water_glasses"]) == ("0", "0", "0")
    assert newest["at"] == "2026-11-20T12:59:00+01:00"
    assert newest["sleep_quality"] == ""  # not given: empty, never "None"
    for row in rows:
        assert OFFSET.match(row["at"]), row
        assert row["ends_at"] == "" or OFFSET.match(row["ends_at"]), row
        assert "None" not in row.values()
    application = next(r for r in rows if r["kind"] == "application")
    assert application["auto_closed"] == "false"
    assert application["detail_kind"] == "ice"
    medication = next(r for r in rows if r["kind"] == "medication")
    assert Decimal(medication["dose_mg"]) == 400
    prescription = next(r for r in rows if r["kind"] == "prescription")
    assert json.loads(prescription["overrides"]) == {"ice_on_min": 15}


def test_csv_filters_by_kind_and_day(episode, berliner, physio_api):
    rows = _csv(physio_api.get(CSV.format(berliner.pk) + "?kinds=checkin&since=2026-11-19&until=2026-11-19"))
    assert rows and {r["kind"] for r in rows} == {"checkin"}
    assert {r["at"][:10] for r in rows} == {"2026-11-19"}
    response = physio_api.get(CSV.format(berliner.pk) + "?kinds=pizza")
    assert response.status_code == 400 and "kinds" in response.json()


def test_free_text_cannot_become_a_spreadsheet_formula(episode, berliner, physio_api):
    CheckInFactory(episode=episode, pain=3, note='=HYPERLINK("http://evil")', occurred_at=NOW - timedelta(seconds=5))
    rows = _csv(physio_api.get(CSV.format(berliner.pk) + "?kinds=checkin"))
    assert rows[0]["note"] == '\'=HYPERLINK("http://evil")'
    assert csv_cell(-3) == "-3" and csv_cell(0) == "0" and csv_cell(False) == "false" and csv_cell(None) == ""


def test_the_csv_reads_a_long_history_in_pages(clock, physio, physio_api, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr("recovery.timeline.csv._CSV_PAGE", 7)
    patient = UserFactory(with_profile="Asia/Kolkata")
    CareLinkFactory(patient=patient, physiotherapist=physio)
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=4))
    history_create(episode=episode, start=NOW - timedelta(days=3), days=3, author=physio)
    rows = _csv(physio_api.get(CSV.format(patient.pk)))
    whole = physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?limit=200").json()["results"]
    assert [(r["kind"], int(r["ref"])) for r in rows] == [(e["kind"], e["ref"]) for e in whole]
    assert all(r["at"].endswith("+05:30") for r in rows)


# --- the patient, about themself ----------------------------------------------------------------------


def test_the_patient_downloads_their_own_fhir_and_csv(episode, berliner):
    api = APIClient()
    api.force_authenticate(berliner)
    data = _bundle(api.get("/api/me/export/fhir/"))
    _validated(data)
    assert len([o for o in _by_type(data, "Observation") if "derivedFrom" not in o]) == 9
    rows = _csv(api.get("/api/me/export/timeline.csv"))
    assert len(rows) > 9
    assert not AccessLog.objects.exists()  # reading one's own data is not a physiotherapist's access


def test_the_patient_downloads_everything_of_theirs_as_json(episode, berliner, physio, django_assert_max_num_queries):
    other = EpisodeFactory(patient=UserFactory(), onset=NOW - timedelta(days=1))
    CheckInFactory(episode=other, note="not-mine-7731")
    AccessLog.objects.create(
        at=NOW, actor=physio, actor_label="Dr P", patient=berliner, action="patient.timeline", path="/", request_id="r"
    )
    api = APIClient()
    api.force_authenticate(berliner)
    with django_assert_max_num_queries(25):
        response = api.get("/api/me/export/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["account"]["email"] == berliner.email
    assert data["timezone"] == "Europe/Berlin"
    assert [e["id"] for e in data["episodes"]] == [str(episode.pk)]
    assert len(data["checkins"]) == 9 and len(data["applications"]) == 9
    assert len(data["medications"]) == len(data["rest"]) == len(data["activities"]) == 3
    assert len(data["red_flags"]) == 1 and data["red_flags"][0]["level"] == "emergency"
    assert data["prescriptions"][0]["overrides"] == {"ice_on_min": 15}
    assert len(data["reminders"]) == 9
    assert data["care_links"][0]["status"] == "active"
    assert len(data["care_notes"]) == 3
    assert data["access_log"] == [
        {"at": "2026-11-20T12:00:00Z", "who": "Dr P", "action": "patient.timeline", "request_id": "r"}
    ]
    assert "not-mine-7731" not in response.content.decode()


def test_a_physiotherapist_cannot_use_the_patients_export(physio_api):
    for url in ("/api/me/export/", "/api/me/export/fhir/", "/api/me/export/timeline.csv"):
        assert physio_api.get(url).status_code == 403


def test_downloads_negotiate_on_accept_alone(episode, berliner, physio_api):
    for query, accept in (("?format=zzz", "*/*"), ("", "text/csv"), ("?format=json", "text/csv, application/json")):
        response = physio_api.get(CSV.format(berliner.pk) + query, HTTP_ACCEPT=accept)
        assert response.status_code == 200, (query, accept, response.content)
        assert response["Content-Type"] == "text/csv; charset=utf-8"
    response = physio_api.get(FHIR.format(berliner.pk), HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
