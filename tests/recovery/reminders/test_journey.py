"""Fourteen days of one patient, end to end, in Europe/Berlin across the autumn daylight-saving change.

Everything real but the clock: the API the app and the service worker call, the dispatcher (dispatch_due,
queued through Redis as beat would), a Celery worker (in this process, so it sees the time-machine clock)
and the loopback WebPush receiver, which checks VAPID and decrypts. The test answers every reminder the
way a patient would, from what the receiver decrypted: "Start now" from the push, "It's off" from the push,
a check-in a day; and asserts on what arrived.

- every start tapped "Start now" is followed by exactly one "take it off", at start + 20 min (ice) or the
  heat time; one stopped early from the app gets none; one recorded late from the offline queue gets none;
- an emergency answer on day 3 pauses the plan and alerts both linked physiotherapists every 5 min until
  one acknowledges; the patient gets only the help check until they resume;
- two good days propose ending the plan; resolving it stops everything.
"""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from backcare.accounts.models import Profile
from backcare.push.transports import topic_for
from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from recovery.treatment.models import Application
from recovery.triage.models import ClinicianAlert
from tests.factories import CareLinkFactory, PhysioFactory, UserFactory
from tests.recovery.reminders.conftest import subscribe
from tests.recovery.reminders.test_delivery_worker import beat_until, purged_queue, worker  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

BERLIN = ZoneInfo("Europe/Berlin")
# Thursday 22 October 2026, 08:30 in Berlin; clocks go back on Sunday 25 October (day 4).
ONSET = datetime(2026, 10, 22, 8, 30, tzinfo=BERLIN)
DAYS = 14
# The pain logged at each evening check-in, by day of the episode: days 9 and 10 are good (<= 2).
PAIN = {1: 7, 2: 7, 3: 6, 4: 6, 5: 5, 6: 5, 7: 4, 8: 3, 9: 2, 10: 1, 11: 1, 12: 1, 13: 1, 14: 1}
EMERGENCY_DAY = 3
PHYSIOS = ("physio1", "physio2")
STARTS = {"ice_start": "ice", "heat_start": "heat"}
REMOVES = {"ice_remove", "heat_remove"}


def day_of(instant: datetime) -> int:
    return (instant.astimezone(BERLIN).date() - ONSET.date()).days + 1


class Journey:
    """The patient's phone and hands: answers what arrives, keeps score."""

    def __init__(self, receiver, traveller):
        self.receiver, self.traveller = receiver, traveller
        self.patient = UserFactory(display_name="Pat")
        Profile.objects.filter(user=self.patient).update(
            timezone="Europe/Berlin", desk_worker=False, heat_reminders_per_day=2
        )
        subscribe(self.patient, receiver, "patient")
        self.physios = []
        for name in PHYSIOS:
            physio = PhysioFactory(display_name=name)
            CareLinkFactory(patient=self.patient, physiotherapist=physio, consented_at=ONSET - timedelta(days=1))
            subscribe(physio, receiver, name)
            self.physios.append(physio)
        self.app = APIClient()
        self.app.force_authenticate(self.patient)
        self.seen = 0  # receiver messages handled so far
        self.tapped_starts: dict[str, datetime] = {}  # application id -> started at (from "Start now")
        self.quiet_apps: set[str] = set()  # applications that must never get a "take it off"
        self.log: list[tuple[str, str, datetime]] = []  # (device, kind, arrived)
        self.early_stop_done = self.late_offline_done = self.emergency_done = False
        self.acknowledged_alert = False
        self.late_app = None
        self.checkins: set[int] = set()

    # -- the clock ------------------------------------------------------------------------------------
    def next_due(self) -> Reminder | None:
        return Reminder.objects.filter(status="scheduled").order_by("due_at", "pk").first()

    def arrive(self, reminder: Reminder) -> list:
        """Move to the reminder's time; wait until the receiver has something new; return the new messages."""
        self.traveller.move_to(max(reminder.due_at, self.now()) + timedelta(seconds=1))
        assert beat_until(lambda: self._fresh() or self._ended(reminder)), reminder
        return self._take()

    def idle_until(self, until: datetime) -> list:
        """Let time pass to `until`, dispatching as beat would; what arrived meanwhile."""
        while True:
            reminder = self.next_due()
            if reminder is None or reminder.due_at >= until:
                break
            self.handle(self.arrive(reminder))
        self.traveller.move_to(until)
        beat_until(lambda: False, timeout=1.0)
        return self._take()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def _fresh(self) -> bool:
        return len([m for m in self.receiver.received if m.status == 201]) > self.seen

    @staticmethod
    def _ended(reminder: Reminder) -> bool:
        reminder.refresh_from_db()
        return reminder.status in ("cancelled", "expired", "skipped", "failed")

    def _take(self) -> list:
        messages = [m for m in self.receiver.received if m.status == 201]
        new, self.seen = messages[self.seen :], len(messages)
        for m in new:
            self.log.append((m.name, m.payload["kind"], datetime.fromtimestamp(m.at, UTC)))
        return new

    # -- the hands ------------------------------------------------------------------------------------
    def handle(self, messages: list) -> None:
        for message in messages:
            kind = message.payload["kind"]
            if message.name != "patient":
                self.on_alert(message)
            elif kind in STARTS:
                self.on_start(message)
            elif kind in REMOVES:
                self.on_remove(message)
            elif kind == "checkin":
                self.on_checkin()
            elif kind == "help_check":
                response = self.app.post(f"/api/episodes/{self.episode_id}/resume/", {}, format="json")
                assert response.status_code == 200, response.content

    def tap(self, message, action: str):
        p = message.payload
        assert action in [a["action"] for a in p["actions"]], p["actions"]
        # The service worker has no session: only the payload's token stands for the patient.
        return APIClient().post(
            "/api/reminders/ack/",
            {"reminder": p["reminder_id"], "action": action, "token": p["ack_token"]},
            format="json",
        )

    def on_start(self, message) -> None:
        now = self.now()
        if not self.late_offline_done and day_of(now) == 2 and now.astimezone(BERLIN).hour >= 12:
            # Offline: the ice goes on now and comes off 20 min later; the queue replays both 50 min from now.
            self.late_offline_done = True
            app_id = str(uuid.uuid4())
            assert self.idle_until(now + timedelta(minutes=50)) == []
            items = [
                {
                    "kind": "application",
                    "id": app_id,
                    "data": {"kind": STARTS[message.payload["kind"]], "started_at": now},
                },
                {"kind": "application_stop", "id": app_id, "data": {"stopped_at": now + timedelta(minutes=20)}},
            ]
            results = self.app.post("/api/sync/", {"items": items}, format="json").json()["results"]
            assert [r["status"] for r in results] in ([201, 200], [201, 201]), results
            self.quiet_apps.add(app_id)
            self.late_app = app_id
            return
        response = self.tap(message, "start")
        assert response.status_code == 200, response.content
        app = Application.objects.filter(patient=self.patient, stopped_at__isnull=True).get()
        self.tapped_starts[str(app.client_uuid)] = app.started_at
        if not self.early_stop_done and day_of(now) == 1 and now.astimezone(BERLIN).hour >= 12:
            # Ten minutes in, the patient takes it off early, from the app.
            self.early_stop_done = True
            self.idle_until(now + timedelta(minutes=10))
            stop = self.app.post(f"/api/applications/{app.client_uuid}/stop/", {}, format="json")
            assert stop.status_code == 200, stop.content
            self.quiet_apps.add(str(app.client_uuid))

    def on_remove(self, message) -> None:
        assert self.tap(message, "stop").status_code == 200

    def on_checkin(self) -> None:
        day = day_of(self.now())
        if day in self.checkins:
            return
        self.checkins.add(day)
        response = self.app.put(f"/api/checkins/{uuid.uuid4()}/", {"pain": PAIN[day]}, format="json")
        assert response.status_code == 201, response.content

    def on_alert(self, message) -> None:
        assert message.payload["kind"] == "clinician_alert"
        assert message.urgency == "high"
        rounds = Counter(name for name, kind, _ in self.log if kind == "clinician_alert")
        if not self.acknowledged_alert and all(rounds[name] >= 3 for name in PHYSIOS):
            # The third round has reached both phones: the second physiotherapist takes it on.
            self.acknowledged_alert = True
            physio = APIClient()
            physio.force_authenticate(self.physios[1])
            alert = ClinicianAlert.objects.get()
            response = physio.post(f"/api/physio/alerts/{alert.pk}/acknowledge/", {}, format="json")
            assert response.status_code == 200, response.content

    @property
    def episode_id(self) -> str:
        return str(Episode.objects.get(patient=self.patient).pk)


def test_fourteen_days_of_one_patient(receiver):
    with time_machine.travel(ONSET, tick=True) as traveller:
        journey = Journey(receiver, traveller)
        opened = journey.app.post("/api/episodes/", {"onset": ONSET.isoformat(), "trigger": "lifting"}, format="json")
        assert opened.status_code == 201, opened.content
        end = ONSET + timedelta(days=DAYS)
        resolved_at = None
        while journey.now() < end:
            reminder = journey.next_due()
            if reminder is None or reminder.due_at >= end:
                break
            day = day_of(reminder.due_at)
            late_morning = reminder.due_at.astimezone(BERLIN).hour >= 11
            if not journey.emergency_done and day == EMERGENCY_DAY and late_morning and reminder.kind == "ice_start":
                # Day 3, late morning, nothing on: the patient answers the checklist with an emergency.
                journey.emergency_done = True
                assert not Application.objects.filter(patient=journey.patient, stopped_at__isnull=True).exists()
                traveller.move_to(reminder.due_at - timedelta(minutes=1))
                response = journey.app.put(
                    f"/api/checkins/{uuid.uuid4()}/",
                    {"pain": 8, "red_flags": {"bowel_bladder_loss": True}},
                    format="json",
                )
                assert response.status_code == 201 and response.json()["escalation"], response.content
                continue
            messages = journey.arrive(reminder)
            kinds = {m.payload["kind"] for m in messages}
            journey.handle(messages)
            if "plan_end" in kinds:
                # Feeling better: the patient ends the plan from the card the push opens, once the heat is off.
                while Application.objects.filter(patient=journey.patient, stopped_at__isnull=True).exists():
                    journey.handle(journey.arrive(journey.next_due()))
                response = journey.app.post(f"/api/episodes/{journey.episode_id}/resolve/", {}, format="json")
                assert response.status_code == 200, response.content
                resolved_at = journey.now()
                break
        assert resolved_at is not None, "two good days never proposed ending the plan"
        # After resolving, nothing more: not over the rest of the 14 days.
        after = journey.idle_until(end)
        assert after == [], [(m.name, m.payload["kind"]) for m in after]

    log = journey.log
    patient_log = [(kind, at) for name, kind, at in log if name == "patient"]
    kinds = Counter(kind for kind, _ in patient_log)

    # Every "Start now" from the push: exactly one "take it off", at start + the on-time; none for the others.
    removes = [m for m in receiver.received if m.status == 201 and m.payload["kind"] in REMOVES]
    by_topic = Counter(m.topic for m in removes)
    assert journey.tapped_starts
    for app_id, started_at in journey.tapped_starts.items():
        app = Application.objects.get(client_uuid=app_id)
        topic = topic_for(f"{app.kind}_remove:{app_id}")
        if app_id in journey.quiet_apps:
            assert by_topic[topic] == 0, app_id
            continue
        assert by_topic[topic] == 1, (app_id, by_topic[topic])
        (message,) = [m for m in removes if m.topic == topic]
        on = timedelta(minutes=20)
        lateness = datetime.fromtimestamp(message.at, UTC) - (started_at + on)
        assert timedelta(0) <= lateness < timedelta(seconds=30), (app_id, lateness)
    assert journey.early_stop_done and journey.late_offline_done
    late = Application.objects.get(client_uuid=journey.late_app)
    assert by_topic[topic_for(f"{late.kind}_remove:{late.client_uuid}")] == 0
    tapped = {topic_for(f"{Application.objects.get(client_uuid=a).kind}_remove:{a}") for a in journey.tapped_starts}
    assert set(by_topic) <= tapped and all(n == 1 for n in by_topic.values()), by_topic

    # Ice for the first 72 h, heat after (at most 2 heat reminders a day, as the patient chose).
    ice_days = {day_of(at) for kind, at in patient_log if kind == "ice_start"}
    heat_days = Counter(day_of(at) for kind, at in patient_log if kind == "heat_start")
    assert ice_days and max(ice_days) <= 4 and min(heat_days) >= 4
    assert max(heat_days.values()) <= 2

    # The emergency: both physiotherapists alerted every 5 min until one acknowledged, then no more.
    alerts = {name: sorted(at for n, kind, at in log if n == name and kind == "clinician_alert") for name in PHYSIOS}
    assert [len(alerts[name]) for name in PHYSIOS] == [3, 3], alerts
    gaps = [b - a for a, b in zip(alerts["physio1"], alerts["physio1"][1:], strict=False)]
    assert all(timedelta(minutes=4, seconds=50) <= g <= timedelta(minutes=5, seconds=30) for g in gaps), gaps
    alert = ClinicianAlert.objects.get()
    assert alert.acknowledged_by == journey.physios[1]
    # Paused from the answer until the help check: nothing but the help check reached the patient.
    answered = alert.raised_at
    help_at = next(at for kind, at in patient_log if kind == "help_check")
    between = [kind for kind, at in patient_log if answered <= at <= help_at]
    assert between == ["help_check"], between
    assert timedelta(minutes=119) <= help_at - answered <= timedelta(minutes=121)

    # The daily check-in at 19:00 local, before and after the clocks went back; one plan_end; a day-7 review.
    checkins = [at.astimezone(BERLIN) for kind, at in patient_log if kind == "checkin"]
    assert checkins and all((c.hour, c.minute) == (19, 0) for c in checkins), checkins
    assert {c.utcoffset() for c in checkins} == {timedelta(hours=2), timedelta(hours=1)}
    assert kinds["plan_end"] == 1 and kinds["review"] == 1
    assert Episode.objects.get().status == "resolved"
    # Nothing still waiting to be sent for a resolved plan, and nothing stuck claimed.
    assert not Reminder.objects.filter(status__in=("scheduled", "claimed")).exclude(kind__in=REMOVES).exists()
