"""The per-day rules written once (adherence, the fill of every local day), the patient's zone, and the
query parameters' exact error bodies."""

from datetime import date

import pytest

from backcare.accounts.models import Profile, User
from backcare.accounts.selectors import profile_zone
from recovery.timeline.daily import adherence_ratio, days_fill
from recovery.timeline.selectors import TIMELINE_KINDS
from tests.factories import CareLinkFactory, UserFactory


@pytest.mark.parametrize(
    ("done", "planned", "ratio"), [(0, 0, None), (3, 0, None), (0, 4, 0.0), (1, 3, 0.33), (2, 3, 0.67), (5, 4, 1.0)]
)
def test_adherence_is_done_over_planned_at_most_one(done, planned, ratio):
    assert adherence_ratio(done=done, planned=planned) == ratio


def test_every_day_of_the_range_is_filled_in_order():
    found = {date(2026, 3, 30): 4}
    rows = days_fill(first=date(2026, 3, 28), last=date(2026, 3, 31), row=lambda day: (day.day, found.get(day, 0)))
    assert rows == [(28, 0), (29, 0), (30, 4), (31, 0)]
    assert days_fill(first=date(2026, 3, 2), last=date(2026, 3, 1), row=lambda day: day) == []


@pytest.mark.django_db
def test_the_zone_is_the_profiles_else_utc(django_assert_num_queries):
    berliner = UserFactory(with_profile="Europe/Berlin")
    nobody = UserFactory()
    Profile.objects.filter(user=nobody).delete()
    with django_assert_num_queries(2):
        assert profile_zone(user=User.objects.get(pk=berliner.pk)).key == "Europe/Berlin"
    with django_assert_num_queries(2):
        assert profile_zone(user=User.objects.get(pk=nobody.pk)).key == "UTC"
    # Loaded with the user: no further query, whether or not there is a profile.
    with django_assert_num_queries(1):
        assert profile_zone(user=User.objects.select_related("profile").get(pk=berliner.pk)).key == "Europe/Berlin"
    with django_assert_num_queries(1):
        assert profile_zone(user=User.objects.select_related("profile").get(pk=nobody.pk)).key == "UTC"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("since=", {"since": ["Must be a date, YYYY-MM-DD."]}),
        ("until=2026-1-5", {"until": ["Must be a date, YYYY-MM-DD."]}),
        ("since=2026-11-02&until=2026-11-01", {"until": ["Must not be before since."]}),
        ("episode=", {"episode": ["Must be a valid UUID."]}),
        ("episode=nope", {"episode": ["Must be a valid UUID."]}),
        ("episode=00000000-0000-4000-8000-000000000000", {"episode": ["No such episode."]}),
        ("kinds=note,pizza", {"kinds": [f"Unknown: pizza. Choose from: {', '.join(TIMELINE_KINDS)}."]}),
        ("cursor=", {"detail": "Invalid cursor."}),
    ],
)
def test_query_parameters_are_refused_with_the_same_bodies(patient, physio, physio_api, query, body):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    response = physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?{query}")
    assert response.status_code == (404 if "cursor" in query else 400)
    assert response.json() == body


@pytest.mark.django_db
def test_the_care_link_status_filter_names_the_choices(patient_api):
    for query in ("status=nope", "status="):
        response = patient_api.get(f"/api/care/links/?{query}")
        assert response.status_code == 400
        assert response.json() == {"status": ["Must be one of active, revoked, discharged."]}
