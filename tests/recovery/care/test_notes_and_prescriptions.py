"""Notes on a patient, and protocol changes a physiotherapist prescribes (shown to the patient, reminders re-planned)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.care.models import CareNote
from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from recovery.treatment.models import Prescription, ProtocolVersion
from tests.conftest import client_for
from tests.factories import CareLinkFactory, CareNoteFactory, EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def care(patient, physio):
    CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=ONSET)
    with time_machine.travel(ONSET, tick=False):
        return Episode.objects.create(
            patient=patient, onset=ONSET, protocol_version=ProtocolVersion.objects.get(version=1)
        )


def test_a_note_is_written_with_its_author_and_time(care, physio_api, physio, patient):
    with time_machine.travel(ONSET + timedelta(hours=5), tick=False):
        response = physio_api.post(
            f"/api/physio/patients/{patient.pk}/notes/", {"text": "  Guarding on flexion.  ", "episode": str(care.id)}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "Guarding on flexion."
    assert body["author"] == physio.display_name
    assert body["episode"] == str(care.id)
    assert body["created_at"] == "2026-11-02T14:00:00Z"
    note = CareNote.objects.get()
    assert (note.patient, note.author) == (patient, physio)


def test_notes_are_listed_newest_first_for_the_care_team(care, physio_api, patient, other_physio, other_physio_api):
    CareNoteFactory(patient=patient, text="older", created_at=ONSET)
    CareNoteFactory(patient=patient, text="newer", created_at=ONSET + timedelta(days=1))
    CareNoteFactory(text="someone else's patient")
    rows = physio_api.get(f"/api/physio/patients/{patient.pk}/notes/").json()["results"]
    assert [row["text"] for row in rows] == ["newer", "older"]
    assert other_physio_api.get(f"/api/physio/patients/{patient.pk}/notes/").status_code == 404
    CareLinkFactory(patient=patient, physiotherapist=other_physio)
    assert len(other_physio_api.get(f"/api/physio/patients/{patient.pk}/notes/").json()["results"]) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "ok", "author": 1}, "author"),
        ({"text": "ok", "patient": 1}, "patient"),
        ({"text": "ok", "episode": "not-a-uuid"}, "episode"),
    ],
)
def test_a_bad_note_names_the_field(care, physio_api, patient, body, field):
    response = physio_api.post(f"/api/physio/patients/{patient.pk}/notes/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not CareNote.objects.exists()


def test_a_note_about_another_patients_episode_is_refused(care, physio_api, patient):
    theirs = EpisodeFactory(patient=UserFactory())
    response = physio_api.post(f"/api/physio/patients/{patient.pk}/notes/", {"text": "x", "episode": str(theirs.id)})
    assert response.status_code == 400
    assert response.json() == {"episode": ["No such episode."]}


def test_a_prescription_inside_the_bounds_is_recorded_and_shown_to_the_patient(
    care, physio_api, physio, patient, patient_api
):
    with time_machine.travel(ONSET + timedelta(hours=2), tick=False):
        response = physio_api.post(
            f"/api/physio/patients/{patient.pk}/protocol/",
            {"overrides": {"ice_on_min": 15, "ice_off_min": 120}, "note": "sensitive skin"},
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["values"]["ice_on_min"], body["values"]["ice_off_min"]) == (15, 120)
        prescription = Prescription.objects.get()
        assert (prescription.created_by, prescription.episode, prescription.note) == (physio, care, "sensitive skin")
        assert prescription.created_at == ONSET + timedelta(hours=2)
        seen = patient_api.get(f"/api/episodes/{care.id}/protocol/").json()
    assert seen["values"]["ice_on_min"] == 15
    (entry,) = seen["prescriptions"]
    assert (entry["author"], entry["note"], entry["created_at"]) == (
        physio.display_name,
        "sensitive skin",
        "2026-11-02T11:00:00Z",
    )
    assert physio_api.get(f"/api/physio/patients/{patient.pk}/protocol/").json()["values"]["ice_on_min"] == 15


def test_a_prescription_re_plans_the_reminders(care, physio_api, patient):
    with time_machine.travel(ONSET + timedelta(minutes=5), tick=False):
        # The first ice application, 20 minutes at the default: its remove reminder is due at the cap.
        response = patient_api_put_ice(patient)
        assert response.status_code == 201, response.content
        remove = Reminder.objects.get(episode=care, kind="ice_remove")
        assert remove.due_at == ONSET + timedelta(minutes=25)
        response = physio_api.post(f"/api/physio/patients/{patient.pk}/protocol/", {"overrides": {"ice_on_min": 10}})
        assert response.status_code == 201
    remove.refresh_from_db()
    assert remove.due_at == ONSET + timedelta(minutes=15)


def patient_api_put_ice(patient):
    return client_for(patient).put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ice_on_min": 21}, "ice_on_min"),
        ({"acute_hours": 200}, "acute_hours"),
        ({"nsaid_flag_day": 5}, "nsaid_flag_day"),
        ({"ice_on_min": "15"}, "ice_on_min"),
    ],
)
def test_a_prescription_outside_the_bounds_is_refused_naming_the_field(care, physio_api, patient, overrides, field):
    response = physio_api.post(f"/api/physio/patients/{patient.pk}/protocol/", {"overrides": overrides})
    assert response.status_code == 400
    assert field in response.json()["overrides"]
    assert not Prescription.objects.exists()


def test_no_prescription_for_a_resolved_episode_or_without_one(care, physio_api, patient):
    Episode.objects.filter(pk=care.pk).update(status="resolved", resolved_at=ONSET + timedelta(days=1))
    url = f"/api/physio/patients/{patient.pk}/protocol/"
    assert physio_api.post(url, {"overrides": {"ice_on_min": 15}}).status_code == 409
    assert physio_api.post(url, {"overrides": {"ice_on_min": 15}, "episode": str(care.id)}).status_code == 409
    theirs = EpisodeFactory(patient=UserFactory())
    response = physio_api.post(url, {"overrides": {"ice_on_min": 15}, "episode": str(theirs.id)})
    assert response.status_code == 400
    assert not Prescription.objects.exists()


@pytest.mark.parametrize("field", ["created_by", "author", "patient", "episode_id"])
def test_who_prescribed_cannot_be_chosen(care, physio_api, patient, field):
    response = physio_api.post(
        f"/api/physio/patients/{patient.pk}/protocol/", {"overrides": {"ice_on_min": 15}, field: 1}
    )
    assert response.status_code == 400
    assert field in response.json()


def test_the_protocol_of_a_patient_without_an_episode_is_not_found(physio_api, physio):
    patient = UserFactory()
    CareLinkFactory(patient=patient, physiotherapist=physio)
    assert physio_api.get(f"/api/physio/patients/{patient.pk}/protocol/").status_code == 404
