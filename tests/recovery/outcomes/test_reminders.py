"""Questionnaire reminders go through the outbox: planned with the episode, cancelled once answered, never for a
questionnaire the deployment does not offer; the payload says what to do and nothing clinical."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.reminders.models import Reminder
from recovery.reminders.payloads import reminder_payload
from recovery.reminders.planning import reminders_replan_open_episodes

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday; London is on UTC then

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(ONSET + timedelta(minutes=5), tick=False) as traveller:
        yield traveller


def open_episode(patient_api, patient) -> str:
    patient.profile.timezone = "Europe/London"
    patient.profile.save()
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def questionnaire_slots(episode_id) -> dict[str, Reminder]:
    rows = Reminder.objects.filter(episode_id=episode_id, kind="questionnaire", status__in=["scheduled", "claimed"])
    return {r.slot: r for r in rows}


def test_without_a_licence_only_the_peg_is_planned(patient_api, patient, unlicensed, clock):
    slots = questionnaire_slots(open_episode(patient_api, patient))
    # This week's half an hour after the check-in hour of day 1, next week's on day 8 (within the planning horizon).
    assert {slot: r.due_at for slot, r in slots.items()} == {
        "questionnaire:peg:week:0": datetime(2026, 11, 2, 19, 30, tzinfo=UTC),
        "questionnaire:peg:week:1": datetime(2026, 11, 9, 19, 30, tzinfo=UTC),
    }


def test_a_licensed_deployment_plans_startback_and_odi_at_onset(patient_api, patient, licensed, clock):
    slots = questionnaire_slots(open_episode(patient_api, patient))
    assert {"questionnaire:startback:onset:0", "questionnaire:odi:onset:0", "questionnaire:peg:week:0"} <= set(slots)
    assert "questionnaire:odi:review:0" not in slots  # day 14 is beyond the week ahead: planned later


def test_the_day_14_review_is_planned_when_its_turn_comes(patient_api, patient, licensed, clock):
    episode_id = open_episode(patient_api, patient)
    clock.move_to(ONSET + timedelta(days=8))
    reminders_replan_open_episodes()
    slots = questionnaire_slots(episode_id)
    assert slots["questionnaire:odi:review:0"].due_at == datetime(2026, 11, 15, 19, 30, tzinfo=UTC)
    assert "questionnaire:startback:onset:0" not in slots  # its window (days 1-3) has closed


def test_answering_cancels_the_reminder_of_its_window(patient_api, patient, unlicensed, clock):
    episode_id = open_episode(patient_api, patient)
    body = {"questionnaire": "peg", "answers": {"pain": 4, "enjoyment": 3, "activity": 2}}
    assert patient_api.put(f"/api/questionnaire-responses/{uuid.uuid4()}/", body, format="json").status_code == 201
    assert Reminder.objects.get(episode_id=episode_id, slot="questionnaire:peg:week:0").status == "cancelled"
    assert "questionnaire:peg:week:1" in questionnaire_slots(episode_id)


def test_no_questionnaire_reminders_when_the_patient_turned_checkin_reminders_off(patient_api, patient, clock):
    patient.profile.notify_checkin = False
    patient.profile.save()
    assert questionnaire_slots(open_episode(patient_api, patient)) == {}


def test_the_payload_says_what_to_do_and_nothing_clinical(patient_api, patient, unlicensed, clock):
    reminder = questionnaire_slots(open_episode(patient_api, patient))["questionnaire:peg:week:0"]
    payload = reminder_payload(reminder)
    assert payload["tag"] == "questionnaire:peg:week:0" and payload["kind"] == "questionnaire"
    assert payload["title"] == "A few questions about your back"
    assert {a["action"] for a in payload["actions"]} == {"snooze", "skip"}
    assert payload["url"] == "/#/questionnaire"
