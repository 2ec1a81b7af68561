import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from recovery.episodes.models import Episode
from recovery.protocol.definition import ProtocolError
from recovery.treatment.models import Prescription, ProtocolVersion
from recovery.treatment.selectors import episode_protocol, episode_reminders_planned
from recovery.treatment.services import prescription_create, protocol_version_load

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(patient, physio):
    with time_machine.travel(ONSET, tick=False):
        return Episode.objects.create(
            patient=patient, onset=ONSET, protocol_version=ProtocolVersion.objects.get(version=1)
        )


def test_episode_opened_through_the_api_keeps_the_current_version(patient_api):
    with time_machine.travel(ONSET, tick=False):
        response = patient_api.post("/api/episodes/", {"onset": ONSET.isoformat()})
    assert Episode.objects.get(pk=response.json()["id"]).protocol_version.version == 2


def test_an_episode_of_v1_keeps_v1_and_takes_the_defaults_for_fields_v1_lacks(episode):
    from recovery.treatment.selectors import episode_protocol

    assert episode.protocol_version.version == 1
    assert episode_protocol(episode=episode).heat_until_day == 14


def test_loading_the_protocol_twice_changes_nothing():
    first, created_first = protocol_version_load()
    second, created_second = protocol_version_load()
    assert (created_first, created_second) == (False, False)  # the conftest loaded it
    assert first.pk == second.pk
    assert first.version == 2
    # v1 from the migration, v2 from the file: each episode keeps the version it began with.
    assert sorted(ProtocolVersion.objects.values_list("version", flat=True)) == [1, 2]


def test_a_changed_file_without_a_new_version_is_refused(tmp_path):
    source = tmp_path / "protocol.json"
    source.write_text('{"protocol": {"version": 1, "ice_on_min": 15}}')
    with pytest.raises(ProtocolError) as error:
        protocol_version_load(source=source)
    assert "bump the version" in str(error.value)


def test_a_file_outside_the_bounds_is_refused(tmp_path):
    source = tmp_path / "protocol.json"
    source.write_text('{"protocol": {"version": 3, "ice_on_min": 25}}')
    with pytest.raises(ProtocolError) as error:
        protocol_version_load(source=source)
    assert "ice_on_min" in error.value.errors
    assert not ProtocolVersion.objects.filter(version=3).exists()


def test_prescription_inside_the_bounds_applies_and_is_recorded(episode, physio):
    prescription = prescription_create(
        episode=episode, overrides={"ice_on_min": 15, "ice_off_min": 120}, author=physio, note="sensitive skin"
    )
    protocol = episode_protocol(episode=episode)
    assert (protocol.ice_on_min, protocol.ice_off_min, protocol.heat_on_min) == (15, 120, 20)
    assert (prescription.created_by, prescription.note) == (physio, "sensitive skin")


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"ice_on_min": 21}, "ice_on_min"),
        ({"ice_on_min": 4}, "ice_on_min"),
        ({"heat_on_min": 25}, "heat_on_min"),
        ({"ice_off_min": 59}, "ice_off_min"),
        ({"acute_hours": 47}, "acute_hours"),
        ({"acute_hours": 97}, "acute_hours"),
        ({"nsaid_flag_day": 5}, "nsaid_flag_day"),  # not prescribable
        ({"ice_on_min": "15"}, "ice_on_min"),
    ],
)
def test_prescription_outside_the_bounds_is_refused(episode, physio, overrides, field):
    with pytest.raises(ProtocolError) as error:
        prescription_create(episode=episode, overrides=overrides, author=physio)
    assert field in error.value.errors
    assert Prescription.objects.count() == 0


def test_the_newest_prescription_wins(episode, physio):
    prescription_create(episode=episode, overrides={"ice_on_min": 15}, author=physio)
    prescription_create(episode=episode, overrides={"ice_on_min": 10}, author=physio)
    assert episode_protocol(episode=episode).ice_on_min == 10


def test_ice_after_the_acute_phase_needs_a_prescription(patient_api, episode, physio):
    with time_machine.travel(ONSET + timedelta(hours=80), tick=False):
        refused = patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"})
        assert refused.status_code == 409
        assert "ice phase is over" in refused.json()["detail"]
        prescription_create(episode=episode, overrides={"ice_after_acute": True}, author=physio)
        allowed = patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"})
        assert allowed.status_code == 201, allowed.content


def test_planned_reminders_are_keyed_by_slot(episode):
    with time_machine.travel(ONSET + timedelta(minutes=1), tick=False):
        planned = episode_reminders_planned(episode=episode, now=ONSET + timedelta(minutes=1))
    assert planned["ice_start:onset:0"].due == ONSET
    assert all(slot == reminder.slot for slot, reminder in planned.items())
