"""The bounded history (recovery/protocol/window.py) changes none of the engine's decisions.

For generated histories (applications running, stopped early or late, closed by the server, equal starts, some
after `now`, many around the lookback's edge), `plan()` on the window equals `plan()` on the whole history, at
`now` and as the application service uses it (judging a start at its own instant against what came before it,
and the next one recorded after it). No database: the engine is pure.
"""

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recovery.protocol.definition import Protocol
from recovery.protocol.ending import BUSY_LOOKBACK
from recovery.protocol.engine import Application, Patient, RestPeriod, Situation, plan
from recovery.protocol.window import needed

PROTOCOLS = [Protocol(version=1), dataclasses.replace(Protocol(version=1), ice_after_acute=True)]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Pacific/Chatham"]
EDGE = int(BUSY_LOOKBACK.total_seconds() // 60)


@st.composite
def situations(draw) -> Situation:
    onset = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))
    now = onset + timedelta(minutes=draw(st.integers(0, 30 * 24 * 60)))
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    patient = Patient(
        zone=zone,
        sleep_start=time(draw(st.integers(20, 23)), draw(st.sampled_from([0, 30]))),
        sleep_end=time(draw(st.integers(5, 9)), 0),
        desk_worker=draw(st.booleans()),
        notify_treatment=draw(st.integers(0, 5)) > 0,
        notify_checkin=draw(st.booleans()),
        heat_reminders_per_day=draw(st.sampled_from([None, None, 1, 3, 8])),
    )
    # Minutes before `now` (negative: after it), drawn to cluster around the lookback's edge and `now`.
    offsets = st.one_of(
        st.integers(-600, 40 * 24 * 60),
        st.integers(EDGE - 240, EDGE + 240),
        st.integers(-60, 240),
    )
    applications = []
    for index in range(draw(st.integers(0, 25))):
        start = now - timedelta(minutes=draw(offsets))
        if applications and draw(st.integers(0, 9)) == 0:
            start = applications[-1].start  # equal starts: the engine's stable sort decides
        ending = draw(st.sampled_from(["stopped", "stopped", "stopped", "running", "auto_closed", "late"]))
        kind = draw(st.sampled_from(["ice", "heat"]))
        stop = None if ending == "running" else start + timedelta(minutes=draw(st.integers(1, 45)))
        applications.append(Application(f"a{index}", kind, start, stop, auto_closed=ending == "auto_closed"))
    order = draw(st.permutations(applications)) if draw(st.booleans()) else sorted(applications, key=lambda a: a.start)
    rests = (RestPeriod(now - timedelta(hours=3), None),) if draw(st.booleans()) else ()
    resolved_at = now - timedelta(hours=draw(st.integers(-5, 5))) if draw(st.integers(0, 5)) == 0 else None
    return Situation(
        protocol=draw(st.sampled_from(PROTOCOLS)),
        onset=onset,
        patient=patient,
        now=now,
        applications=tuple(order),
        rests=rests,
        resolved_at=resolved_at,
    )


SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(situations())
def test_the_plan_on_the_window_is_the_plan_on_the_whole_history(s):
    bounded = dataclasses.replace(s, applications=needed(s.applications, s.now))
    assert plan(bounded) == plan(s)


@SETTINGS
@given(situations(), st.integers(-3 * 24 * 60, 60))
def test_a_start_is_judged_alike_on_the_window(s, minutes):
    """As recovery.treatment.services.applications does: the situation at the new start, what came before it
    planned there, and the first application recorded at or after it."""
    start = s.now + timedelta(minutes=minutes)
    whole = dataclasses.replace(s, now=start)
    window = needed(s.applications, start)
    earlier_whole = tuple(a for a in whole.applications if a.start < start)
    earlier_window = tuple(a for a in window if a.start < start)
    assert plan(dataclasses.replace(whole, applications=earlier_window)) == plan(
        dataclasses.replace(whole, applications=earlier_whole)
    )
    later_whole = sorted((a for a in whole.applications if a.start >= start), key=lambda a: a.start)
    later_window = sorted((a for a in window if a.start >= start), key=lambda a: a.start)
    assert later_window[:1] == later_whole[:1]


def test_the_window_is_bounded():
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    history = tuple(
        Application(f"a{i}", "heat", now - timedelta(hours=3 + 2 * i), now - timedelta(hours=3 + 2 * i, minutes=-20))
        for i in range(5000)
    )
    kept = needed(history, now)
    # The 23 started in the last two days, plus the latest before them: the rest cannot change the plan.
    assert len(kept) == 24
    assert plan(Situation(Protocol(version=1), now - timedelta(days=400), Patient(ZoneInfo("UTC")), now, history)) == (
        plan(Situation(Protocol(version=1), now - timedelta(days=400), Patient(ZoneInfo("UTC")), now, kept))
    )
