"""When each offered questionnaire is asked: a reminder per window not yet answered, planned like the protocol's.

A window is a run of the episode's local days (day 1 = the day of onset); answering any time inside it settles it.
Its reminder is due half an hour after the check-in hour of its first day (not with the check-in's own reminder;
on day 1, no sooner than half an hour after onset), moved out of the sleep window. Only windows that have begun or begin within a week are planned (the beat's
re-plan adds the next), and none once the window has closed or the episode is resolved.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from recovery.protocol.localtime import local_date, out_of_window, wall_to_utc

from .definition import Questionnaire

KIND = "questionnaire"
HORIZON = timedelta(days=7)
AFTER_ONSET = timedelta(minutes=30)
AFTER_CHECKIN = timedelta(minutes=30)


@dataclass(frozen=True)
class Due:
    """One questionnaire reminder, shaped like the protocol engine's Reminder (kind, due, slot, safety)."""

    kind: str
    due: datetime
    slot: str
    safety: bool = False
    code: str = ""
    opens: datetime | None = None
    closes: datetime | None = None


@dataclass(frozen=True)
class Situation:
    onset: datetime
    zone: ZoneInfo
    now: datetime
    offered: tuple[Questionnaire, ...]
    answered: dict[str, tuple[datetime, ...]]  # questionnaire code -> when each response was given
    ask_at: time = time(19, 0)
    sleep_start: time = time(23, 0)
    sleep_end: time = time(7, 0)
    resolved_at: datetime | None = None


def windows(s: Situation, q: Questionnaire, wanted=None):
    """The windows of the questionnaire in this episode: (slot, opens, closes, due), instants in UTC. `wanted(opens,
    closes)` picks which ones to place (the due instant, moved out of the sleep window, is the costly part)."""
    first = local_date(s.onset, s.zone)
    for window in q.schedule:
        for k in range(window.repeats + 1 if window.every_days else 1):
            start_day = first + timedelta(days=window.from_day - 1 + k * window.every_days)
            end_day = first + timedelta(days=window.to_day + k * window.every_days)
            opens, closes = wall_to_utc(start_day, time(0, 0), s.zone), wall_to_utc(end_day, time(0, 0), s.zone)
            if wanted is not None and not wanted(opens, closes):
                continue
            due = wall_to_utc(start_day, s.ask_at, s.zone) + AFTER_CHECKIN
            if start_day == first:
                due = max(due, s.onset + AFTER_ONSET)
            due = out_of_window(due, s.zone, s.sleep_start, s.sleep_end)
            yield f"{KIND}:{q.code}:{window.slot}:{k}", opens, closes, due


def questionnaires_due(s: Situation) -> list[Due]:
    """The questionnaire reminders that should exist now."""
    if s.resolved_at is not None and s.resolved_at <= s.now:
        return []
    out = []
    for q in s.offered:
        given = s.answered.get(q.code, ())
        for slot, opens, closes, due in windows(s, q, lambda o, c: s.now < c and o <= s.now + HORIZON):
            if due >= closes:
                continue
            if any(opens <= at < closes for at in given):
                continue
            out.append(Due(KIND, due, slot, False, q.code, opens, closes))
    return sorted(out, key=lambda d: (d.due, d.slot))


def questionnaires_open(s: Situation) -> list[Due]:
    """The windows open at `now` and not yet answered: what the app offers to answer now."""
    if s.resolved_at is not None and s.resolved_at <= s.now:
        return []
    out = []
    for q in s.offered:
        given = s.answered.get(q.code, ())
        for slot, opens, closes, due in windows(s, q, lambda o, c: o <= s.now < c):
            if not any(opens <= at < closes for at in given):
                out.append(Due(KIND, due, slot, False, q.code, opens, closes))
    return sorted(out, key=lambda d: (d.due, d.slot))
