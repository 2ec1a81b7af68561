"""A plan that ends: how long start reminders run, fewer heat reminders a day, and when to offer ending the plan.

Pure, like the engine that calls it: no Django, no I/O, no clock of its own. Remove reminders are none of this
module's business: they come from the engine for every application, whatever is decided here.
"""

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .definition import Protocol
from .localtime import in_window, local_date, out_of_window, wall_to_utc, window_end_after

HEAT_START = "heat_start"
PLAN_END = "plan_end"
# The local hour the "Feeling better? End the plan" reminder comes, the morning after the last good day: late
# enough to be awake, early enough to act on it that day. Not clinical, so not protocol data.
PROPOSE_AT = time(10, 0)
# Bounds of the patient's "heat reminders a day" preference (None: the protocol's rhythm, every cycle).
HEAT_PER_DAY_MIN, HEAT_PER_DAY_MAX = 1, 8

Busy = tuple[datetime, datetime]  # an application on, then its skin pause: no start reminder inside
# Applications started this long before `now` can be busy in the slots planned (yesterday's waking day on); the
# engine's bounded history (window.py) keeps every application started since.
BUSY_LOOKBACK = timedelta(days=2)


def review_at(protocol: Protocol, onset: datetime, zone: ZoneInfo, sleep: tuple[time, time], day: int) -> datetime:
    """When the review of local day `day` comes (day 1 is the local day of onset), as the engine plans it."""
    first = local_date(onset, zone)
    due = wall_to_utc(first + timedelta(days=day - 1), protocol.checkin_reminder_at, zone)
    return out_of_window(due, zone, *sleep)


def starts_end_at(protocol: Protocol, onset: datetime, zone: ZoneInfo, sleep: tuple[time, time]) -> datetime:
    """No start reminder (heat, or ice a prescription kept) is due at or after the review of `heat_until_day`."""
    return review_at(protocol, onset, zone, sleep, protocol.heat_until_day)


def waking_day(day: date, zone: ZoneInfo, sleep: tuple[time, time]) -> tuple[datetime, datetime]:
    """From the end of the sleep window on `day` to its next start: the day a patient is awake (DST-proof)."""
    wake = wall_to_utc(day, sleep[1], zone)
    return wake, window_end_after(wake, zone, sleep[0])


def heat_slots(
    *,
    per_day: int,
    days: Iterable[date],
    zone: ZoneInfo,
    sleep: tuple[time, time],
    run: timedelta,
    busy: Iterable[Busy],
    heat_from: datetime,
    heat_until: datetime,
) -> list[tuple[datetime, str]]:
    """At most `per_day` heat start reminders in each waking day: (due, slot) sorted.

    Slot i sits in the middle of the i-th of `per_day` equal parts of the waking day, so the application ends
    before bedtime. A slot that falls while an application is on or the skin rests moves to the end of that
    pause, if that is still before the next slot (else the patient has just had one: no reminder).
    """
    busy = sorted(busy)
    out = []
    for day in days:
        wake, bed = waking_day(day, zone, sleep)
        step = (bed - wake) / per_day
        for index in range(per_day):
            due = (wake + step * index + (step - run) / 2).replace(second=0, microsecond=0)
            limit = min(wake + step * (index + 1), bed - run)
            for start, end in busy:
                if start <= due < end:
                    due = end
            if due >= limit or not heat_from <= due < heat_until or in_window(due + run, zone, *sleep):
                continue
            out.append((due, f"{HEAT_START}:{day.isoformat()}:{index}"))
    return sorted(out)


def current_and_next(slots: list[tuple[datetime, str]], now: datetime, fresh: timedelta) -> list[tuple[datetime, str]]:
    """The latest slot due at or before now while still fresh (it may be on its way) and the first after it.
    A slot older than that is not planned: a preference changed now does not send this morning's start."""
    past = [slot for slot in slots if now - fresh <= slot[0] <= now]
    future = [slot for slot in slots if slot[0] > now]
    return past[-1:] + future[:1]


def start_reminders(
    *,
    protocol: Protocol,
    onset: datetime,
    now: datetime,
    zone: ZoneInfo,
    sleep: tuple[time, time],
    heat_per_day: int | None,
    acute_end: datetime,
    busy: Iterable[Busy],
    starts: Callable[[], list],
    make: Callable,
) -> list:
    """The engine's start reminders (`starts()`, called only while they can matter) with the plan's end and the patient's heat preference applied.

    Without a preference the protocol's rhythm stays, cut at the end; with one, heat starts are the day's
    `heat_per_day` slots instead. `make(kind, due, slot)` builds the engine's reminder.
    """
    until = starts_end_at(protocol, onset, zone, sleep)
    if now >= until + timedelta(days=1):
        return []  # long over: not even the last one is still on its way (and the chain's walk is skipped)
    kept = [r for r in starts() if r.due < until]
    if heat_per_day is None:
        return kept
    kept = [r for r in kept if r.kind != HEAT_START]
    today = local_date(now, zone)
    days = [today + timedelta(days=offset) for offset in range(-1, 3)]
    slots = heat_slots(
        per_day=heat_per_day,
        days=days,
        zone=zone,
        sleep=sleep,
        run=timedelta(minutes=protocol.heat_on_min),
        busy=busy,
        heat_from=acute_end,
        heat_until=until,
    )
    return kept + [
        make(HEAT_START, due, slot)
        for due, slot in current_and_next(slots, now, timedelta(minutes=protocol.start_fresh_min))
    ]


def good_days_end(checkins: Iterable[tuple[datetime, int]], zone: ZoneInfo, pain_max: int, days: int) -> date | None:
    """The latest check-in day, if it ends `days` consecutive local days whose every check-in is <= pain_max."""
    worst: dict[date, int] = {}
    for at, pain in checkins:
        day = local_date(at, zone)
        worst[day] = max(worst.get(day, pain), pain)
    if not worst:
        return None
    last = max(worst)
    streak = [last - timedelta(days=back) for back in range(days)]
    return last if all(day in worst and worst[day] <= pain_max for day in streak) else None


def plan_end_due(
    *, protocol: Protocol, checkins: Iterable[tuple[datetime, int]], now: datetime, zone: ZoneInfo, sleep
) -> datetime | None:
    """When to offer ending the plan: the morning after the last of the good days (out of the sleep window);
    None while the latest check-in days are not all good. Kept a day past its time so its row is not cancelled
    before it is sent; the slot is one per episode, so it is sent at most once."""
    last = good_days_end(checkins, zone, protocol.good_day_pain_max, protocol.good_days_to_propose_end)
    if last is None:
        return None
    due = out_of_window(wall_to_utc(last + timedelta(days=1), PROPOSE_AT, zone), zone, *sleep)
    return due if due > now - timedelta(days=1) else None


# --- the engine's entry points (duck-typed on its Situation and Application: this module imports no engine) ---


def plan_starts(s, history, acute_end: datetime, chain: Callable, make: Callable) -> list:
    """`start_reminders` for the engine's situation `s` and its history; `chain(s, history, acute_end)` is the
    engine's own start reminders."""
    pr, p = s.protocol, s.patient
    since = s.now - BUSY_LOOKBACK  # the slots planned are from yesterday's waking day on
    busy = [
        (a.start, (a.stop or a.start + timedelta(minutes=pr.on_min(a.kind))) + timedelta(minutes=pr.off_min(a.kind)))
        for a in history
        if a.start >= since
    ]
    return start_reminders(
        protocol=pr,
        onset=s.onset,
        now=s.now,
        zone=p.zone,
        sleep=(p.sleep_start, p.sleep_end),
        heat_per_day=p.heat_reminders_per_day,
        acute_end=acute_end,
        busy=busy,
        starts=lambda: chain(s, history, acute_end),
        make=make,
    )


def plan_end_reminders(s, make: Callable) -> list:
    """The one "Feeling better? End the plan" reminder, while the latest check-in days are good days."""
    p = s.patient
    checkins = [(c.at, c.pain) for c in s.checkins]
    due = plan_end_due(
        protocol=s.protocol, checkins=checkins, now=s.now, zone=p.zone, sleep=(p.sleep_start, p.sleep_end)
    )
    return [make(PLAN_END, due, PLAN_END)] if due is not None else []


def feeling_better(s) -> bool:
    """Whether the app offers ending the plan now: the latest check-in days are good days."""
    pr = s.protocol
    checkins = [(c.at, c.pain) for c in s.checkins if c.at <= s.now]
    return good_days_end(checkins, s.patient.zone, pr.good_day_pain_max, pr.good_days_to_propose_end) is not None
