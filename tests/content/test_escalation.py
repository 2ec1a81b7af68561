"""The check-in's escalation texts come from the library, worded as in the checklist version answered."""

import uuid

import pytest

from content.selectors import redflag_ruleset_current
from content.services import redflag_rules_load
from content.sources import checklist_read
from tests.content.conftest import edit

pytestmark = pytest.mark.django_db


def checkin(client, flags):
    response = client.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 8, "red_flags": flags})
    assert response.status_code == 201, response.content
    return response


def test_headline_actions_and_guidance_are_the_librarys(patient_api, episode):
    source = checklist_read()
    escalation = checkin(patient_api, {"saddle_numbness": True, "fever": True}).json()["escalation"]
    assert escalation["level"] == "emergency"
    assert escalation["headline"] == source.levels["emergency"]["headline"]
    assert escalation["actions"] == source.levels["emergency"]["actions"]
    guidance = {rule.code: rule.guidance for rule in source.rules}
    assert [(f["code"], f["guidance"]) for f in escalation["flags"]] == [
        ("saddle_numbness", guidance["saddle_numbness"]),
        ("fever", guidance["fever"]),
    ]


def test_an_edited_checklist_changes_new_escalations_and_leaves_earlier_ones_as_answered(
    patient_api, episode, library_copy
):
    earlier = checkin(patient_api, {"pain_worse_or_spreading": True})
    old_headline = earlier.json()["escalation"]["headline"]

    path = library_copy / "red-flags" / "checklist.yaml"
    edit(path, "headline: Arrange to see a doctor or physiotherapist soon", "headline: Book a check-up this week")
    edit(path, "- Keep logging your pain", "- Write down when the pain is worst, and keep logging your pain")
    edit(
        library_copy / "red-flags" / "pain_worse_or_spreading.md",
        "Arrange to see a doctor or physiotherapist in the next few days.",
        "Please see a doctor or physiotherapist within a few days.",
    )
    ruleset, created = redflag_rules_load(root=library_copy)
    assert created and redflag_ruleset_current() == ruleset

    escalation = checkin(patient_api, {"pain_worse_or_spreading": True}).json()["escalation"]
    assert escalation["headline"] == "Book a check-up this week"
    assert escalation["actions"][1].startswith("Write down when the pain is worst")
    assert escalation["flags"][0]["guidance"].startswith("Please see a doctor")

    replay = patient_api.get(f"/api/checkins/{earlier.json()['id']}/").json()["escalation"]
    assert replay["headline"] == old_headline  # the version the patient answered
