"""GET /api/episodes/{id}/state/ reflects rest, medication and walks as the protocol says."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.conftest import client_for
from tests.factories import UserFactory

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def at(hours: float) -> datetime:
    return ONSET + timedelta(hours=hours)


@pytest.fixture
def clock():
    with time_machine.travel(at(0.25), tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_episode(patient_api, clock):
    response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert response.status_code == 201
    return response.json()["id"]


def state(client, episode_id) -> dict:
    response = client.get(f"/api/episodes/{episode_id}/state/")
    assert response.status_code == 200, response.content
    return response.json()


def warnings(client, episode_id) -> dict[str, dict]:
    return {w["code"]: w for w in state(client, episode_id)["warnings"]}


def put(client, path: str, body: dict) -> dict:
    response = client.put(f"/api/{path}/{uuid.uuid4()}/", body)
    assert response.status_code == 201, response.content
    return response.json()


# --- rest: a nudge at 24 h, the cap at 48 h, counted over every period since onset ------------------


def test_rest_nudge_at_24_hours_and_cap_at_48_hours_over_several_periods(patient_api, open_episode, clock):
    clock.move_to(at(30))
    for start, stop in ((1, 11), (13, 23)):
        put(patient_api, "rest", {"started_at": at(start).isoformat(), "stopped_at": at(stop).isoformat()})
    current = state(patient_api, open_episode)
    assert current["rest"]["total_minutes"] == 20 * 60
    assert not {"rest_nudge", "rest_cap"} & set(warnings(patient_api, open_episode))

    put(patient_api, "rest", {"started_at": at(25).isoformat(), "stopped_at": at(29).isoformat()})
    found = warnings(patient_api, open_episode)
    assert found["rest_nudge"]["level"] == "caution"
    assert "rest_cap" not in found

    # A running rest pushes the total on: 24 h more reach the 48 h cap, not a minute earlier.
    running = put(patient_api, "rest", {"started_at": at(30).isoformat()})
    current = state(patient_api, open_episode)
    assert current["rest"]["resting_since"] == running["started_at"]
    assert {r["kind"] for r in current["reminders"]} >= {"rest_limit"}
    clock.move_to(at(54) - timedelta(minutes=1))
    found = warnings(patient_api, open_episode)
    assert "rest_cap" not in found and "rest_nudge" in found
    clock.move_to(at(54))
    current = state(patient_api, open_episode)
    assert current["rest"]["total_minutes"] == 48 * 60
    found = {w["code"]: w for w in current["warnings"]}
    assert found["rest_cap"]["level"] == "alert"
    assert "gentle movement" in found["rest_cap"]["message"]
    assert "rest_nudge" not in found


def test_rest_nudge_follows_a_single_long_rest(patient_api, open_episode, clock):
    put(patient_api, "rest", {})
    clock.move_to(at(24.25) - timedelta(seconds=1))
    assert "rest_nudge" not in warnings(patient_api, open_episode)
    clock.move_to(at(24.25))
    assert "rest_nudge" in warnings(patient_api, open_episode)


# --- NSAIDs: days counted per local day, a warning from the 10th ----------------------------------


def test_nsaid_days_are_local_days_across_a_dst_change():
    berlin = ZoneInfo("Europe/Berlin")
    user = UserFactory(with_profile="Europe/Berlin")
    client = client_for(user)

    def local(day: int, hour: int, minute: int = 0) -> str:
        return datetime(2026, 10, day, hour, minute, tzinfo=berlin).isoformat()

    with time_machine.travel(datetime(2026, 10, 28, 12, 0, tzinfo=UTC), tick=False) as clock:
        onset = datetime(2026, 10, 19, 20, 0, tzinfo=UTC)  # 22:00 in Berlin
        episode = client.post("/api/episodes/", {"onset": onset.isoformat()}).json()["id"]
        # Nine local days, 20 to 28 October; Berlin leaves summer time on the 25th (a 25-hour day).
        for day in range(20, 29):
            for hour, minute in ((0, 30), (12, 0)):  # 00:30 local is still the previous day in UTC
                put(client, "medications", {"med_class": "nsaid", "dose_mg": 400, "taken_at": local(day, hour, minute)})
        put(client, "medications", {"med_class": "nsaid", "dose_mg": 400, "taken_at": local(25, 23, 30)})
        put(client, "medications", {"med_class": "acetaminophen", "dose_mg": 500, "taken_at": local(28, 8)})
        current = state(client, episode)
        # Counted by UTC date these would be ten days (19 to 28 October).
        assert current["nsaid_days"] == 9
        assert "nsaid_days" not in {w["code"] for w in current["warnings"]}

        clock.move_to(datetime(2026, 10, 29, 9, 0, tzinfo=UTC))
        put(client, "medications", {"med_class": "nsaid", "dose_mg": 200, "taken_at": local(29, 0, 30)})
        current = state(client, episode)
        assert current["nsaid_days"] == 10
        (warning,) = [w for w in current["warnings"] if w["code"] == "nsaid_days"]
        assert warning["level"] == "caution"
        assert "10 days" in warning["message"]


# --- muscle relaxants and opioids: no driving for 24 hours ----------------------------------------


@pytest.mark.parametrize("med_class", ["muscle_relaxant", "opioid"])
def test_sedating_medication_shows_no_driving_for_24_hours(patient_api, open_episode, clock, med_class):
    clock.move_to(at(5))
    put(patient_api, "medications", {"med_class": "nsaid", "dose_mg": 400})
    assert "no_driving" not in warnings(patient_api, open_episode)
    put(patient_api, "medications", {"med_class": med_class, "dose_mg": 10, "taken_at": at(4).isoformat()})
    caution = warnings(patient_api, open_episode)["no_driving"]
    assert caution["level"] == "caution"
    assert caution["until"] == "2026-11-03T13:00:00Z"
    assert "driving" in caution["message"] and "strenuous" in caution["message"]
    clock.move_to(at(28) - timedelta(seconds=1))
    assert "no_driving" in warnings(patient_api, open_episode)
    clock.move_to(at(28))
    assert "no_driving" not in warnings(patient_api, open_episode)


def test_a_later_dose_extends_the_no_driving_caution(patient_api, open_episode, clock):
    clock.move_to(at(10))
    put(patient_api, "medications", {"med_class": "muscle_relaxant", "dose_mg": 5, "taken_at": at(2).isoformat()})
    put(patient_api, "medications", {"med_class": "opioid", "dose_mg": 50, "taken_at": at(9).isoformat()})
    assert warnings(patient_api, open_episode)["no_driving"]["until"] == "2026-11-03T18:00:00Z"


# --- walks: ready to try running after 30 minutes without more pain -------------------------------


def test_ready_to_run_after_a_30_minute_walk_without_more_pain(patient_api, open_episode, clock):
    clock.move_to(at(10))

    def walk(start: float, minutes: int, before: int, after: int) -> None:
        body = {
            "kind": "walking",
            "started_at": at(start).isoformat(),
            "minutes": minutes,
            "pain_before": before,
            "pain_after": after,
        }
        put(patient_api, "activities", body)

    assert state(patient_api, open_episode)["ready_to_run"] is False
    walk(1, 29, 4, 3)  # too short
    walk(2, 45, 4, 5)  # long enough, but it hurt more
    assert state(patient_api, open_episode)["ready_to_run"] is False
    walk(4, 30, 4, 4)
    assert state(patient_api, open_episode)["ready_to_run"] is True
