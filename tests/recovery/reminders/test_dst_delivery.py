"""Daily reminders across daylight-saving changes, end to end: plan, dispatch, send to the receiver.

The clock is moved (time_machine) from due instant to due instant, with the periodic re-plan running at
least every hour as beat would; every check-in reminder that fires is sent to the loopback receiver.
Each local day must get exactly one, at 19:00 on the patient's clock, in both zones, at both changes.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from backcare.accounts.models import Profile
from backcare.push.transports import topic_for
from recovery.episodes.services import episode_open
from recovery.outcomes.models import QuestionnaireVersion
from recovery.reminders.dispatch import reminders_dispatch
from recovery.reminders.models import Reminder
from recovery.reminders.planning import reminders_replan_open_episodes
from recovery.reminders.sending import deliveries_send_many
from tests.factories import UserFactory
from tests.recovery.reminders.conftest import subscribe

SWEEP = timedelta(hours=1)
CHANGES = [
    ("Europe/Berlin", date(2026, 3, 29)),  # spring: 02:00 -> 03:00
    ("Europe/Berlin", date(2026, 10, 25)),  # autumn: 03:00 -> 02:00
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
]


def run_clock(start: datetime, end: datetime) -> None:
    """Move from one due instant to the next (or one sweep later), re-planning and dispatching each time."""
    with time_machine.travel(start, tick=False) as traveller:
        now = start
        while now < end:
            reminders_replan_open_episodes(now=now)
            result = reminders_dispatch(now=now, limit=500, ttl=timedelta(seconds=120))
            deliveries_send_many(delivery_ids=result.deliveries, claim=result.claim)
            upcoming = (
                Reminder.objects.filter(status="scheduled", due_at__gt=now)
                .order_by("due_at")
                .values_list("due_at", flat=True)
                .first()
            )
            now = min(upcoming or end, now + SWEEP, end)
            traveller.move_to(now)


@pytest.mark.django_db
@pytest.mark.parametrize("zone,change", CHANGES, ids=[f"{z}-{c}" for z, c in CHANGES])
def test_daily_checkin_fires_once_per_local_day_at_19_local_across_dst(zone, change, receiver):
    QuestionnaireVersion.objects.all().delete()  # the check-in's reminders only (questionnaires: tests/recovery/outcomes)
    tz = ZoneInfo(zone)
    patient = UserFactory()
    Profile.objects.filter(user=patient).update(timezone=zone, notify_treatment=False, notify_checkin=True)
    subscribe(patient, receiver, "phone")
    onset = datetime.combine(change - timedelta(days=2), datetime.min.time(), tz).replace(hour=9)
    with time_machine.travel(onset, tick=False):
        episode_open(patient=patient, onset=onset, trigger="lifting")
    end = datetime.combine(change + timedelta(days=3), datetime.min.time(), tz).astimezone(UTC)

    run_clock(onset.astimezone(UTC), end)

    sent = Reminder.objects.filter(patient=patient, kind="checkin", status="sent").order_by("sent_at")
    days = [change + timedelta(days=d) for d in (-2, -1, 0, 1, 2)]
    fired = {r.slot: r.sent_at.astimezone(tz) for r in sent}
    assert sorted(fired) == [f"checkin:{d.isoformat()}" for d in days]
    for day in days:
        local = fired[f"checkin:{day.isoformat()}"]
        assert (local.date(), local.hour, local.minute) == (day, 19, 0), (day, local)
    messages = receiver.wait_for(len(days), timeout=5)
    assert sorted(m.topic for m in messages) == sorted(topic_for(f"checkin:{d.isoformat()}") for d in days)
    assert len(receiver.received) == len(days)  # nothing twice
