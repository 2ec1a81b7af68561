"""The triage queue: who needs the physiotherapist first, in a fixed number of queries."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from knox.models import AuthToken
from push_notifications.models import WebPushDevice
from rest_framework.test import APIClient

from backcare.accounts.models import Profile, Role, User
from recovery.care.models import CareLink
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.reminders.models import Delivery, Reminder
from recovery.treatment.models import MedicationIntake, RestPeriod
from recovery.treatment.services import prescription_create
from recovery.triage.score import REASONS
from tests.factories import CareLinkFactory, CheckInFactory, EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _patient(physio, *, name: str, days: float | None = 2, pains=(), zone: str = "UTC", device: bool = True):
    """A linked patient whose episode began `days` ago, with a check-in a day for each pain given (oldest first)."""
    patient = UserFactory(display_name=name, with_profile=zone)
    CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=NOW - timedelta(days=30))
    if device:
        WebPushDevice.objects.create(user=patient, registration_id=f"https://127.0.0.1:9/{uuid.uuid4()}", active=True)
    if days is None:
        return patient, None
    episode = EpisodeFactory(patient=patient, onset=NOW - timedelta(days=days))
    for index, pain in enumerate(pains):
        CheckInFactory(episode=episode, occurred_at=episode.onset + timedelta(days=index, hours=1), pain=pain)
    return patient, episode


def _flag(episode, level: str, *, at: datetime | None = None) -> RedFlagEvent:
    checkin = CheckInFactory(episode=episode, occurred_at=at or NOW - timedelta(hours=1), pain=5)
    return RedFlagEvent.objects.create(
        patient=episode.patient,
        episode=episode,
        checkin=checkin,
        code=f"code-{level}",
        level=level,
        question="?",
        guidance="!",
        ruleset_version=1,
        occurred_at=checkin.occurred_at,
    )


def _queue(api, query: str = "") -> list[dict]:
    response = api.get(f"/api/physio/patients/{query}")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _names(rows) -> list[str]:
    return [row["patient"]["display_name"] for row in rows]


def test_emergencies_first_then_by_need(physio, physio_api):
    _, calm = _patient(physio, name="calm", pains=(5, 4, 3))
    _, soon = _patient(physio, name="soon", pains=(5, 4, 3))
    _flag(soon, "soon")
    _, urgent = _patient(physio, name="urgent", pains=(5, 4, 3))
    _flag(urgent, "urgent")
    _, emergency = _patient(physio, name="emergency", pains=(3, 2, 1))
    _flag(emergency, "emergency")
    _, stuck = _patient(physio, name="stuck", days=14.5, pains=(5,) * 15)  # day 15, no better than day 1
    _patient(physio, name="no episode", days=None)
    rows = _queue(physio_api)
    assert _names(rows) == ["emergency", "urgent", "soon", "stuck", "calm", "no episode"]
    top = rows[0]
    assert top["red_flags"] == {"emergency": 1, "urgent": 0, "soon": 0}
    assert top["reasons"][0] == "redflag_emergency"
    stuck_row = rows[3]
    assert stuck_row["not_improving"] is True and stuck_row["not_improving_day"] == 14
    assert "not_improving_day14" in stuck_row["reasons"]
    assert stuck_row["day"] == 15 and stuck_row["phase"] == "heat"
    assert rows[-1]["episode"] is None and rows[-1]["phase"] == "none" and rows[-1]["adherence"] is None


def test_a_row_carries_the_signals_of_the_current_episode(physio, physio_api):
    patient, episode = _patient(physio, name="p", days=11.5, pains=(8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3))
    Profile.objects.filter(user=patient).update(timezone="America/New_York")
    RestPeriod.objects.create(
        patient=patient,
        episode=episode,
        client_uuid=uuid.uuid4(),
        started_at=episode.onset,
        stopped_at=episode.onset + timedelta(hours=50),
    )
    for day in range(10):
        MedicationIntake.objects.create(
            patient=patient,
            episode=episode,
            client_uuid=uuid.uuid4(),
            taken_at=episode.onset + timedelta(days=day, hours=2),
            med_class="nsaid",
            dose_mg=Decimal(400),
            payload_hash="h",
        )
    for index in range(4):
        due = NOW - timedelta(days=index + 1)
        reminder = Reminder.objects.create(
            patient=patient,
            episode=episode,
            kind="ice_start" if index else "checkin",
            slot=f"s{index}",
            due_at=due,
            status="sent",
            sent_at=due,
            ack_action="done" if index == 1 else "",
            acknowledged_at=due if index == 1 else None,
        )
        Delivery.objects.create(
            reminder=reminder, device_type="webpush", device_id=1, status="sent", next_attempt_at=due, sent_at=due
        )
    (row,) = _queue(physio_api)
    assert row["patient"]["timezone"] == "America/New_York"
    assert row["latest_pain"] == 3
    assert row["last_checkin_at"] is not None
    # Check-ins at 20:00 New York time; none yet today (07:00 there).
    assert [day["mean"] for day in row["pain_7d"]][-4:] == [4.0, 3.0, 3.0, None]
    assert row["pain_trend"] == "improving"
    assert row["not_improving"] is False
    assert (row["rest_hours"], row["rest_cap_hours"], row["rest_over_cap"]) == (50.0, 48, True)
    assert (row["nsaid_days"], row["nsaid_flag_day"], row["nsaid_over"]) == (10, 10, True)
    assert row["adherence"] == {
        "applications_done": 0,
        "applications_planned": 3,
        "ratio": 0.0,
        "reminders_sent": 4,
        "reminders_acted": 1,
    }
    assert row["has_active_device"] is True and row["no_delivery_48h"] is False
    assert {"rest_over_cap", "nsaid_days", "low_adherence"} <= set(row["reasons"])
    assert "no_active_device" not in row["reasons"]


def test_a_prescription_moves_the_phase(physio, physio_api):
    _, episode = _patient(physio, name="p", days=3.5, pains=(5,))
    assert _queue(physio_api)[0]["phase"] == "heat"
    prescription_create(episode=episode, overrides={"acute_hours": 96}, author=physio)
    assert _queue(physio_api)[0]["phase"] == "acute"


def test_unreachable_patients_are_flagged(physio, physio_api):
    _patient(physio, name="no device", days=3, pains=(5, 5, 5, 5), device=False)
    _patient(physio, name="silent", days=3, pains=(5, 5, 5, 5))
    rows = {row["patient"]["display_name"]: row for row in _queue(physio_api)}
    assert "no_active_device" in rows["no device"]["reasons"]
    assert rows["silent"]["no_delivery_48h"] is True and "no_delivery_48h" in rows["silent"]["reasons"]


def test_no_checkin_for_two_days_is_flagged(physio, physio_api):
    _patient(physio, name="quiet", days=4, pains=(5,))
    (row,) = _queue(physio_api)
    assert "no_checkin_48h" in row["reasons"]


def test_marking_reviewed_closes_the_red_flags_reported_until_then(physio, physio_api, clock):
    patient, episode = _patient(physio, name="flagged", pains=(4,))
    _flag(episode, "emergency")
    _patient(physio, name="other", pains=(4,))
    assert _names(_queue(physio_api))[0] == "flagged"
    response = physio_api.post(f"/api/physio/patients/{patient.pk}/reviewed/", {})
    assert response.status_code == 200
    assert response.json() == {"patient": patient.pk, "last_reviewed_at": NOW.isoformat().replace("+00:00", "Z")}
    rows = {row["patient"]["display_name"]: row for row in _queue(physio_api)}
    assert rows["flagged"]["red_flags"]["emergency"] == 0
    assert rows["flagged"]["link"]["last_reviewed_at"] is not None
    clock.shift(timedelta(hours=1))
    _flag(episode, "urgent", at=NOW + timedelta(minutes=30))
    assert _queue(physio_api)[0]["red_flags"] == {"emergency": 0, "urgent": 1, "soon": 0}


def test_flags_of_a_resolved_episode_are_not_open(physio, physio_api):
    patient, episode = _patient(physio, name="healed", pains=(4,))
    _flag(episode, "emergency")
    Episode.objects.filter(pk=episode.pk).update(status="resolved", resolved_at=NOW - timedelta(minutes=1))
    (row,) = _queue(physio_api)
    assert row["red_flags"]["emergency"] == 0 and row["phase"] == "resolved"


def test_filters(physio, physio_api):
    _, acute = _patient(physio, name="Alice Acute", days=1, pains=(5,))
    _flag(acute, "urgent")
    _patient(physio, name="Hector Heat", days=5, pains=(5,))
    assert _names(_queue(physio_api, "?phase=acute")) == ["Alice Acute"]
    assert _names(_queue(physio_api, "?phase=heat")) == ["Hector Heat"]
    assert _names(_queue(physio_api, "?reason=redflag_urgent,redflag_emergency")) == ["Alice Acute"]
    assert _names(_queue(physio_api, "?search=hector")) == ["Hector Heat"]
    assert _names(_queue(physio_api, "?search=%20hector%20")) == ["Hector Heat"]  # trimmed
    assert _names(_queue(physio_api, "?search=%20%20")) == ["Alice Acute", "Hector Heat"]  # blank: no search
    assert _names(_queue(physio_api, "?search=" + "x" * 100 + "hector")) == []  # the first 100 characters count
    assert _names(_queue(physio_api, "?reason=&search=")) == ["Alice Acute", "Hector Heat"]


def test_bad_filters_are_named_in_the_error(physio, physio_api):
    def error(query: str) -> tuple[int, dict]:
        response = physio_api.get(f"/api/physio/patients/{query}")
        return response.status_code, response.json()

    assert error("?phase=frozen") == (400, {"phase": ["Must be one of acute, heat, resolved, none."]})
    assert error("?phase=") == (400, {"phase": ["Must be one of acute, heat, resolved, none."]})
    choices = ", ".join(REASONS)
    assert error("?reason=bored,high_pain&reason=tired") == (
        400,
        {"reason": [f"Unknown: bored, tired. Choose from: {choices}."]},
    )
    for cursor in ("not-a-cursor", "", "WzEsMiwzLDRd"):  # the last: a list of four
        assert error(f"?cursor={cursor}") == (404, {"detail": "Invalid cursor."})
    assert error("?cursor=nope&phase=frozen")[0] == 404  # the cursor is checked first, as before


def test_cursor_pages_walk_the_whole_queue_once(physio, physio_api):
    for index in range(7):
        _, episode = _patient(physio, name=f"p{index}", days=index + 1, pains=(index,) * (index + 1))
        if index % 3 == 0:
            _flag(episode, "soon")
    whole = _names(_queue(physio_api))
    paged, url = [], "/api/physio/patients/?limit=2"
    while url:
        body = physio_api.get(url).json()
        paged += _names(body["results"])
        url = body["next"]
    assert paged == whole and len(whole) == 7
    assert physio_api.get("/api/physio/patients/?cursor=not-a-cursor").status_code == 404


def test_only_my_patients_are_in_my_queue(physio, physio_api, other_physio):
    _patient(physio, name="mine", pains=(3,))
    _patient(other_physio, name="theirs", pains=(3,))
    revoked, _ = _patient(physio, name="revoked", pains=(3,))
    CareLink.objects.filter(patient=revoked).update(status="revoked", ended_at=NOW)
    assert _names(_queue(physio_api)) == ["mine"]


def _bulk_patients(physio, count: int) -> None:
    """`count` linked patients with an open episode and three check-ins each, in a handful of INSERTs."""
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(email=f"bulk-{uuid.uuid4().hex[:12]}@example.test", role=Role.PATIENT, password=password)
            for _ in range(count)
        ]
    )
    Profile.objects.bulk_create([Profile(user=user, timezone="Europe/Berlin") for user in users])
    episodes = Episode.objects.bulk_create(
        [Episode(patient=user, onset=NOW - timedelta(days=1 + i % 20)) for i, user in enumerate(users)]
    )
    CheckIn.objects.bulk_create(
        [
            CheckIn(
                patient_id=episode.patient_id,
                episode=episode,
                client_uuid=uuid.uuid4(),
                occurred_at=episode.onset + timedelta(hours=h),
                pain=(h + i) % 11,
                payload_hash="h",
            )
            for i, episode in enumerate(episodes)
            for h in (1, 12, 20)
        ]
    )
    CareLink.objects.bulk_create(
        [CareLink(patient=user, physiotherapist=physio, consented_at=NOW - timedelta(days=30)) for user in users]
    )


def test_five_hundred_patients_in_at_most_ten_queries(physio, django_assert_max_num_queries):
    _, raw = AuthToken.objects.create(user=physio)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")  # real token authentication, counted too
    _bulk_patients(physio, 5)
    with django_assert_max_num_queries(10) as few:
        assert len(api.get("/api/physio/patients/?limit=200").json()["results"]) == 5
    _bulk_patients(physio, 495)
    with django_assert_max_num_queries(10) as many:
        response = api.get("/api/physio/patients/?limit=200")
    assert len(response.json()["results"]) == 200
    assert len(many) == len(few)
    # Every summary is stored now: the next read computes none of them.
    with django_assert_max_num_queries(len(many) - 4):
        assert api.get("/api/physio/patients/?limit=200").json()["results"] == response.json()["results"]
