import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from recovery.episodes.models import Episode
from tests.factories import EpisodeFactory, UserFactory

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def test_open_episode(patient_api, patient):
    response = patient_api.post(
        "/api/episodes/", {"onset": "2026-11-22T09:30:00+01:00", "trigger": "twisting", "notes": "bent to the dryer"}
    )
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "open"
    assert data["onset"] == "2026-11-22T08:30:00Z"
    assert data["trigger"] == "twisting"
    assert data["resolved_at"] is None
    assert Episode.objects.get(pk=data["id"]).patient == patient


def test_trigger_defaults_to_unknown(patient_api):
    response = patient_api.post("/api/episodes/", {"onset": "2026-11-22T09:00:00Z"})
    assert response.status_code == 201
    assert response.json()["trigger"] == "unknown"


def test_second_open_episode_is_a_conflict(patient_api, episode):
    response = patient_api.post("/api/episodes/", {"onset": "2026-11-22T09:00:00Z"})
    assert response.status_code == 409
    assert response.json()["open_episode"] == str(episode.id)
    assert Episode.objects.filter(patient=episode.patient).count() == 1


def test_clock_skew_within_five_minutes_is_accepted(patient_api):
    assert patient_api.post("/api/episodes/", {"onset": "2026-11-22T10:04:00Z"}).status_code == 201


@pytest.mark.parametrize(
    "onset,reason",
    [("2026-11-22T10:06:00Z", "future"), ("2026-10-23T09:59:00Z", "30 days")],
)
def test_onset_bounds(patient_api, onset, reason):
    response = patient_api.post("/api/episodes/", {"onset": onset})
    assert response.status_code == 400
    assert reason in response.json()["onset"][0]
    assert Episode.objects.count() == 0


def test_onset_exactly_thirty_days_back_is_accepted(patient_api):
    assert patient_api.post("/api/episodes/", {"onset": "2026-10-23T10:00:00Z"}).status_code == 201


def test_replayed_open_with_client_uuid_returns_the_same_episode(patient_api):
    body = {"onset": "2026-11-22T09:00:00Z", "trigger": "sport", "client_uuid": str(uuid.uuid4())}
    first = patient_api.post("/api/episodes/", body)
    second = patient_api.post("/api/episodes/", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Episode.objects.count() == 1
    changed = patient_api.post("/api/episodes/", {**body, "trigger": "lifting"})
    assert changed.status_code == 409
    assert "client_uuid" in changed.json()


def test_list_and_detail(patient_api, patient):
    old = EpisodeFactory(
        patient=patient,
        onset=NOW - timedelta(days=20),
        status="resolved",
        resolved_at=NOW - timedelta(days=10),
    )
    current = EpisodeFactory(patient=patient, onset=NOW - timedelta(hours=3))
    response = patient_api.get("/api/episodes/")
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [str(current.id), str(old.id)]
    detail = patient_api.get(f"/api/episodes/{old.id}/")
    assert detail.status_code == 200
    assert detail.json()["status"] == "resolved"


def test_list_is_cursor_paginated(patient_api, patient):
    for days in range(1, 8):
        EpisodeFactory(
            patient=patient,
            onset=NOW - timedelta(days=days * 2),
            status="resolved",
            resolved_at=NOW - timedelta(days=days * 2 - 1),
        )
    seen = []
    url = "/api/episodes/?limit=3"
    while url:
        page = patient_api.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]
    assert len(seen) == 7 == len(set(seen))


def test_resolve(patient_api, episode):
    response = patient_api.post(f"/api/episodes/{episode.id}/resolve/", {})
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["resolved_at"] == "2026-11-22T10:00:00Z"
    again = patient_api.post(f"/api/episodes/{episode.id}/resolve/", {})
    assert again.status_code == 409
    # A new episode may now be opened.
    assert patient_api.post("/api/episodes/", {"onset": "2026-11-22T09:59:00Z"}).status_code == 201


def test_resolve_with_explicit_instant(patient_api, episode):
    response = patient_api.post(f"/api/episodes/{episode.id}/resolve/", {"resolved_at": "2026-11-22T09:30:00Z"})
    assert response.status_code == 200
    assert response.json()["resolved_at"] == "2026-11-22T09:30:00Z"


def test_resolve_before_onset_is_refused(patient_api, episode):
    response = patient_api.post(f"/api/episodes/{episode.id}/resolve/", {"resolved_at": "2026-11-21T09:30:00Z"})
    assert response.status_code == 400
    assert "resolved_at" in response.json()
    episode.refresh_from_db()
    assert episode.status == "open"


def test_unknown_episode_is_404(patient_api):
    assert patient_api.get(f"/api/episodes/{uuid.uuid4()}/").status_code == 404
    assert patient_api.post(f"/api/episodes/{uuid.uuid4()}/resolve/", {}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_give_one_201_and_one_409():
    """Two requests race past the application check; the partial unique index decides."""
    user = UserFactory()
    barrier = threading.Barrier(2)
    statuses = []

    def open_episode():
        client = APIClient()
        client.force_authenticate(user)
        barrier.wait()
        try:
            statuses.append(client.post("/api/episodes/", {"onset": "2026-11-22T09:00:00Z"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_episode) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    assert Episode.objects.filter(patient=user, status="open").count() == 1


@pytest.mark.django_db(transaction=True)
def test_database_refuses_a_second_open_episode():
    from django.db import IntegrityError

    user = UserFactory()
    Episode.objects.create(patient=user, onset=NOW)
    with pytest.raises(IntegrityError):
        Episode.objects.create(patient=user, onset=NOW)
