"""A plan that ends, end to end: real services, the dispatcher, a real Celery worker (Redis) and the loopback
WebPush receiver, with the clock moved by time_machine. Asserts on what the receiver decrypted.

Two good days bring exactly one "Feeling better? End the plan"; resolving stops every further push, except the
remove reminder of the ice still on at resolution, which comes once, at its time.
"""

import time
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from backcare.accounts.models import Profile
from recovery.episodes.services import checkin_put, episode_open, episode_resolve
from recovery.reminders.models import Reminder
from recovery.reminders.planning import reminders_replan_open_episodes
from recovery.treatment.services import application_put
from tests.factories import UserFactory
from tests.recovery.reminders.conftest import subscribe
from tests.recovery.reminders.test_delivery_worker import beat_until, purged_queue, worker  # noqa: F401

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=BERLIN).astimezone(UTC)


def wait_for(condition, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def pushed(receiver) -> list[tuple[str, str]]:
    return [(m.payload["kind"], m.payload["tag"]) for m in receiver.received if m.status == 201]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_good_days_bring_one_plan_end_and_resolving_stops_all_but_the_remove(receiver, worker):  # noqa: F811
    patient = UserFactory()
    # Treatment start reminders off keeps the receiver's log to what this test is about; check-ins stay on.
    Profile.objects.filter(user=patient).update(timezone="Europe/Berlin", notify_treatment=False)
    subscribe(patient, receiver, "phone")
    d1, d2, d3 = date(2027, 1, 11), date(2027, 1, 12), date(2027, 1, 13)
    with time_machine.travel(berlin(d1, 8), tick=True) as clock:
        episode = episode_open(patient=patient, onset=berlin(d1, 7, 30), trigger="lifting").record
        for day, pain in ((d1, 2), (d2, 1)):
            clock.move_to(berlin(day, 18, 30))
            checkin_put(patient=patient, client_uuid=uuid.uuid4(), data={"pain": pain})
        # The check-in queued a re-plan through Redis; the worker planned the offer for the next morning.
        assert wait_for(lambda: Reminder.objects.filter(episode=episode, slot="plan_end").exists())
        offer = Reminder.objects.get(episode=episode, slot="plan_end")
        assert (offer.due_at, offer.status) == (berlin(d3, 10), "scheduled")

        clock.move_to(berlin(d3, 10, 0, 5))
        assert beat_until(lambda: ("plan_end", "plan_end") in pushed(receiver))
        message = next(m for m in receiver.received if m.payload["kind"] == "plan_end")
        assert message.payload["title"] == "Feeling better? End the plan"
        assert message.payload["url"] == "/#/plan"
        for _ in range(4):  # the periodic re-plan and more dispatches: the offer is never sent again
            reminders_replan_open_episodes()
            beat_until(lambda: False, timeout=0.5)
        assert pushed(receiver).count(("plan_end", "plan_end")) == 1

        # The ice goes on, and the patient ends the plan while it is still on.
        clock.move_to(berlin(d3, 10, 5))
        ice = application_put(patient=patient, client_uuid=uuid.uuid4(), kind="ice").record
        clock.move_to(berlin(d3, 10, 10))
        episode_resolve(patient=patient, episode_id=episode.pk)
        left = Reminder.objects.filter(episode=episode, status__in=("scheduled", "claimed"))
        assert [(r.kind, r.safety) for r in left] == [("ice_remove", True)]
        before = len(pushed(receiver))

        clock.move_to(berlin(d3, 10, 25, 5))  # the ice's 20 minutes are up
        assert beat_until(lambda: ("ice_remove", f"ice_remove:{ice.client_uuid}") in pushed(receiver))

        # The evening's check-in, tomorrow's, the day-7 review: none of them comes any more.
        for moment in (berlin(d3, 19, 0, 5), berlin(date(2027, 1, 14), 19, 0, 5), berlin(date(2027, 1, 17), 19, 0, 5)):
            clock.move_to(moment)
            reminders_replan_open_episodes()
            beat_until(lambda: False, timeout=1.0)
        after = pushed(receiver)[before:]
        assert after == [("ice_remove", f"ice_remove:{ice.client_uuid}")]
        assert pushed(receiver).count(("ice_remove", f"ice_remove:{ice.client_uuid}")) == 1
