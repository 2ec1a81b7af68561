"""End to end: an emergency answer reaches two physiotherapists' phones, again every 5 minutes until one of them
acknowledges (at most for the alert window), while the patient's self-care reminders pause, except the remove
reminder of an application still on; the help check comes 2 hours later and resuming brings the plan back.

The real dispatcher (dispatch_due, queued through Redis as beat would), a real Celery worker and the loopback
WebPush receiver, which checks VAPID and decrypts: the assertions are on what it decrypted. The clock is moved
with time-machine (ticking, so the worker's own waits run); the worker runs in this process and sees it too.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from backcare.accounts.models import Profile
from backcare.audit.services import AccessContext
from recovery.episodes.models import Episode
from recovery.episodes.services import checkin_put, episode_open, episode_resume
from recovery.reminders.models import Reminder
from recovery.treatment.services import application_put
from recovery.triage.alerts import clinician_alert_acknowledge
from recovery.triage.models import ClinicianAlert
from tests.factories import CareLinkFactory, PhysioFactory, UserFactory
from tests.recovery.reminders.conftest import subscribe
from tests.recovery.reminders.test_delivery_worker import beat_until, purged_queue, worker  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, a Monday: awake, acute phase
SYMPTOM_WORDS = ("bladder", "bowel", "numb", "saddle", "weak", "emergency", "leg")
PHYSIOS = ("physio1", "physio2")


def alerts_to(receiver, name: str) -> list:
    return [m for m in receiver.received if m.status == 201 and m.name == name]


def patient_kinds(receiver) -> list[str]:
    return [m.payload["kind"] for m in receiver.received if m.status == 201 and m.name == "patient"]


def setup_patient_and_team(receiver):
    patient = UserFactory(display_name="Pat")
    Profile.objects.filter(user=patient).update(timezone="Europe/Berlin", desk_worker=True)
    subscribe(patient, receiver, "patient")
    physios = []
    for name in PHYSIOS:
        physio = PhysioFactory(display_name=name)
        CareLinkFactory(patient=patient, physiotherapist=physio, consented_at=T0 - timedelta(days=2))
        subscribe(physio, receiver, name)
        physios.append(physio)
    return patient, physios


def emergency(patient) -> None:
    checkin_put(patient=patient, client_uuid=uuid.uuid4(), data={"pain": 9, "red_flags": {"bowel_bladder_loss": True}})


def round_arrives(receiver, traveller, at: datetime, n: int) -> None:
    """Move to `at`; both physiotherapists' phones get their n-th alert (n from 1)."""
    traveller.move_to(at)
    assert beat_until(lambda: all(len(alerts_to(receiver, name)) >= n for name in PHYSIOS)), (
        n,
        [len(alerts_to(receiver, name)) for name in PHYSIOS],
    )


def test_an_emergency_alerts_two_physiotherapists_until_one_acknowledges_and_pauses_self_care(receiver):
    with time_machine.travel(T0, tick=True) as traveller:
        patient, (first, second) = setup_patient_and_team(receiver)
        episode = episode_open(patient=patient, onset=T0 - timedelta(hours=3), trigger="lifting").record
        app = application_put(patient=patient, client_uuid=uuid.uuid4(), kind="ice").record
        emergency(patient)
        alert = ClinicianAlert.objects.get()

        # At once: both phones, high urgency, no symptom on the lock screen.
        round_arrives(receiver, traveller, T0 + timedelta(seconds=1), 1)
        for name in PHYSIOS:
            (message,) = alerts_to(receiver, name)
            assert message.urgency == "high"
            assert message.payload["kind"] == "clinician_alert" and message.payload["url"] == "/#/alerts"
            text = f"{message.payload['title']} {message.payload['body']}".lower()
            assert message.payload["title"] == "A patient needs your attention now"
            assert not [word for word in SYMPTOM_WORDS if word in text]
        # Every 5 minutes while nobody acknowledges.
        round_arrives(receiver, traveller, T0 + timedelta(minutes=5, seconds=1), 2)
        round_arrives(receiver, traveller, T0 + timedelta(minutes=10, seconds=1), 3)
        # (Each round is fresh for one interval: visiting every round, none expires on the way.)
        round_arrives(receiver, traveller, T0 + timedelta(minutes=15, seconds=1), 4)
        # The ice put on before the answer is still on: its remove reminder arrives (safety), at start + 20 min.
        traveller.move_to(app.started_at + timedelta(minutes=20, seconds=1))
        assert beat_until(lambda: "ice_remove" in patient_kinds(receiver))
        round_arrives(receiver, traveller, T0 + timedelta(minutes=20, seconds=2), 5)

        traveller.move_to(T0 + timedelta(minutes=22))
        clinician_alert_acknowledge(
            physiotherapist=second, alert_id=alert.pk, access=AccessContext(path="/test", request_id="t")
        )
        # Later rounds never come: not at 25, 30 or 60 minutes.
        for minutes in (25, 30, 60):
            traveller.move_to(T0 + timedelta(minutes=minutes, seconds=1))
            beat_until(lambda: False, timeout=1.5)
        assert [len(alerts_to(receiver, name)) for name in PHYSIOS] == [5, 5]
        assert len({m.topic for m in alerts_to(receiver, "physio1")}) == 5  # one slot per round

        # Paused: in those 60 minutes the patient's phone got the remove reminder and nothing else.
        assert patient_kinds(receiver) == ["ice_remove"]
        # 2 hours after the answer: did you get help?
        traveller.move_to(T0 + timedelta(minutes=120, seconds=1))
        assert beat_until(lambda: "help_check" in patient_kinds(receiver))
        help_check = next(m for m in receiver.received if m.name == "patient" and m.payload["kind"] == "help_check")
        assert help_check.payload["url"] == "/#/emergency"
        assert patient_kinds(receiver) == ["ice_remove", "help_check"]

        # The patient got help and resumes: the self-care reminders come back.
        traveller.move_to(T0 + timedelta(minutes=125))
        episode_resume(patient=patient, episode_id=episode.pk)
        assert beat_until(lambda: {"ice_start", "movement_break"} & set(patient_kinds(receiver)))
        assert Episode.objects.get().paused_since is None
    assert not Reminder.objects.filter(kind="clinician_alert", status="scheduled").exists()


def test_an_unacknowledged_emergency_alert_stops_after_the_window(receiver):
    with time_machine.travel(T0, tick=True) as traveller:
        patient, _physios = setup_patient_and_team(receiver)
        episode_open(patient=patient, onset=T0 - timedelta(hours=3), trigger="lifting")
        emergency(patient)
        for n in range(12):  # 0, 5, ..., 55 minutes
            round_arrives(receiver, traveller, T0 + timedelta(minutes=5 * n, seconds=1), n + 1)
        for minutes in (60, 65, 90):
            traveller.move_to(T0 + timedelta(minutes=minutes, seconds=1))
            beat_until(lambda: False, timeout=1.5)
        assert [len(alerts_to(receiver, name)) for name in PHYSIOS] == [12, 12]
        assert ClinicianAlert.objects.get().acknowledged_at is None  # still open: the queue keeps it on top
        assert timezone.now() > T0 + timedelta(minutes=90)
