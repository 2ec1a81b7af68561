"""The emergency pause in the engine: while paused only safety reminders and the help check. Pure: no database."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from recovery.protocol.definition import Protocol
from recovery.protocol.engine import Application, Patient, Situation, plan
from recovery.protocol.pause import Pause, is_paused

ONSET = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PROTOCOL = Protocol(version=2)
PATIENT = Patient(zone=ZoneInfo("Europe/Berlin"), sleep_start=time(23, 0), sleep_end=time(7, 0), desk_worker=True)


def situation(now: datetime, **kw) -> Situation:
    return Situation(protocol=PROTOCOL, onset=ONSET, patient=PATIENT, now=now, **kw)


def test_unpaused_plan_has_self_care_reminders():
    kinds = {r.kind for r in plan(situation(ONSET + timedelta(hours=3))).reminders}
    assert {"ice_start", "checkin", "movement_break"} <= kinds


def test_paused_plan_has_only_the_help_check():
    since = ONSET + timedelta(hours=2)
    result = plan(situation(since + timedelta(minutes=1), pause=Pause("p1", since)))
    assert [(r.kind, r.slot, r.due, r.safety) for r in result.reminders] == [
        ("help_check", "help_check:p1", since + timedelta(minutes=PROTOCOL.help_check_after_min), False)
    ]


def test_paused_plan_keeps_the_remove_reminder_of_an_application_still_on():
    since = ONSET + timedelta(hours=2)
    running = Application("a1", "ice", since - timedelta(minutes=5))
    result = plan(situation(since + timedelta(minutes=1), applications=(running,), pause=Pause("p1", since)))
    kinds = sorted((r.kind, r.safety) for r in result.reminders)
    assert kinds == [("help_check", False), ("ice_remove", True)]
    remove = next(r for r in result.reminders if r.kind == "ice_remove")
    assert remove.due == running.start + timedelta(minutes=PROTOCOL.ice_on_min)


def test_the_help_check_is_kept_after_it_came_due_until_the_pause_ends():
    since = ONSET + timedelta(hours=2)
    later = since + timedelta(hours=5)
    assert [r.kind for r in plan(situation(later, pause=Pause("p1", since))).reminders] == ["help_check"]


def test_a_resolved_episode_plans_no_help_check():
    since = ONSET + timedelta(hours=2)
    result = plan(situation(since + timedelta(hours=1), pause=Pause("p1", since), resolved_at=since))
    assert result.reminders == ()


def test_is_paused():
    now = ONSET
    assert not is_paused(None, now)
    assert is_paused(Pause("p", now - timedelta(hours=1)), now)
    assert is_paused(Pause("p", now), now)
    assert not is_paused(Pause("p", now + timedelta(minutes=1)), now)
