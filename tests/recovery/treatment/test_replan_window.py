"""Re-planning reads a bounded history (recovery.treatment.selectors.applications_needed, the SQL twin of
recovery/protocol/window.py): the same rows as the pure window, the same plan as on the whole history, and the
same number of queries with 5 applications as with 500."""

import dataclasses
import random
import uuid
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recovery.protocol import engine, window
from recovery.treatment.models import Application
from recovery.treatment.selectors import applications_needed, episode_situation
from tests.factories import EpisodeFactory


def _history(episode, count: int, *, seed: int, running: bool) -> None:
    rng = random.Random(seed)
    now = timezone.now()
    rows, at = [], now - timedelta(hours=1)
    for _ in range(count):
        at -= timedelta(minutes=rng.choice([0, 30, 90, 200, 600]))  # 0: equal starts
        ending = rng.choice(["stopped", "stopped", "auto_closed"])
        rows.append(
            Application(
                patient=episode.patient,
                episode=episode,
                client_uuid=uuid.uuid4(),
                kind=rng.choice(["ice", "heat"]),
                started_at=at,
                stopped_at=at + timedelta(minutes=rng.randint(1, 20)),
                auto_closed=ending == "auto_closed",
            )
        )
    if running:
        rows.append(
            Application(patient=episode.patient, episode=episode, client_uuid=uuid.uuid4(), kind="heat", started_at=at)
        )
    Application.objects.bulk_create(rows)


def _whole(episode) -> tuple[engine.Application, ...]:
    return tuple(
        engine.Application(str(a.client_uuid), a.kind, a.started_at, a.stopped_at, a.auto_closed)
        for a in Application.objects.filter(episode=episode).order_by("started_at", "id")
    )


def test_the_bounded_read_is_the_window_and_plans_alike(patient):
    for seed, running in ((1, False), (2, True), (3, False)):
        episode = EpisodeFactory(patient=patient, onset=timezone.now() - timedelta(days=60))
        _history(episode, 300, seed=seed, running=running)
        whole = _whole(episode)
        for now in (timezone.now(), timezone.now() - timedelta(days=3), timezone.now() + timedelta(days=1)):
            read = episode_situation(episode=episode, now=now)
            assert read.applications == window.needed(whole, now)
            assert len(read.applications) < len(whole)
            assert engine.plan(read) == engine.plan(dataclasses.replace(read, applications=whole))
        episode.delete()


def test_the_read_costs_the_same_queries_whatever_the_history(patient, other_patient):
    small = EpisodeFactory(patient=patient, onset=timezone.now() - timedelta(days=60))
    huge = EpisodeFactory(patient=other_patient, onset=timezone.now() - timedelta(days=60))
    _history(small, 5, seed=4, running=False)
    _history(huge, 500, seed=4, running=False)
    counts = []
    for episode in (small, huge):
        with CaptureQueriesContext(connection) as queries:
            episode_situation(episode=episode, now=timezone.now())
        counts.append(len(queries))
    assert counts[0] == counts[1]
    rows = applications_needed(episode=huge, now=timezone.now()).count()
    assert rows <= 500 // 3 + 30  # every auto-closed one (safety), the last two days, one anchor
