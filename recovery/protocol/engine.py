"""The planning engine: history and `now` in, phase, state, permissions and reminders out.

Pure: no Django, no I/O, no clock of its own. Every instant is an aware UTC datetime; local
days and the sleep window are computed in the patient's IANA zone. Same input, same output.
Over 400 lines on purpose: the engine's inputs, outputs and rules are one pure unit, read and tested together.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from . import ending
from .definition import Protocol
from .localtime import in_window, local_date, out_of_window, wall_to_utc, window_end_after
from .pause import Pause, help_check, is_paused

ICE, HEAT = "ice", "heat"
SEDATING = {"muscle_relaxant", "opioid"}


@dataclass(frozen=True)
class Application:
    key: str
    kind: str
    start: datetime
    stop: datetime | None = None
    auto_closed: bool = False


@dataclass(frozen=True)
class RestPeriod:
    start: datetime
    stop: datetime | None = None


@dataclass(frozen=True)
class Intake:
    med_class: str
    at: datetime


@dataclass(frozen=True)
class PainPoint:
    at: datetime
    pain: int


@dataclass(frozen=True)
class Walk:
    at: datetime
    minutes: int
    pain_before: int
    pain_after: int


@dataclass(frozen=True)
class Patient:
    zone: ZoneInfo
    sleep_start: time = time(23, 0)
    sleep_end: time = time(7, 0)
    desk_worker: bool = False
    notify_treatment: bool = True
    notify_checkin: bool = True
    notify_movement: bool = True
    heat_reminders_per_day: int | None = None  # None: the protocol's rhythm (ending.py)


@dataclass(frozen=True)
class Situation:
    protocol: Protocol
    onset: datetime
    patient: Patient
    now: datetime
    applications: tuple[Application, ...] = ()
    rests: tuple[RestPeriod, ...] = ()
    intakes: tuple[Intake, ...] = ()
    checkins: tuple[PainPoint, ...] = ()
    walks: tuple[Walk, ...] = ()
    resolved_at: datetime | None = None
    pause: Pause | None = None  # after an emergency answer (recovery/protocol/pause.py)


@dataclass(frozen=True)
class Reminder:
    kind: str
    due: datetime
    slot: str
    safety: bool = False


@dataclass(frozen=True)
class Allowed:
    ok: bool
    reason: str
    allowed_from: datetime | None = None


@dataclass(frozen=True)
class Notice:
    code: str
    level: str  # info, caution, alert
    message: str
    until: datetime | None = None


@dataclass(frozen=True)
class AutoClose:
    key: str
    stop: datetime


@dataclass(frozen=True)
class Plan:
    phase: str  # acute, heat, resolved
    acute_ends_at: datetime
    day: int
    state: str  # idle, ice_on, heat_on, pausing
    running: Application | None
    running_until: datetime | None
    pause_until: datetime | None
    allowed: dict[str, Allowed]
    reminders: tuple[Reminder, ...]
    notices: tuple[Notice, ...]
    auto_close: tuple[AutoClose, ...]
    rest_total: timedelta
    resting_since: datetime | None
    nsaid_days: int
    ready_to_run: bool
    next_action: Reminder | None = field(default=None)


def close_overdue(applications: tuple[Application, ...], protocol: Protocol, now: datetime):
    """Applications left running past their cap end at the cap; returns (closed history, closures)."""
    closed, closures = [], []
    for app in applications:
        cap = app.start + timedelta(minutes=protocol.on_min(app.kind))
        if app.stop is None and cap <= now:
            closures.append(AutoClose(app.key, cap))
            app = Application(app.key, app.kind, app.start, cap, auto_closed=True)
        closed.append(app)
    return tuple(sorted(closed, key=lambda a: a.start)), tuple(closures)


def _avoid_sleep(instant: datetime, run: timedelta, p: Patient) -> datetime:
    """A start inside the sleep window, or whose application would run into it, moves to its end.

    The window lasts at least 3 h and an application at most 20 min, so checking both ends of
    the application suffices, except across a clock change: in an autumn fold a window edge
    repeats, so there every minute is probed.
    """
    for _ in range(8):
        end = instant + run
        if instant.astimezone(p.zone).utcoffset() == end.astimezone(p.zone).utcoffset():
            probes = (instant, end)
        else:
            probes = tuple(instant + timedelta(minutes=m) for m in range(int(run.total_seconds() // 60) + 1))
        hit = next((probe for probe in probes if in_window(probe, p.zone, p.sleep_start, p.sleep_end)), None)
        if hit is None:
            return instant
        instant = window_end_after(hit, p.zone, p.sleep_end)
    return instant


def _start_reminders(s: Situation, history: tuple[Application, ...], acute_end: datetime) -> list[Reminder]:
    """The current (latest due at or before now) and the next start reminder.

    Adaptive: the first is due one pause after the last application really ended (at onset when
    there is none yet); an ignored reminder is followed one full cycle later.
    """
    pr, p = s.protocol, s.patient
    last = history[-1] if history else None
    anchor = last.key if last else "onset"
    if last is None:
        base = s.onset
    else:
        end = last.stop or (last.start + timedelta(minutes=pr.on_min(last.kind)))
        base = end + timedelta(minutes=pr.off_min(last.kind))

    def place(instant: datetime) -> tuple[str, datetime]:
        kind = ICE if instant < acute_end else HEAT
        due = _avoid_sleep(instant, timedelta(minutes=pr.on_min(kind)), p)
        if kind == ICE and due >= acute_end:
            kind = HEAT
            due = _avoid_sleep(max(due, acute_end), timedelta(minutes=pr.on_min(kind)), p)
        return kind, due

    kind, due = place(base)
    current: tuple[int, str, datetime] | None = None
    upcoming = (0, kind, due)
    for index in range(1, 10_000):
        if upcoming[2] > s.now:
            break
        current = upcoming
        cycle = timedelta(minutes=pr.on_min(upcoming[1]) + pr.off_min(upcoming[1]))
        kind, due = place(upcoming[2] + cycle)
        upcoming = (index, kind, due)
    chosen = [current, upcoming] if current else [upcoming]
    return [Reminder(f"{k}_start", d, f"{k}_start:{anchor}:{i}") for i, k, d in chosen]


def _rest(s: Situation) -> tuple[timedelta, datetime | None]:
    total = timedelta(0)
    resting_since = None
    for rest in s.rests:
        stop = rest.stop or s.now
        if stop > rest.start:
            total += stop - rest.start
        if rest.stop is None:
            resting_since = rest.start
    return total, resting_since


def pain_not_improving(days: Mapping[Any, tuple[int, int]]) -> bool:
    """Per local day (any sortable key): (check-ins, pain sum). Not improving: from the third check-in day on, the
    mean pain of the last two check-in days is no better than that of the first two. The triage queue uses it too."""
    ordered = sorted(days)
    if len(ordered) < 3:
        return False

    def mean(chosen: list) -> float:
        return sum(days[d][1] for d in chosen) / sum(days[d][0] for d in chosen)

    return mean(ordered[-2:]) >= mean(ordered[:2])


def _not_improving(s: Situation) -> bool:
    by_day: dict = {}
    for point in s.checkins:
        day = local_date(point.at, s.patient.zone)
        count, total = by_day.get(day, (0, 0))
        by_day[day] = (count + 1, total + point.pain)
    return pain_not_improving(by_day)


class _Treatment(NamedTuple):
    state: str  # idle, ice_on, heat_on, pausing
    running: Application | None
    running_until: datetime | None
    pause_until: datetime | None


def plan(s: Situation) -> Plan:
    """Where the episode stands at `s.now`, what may start, what to remind of and what to warn about."""
    pr, now, zone = s.protocol, s.now, s.patient.zone
    acute_end = s.onset + timedelta(hours=pr.acute_hours)
    resolved = s.resolved_at is not None and s.resolved_at <= now
    phase = "resolved" if resolved else ("acute" if now < acute_end else "heat")
    day = (local_date(now, zone) - local_date(s.onset, zone)).days + 1

    history, closures = close_overdue(s.applications, pr, now)
    treatment = _treatment(history, pr, now)
    rest_total, resting_since = _rest(s)
    nsaid_days = len({local_date(i.at, zone) for i in s.intakes if i.med_class == "nsaid" and i.at <= now})
    reminders = _reminders(s, history, acute_end, resolved, rest_total, resting_since)
    return Plan(
        phase=phase,
        acute_ends_at=acute_end,
        day=day,
        state=treatment.state,
        running=treatment.running,
        running_until=treatment.running_until,
        pause_until=treatment.pause_until,
        allowed={kind: _allowed(kind, s, phase, acute_end, treatment) for kind in (ICE, HEAT)},
        reminders=tuple(sorted(reminders, key=lambda r: (r.due, r.slot))),
        notices=_notices(s, day, resolved, rest_total, nsaid_days),
        auto_close=closures,
        rest_total=rest_total,
        resting_since=resting_since,
        nsaid_days=nsaid_days,
        ready_to_run=any(w.minutes >= pr.running_walk_min and w.pain_after <= w.pain_before for w in s.walks),
        next_action=_next_action(reminders, now),
    )


def _treatment(history: tuple[Application, ...], pr: Protocol, now: datetime) -> _Treatment:
    """Running until its cap, pausing until the skin has rested, or idle."""
    running = next((a for a in history if a.stop is None), None)
    if running is not None:
        until = running.start + timedelta(minutes=pr.on_min(running.kind))
        return _Treatment(f"{running.kind}_on", running, until, None)
    finished = [a for a in history if a.stop is not None]
    if finished:
        pause_until = finished[-1].stop + timedelta(minutes=pr.off_min(finished[-1].kind))
        if now < pause_until:
            return _Treatment("pausing", None, None, pause_until)
    return _Treatment("idle", None, None, None)


def _reminders(
    s: Situation,
    history: tuple[Application, ...],
    acute_end: datetime,
    resolved: bool,
    rest_total: timedelta,
    resting_since: datetime | None,
) -> list[Reminder]:
    """Remove reminders always (safety first); the rest only while the episode is open, as the patient chose."""
    p = s.patient
    reminders = _remove_reminders(history, s.protocol)
    if resolved:
        return reminders
    if is_paused(s.pause, s.now):  # after an emergency: safety reminders and the help check only
        return reminders + [Reminder(*help_check(s.pause, s.protocol.help_check_after_min))]
    if p.notify_treatment:  # never the remove reminders above
        reminders += ending.plan_starts(s, history, acute_end, _start_reminders, Reminder)
        reminders += _rest_reminders(s, rest_total, resting_since)
    reminders += _checkin_reminders(s)
    if p.notify_checkin:
        reminders += _review_reminders(s) + ending.plan_end_reminders(s, Reminder)
    if p.desk_worker and p.notify_movement and resting_since is None:
        reminders += _movement_reminders(s)
    return reminders


def _next_action(reminders: list[Reminder], now: datetime) -> Reminder | None:
    """The next treatment reminder to come: a start or a remove."""
    treatment = [r for r in reminders if r.kind.endswith(("_start", "_remove")) and r.due >= now]
    return min(treatment, key=lambda r: r.due) if treatment else None


def _notices(s: Situation, day: int, resolved: bool, rest_total: timedelta, nsaid_days: int) -> tuple[Notice, ...]:
    """Bed rest, medication, then a pain that is not improving by the review days."""
    pr = s.protocol
    notices = _rest_notices(pr, rest_total) + _medication_notices(s, nsaid_days)
    if day >= min(pr.review_days) and _not_improving(s) and not resolved:
        level = "alert" if day >= max(pr.review_days) else "caution"
        notices.append(Notice("not_improving", level, "Your pain is not improving: see a doctor or physiotherapist."))
    return tuple(notices)


def _remove_reminders(history: tuple[Application, ...], pr: Protocol) -> list[Reminder]:
    """Safety: every running or server-closed application keeps its remove reminder."""
    return [
        Reminder(
            f"{app.kind}_remove",
            app.start + timedelta(minutes=pr.on_min(app.kind)),
            f"{app.kind}_remove:{app.key}",
            safety=True,
        )
        for app in history
        if app.stop is None or app.auto_closed
    ]


def _rest_reminders(s: Situation, rest_total: timedelta, resting_since: datetime | None) -> list[Reminder]:
    """While resting: when the total reaches the nudge and the cap, moved out of the sleep window."""
    if resting_since is None:
        return []
    pr, p = s.protocol, s.patient
    rested_before = rest_total - (s.now - resting_since)
    out = []
    for kind, hours in (("rest_nudge", pr.rest_nudge_hours), ("rest_limit", pr.rest_cap_hours)):
        due = resting_since + (timedelta(hours=hours) - rested_before)
        out.append(Reminder(kind, out_of_window(due, p.zone, p.sleep_start, p.sleep_end), kind))
    return out


def _rest_notices(pr: Protocol, rest_total: timedelta) -> list[Notice]:
    if rest_total >= timedelta(hours=pr.rest_cap_hours):
        return [Notice("rest_cap", "alert", "Bed rest has reached its limit: start gentle movement now.")]
    if rest_total >= timedelta(hours=pr.rest_nudge_hours):
        return [Notice("rest_nudge", "caution", "You have rested a day in total: short gentle walks help recovery.")]
    return []


def _medication_notices(s: Situation, nsaid_days: int) -> list[Notice]:
    """Anti-inflammatories on too many days; no driving for a while after a sedating drug."""
    pr, now = s.protocol, s.now
    notices = []
    if nsaid_days >= pr.nsaid_flag_day:
        message = f"Anti-inflammatories taken on {nsaid_days} days: talk to a doctor or pharmacist."
        notices.append(Notice("nsaid_days", "caution", message))
    sedating = [i.at for i in s.intakes if i.med_class in SEDATING and i.at <= now]
    until = max(sedating) + timedelta(hours=pr.sedating_caution_hours) if sedating else None
    if until is not None and now < until:
        message = "No driving and no strenuous activity after a muscle relaxant or opioid."
        notices.append(Notice("no_driving", "caution", message, until))
    return notices


def _allowed(kind: str, s: Situation, phase: str, acute_end: datetime, treatment: _Treatment) -> Allowed:
    running, pause_until = treatment.running, treatment.pause_until
    if phase == "resolved":
        return Allowed(False, "The episode is resolved.")
    if running is not None:
        return Allowed(False, f"An {running.kind} application is running; stop it first.")
    ice_after_acute = s.protocol.ice_after_acute
    if kind == ICE and phase == "heat" and not ice_after_acute:
        return Allowed(False, "The ice phase is over: use moist heat now.")
    limits, reasons = [], []
    if kind == HEAT and phase == "acute":
        limits.append(acute_end)
        reasons.append("Heat starts after the first days of ice.")
    if pause_until is not None and s.now < pause_until:
        limits.append(pause_until)
        reasons.append("Let the skin rest between applications.")
    if not limits:
        return Allowed(True, "")
    allowed_from = max(limits)
    if kind == ICE and allowed_from >= acute_end and not ice_after_acute:
        # By the time the pause is over the ice phase is too: heat comes next.
        return Allowed(False, "Let the skin rest; the ice phase ends before the pause does, then heat.", None)
    return Allowed(False, " ".join(reasons), allowed_from)


def _checkin_reminders(s: Situation) -> list[Reminder]:
    """Today's reminder (19:00 local, or the end of the sleep window) unless a check-in was logged.

    Yesterday's is kept while it is still due: a window that ends after midnight carries it over.
    """
    pr, p = s.protocol, s.patient
    if not p.notify_checkin:
        return []
    logged_days = {local_date(c.at, p.zone) for c in s.checkins}
    today = local_date(s.now, p.zone)
    first_day = local_date(s.onset, p.zone)
    grace = timedelta(minutes=pr.checkin_grace_min)
    out = []
    for offset in (-1, 0, 1, 2):
        day = today + timedelta(days=offset)
        if day < first_day or day in logged_days:
            continue
        due = out_of_window(wall_to_utc(day, pr.checkin_reminder_at, p.zone), p.zone, p.sleep_start, p.sleep_end)
        if s.now > due + grace:
            continue
        out.append(Reminder("checkin", due, f"checkin:{day.isoformat()}"))
        if due > s.now:
            break  # the next one to come; later days are planned when their turn comes
    return out


def _review_reminders(s: Situation) -> list[Reminder]:
    pr, p = s.protocol, s.patient
    first_day = local_date(s.onset, p.zone)
    out = []
    for days in pr.review_days:
        # Day 1 is the local day of onset, so the day-7 review falls on onset date + 6.
        due = wall_to_utc(first_day + timedelta(days=days - 1), pr.checkin_reminder_at, p.zone)
        due = out_of_window(due, p.zone, p.sleep_start, p.sleep_end)
        if due > s.now - timedelta(days=1):
            out.append(Reminder("review", due, f"review:{days}"))
    return out


def _movement_reminders(s: Situation) -> list[Reminder]:
    """The current and the next sitting break, on the local clock's half hours, while awake."""
    pr, p = s.protocol, s.patient
    step = pr.sitting_break_min
    local = s.now.astimezone(p.zone)
    minutes = local.hour * 60 + local.minute
    # Instants, not wall times: in a repeated hour (autumn) a wall time names two instants, and the next break
    # must not jump back to the first of them.
    floor = s.now - timedelta(minutes=minutes % step, seconds=local.second, microseconds=local.microsecond)
    out = []
    for instant in (floor, floor + timedelta(minutes=step)):
        if not in_window(instant, p.zone, p.sleep_start, p.sleep_end) and instant >= s.onset:
            out.append(Reminder("movement_break", instant, f"movement:{instant.isoformat()}"))
    return out
