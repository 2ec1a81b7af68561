"""A plan that ends (recovery/protocol/ending.py through the engine): the heat phase's length, fewer heat
reminders a day, the good days that offer ending the plan. Pure: no database."""

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.protocol import ending
from recovery.protocol.definition import Protocol
from recovery.protocol.engine import Application, PainPoint, Patient, Situation, plan
from recovery.protocol.localtime import in_window, local_date

BERLIN = ZoneInfo("Europe/Berlin")
PROTOCOL = Protocol(version=2)
# Tuesday 2026-10-20 10:00 CEST; the clocks go back on Sunday 2026-10-25, so day 14 (2026-11-02) is in CET.
ONSET = datetime(2026, 10, 20, 10, 0, tzinfo=BERLIN).astimezone(UTC)
DAY14_REVIEW = datetime(2026, 11, 2, 19, 0, tzinfo=BERLIN).astimezone(UTC)
SLEEP = (time(23, 0), time(7, 0))


def berlin(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def situation(now: datetime, **changes) -> Situation:
    base = Situation(protocol=PROTOCOL, onset=ONSET, patient=Patient(BERLIN), now=now)
    return dataclasses.replace(base, **changes)


def patient(**changes) -> Patient:
    return dataclasses.replace(Patient(BERLIN), **changes)


def of_kind(result, kind: str):
    return [r for r in result.reminders if r.kind == kind]


def planned_over(start: datetime, end: datetime, step=timedelta(minutes=30), **changes) -> dict[str, datetime]:
    """Every slot planned by the engine at any step between start and end: what the outbox would have held."""
    seen: dict[str, datetime] = {}
    now = start
    while now < end:
        for reminder in plan(situation(now, **changes)).reminders:
            seen[reminder.slot] = reminder.due
        now += step
    return seen


# --- the heat phase has a length --------------------------------------------------------------------


def test_day14_review_is_in_cet_after_the_clock_change():
    assert datetime(2026, 11, 2, 18, 0, tzinfo=UTC) == DAY14_REVIEW
    assert ending.starts_end_at(PROTOCOL, ONSET, BERLIN, SLEEP) == DAY14_REVIEW


def test_heat_reminders_run_up_to_the_day14_review_and_stop_after_it():
    # Days 12 to 17, across the review: every heat start planned is before it, the last on day 14.
    seen = planned_over(berlin(date(2026, 10, 31), 6), berlin(date(2026, 11, 5), 23))
    heat = sorted(due for slot, due in seen.items() if slot.startswith("heat_start"))
    assert heat and all(due < DAY14_REVIEW for due in heat)
    assert local_date(heat[-1], BERLIN) == date(2026, 11, 2)
    # Just after the review only the last one (already due, maybe on its way) is still planned; nothing new.
    after = plan(situation(DAY14_REVIEW + timedelta(minutes=1)))
    assert all(r.due < DAY14_REVIEW for r in of_kind(after, "heat_start"))
    assert of_kind(after, "review")  # the review itself still comes
    next_day = plan(situation(berlin(date(2026, 11, 3), 12)))
    assert not of_kind(next_day, "heat_start") and not of_kind(next_day, "ice_start")


def test_heat_phase_across_the_dst_change_keeps_its_rhythm_and_sleep():
    # The week of the clock change: heat starts every cycle, none in the sleep window on the local clock.
    seen = planned_over(berlin(date(2026, 10, 24), 6), berlin(date(2026, 10, 26), 23))
    heat = [due for slot, due in seen.items() if slot.startswith("heat_start")]
    assert heat
    for due in heat:
        assert not in_window(due, BERLIN, *SLEEP), due
        assert not in_window(due + timedelta(minutes=20), BERLIN, *SLEEP), due


def test_an_application_on_after_the_heat_phase_still_gets_its_remove_reminder():
    started = berlin(date(2026, 11, 4), 10)
    running = Application("late", "heat", started)
    result = plan(situation(started + timedelta(minutes=5), applications=(running,)))
    removes = of_kind(result, "heat_remove")
    assert [r.due for r in removes] == [started + timedelta(minutes=20)] and removes[0].safety
    assert not of_kind(result, "heat_start")


def test_a_shorter_heat_phase_from_the_protocol():
    short = dataclasses.replace(PROTOCOL, heat_until_day=5)
    end = ending.starts_end_at(short, ONSET, BERLIN, SLEEP)
    assert end == berlin(date(2026, 10, 24), 19)
    seen = planned_over(berlin(date(2026, 10, 23), 12), berlin(date(2026, 10, 25), 12), protocol=short)
    assert all(due < end for slot, due in seen.items() if slot.startswith("heat_start"))


# --- treatment notifications off never turn off a remove reminder ------------------------------------


def test_treatment_notifications_off_keep_the_remove_reminder_of_an_application_on():
    started = ONSET + timedelta(hours=1)
    result = plan(
        situation(
            started + timedelta(minutes=3),
            patient=patient(notify_treatment=False),
            applications=(Application("a", "ice", started),),
        )
    )
    assert [r.kind for r in result.reminders if r.safety] == ["ice_remove"]
    assert not of_kind(result, "ice_start") and not of_kind(result, "heat_start")


# --- fewer heat reminders a day --------------------------------------------------------------------


def test_three_heat_reminders_a_day_in_the_middle_of_each_third_of_the_waking_day():
    seen = planned_over(
        berlin(date(2026, 10, 24), 0), berlin(date(2026, 10, 27), 0), patient=patient(heat_reminders_per_day=3)
    )
    heat = sorted(due for slot, due in seen.items() if slot.startswith("heat_start"))
    per_day = Counter(local_date(due, BERLIN) for due in heat)
    # The edges hold the one before the window (still current at its start) and the one after it.
    assert [per_day[date(2026, 10, d)] for d in (24, 25, 26)] == [3, 3, 3], per_day
    # 07:00-23:00 in thirds of 5 h 20 min, each start centred so the 20 min run sits in the middle.
    on_26th = [
        due.astimezone(BERLIN).strftime("%H:%M") for due in heat if local_date(due, BERLIN) == date(2026, 10, 26)
    ]
    assert on_26th == ["09:30", "14:50", "20:10"]
    # The day of the clock change has 25 hours but the same waking day on the local clock.
    on_25th = [
        due.astimezone(BERLIN).strftime("%H:%M") for due in heat if local_date(due, BERLIN) == date(2026, 10, 25)
    ]
    assert on_25th == ["09:30", "14:50", "20:10"]


def test_fewer_heat_reminders_keep_each_remove_and_move_a_start_out_of_the_pause():
    day = date(2026, 10, 26)
    started = berlin(day, 9, 0)  # the patient puts the heat on before the 09:30 reminder
    apps = (Application("h1", "heat", started, started + timedelta(minutes=20)),)
    result = plan(situation(berlin(day, 9, 10), patient=patient(heat_reminders_per_day=3), applications=apps))
    starts = of_kind(result, "heat_start")
    # The 09:30 slot falls in the skin's pause (until 10:50): it moves to the pause's end.
    assert [r.due.astimezone(BERLIN).strftime("%H:%M") for r in starts] == ["10:50"]
    running = (Application("h2", "heat", berlin(day, 14, 50)),)
    result = plan(situation(berlin(day, 14, 55), patient=patient(heat_reminders_per_day=1), applications=running))
    assert [r.kind for r in result.reminders if r.safety] == ["heat_remove"]


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    per_day=st.integers(ending.HEAT_PER_DAY_MIN, ending.HEAT_PER_DAY_MAX),
    sleep_start=st.sampled_from([time(21, 0), time(23, 0), time(0, 30), time(2, 30)]),
    sleep_hours=st.integers(3, 14),
    starts=st.lists(st.integers(0, 5 * 24 * 60), max_size=12),
)
def test_at_most_per_day_heat_reminders_never_in_sleep_or_a_pause(per_day, sleep_start, sleep_hours, starts):
    """Across the October change: each waking day has at most `per_day` starts, none runs into the sleep window,
    and none is due while an application is on or the skin rests."""
    sleep = (sleep_start, (datetime.combine(date(2000, 1, 1), sleep_start) + timedelta(hours=sleep_hours)).time())
    base = datetime(2026, 10, 23, 0, 0, tzinfo=UTC)
    busy = [(base + timedelta(minutes=m), base + timedelta(minutes=m + 110)) for m in sorted(starts)]
    days = [date(2026, 10, 23) + timedelta(days=d) for d in range(5)]
    slots = ending.heat_slots(
        per_day=per_day,
        days=days,
        zone=BERLIN,
        sleep=sleep,
        run=timedelta(minutes=20),
        busy=busy,
        heat_from=base,
        heat_until=base + timedelta(days=10),
    )
    per_waking_day = Counter(slot.rsplit(":", 1)[0] for _, slot in slots)
    assert all(count <= per_day for count in per_waking_day.values())
    assert len({slot for _, slot in slots}) == len(slots)
    for due, slot in slots:
        for probe in range(0, 21, 5):
            assert not in_window(due + timedelta(minutes=probe), BERLIN, *sleep), (slot, due)
        assert not any(start <= due < end for start, end in busy), (slot, due)


# --- good days offer ending the plan ---------------------------------------------------------------


def good_days(*pains_by_day: tuple[date, list[int]]) -> tuple[PainPoint, ...]:
    return tuple(PainPoint(berlin(day, 9 + 3 * i), pain) for day, pains in pains_by_day for i, pain in enumerate(pains))


def test_two_good_days_plan_one_plan_end_the_next_morning():
    checkins = good_days((date(2026, 10, 26), [2, 1]), (date(2026, 10, 27), [2]))
    result = plan(situation(berlin(date(2026, 10, 27), 20), checkins=checkins))
    proposals = of_kind(result, "plan_end")
    assert [(r.slot, r.due) for r in proposals] == [("plan_end", berlin(date(2026, 10, 28), 10))]
    assert not proposals[0].safety
    assert ending.feeling_better(situation(berlin(date(2026, 10, 27), 20), checkins=checkins))


def test_a_bad_check_in_or_a_gap_or_one_good_day_offers_nothing():
    now = berlin(date(2026, 10, 28), 20)
    cases = [
        good_days((date(2026, 10, 27), [2, 3]), (date(2026, 10, 28), [1])),  # one check-in above 2
        good_days((date(2026, 10, 26), [1]), (date(2026, 10, 28), [1])),  # not consecutive
        good_days((date(2026, 10, 28), [0])),  # one day
        good_days((date(2026, 10, 26), [1]), (date(2026, 10, 27), [2]), (date(2026, 10, 28), [5])),  # broken since
    ]
    for checkins in cases:
        assert not of_kind(plan(situation(now, checkins=checkins)), "plan_end"), checkins
        assert not ending.feeling_better(situation(now, checkins=checkins))


def test_the_proposal_respects_the_sleep_window_and_check_in_notifications_and_resolution():
    checkins = good_days((date(2026, 10, 26), [1]), (date(2026, 10, 27), [0]))
    late_riser = patient(sleep_start=time(1, 0), sleep_end=time(11, 0))
    result = plan(situation(berlin(date(2026, 10, 27), 20), checkins=checkins, patient=late_riser))
    assert [r.due for r in of_kind(result, "plan_end")] == [berlin(date(2026, 10, 28), 11)]
    quiet = plan(situation(berlin(date(2026, 10, 27), 20), checkins=checkins, patient=patient(notify_checkin=False)))
    assert not of_kind(quiet, "plan_end")
    resolved = situation(berlin(date(2026, 10, 27), 20), checkins=checkins, resolved_at=berlin(date(2026, 10, 27), 19))
    assert not of_kind(plan(resolved), "plan_end")


def test_the_good_day_rule_follows_the_protocol_data():
    strict = dataclasses.replace(PROTOCOL, good_day_pain_max=1, good_days_to_propose_end=3)
    two = good_days((date(2026, 10, 26), [1]), (date(2026, 10, 27), [1]))
    three = good_days((date(2026, 10, 25), [0]), *[(p.at.astimezone(BERLIN).date(), [p.pain]) for p in two])
    now = berlin(date(2026, 10, 27), 20)
    assert not of_kind(plan(situation(now, checkins=two, protocol=strict)), "plan_end")
    assert of_kind(plan(situation(now, checkins=three, protocol=strict)), "plan_end")
