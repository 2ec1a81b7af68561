"""PATCH /api/me/profile/ heat_reminders_per_day: fewer heat reminders a day, validated, never half-written."""

import pytest

from backcare.accounts.models import Profile

pytestmark = pytest.mark.django_db

URL = "/api/me/profile/"


@pytest.mark.parametrize("value", [1, 3, 8, None])
def test_a_valid_preference_is_stored_and_read_back(patient_api, patient, value):
    response = patient_api.patch(URL, {"heat_reminders_per_day": value}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["heat_reminders_per_day"] == value
    assert Profile.objects.get(user=patient).heat_reminders_per_day == value
    assert patient_api.get(URL).json()["heat_reminders_per_day"] == value


@pytest.mark.parametrize("value", [0, 9, -1, 2.5, "3", True, [3], {"n": 3}])
def test_a_bad_preference_is_a_400_naming_the_field_and_changes_nothing(patient_api, patient, value):
    patient_api.patch(URL, {"heat_reminders_per_day": 2}, format="json")
    response = patient_api.patch(URL, {"heat_reminders_per_day": value, "desk_worker": True}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["heat_reminders_per_day"]
    profile = Profile.objects.get(user=patient)
    assert (profile.heat_reminders_per_day, profile.desk_worker) == (2, False)


def test_the_model_refuses_out_of_bounds_too():
    from django.core.exceptions import ValidationError

    profile = Profile(heat_reminders_per_day=9)
    with pytest.raises(ValidationError) as caught:
        profile.full_clean(exclude=["user"])
    assert "heat_reminders_per_day" in caught.value.message_dict
