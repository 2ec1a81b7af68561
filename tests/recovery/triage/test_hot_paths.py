"""The triage queue and the timeline build their JSON by hand (speed); it must be exactly what their
documented serializers (the OpenAPI schema) would write."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.renderers import JSONRenderer

from recovery.care.models import CareNote
from recovery.episodes.models import CheckIn, Episode
from recovery.timeline.api import serializers as timeline_api
from recovery.timeline.selectors import patient_timeline
from recovery.treatment.models import Application
from recovery.triage.api import serializers as triage_api
from recovery.triage.selectors import triage_rows
from tests.factories import CareLinkFactory, EpisodeFactory, UserFactory, history_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _json(data) -> object:
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def queue(physio):
    with time_machine.travel(NOW, tick=False):
        for i, zone in enumerate(("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")):
            patient = UserFactory(with_profile=zone)
            CareLinkFactory(
                patient=patient,
                physiotherapist=physio,
                consented_at=NOW - timedelta(days=30),
                last_reviewed_at=NOW - timedelta(days=1) if i % 2 else None,
            )
            if i == 3:
                continue  # no episode at all
            episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=4 + 5 * i))
            history_create(episode=episode, start=episode.onset + timedelta(hours=1), days=3 + 5 * i, author=physio)
            if i == 2:
                Episode.objects.filter(pk=episode.pk).update(status="resolved", resolved_at=NOW - timedelta(hours=3))
        yield physio


def test_triage_rows_are_what_the_serializer_writes(queue):
    with time_machine.travel(NOW, tick=False):
        rows = triage_rows(physiotherapist=queue)
    assert len(rows) == 4
    assert _json([triage_api.triage_row_data(row) for row in rows]) == _json(
        triage_api.TriageRowSerializer(rows, many=True).data
    )


def test_timeline_entries_are_what_the_serializer_writes(queue):
    patient = Episode.objects.order_by("onset").first().patient
    with time_machine.travel(NOW, tick=False):
        entries = patient_timeline(patient=patient, limit=200).entries
    assert {entry.kind for entry in entries} >= {"checkin", "application", "medication", "activity", "note"}
    fast = _json([timeline_api.timeline_entry_data(entry) for entry in entries])
    assert fast == _json(timeline_api.TimelineEntrySerializer(entries, many=True).data)


def test_the_compiled_timeline_query_serves_each_patient_their_own_rows(physio):
    """The union's SQL is compiled once per shape; the values of each call must be the ones used."""
    with time_machine.travel(NOW, tick=False):
        patients = []
        for days in (2, 3):
            patient = UserFactory()
            episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=days + 1))
            history_create(episode=episode, start=NOW - timedelta(days=days), days=days, author=physio)
            patients.append((patient, episode))
        for patient, episode in patients * 2:
            ids = {
                kind: set(model.objects.filter(**{field: patient}).values_list("pk", flat=True))
                for kind, model, field in (
                    ("checkin", CheckIn, "patient"),
                    ("application", Application, "patient"),
                    ("note", CareNote, "patient"),
                )
            }
            first = patient_timeline(patient=patient, episode_id=episode.pk, limit=5)
            rest = patient_timeline(
                patient=patient, episode_id=episode.pk, after=first.next, since=episode.onset, until=NOW, limit=500
            )
            for entry in first.entries + rest.entries:
                assert entry.data["episode"] == str(episode.pk)
                if entry.kind in ids:
                    assert entry.id in ids[entry.kind]
            assert len(first.entries) == 5 and first.next is not None
            assert {e.cursor for e in first.entries}.isdisjoint({e.cursor for e in rest.entries})
