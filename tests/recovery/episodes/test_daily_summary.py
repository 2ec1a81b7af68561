"""The daily summary groups by the patient's local calendar day, right across DST changes."""

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from backcare.accounts.models import Profile

pytestmark = pytest.mark.django_db


def _log(client, when: str, pain: int) -> None:
    response = client.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": pain, "occurred_at": when})
    assert response.status_code == 201, response.content


def _set_zone(user, zone: str) -> None:
    Profile.objects.filter(user=user).update(timezone=zone)


@time_machine.travel(datetime(2026, 10, 27, 12, 0, tzinfo=ZoneInfo("UTC")), tick=False)
def test_autumn_change_in_berlin(patient_api, patient):
    _set_zone(patient, "Europe/Berlin")
    episode = patient_api.post("/api/episodes/", {"onset": "2026-10-24T20:00:00+02:00"}).json()
    _log(patient_api, "2026-10-24T23:30:00+02:00", 8)  # Oct 24 local (21:30 UTC)
    _log(patient_api, "2026-10-25T00:30:00+02:00", 7)  # Oct 25 local, still Oct 24 in UTC
    _log(patient_api, "2026-10-25T02:30:00+02:00", 6)  # the first 02:30 of the 25-hour day
    _log(patient_api, "2026-10-25T02:30:00+01:00", 5)  # the second 02:30, one hour later
    _log(patient_api, "2026-10-25T23:30:00+01:00", 4)  # Oct 25 local (22:30 UTC)
    _log(patient_api, "2026-10-26T00:30:00+01:00", 3)  # Oct 26 local, still Oct 25 in UTC
    response = patient_api.get(f"/api/episodes/{episode['id']}/daily/")
    assert response.status_code == 200
    data = response.json()
    assert data["timezone"] == "Europe/Berlin"
    days = {d["date"]: d for d in data["days"]}
    assert list(days) == ["2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27"]
    assert (days["2026-10-24"]["count"], days["2026-10-24"]["pain_max"]) == (1, 8)
    assert days["2026-10-25"] == {"date": "2026-10-25", "count": 4, "pain_min": 4, "pain_max": 7, "pain_mean": 5.5}
    assert (days["2026-10-26"]["count"], days["2026-10-26"]["pain_min"]) == (1, 3)
    assert days["2026-10-27"] == {
        "date": "2026-10-27",
        "count": 0,
        "pain_min": None,
        "pain_max": None,
        "pain_mean": None,
    }


@time_machine.travel(datetime(2026, 3, 9, 18, 0, tzinfo=ZoneInfo("UTC")), tick=False)
def test_spring_change_in_new_york(patient_api, patient):
    _set_zone(patient, "America/New_York")
    episode = patient_api.post("/api/episodes/", {"onset": "2026-03-07T18:00:00-05:00"}).json()
    _log(patient_api, "2026-03-07T23:30:00-05:00", 9)  # Mar 7 local, Mar 8 in UTC
    _log(patient_api, "2026-03-08T01:30:00-05:00", 8)  # before the jump
    _log(patient_api, "2026-03-08T03:30:00-04:00", 6)  # after the jump (the 23-hour day)
    _log(patient_api, "2026-03-08T23:30:00-04:00", 5)  # Mar 8 local, Mar 9 in UTC
    days = {d["date"]: d for d in patient_api.get(f"/api/episodes/{episode['id']}/daily/").json()["days"]}
    assert days["2026-03-07"]["count"] == 1
    assert days["2026-03-08"] == {"date": "2026-03-08", "count": 3, "pain_min": 5, "pain_max": 8, "pain_mean": 6.33}
    assert days["2026-03-09"]["count"] == 0


@time_machine.travel(datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("UTC")), tick=False)
def test_a_zone_change_regroups_the_same_instants(patient_api, patient):
    episode = patient_api.post("/api/episodes/", {"onset": "2026-11-21T20:00:00Z"}).json()
    _log(patient_api, "2026-11-21T23:30:00Z", 6)
    utc_days = patient_api.get(f"/api/episodes/{episode['id']}/daily/").json()["days"]
    assert [(d["date"], d["count"]) for d in utc_days] == [("2026-11-21", 1), ("2026-11-22", 0)]
    _set_zone(patient, "Asia/Tokyo")
    tokyo_days = patient_api.get(f"/api/episodes/{episode['id']}/daily/").json()["days"]
    assert [(d["date"], d["count"]) for d in tokyo_days] == [("2026-11-22", 1)]
