"""One patient's timeline and daily aggregates, as their physiotherapist reads them."""

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backcare.accounts.models import Profile
from recovery.episodes.models import Episode, EpisodePause, RedFlagEvent
from recovery.reminders.models import Reminder
from recovery.timeline.selectors import TIMELINE_KINDS, TimelineCursor
from recovery.treatment.models import Application
from recovery.triage.models import ClinicianAlert
from tests.factories import CareLinkFactory, CheckInFactory, EpisodeFactory, UserFactory, history_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rich(clock, patient, physio):
    """A linked patient with five days of every kind of event."""
    CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=NOW - timedelta(days=10))
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=6))
    history_create(episode=episode, start=NOW - timedelta(days=5, hours=12), days=5, author=physio)
    # Issue 13: an emergency's alert, acknowledged, and its pause, resumed.
    event = RedFlagEvent.objects.filter(episode=episode).first()
    raised = NOW - timedelta(days=2)
    ClinicianAlert.objects.create(
        patient=patient,
        episode=episode,
        redflag_event=event,
        severity="emergency",
        raised_at=raised,
        acknowledged_at=raised + timedelta(minutes=7),
        acknowledged_by=physio,
    )
    EpisodePause.objects.create(
        episode=episode,
        patient=patient,
        redflag_event=event,
        started_at=raised,
        ended_at=raised + timedelta(hours=3),
        end_reason="resumed",
    )
    return episode


def _all_pages(api, url: str) -> list[dict]:
    rows, pages = [], 0
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        rows += response.json()["results"]
        url = response.json()["next"]
        pages += 1
        assert pages < 200
    return rows


def _key(row: dict) -> tuple:
    return (datetime.fromisoformat(row["at"]), row["kind"], row["ref"])


def test_every_kind_is_merged_newest_first(rich, physio_api, patient):
    rows = _all_pages(physio_api, f"/api/physio/patients/{patient.pk}/timeline/?limit=200")
    assert {row["kind"] for row in rows} == set(TIMELINE_KINDS)
    keys = [_key(row) for row in rows]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == len(keys)
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["checkin"]["data"]["episode"] == str(rich.id)
    assert by_kind["application"]["ends_at"] is not None
    assert by_kind["activity"]["ends_at"] is not None
    assert by_kind["medication"]["data"]["dose_mg"] == 400
    assert by_kind["prescription"]["data"]["overrides"] == {"ice_on_min": 15}
    assert by_kind["redflag"]["data"]["level"] == "emergency"
    assert by_kind["reminder_ack"]["data"]["action"] == "done"
    assert by_kind["note"]["data"]["text"].startswith("note ")


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_pages_neither_repeat_nor_skip(rich, physio_api, patient, limit):
    whole = _all_pages(physio_api, f"/api/physio/patients/{patient.pk}/timeline/?limit=200")
    paged = _all_pages(physio_api, f"/api/physio/patients/{patient.pk}/timeline/?limit={limit}")
    assert [_key(row) for row in paged] == [_key(row) for row in whole]


def test_ties_on_the_instant_are_ordered_by_kind_and_id(clock, patient, physio, physio_api):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=1))
    same = NOW - timedelta(hours=2)
    for _ in range(3):
        CheckInFactory(episode=episode, occurred_at=same)
    Application.objects.create(
        patient=patient, episode=episode, client_uuid=uuid.uuid4(), kind="heat", started_at=same, stopped_at=NOW
    )
    paged = _all_pages(physio_api, f"/api/physio/patients/{patient.pk}/timeline/?limit=1")
    assert [row["kind"] for row in paged] == ["checkin", "checkin", "checkin", "application"]
    refs = [row["ref"] for row in paged[:3]]
    assert refs == sorted(refs, reverse=True)


def test_filter_by_kinds(rich, physio_api, patient):
    rows = _all_pages(physio_api, f"/api/physio/patients/{patient.pk}/timeline/?kinds=note,redflag&limit=200")
    assert {row["kind"] for row in rows} == {"note", "redflag"}
    assert len(rows) == 6
    response = physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?kinds=checkin,nonsense")
    assert response.status_code == 400
    assert "kinds" in response.json()


def test_filter_by_local_dates_in_the_patients_zone(clock, patient, physio, physio_api):
    Profile.objects.filter(user=patient).update(timezone="Pacific/Auckland")  # UTC+13 in November
    CareLinkFactory(patient=patient, physiotherapist=physio)
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=3))
    # 2026-11-19 10:30 UTC is 2026-11-19 23:30 in Auckland; 11:30 UTC is already the 20th there.
    late = CheckInFactory(episode=episode, occurred_at=datetime(2026, 11, 19, 10, 30, tzinfo=UTC))
    CheckInFactory(episode=episode, occurred_at=datetime(2026, 11, 19, 11, 30, tzinfo=UTC))
    CheckInFactory(episode=episode, occurred_at=datetime(2026, 11, 18, 10, 59, tzinfo=UTC))  # the 18th, 23:59
    url = f"/api/physio/patients/{patient.pk}/timeline/?since=2026-11-19&until=2026-11-19"
    rows = _all_pages(physio_api, url)
    assert [row["data"]["id"] for row in rows] == [str(late.client_uuid)]
    assert physio_api.get(url.replace("until=2026-11-19", "until=2026-11-18")).status_code == 400
    assert physio_api.get(url.replace("since=2026-11-19", "since=yesterday")).status_code == 400


def test_filter_by_episode(rich, clock, patient, physio_api):
    Episode.objects.filter(pk=rich.pk).update(status="resolved", resolved_at=NOW - timedelta(hours=1))
    newer = EpisodeFactory(patient=patient, onset=NOW - timedelta(minutes=30))
    CheckInFactory(episode=newer, occurred_at=NOW - timedelta(minutes=10))
    rows = _all_pages(physio_api, f"/api/physio/patients/{patient.pk}/timeline/?episode={newer.id}")
    assert [row["kind"] for row in rows] == ["checkin"]
    other = EpisodeFactory(patient=UserFactory())
    response = physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?episode={other.id}")
    assert response.status_code == 400
    assert response.json() == {"episode": ["No such episode."]}


@pytest.mark.parametrize("cursor", ["garbage", "WyJ4IiwieSIsMV0", TimelineCursor(NOW, "nope", 1).encode()])
def test_a_cursor_not_made_here_is_not_found(rich, physio_api, patient, cursor):
    assert physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?cursor={cursor}").status_code == 404


# link lookup (+ the episode named), one UNION ALL for the page, the access-log insert; the daily view
# reads the link, the episode and three grouped tables.
QUERY_BUDGETS = {
    "timeline/": 3,
    "timeline/?limit=200&kinds=checkin,application,note": 3,
    "timeline/?episode={episode}&since=2026-11-01": 4,
    "daily/": 6,
}


def test_the_query_count_does_not_grow_with_the_data(clock, physio, physio_api, django_assert_max_num_queries):
    counts: dict[int, list[int]] = {}
    for days in (1, 30):
        patient = UserFactory()
        CareLinkFactory(patient=patient, physiotherapist=physio)
        episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=days + 1))
        history_create(episode=episode, start=NOW - timedelta(days=days), days=days, author=physio)
        for suffix, budget in QUERY_BUDGETS.items():
            url = f"/api/physio/patients/{patient.pk}/" + suffix.format(episode=episode.id)
            with django_assert_max_num_queries(budget) as ctx:
                response = physio_api.get(url)
            assert response.status_code == 200
            counts.setdefault(days, []).append(len(ctx))
    assert counts[1] == counts[30] == list(QUERY_BUDGETS.values())


def test_the_timeline_of_thirty_dense_days_pages_in_one_union_query(clock, physio, physio_api):
    patient = UserFactory()
    CareLinkFactory(patient=patient, physiotherapist=physio)
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=31))
    history_create(episode=episode, start=NOW - timedelta(days=30), days=30, author=physio)
    with CaptureQueriesContext(connection) as ctx:
        response = physio_api.get(f"/api/physio/patients/{patient.pk}/timeline/?limit=100")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100
    unions = [q["sql"] for q in ctx.captured_queries if "UNION ALL" in q["sql"]]
    assert len(unions) == 1
    # link lookup, the page, the access-log insert
    assert len(ctx) == 3


# --- daily aggregates ------------------------------------------------------------------------------


def test_daily_aggregates_follow_local_days_across_the_dst_change(patient, physio, physio_api):
    """Berlin leaves summer time on 2026-10-25 at 03:00 local: that day has 25 hours."""
    Profile.objects.filter(user=patient).update(timezone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=datetime(2026, 10, 1, tzinfo=UTC))
    onset = datetime(2026, 10, 24, 10, 0, tzinfo=berlin)
    with time_machine.travel(datetime(2026, 10, 24, 10, 5, tzinfo=berlin), tick=False):
        episode = EpisodeFactory(patient=patient, onset=onset)
    points = [
        (datetime(2026, 10, 24, 23, 59, tzinfo=berlin), 8),  # the 24th
        (datetime(2026, 10, 25, 0, 30, tzinfo=berlin), 7),  # 22:30 UTC on the 24th: the 25th in Berlin
        (datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=berlin), 6),  # first 02:30 (summer time)
        (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin), 5),  # second 02:30 (winter time)
        (datetime(2026, 10, 25, 23, 30, tzinfo=berlin), 3),  # 22:30 UTC on the 25th: still the 25th
        (datetime(2026, 10, 26, 0, 10, tzinfo=berlin), 2),  # the 26th
    ]
    for at, pain in points:
        CheckInFactory(episode=episode, occurred_at=at.astimezone(UTC), pain=pain)
    Application.objects.create(
        patient=patient,
        episode=episode,
        client_uuid=uuid.uuid4(),
        kind="ice",
        started_at=datetime(2026, 10, 25, 2, 40, fold=1, tzinfo=berlin).astimezone(UTC),
        stopped_at=datetime(2026, 10, 25, 3, 0, tzinfo=berlin).astimezone(UTC),
    )
    for slot, due, acted in (
        ("a", datetime(2026, 10, 25, 9, 0, tzinfo=berlin), True),
        ("b", datetime(2026, 10, 25, 12, 0, tzinfo=berlin), False),
    ):
        Reminder.objects.create(
            patient=patient,
            episode=episode,
            kind="ice_start",
            slot=slot,
            due_at=due,
            status="sent",
            sent_at=due,
            ack_action="done" if acted else "",
            acknowledged_at=due if acted else None,
        )
    Reminder.objects.create(
        patient=patient, episode=episode, kind="ice_start", slot="c", due_at=due, status="cancelled"
    )
    with time_machine.travel(datetime(2026, 10, 26, 12, 0, tzinfo=berlin), tick=False):
        response = physio_api.get(f"/api/physio/patients/{patient.pk}/daily/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timezone"] == "Europe/Berlin" and body["episode"] == str(episode.id)
    days = {day["date"]: day for day in body["days"]}
    assert list(days) == ["2026-10-24", "2026-10-25", "2026-10-26"]
    assert (days["2026-10-24"]["checkins"], days["2026-10-24"]["pain_max"]) == (1, 8)
    dst = days["2026-10-25"]
    assert (dst["checkins"], dst["pain_min"], dst["pain_mean"], dst["pain_max"]) == (4, 3, 5.25, 7)
    assert (dst["ice"], dst["heat"], dst["applied_minutes"]) == (1, 0, 20)  # 02:40 winter time -> 03:00: 20 min
    assert (dst["applications_planned"], dst["reminders_sent"], dst["reminders_acted"]) == (2, 2, 1)
    assert dst["adherence"] == 0.5
    assert (days["2026-10-26"]["checkins"], days["2026-10-26"]["pain_min"]) == (1, 2)
    assert days["2026-10-26"]["adherence"] is None

    with time_machine.travel(datetime(2026, 10, 26, 12, 0, tzinfo=berlin), tick=False):
        narrowed = physio_api.get(f"/api/physio/patients/{patient.pk}/daily/?since=2026-10-25&until=2026-10-25")
    assert [day["date"] for day in narrowed.json()["days"]] == ["2026-10-25"]


def test_daily_aggregates_of_a_patient_without_episodes_are_empty(clock, patient, physio, physio_api):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    body = physio_api.get(f"/api/physio/patients/{patient.pk}/daily/").json()
    assert (body["episode"], body["days"]) == (None, [])


def test_a_day_without_data_is_listed_with_zeros(clock, patient, physio, physio_api):
    CareLinkFactory(patient=patient, physiotherapist=physio)
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=2))
    CheckInFactory(episode=episode, occurred_at=NOW - timedelta(days=2) + timedelta(minutes=5), pain=4)
    days = physio_api.get(f"/api/physio/patients/{patient.pk}/daily/").json()["days"]
    assert [d["date"] for d in days] == [str(date(2026, 11, 18)), str(date(2026, 11, 19)), str(date(2026, 11, 20))]
    assert days[1] == {
        "date": "2026-11-19",
        "checkins": 0,
        "pain_min": None,
        "pain_mean": None,
        "pain_max": None,
        "ice": 0,
        "heat": 0,
        "applied_minutes": 0,
        "applications_planned": 0,
        "reminders_sent": 0,
        "reminders_acted": 0,
        "adherence": None,
    }
