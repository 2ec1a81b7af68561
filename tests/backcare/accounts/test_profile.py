"""GET/PATCH /api/me/profile/: time zone, sleep window and notification switches."""

import pytest
from rest_framework.test import APIClient

from backcare.accounts.models import Profile, User
from backcare.accounts.services import profile_update
from backcare.accounts.signals import profile_changed
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/api/me/profile/"

DEFAULTS = {
    "timezone": "UTC",
    "sleep_start": "23:00:00",
    "sleep_end": "07:00:00",
    "desk_worker": False,
    "notify_treatment": True,
    "notify_checkin": True,
    "notify_movement": True,
    "heat_reminders_per_day": None,
}


def settings_of(data: dict) -> dict:
    return {key: data[key] for key in DEFAULTS}


def stored(user) -> dict:
    profile = Profile.objects.get(user=user)
    return {
        "timezone": profile.timezone,
        "sleep_start": profile.sleep_start.isoformat(),
        "sleep_end": profile.sleep_end.isoformat(),
        "desk_worker": profile.desk_worker,
        "notify_treatment": profile.notify_treatment,
        "notify_checkin": profile.notify_checkin,
        "notify_movement": profile.notify_movement,
        "heat_reminders_per_day": profile.heat_reminders_per_day,
    }


# --- read ------------------------------------------------------------------------------------


def test_defaults(patient_api):
    response = patient_api.get(URL)
    assert response.status_code == 200, response.content
    data = response.json()
    assert settings_of(data) == DEFAULTS
    assert set(data) == set(DEFAULTS) | {"updated_at"}
    assert data["updated_at"]


def test_a_user_without_a_profile_gets_the_defaults():
    user = User.objects.create_user(email="bare@example.test", password=PASSWORD)
    assert not Profile.objects.filter(user=user).exists()
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(URL)
    assert response.status_code == 200, response.content
    assert settings_of(response.json()) == DEFAULTS
    assert Profile.objects.filter(user=user).count() == 1


def test_anonymous_is_refused(patient):
    assert APIClient().get(URL).status_code == 401
    assert APIClient().patch(URL, {"timezone": "Asia/Tokyo"}).status_code == 401
    assert stored(patient) == DEFAULTS


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_not_allowed(patient_api, patient, method):
    response = getattr(patient_api, method)(URL, {"timezone": "Asia/Tokyo"})
    assert response.status_code == 405
    assert stored(patient) == DEFAULTS


# --- time zone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "America/Argentina/Buenos_Aires"]
)
def test_valid_iana_zone_is_stored(patient_api, patient, zone):
    response = patient_api.patch(URL, {"timezone": zone})
    assert response.status_code == 200, response.content
    assert response.json()["timezone"] == zone
    assert stored(patient)["timezone"] == zone
    assert patient_api.get(URL).json()["timezone"] == zone


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "utc", "europe/berlin", "+02:00", "GMT+2x", "Europe/", "../../etc/passwd", "", None, 5],
)
def test_invalid_zone_is_refused_naming_timezone(patient_api, patient, zone):
    response = patient_api.patch(URL, {"timezone": zone})
    assert response.status_code == 400, response.content
    assert "timezone" in response.json()
    assert stored(patient) == DEFAULTS


# --- sleep window ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("22:00", "06:00"),  # 8 h across midnight
        ("22:00", "01:00"),  # exactly 3 h
        ("20:00", "10:00"),  # exactly 14 h
        ("01:00", "09:30"),  # inside one calendar day
        ("13:00", "16:00"),  # a night-shift worker sleeping in the afternoon
    ],
)
def test_valid_sleep_window(patient_api, patient, start, end):
    response = patient_api.patch(URL, {"sleep_start": start, "sleep_end": end})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["sleep_start"] == f"{start}:00"
    assert data["sleep_end"] == f"{end}:00"
    assert stored(patient)["sleep_start"] == f"{start}:00"
    assert stored(patient)["sleep_end"] == f"{end}:00"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("23:00", "23:00"),  # start == end: no window at all (or 24 h)
        ("07:00", "07:00"),
        ("22:00", "00:59"),  # 2 h 59 min
        ("20:00", "10:01"),  # 14 h 1 min
        ("07:00", "23:00"),  # 16 h: start and end swapped
        ("23:30", "00:30"),  # 1 h
    ],
)
def test_sleep_window_outside_3_to_14_hours_is_refused(patient_api, patient, start, end):
    response = patient_api.patch(URL, {"sleep_start": start, "sleep_end": end})
    assert response.status_code == 400, response.content
    errors = response.json()
    assert {"sleep_start", "sleep_end"} & set(errors), errors
    assert stored(patient) == DEFAULTS


def test_sleep_window_is_checked_against_the_stored_other_end(patient_api, patient):
    # Stored 23:00-07:00; moving only the start to 05:00 leaves a 2 h window.
    response = patient_api.patch(URL, {"sleep_start": "05:00"})
    assert response.status_code == 400
    assert {"sleep_start", "sleep_end"} & set(response.json())
    # Moving only the end to 23:00 makes start == end.
    assert patient_api.patch(URL, {"sleep_end": "23:00"}).status_code == 400
    assert stored(patient) == DEFAULTS
    # Moving only the start to 21:00 is a 10 h window and keeps the stored end.
    response = patient_api.patch(URL, {"sleep_start": "21:00"})
    assert response.status_code == 200, response.content
    assert response.json()["sleep_end"] == "07:00:00"
    assert stored(patient) == {**DEFAULTS, "sleep_start": "21:00:00"}


@pytest.mark.parametrize("value", ["25:00", "7am", "", None, 700, "2026-01-01T23:00:00Z"])
def test_malformed_times_are_refused(patient_api, patient, value):
    response = patient_api.patch(URL, {"sleep_start": value})
    assert response.status_code == 400, response.content
    assert "sleep_start" in response.json()
    assert stored(patient) == DEFAULTS


# --- partial updates and strictness ----------------------------------------------------------


def test_partial_update_keeps_the_other_fields(patient_api, patient):
    first = patient_api.patch(URL, {"timezone": "Europe/Berlin", "desk_worker": True, "notify_checkin": False})
    assert first.status_code == 200, first.content
    expected = {**DEFAULTS, "timezone": "Europe/Berlin", "desk_worker": True, "notify_checkin": False}
    assert settings_of(first.json()) == expected

    second = patient_api.patch(URL, {"notify_movement": False})
    assert second.status_code == 200, second.content
    expected["notify_movement"] = False
    assert settings_of(second.json()) == expected
    assert stored(patient) == expected
    assert settings_of(patient_api.get(URL).json()) == expected


def test_empty_patch_changes_nothing(patient_api, patient):
    response = patient_api.patch(URL, {})
    assert response.status_code == 200, response.content
    assert settings_of(response.json()) == DEFAULTS
    assert stored(patient) == DEFAULTS


@pytest.mark.parametrize("flag", ["notify_treatment", "notify_checkin", "notify_movement", "desk_worker"])
def test_switches_can_be_flipped(patient_api, patient, flag):
    value = not DEFAULTS[flag]
    response = patient_api.patch(URL, {flag: value})
    assert response.status_code == 200, response.content
    assert response.json()[flag] is value
    assert stored(patient) == {**DEFAULTS, flag: value}


@pytest.mark.parametrize(
    "field",
    ["user", "user_id", "id", "email", "role", "is_staff", "updated_at", "notify_safety", "sleepstart"],
)
def test_unknown_or_read_only_field_is_refused(patient_api, patient, field):
    # Even alongside a valid change, nothing is stored.
    response = patient_api.patch(URL, {"timezone": "Asia/Tokyo", field: "x"})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert stored(patient) == DEFAULTS
    assert User.objects.get(pk=patient.pk).role == "patient"


@pytest.mark.parametrize("body", [[], ["timezone"], "timezone", 3])
def test_non_object_body_is_refused(patient_api, patient, body):
    response = patient_api.patch(URL, body)
    assert response.status_code == 400, response.content
    assert stored(patient) == DEFAULTS


def test_patch_changes_only_the_callers_profile(patient_api, patient, other_patient):
    assert patient_api.patch(URL, {"timezone": "Asia/Tokyo", "desk_worker": True}).status_code == 200
    assert stored(other_patient) == DEFAULTS


# --- physiotherapists ------------------------------------------------------------------------


def test_physio_reads_and_patches_their_own_profile(physio_api, physio, patient):
    response = physio_api.get(URL)
    assert response.status_code == 200, response.content
    assert settings_of(response.json()) == DEFAULTS

    response = physio_api.patch(URL, {"timezone": "Europe/Vienna", "sleep_start": "22:00", "notify_checkin": False})
    assert response.status_code == 200, response.content
    expected = {**DEFAULTS, "timezone": "Europe/Vienna", "sleep_start": "22:00:00", "notify_checkin": False}
    assert settings_of(response.json()) == expected
    assert stored(physio) == expected
    assert stored(patient) == DEFAULTS


def test_physio_profile_is_validated_too(physio_api, physio):
    assert physio_api.patch(URL, {"timezone": "Nowhere/Special"}).status_code == 400
    assert physio_api.patch(URL, {"sleep_start": "07:00"}).status_code == 400
    assert stored(physio) == DEFAULTS


# --- profile_changed: how apps built on accounts follow a change ------------------------------


@pytest.fixture
def receivers():
    connected = []
    yield connected.append
    for receiver in connected:
        profile_changed.disconnect(receiver)


def test_a_change_is_signalled_with_the_saved_profile(patient_api, patient, receivers):
    seen = []

    def receiver(sender, *, user, profile, **kwargs):
        seen.append((sender, user, Profile.objects.get(pk=profile.pk).timezone))

    profile_changed.connect(receiver)
    receivers(receiver)
    assert patient_api.patch(URL, {"timezone": "Asia/Tokyo"}).status_code == 200
    assert seen == [(Profile, patient, "Asia/Tokyo")]


def test_a_receiver_that_fails_rolls_the_change_back(patient, receivers):
    # Receivers write in the profile's transaction (recovery re-plans reminders there): all or nothing.
    def receiver(**kwargs):
        raise RuntimeError("re-plan failed")

    profile_changed.connect(receiver)
    receivers(receiver)
    with pytest.raises(RuntimeError):
        profile_update(user=patient, data={"timezone": "Asia/Tokyo"})
    assert stored(patient) == DEFAULTS


def test_recovery_replans_reminders_on_a_change():
    # Connected by recovery/apps.py; the reminders' own tests (tests/recovery/reminders) check what moves.
    uids = [lookup_key[0] for lookup_key, *_ in profile_changed.receivers]
    assert "recovery.reminders_replan_for_profile" in uids
