"""After an emergency answer the self-care plan pauses (safety reminders go on), a help check follows, and the
patient resumes the plan or resolves the episode."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from recovery.episodes.models import Episode, EpisodePause
from recovery.reminders.models import Reminder
from recovery.reminders.planning import reminders_reconcile
from tests.conftest import client_for
from tests.factories import PhysioFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday morning in Berlin (11:00)
ACTIVE = ("scheduled", "claimed")


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def opened(clock, patient, patient_api):
    patient.profile.desk_worker = True
    patient.profile.save()
    response = patient_api.post("/api/episodes/", {"onset": (NOW - timedelta(hours=3)).isoformat()}, format="json")
    assert response.status_code == 201, response.content
    return Episode.objects.get(pk=response.json()["id"])


def checkin(api, **red_flags):
    response = api.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 8, "red_flags": red_flags}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def active_kinds(episode) -> set[str]:
    rows = Reminder.objects.filter(episode=episode, recipient=None, status__in=ACTIVE)
    return set(rows.values_list("kind", flat=True))


def test_an_emergency_answer_pauses_self_care_and_plans_the_help_check(opened, patient_api, clock):
    assert {"ice_start", "checkin", "movement_break"} <= active_kinds(opened)

    body = checkin(patient_api, bowel_bladder_loss=True)

    assert body["escalation"]["level"] == "emergency"
    opened.refresh_from_db()
    assert opened.paused_since == NOW
    pause = EpisodePause.objects.get(episode=opened)
    assert (pause.started_at, pause.ended_at, pause.redflag_event.code) == (NOW, None, "bowel_bladder_loss")
    assert active_kinds(opened) == {"help_check"}
    help_check = Reminder.objects.get(episode=opened, kind="help_check")
    assert help_check.due_at == NOW + timedelta(minutes=120)
    episode = patient_api.get(f"/api/episodes/{opened.pk}/").json()
    assert episode["paused_since"] == "2026-11-23T10:00:00Z"
    # A re-plan (beat, any later write) keeps the pause.
    with transaction.atomic():
        reminders_reconcile(episode=opened, now=NOW + timedelta(minutes=30))
    assert active_kinds(opened) == {"help_check"}


def test_the_remove_reminder_of_an_application_still_on_is_kept(opened, patient_api, clock):
    app = patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"}, format="json")
    assert app.status_code == 201, app.content
    clock.move_to(NOW + timedelta(minutes=5))
    checkin(patient_api, saddle_numbness=True)
    assert active_kinds(opened) == {"help_check", "ice_remove"}
    remove = Reminder.objects.get(episode=opened, kind="ice_remove")
    assert remove.safety and remove.due_at == NOW + timedelta(minutes=20)


def test_an_urgent_answer_does_not_pause(opened, patient_api):
    checkin(patient_api, fever=True)
    opened.refresh_from_db()
    assert opened.paused_since is None and not EpisodePause.objects.exists()
    assert "ice_start" in active_kinds(opened)


def test_a_second_emergency_keeps_the_first_pause(opened, patient_api, clock):
    checkin(patient_api, bowel_bladder_loss=True)
    clock.move_to(NOW + timedelta(minutes=30))
    checkin(patient_api, saddle_numbness=True)
    assert EpisodePause.objects.count() == 1
    assert Reminder.objects.get(episode=opened, kind="help_check").due_at == NOW + timedelta(minutes=120)


def test_resume_brings_the_plan_back(opened, patient_api, clock):
    checkin(patient_api, bowel_bladder_loss=True)
    clock.move_to(NOW + timedelta(hours=3))

    response = patient_api.post(f"/api/episodes/{opened.pk}/resume/", {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["paused_since"] is None
    pause = EpisodePause.objects.get()
    assert (pause.ended_at, pause.end_reason) == (NOW + timedelta(hours=3), "resumed")
    kinds = active_kinds(opened)
    assert "help_check" not in kinds and {"checkin", "movement_break"} <= kinds
    assert kinds & {"ice_start", "heat_start"}
    again = patient_api.post(f"/api/episodes/{opened.pk}/resume/", {}, format="json")
    assert again.status_code == 409 and "not paused" in again.json()["detail"]


def test_resolving_ends_the_pause(opened, patient_api, clock):
    checkin(patient_api, bowel_bladder_loss=True)
    clock.move_to(NOW + timedelta(hours=1))
    response = patient_api.post(f"/api/episodes/{opened.pk}/resolve/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["paused_since"] is None
    assert EpisodePause.objects.get().end_reason == "resolved"
    assert active_kinds(opened) == set()


def test_resume_isolation(opened, patient_api):
    checkin(patient_api, bowel_bladder_loss=True)
    url = f"/api/episodes/{opened.pk}/resume/"
    assert client_for(UserFactory()).post(url, {}, format="json").status_code == 404
    assert client_for(PhysioFactory()).post(url, {}, format="json").status_code == 403
    assert patient_api.post(f"/api/episodes/{uuid.uuid4()}/resume/", {}, format="json").status_code == 404
    assert patient_api.post(url, {"now": True}, format="json").status_code == 400  # unknown field
    assert Episode.objects.get().paused_since is not None


def test_with_no_linked_physiotherapist_the_patient_steps_still_happen(opened, patient_api):
    checkin(patient_api, bowel_bladder_loss=True)
    assert active_kinds(opened) == {"help_check"}
    assert not Reminder.objects.filter(recipient__isnull=False).exists()


def test_a_replayed_emergency_checkin_pauses_and_alerts_once(opened, patient_api, physio):
    from tests.factories import CareLinkFactory

    CareLinkFactory(patient=opened.patient, physiotherapist=physio)
    body = {"pain": 8, "red_flags": {"bowel_bladder_loss": True}}
    url = f"/api/checkins/{uuid.uuid4()}/"
    assert patient_api.put(url, body, format="json").status_code == 201
    assert patient_api.put(url, body, format="json").status_code == 200
    assert EpisodePause.objects.count() == 1
    assert Reminder.objects.filter(recipient=physio, slot__endswith=":0").count() == 1
