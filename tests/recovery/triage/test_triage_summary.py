"""The triage queue reads stored summaries (recovery.TriageSummary): every write the services make shows at once,
a reminder coming due shows without any write, and the stored answer is the one a fresh computation gives."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backcare.accounts.models import Profile
from recovery.episodes.models import CheckIn, Episode
from recovery.reminders.models import Reminder
from recovery.triage.models import TriageSummary
from recovery.triage.selectors import triage_rows
from recovery.triage.services import triage_summaries_refresh, triage_summaries_store, triage_summaries_touch
from recovery.triage.signals import SUMMARY_FORMAT
from recovery.triage.summaries import STORED_COLUMNS
from tests.factories import CareLinkFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def linked(patient, physio):
    CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=NOW - timedelta(days=10))
    return patient


@pytest.fixture
def episode_id(linked, patient_api):
    response = patient_api.post("/api/episodes/", {"onset": (NOW - timedelta(hours=30)).isoformat()})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _dispatch() -> None:
    """What the dispatcher does within a second of a reminder's due time (no dispatcher runs in these tests)."""
    Reminder.objects.filter(status="scheduled", due_at__lte=timezone.now()).update(status="sent", sent_at=F("due_at"))


def _row(physio_api) -> dict:
    response = physio_api.get("/api/physio/patients/")
    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    return row


def _stored(episode_id) -> TriageSummary:
    return TriageSummary.objects.get(patient__episodes=episode_id)


def _fresh_answer(physio_api) -> dict:
    """The queue's row computed from the data alone, with every stored summary thrown away."""
    TriageSummary.objects.all().delete()
    return _row(physio_api)


def test_the_first_read_stores_the_summary_and_the_second_uses_it(physio, physio_api, episode_id):
    _dispatch()
    first = _row(physio_api)
    stored = _stored(episode_id)
    assert stored.computed_revision == stored.revision and stored.computed_at == NOW
    with CaptureQueriesContext(connection) as second_read:
        assert _row(physio_api) == first
    with CaptureQueriesContext(connection) as cold_read:
        assert _fresh_answer(physio_api) == first
    assert len(second_read) < len(cold_read) - 3  # no computation: none of its three queries nor the store
    assert not any("recovery_checkin" in q["sql"] and "GROUP BY" in q["sql"] for q in second_read.captured_queries)


def test_every_write_of_the_patient_shows_at_once(physio_api, patient_api, episode_id):
    assert _row(physio_api)["latest_pain"] is None

    assert patient_api.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 7}).status_code == 201
    row = _row(physio_api)
    assert row["latest_pain"] == 7 and "high_pain" in row["reasons"]

    body = {"pain": 8, "red_flags": {"saddle_numbness": True}}
    assert patient_api.put(f"/api/checkins/{uuid.uuid4()}/", body).status_code == 201
    row = _row(physio_api)
    assert row["red_flags"]["emergency"] == 1 and row["reasons"][0] == "redflag_emergency"

    assert patient_api.put(f"/api/applications/{uuid.uuid4()}/", {"kind": "ice"}).status_code == 201
    assert _row(physio_api)["adherence"]["applications_done"] == 1

    rest = {"started_at": (NOW - timedelta(hours=2)).isoformat(), "stopped_at": (NOW - timedelta(hours=1)).isoformat()}
    assert patient_api.put(f"/api/rest/{uuid.uuid4()}/", rest).status_code == 201
    assert _row(physio_api)["rest_hours"] == 1.0

    intake = {"med_class": "nsaid", "name": "ibuprofen", "dose_mg": 400}
    assert patient_api.put(f"/api/medications/{uuid.uuid4()}/", intake).status_code == 201
    assert _row(physio_api)["nsaid_days"] == 1

    assert patient_api.post(f"/api/episodes/{episode_id}/resolve/", {}).status_code == 200
    row = _row(physio_api)
    assert row["phase"] == "resolved" and row["red_flags"]["emergency"] == 0

    assert _row(physio_api) == _fresh_answer(physio_api)


def test_an_acknowledged_reminder_counts_at_once(physio_api, patient_api, episode_id):
    reminder = Reminder.objects.filter(episode_id=episode_id, kind="ice_start").order_by("due_at").first()
    Reminder.objects.filter(pk=reminder.pk).update(status="sent", due_at=NOW - timedelta(minutes=5), sent_at=NOW)
    before = _row(physio_api)["adherence"]
    assert patient_api.post(f"/api/reminders/{reminder.pk}/ack/", {"action": "done"}).status_code == 200
    after = _row(physio_api)["adherence"]
    assert after["reminders_acted"] == before["reminders_acted"] + 1


def test_a_reminder_coming_due_shows_without_a_write(physio_api, episode_id, clock):
    _dispatch()
    before = _row(physio_api)["adherence"]
    upcoming = (
        Reminder.objects.filter(episode_id=episode_id, kind="ice_start", status="scheduled", due_at__gt=NOW)
        .order_by("due_at")
        .first()
    )
    assert NOW < _stored(episode_id).valid_until <= upcoming.due_at
    clock.move_to(upcoming.due_at + timedelta(seconds=1))
    # The dispatcher's own writes (claim, send) touch no summary: the due time alone expires it.
    Reminder.objects.filter(pk=upcoming.pk).update(status="sent", sent_at=upcoming.due_at + timedelta(seconds=1))
    after = _row(physio_api)["adherence"]
    assert after["applications_planned"] == before["applications_planned"] + 1
    assert after["reminders_sent"] == before["reminders_sent"] + 1


def test_a_new_time_zone_regroups_the_days(physio_api, patient_api, linked, episode_id):
    assert patient_api.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 6}).status_code == 201
    assert _row(physio_api)["pain_7d"][-1] == {"date": "2026-11-20", "mean": 6.0}
    assert patient_api.patch("/api/me/profile/", {"timezone": "Pacific/Kiritimati"}).status_code == 200
    row = _row(physio_api)  # 02:00 on the 21st there
    assert row["patient"]["timezone"] == "Pacific/Kiritimati"
    assert row["pain_7d"][-1] == {"date": "2026-11-21", "mean": 6.0}
    # A zone changed behind the services' back is caught too: the summary remembers its zone.
    Profile.objects.filter(user=linked).update(timezone="UTC")
    assert _row(physio_api)["pain_7d"][-1] == {"date": "2026-11-20", "mean": 6.0}


def test_a_check_in_needs_no_write_to_the_summary(physio_api, linked, episode_id):
    _row(physio_api)
    revision = _stored(episode_id).revision
    CheckIn.objects.create(
        patient=linked, episode_id=episode_id, client_uuid=uuid.uuid4(), occurred_at=NOW, pain=9, payload_hash="h"
    )
    assert _stored(episode_id).revision == revision  # the hot path stays as it was
    assert _row(physio_api)["latest_pain"] == 9  # the newest check-in id is compared at read


def test_writes_around_the_services_show_within_the_maximum_age(physio_api, episode_id, clock):
    _row(physio_api)
    Episode.objects.filter(pk=episode_id).update(onset=NOW - timedelta(days=5))  # an admin's edit, say
    clock.shift(timedelta(minutes=11))
    assert _row(physio_api)["phase"] == "heat"


def test_a_summary_computed_before_a_write_is_not_stored(physio, episode_id):
    TriageSummary.objects.all().delete()
    patient_id = Episode.objects.get(pk=episode_id).patient_id
    triage_summaries_touch(patient_ids=[patient_id])  # a write committed after the reader noted "no row"
    columns = dict.fromkeys(STORED_COLUMNS)
    columns.update(computed_at=NOW, expires_at=NOW + timedelta(minutes=5), zone="UTC", data={"episode": None})
    columns.update(episode_open=False, rank_not_improving=0, rank_active=0)
    stored = triage_summaries_store(summaries=[{"patient_id": patient_id, "revision": 0, **columns}])
    assert stored == 0
    row = _stored(episode_id)
    assert (row.revision, row.computed_revision, row.data) == (1, None, None)
    triage_rows(physiotherapist=physio)  # the next read computes it again and keeps it
    assert _stored(episode_id).computed_revision == 1


def test_the_stored_answer_equals_a_fresh_one_across_a_dst_change(physio, physio_api, patient_api, linked, clock):
    Profile.objects.filter(user=linked).update(timezone="Europe/Berlin")
    autumn = datetime(2026, 10, 24, 18, 0, tzinfo=UTC)  # 20:00 in Berlin, the day before clocks go back
    clock.move_to(autumn - timedelta(days=2))
    assert patient_api.post("/api/episodes/", {"onset": (autumn - timedelta(days=2)).isoformat()}).status_code == 201
    for day in range(4):
        at = autumn + timedelta(days=day - 1, hours=1 if day >= 2 else 0)  # 20:00 local on either side
        clock.move_to(at)
        assert patient_api.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": 8 - day}).status_code == 201
        stored = _row(physio_api)
    assert [d["date"] for d in stored["pain_7d"]][-4:] == ["2026-10-23", "2026-10-24", "2026-10-25", "2026-10-26"]
    assert [d["mean"] for d in stored["pain_7d"]][-4:] == [8.0, 7.0, 6.0, 5.0]
    assert stored == _fresh_answer(physio_api)


def test_beat_computes_the_summaries_ahead_of_the_read(physio, physio_api, episode_id, clock):
    from django.conf import settings

    from recovery.tasks import triage_summaries_refresh

    assert (
        settings.CELERY_BEAT_SCHEDULE["triage-summaries-refresh"]["task"] == "recovery.tasks.triage_summaries_refresh"
    )
    _dispatch()
    assert triage_summaries_refresh() == 1
    assert triage_summaries_refresh() == 0  # nothing changed
    with CaptureQueriesContext(connection) as read:
        row = _row(physio_api)
    assert not any("GROUP BY" in q["sql"] for q in read.captured_queries)  # the read computed nothing
    clock.move_to(datetime(2026, 11, 21, 0, 0, 30, tzinfo=UTC))  # a new day in the patient's zone (UTC)
    _dispatch()
    assert triage_summaries_refresh() == 1
    assert _row(physio_api)["day"] == row["day"] + 1


def test_the_database_ranks_as_python_does_across_time(physio, clock):
    """The unfiltered queue is ranked in SQL (recovery.triage.score.need_sql); a filter ranks in Python (TriageRow). Both
    must give the same order, page by page, as the clock crosses each time-dependent signal."""
    from push_notifications.models import WebPushDevice

    from backcare.accounts.models import User
    from recovery.models import CareLink, RedFlagEvent, RestPeriod
    from recovery.triage.selectors import triage_page
    from tests.factories import CheckInFactory, EpisodeFactory, UserFactory

    def patient(name, *, onset_hours, device=True, reviewed=None, zone="UTC"):
        user = UserFactory(display_name=name, with_profile=zone)
        CareLink.objects.create(
            patient=user, physiotherapist=physio, consented_at=NOW - timedelta(days=3), last_reviewed_at=reviewed
        )
        if device:
            WebPushDevice.objects.create(user=user, registration_id=f"https://127.0.0.1:9/{uuid.uuid4()}", active=True)
        return user, EpisodeFactory(patient=user, onset=NOW - timedelta(hours=onset_hours))

    _, resting = patient("resting", onset_hours=30)
    RestPeriod.objects.create(
        patient=resting.patient, episode=resting, client_uuid=uuid.uuid4(), started_at=NOW - timedelta(hours=47)
    )
    _, quiet = patient("quiet", onset_hours=40, device=False)
    CheckInFactory(episode=quiet, occurred_at=NOW - timedelta(hours=47), pain=8)
    _, flagged = patient("flagged", onset_hours=20, reviewed=NOW - timedelta(hours=2))
    for level, hours in (("emergency", 3), ("urgent", 1), ("soon", 1)):  # the emergency was reviewed already
        checkin = CheckInFactory(episode=flagged, occurred_at=NOW - timedelta(hours=hours), pain=6)
        RedFlagEvent.objects.create(
            patient=flagged.patient, episode=flagged, checkin=checkin, code=f"c-{level}", level=level, question="?",
            guidance="!", ruleset_version=1, occurred_at=checkin.occurred_at,
        )  # fmt: skip
    _, healing = patient("healing", onset_hours=100, zone="Pacific/Kiritimati")
    Episode.objects.filter(pk=healing.pk).update(status="resolved", resolved_at=NOW + timedelta(hours=2))
    for index in range(4):
        patient(f"calm {index}", onset_hours=10 + index, reviewed=NOW - timedelta(days=index) if index % 2 else None)
    assert User.objects.filter(role="patient").count() == 8

    for hours in (0, 1, 1.5, 3, 8, 30):  # rest over its cap, 48 h of silence, a resolution, a new local day
        clock.move_to(NOW + timedelta(hours=hours))
        python = [(r.link.patient_id, r.need) for r in triage_page(physiotherapist=physio, limit=200, search="@").rows]
        walked, after = [], None
        while True:
            page = triage_page(physiotherapist=physio, limit=3, after=after)
            walked += [(r.link.patient_id, r.need) for r in page.rows]
            if page.next is None:
                break
            after = page.next
        assert walked == python, hours
    assert {need for _, need in python} != {0}


# A summary as format 1 stored it: two-letter keys and positional lists.
_FORMAT_1 = {"e": None, "on": None, "o1": 0, "st": "open", "ra": None, "lc": None, "lp": 9, "ld": None, "rc": 0.0}
_FORMAT_1 |= {"ro": None, "pr": [72, 48, 3], "nd": 0, "fl": [], "ad": [0, 0, 0, 0], "p7": [None] * 7, "ni": None}


def _downgrade(episode_id) -> None:
    """Put the stored summary back in format 1, otherwise as fresh as it was."""
    data = {**_FORMAT_1, "e": episode_id, "on": NOW.isoformat()}
    TriageSummary.objects.filter(patient__episodes=episode_id).update(fmt=1, data=json.dumps(data))


def test_a_summary_stored_in_another_format_is_computed_again(physio, physio_api, episode_id):
    _dispatch()
    first = _row(physio_api)
    stored = _stored(episode_id)
    assert stored.fmt == SUMMARY_FORMAT == 3
    assert json.loads(stored.data)["episode"]["episode_id"] == episode_id  # named fields, no two-letter keys

    for read in (
        lambda: _row(physio_api),  # ranked by the database
        lambda: physio_api.get("/api/physio/patients/?search=@").json()["results"][0],  # ranked in Python
        lambda: triage_summaries_refresh() and _row(physio_api),  # beat, ahead of the read
    ):
        _downgrade(episode_id)
        assert read() == first
        stored = _stored(episode_id)
        assert stored.fmt == SUMMARY_FORMAT and set(json.loads(stored.data)) == {"episode"}
