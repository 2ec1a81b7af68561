"""One patient's signals as the triage queue keeps them (TriageSummary.data), and the rules that make and read them.

A summary is computed from the data for the patient's local day, stored as JSON in the shape of SummaryData, and
read back as long as it holds (recovery.triage.summaries). Each rule exists once here: the phase, bed rest over
its cap, NSAID days over the flag day, the adherence ratio, the pain means and trend, and "not improving".
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from recovery.outcomes.engine import trend
from recovery.protocol.definition import Protocol
from recovery.protocol.engine import pain_not_improving
from recovery.timeline.daily import adherence_ratio  # noqa: F401 - re-exported for the queue's rows and score

# Bump when the shape of SummaryData changes: stored summaries of another format are computed again.
# 1: two-letter keys and positional lists; 2: the named fields below; 3: the outcome measures (issue 17).
SUMMARY_FORMAT = 3
DAYS_KEPT = 8  # the local days before today that a summary looks at
FIRST_DAYS = 3  # the episode's first local days, kept for "not improving"
PHASES = ("acute", "heat", "resolved", "none")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "long ago": bed rest already over its cap, never reviewed


class RedFlagMark(TypedDict):
    level: str  # content.models.RedFlagLevel
    at: str  # ISO instant


class EpisodeSignals(TypedDict):
    """The current episode (the open one, else the latest) of a patient; instants as ISO text with an offset."""

    episode_id: str
    onset: str
    onset_day: int  # the ordinal of the local day of onset, in the zone the summary was computed for
    status: str
    resolved_at: str | None
    acute_hours: int  # the effective protocol's
    rest_cap_hours: int
    nsaid_flag_day: int
    latest_pain: int | None
    last_checkin_at: str | None
    last_delivery_at: str | None  # the newest reminder sent
    rest_closed_seconds: float  # bed rest of the periods that ended
    rest_open_since: str | None  # the start of the rest period still running
    nsaid_days: int  # local days with an NSAID intake
    red_flags: list[RedFlagMark]  # every one that alerts the physiotherapist, reviewed or not
    applications_done: int  # over the last seven local days, today included
    applications_planned: int
    reminders_sent: int
    reminders_acted: int
    pain_7d: list[float | None]  # mean pain of the last seven local days, oldest first, today last
    pain_trend: str | None
    not_improving_day: int | None  # the review day at which pain is no better than at the start
    startback_risk: str | None  # the newest STarT Back risk group (low, medium, high)
    peg_trend: str | None  # the newest PEG against the one before (recovery.outcomes.engine.trend)


class SummaryData(TypedDict):
    """What TriageSummary.data holds (format SUMMARY_FORMAT): the current episode's signals, None without one."""

    episode: EpisodeSignals | None


# --- instants in JSON -------------------------------------------------------------------------------------------


def instant(value: Any) -> datetime | None:
    """An instant from JSON: ISO text with an offset (PostgreSQL) or naive UTC (SQLite)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- reading the signals at a given instant ---------------------------------------------------------------------


def episode_resolved(signals: EpisodeSignals, now: datetime) -> bool:
    resolved_at = instant(signals["resolved_at"])
    return resolved_at is not None and resolved_at <= now


def phase_of(signals: EpisodeSignals | None, now: datetime) -> str:
    if signals is None:
        return "none"
    if episode_resolved(signals, now):
        return "resolved"
    onset = datetime.fromisoformat(signals["onset"])
    return "acute" if now < onset + timedelta(hours=signals["acute_hours"]) else "heat"


def rest_seconds(signals: EpisodeSignals, now: datetime) -> float:
    """Bed rest this episode at `now`: the closed periods, and the open one up to now."""
    rest = signals["rest_closed_seconds"]
    open_since = instant(signals["rest_open_since"])
    if open_since is not None and open_since < now:
        rest += (now - open_since).total_seconds()
    return rest


def rest_over_at(signals: EpisodeSignals) -> datetime | None:
    """The instant after which bed rest is over its cap: EPOCH if the closed periods are already, None if no rest
    is running to get it there. rest_seconds(now) > the cap exactly when now is past it."""
    cap, closed = signals["rest_cap_hours"] * 3600, signals["rest_closed_seconds"]
    if closed > cap:
        return EPOCH
    open_since = instant(signals["rest_open_since"])
    if open_since is None:
        return None
    return open_since + timedelta(seconds=cap - closed)


def rest_over_cap(signals: EpisodeSignals, now: datetime) -> bool:
    over_at = rest_over_at(signals)
    return over_at is not None and over_at < now


def nsaid_over(signals: EpisodeSignals) -> bool:
    return signals["nsaid_days"] >= signals["nsaid_flag_day"]


# --- making the signals from the data ---------------------------------------------------------------------------


def pain_trend(means: list[float]) -> str | None:
    """The last two daily means against the first two: a point or more apart is a trend."""
    if len(means) < 2:
        return None
    head, tail = means[:2], means[-2:]
    delta = sum(tail) / len(tail) - sum(head) / len(head)
    if delta <= -1:
        return "improving"
    if delta >= 1:
        return "worsening"
    return "stable"


def signals_make(
    *,
    fact: SimpleNamespace,
    protocol: Protocol,
    zone: ZoneInfo,
    days: dict[int, list[int]],
    nsaid_days: int,
    red_flags: list[RedFlagMark],
    now: datetime,
) -> EpisodeSignals:
    """The signals of an episode (a row of recovery.triage.facts.episode_facts_fetch) for the local day of `now`.
    `days` holds, per local day (an ordinal), [check-ins, pain sum, applications, start reminders due, reminders
    sent, reminders sent and done]."""
    today = now.astimezone(zone).date().toordinal()
    onset_day = fact.onset.astimezone(zone).date().toordinal()
    pain, counts = _days_split(days, onset_day=onset_day, today=today)
    means = [round(pain[d][1] / pain[d][0], 2) if d in pain else None for d in range(today - 6, today + 1)]
    done, planned, sent, acted = counts
    return {
        "episode_id": str(fact.id),
        "onset": fact.onset.isoformat(),
        "onset_day": onset_day,
        "status": fact.status,
        "resolved_at": iso(fact.resolved_at),
        "acute_hours": protocol.acute_hours,
        "rest_cap_hours": protocol.rest_cap_hours,
        "nsaid_flag_day": protocol.nsaid_flag_day,
        "latest_pain": fact.last_pain,
        "last_checkin_at": iso(fact.last_checkin_at),
        "last_delivery_at": iso(fact.last_sent),
        "rest_closed_seconds": fact.rest_closed.total_seconds() if fact.rest_closed else 0.0,
        "rest_open_since": iso(fact.rest_open),
        "nsaid_days": nsaid_days,
        "red_flags": red_flags,
        "applications_done": done,
        "applications_planned": planned,
        "reminders_sent": sent,
        "reminders_acted": acted,
        "pain_7d": means,
        "pain_trend": pain_trend([mean for mean in means if mean is not None]),
        "not_improving_day": _not_improving_day(fact, protocol, pain, today - onset_day + 1, now),
        "startback_risk": getattr(fact, "startback_risk", None) or None,
        "peg_trend": _peg_trend(fact),
    }


def _peg_trend(fact) -> str | None:
    scores = [getattr(fact, "peg_before", None), getattr(fact, "peg_last", None)]
    return trend([Decimal(str(score)) for score in scores if score is not None])


def _days_split(days: dict[int, list[int]], *, onset_day: int, today: int) -> tuple[dict, list[int]]:
    """(check-ins, pain sum) of the first days and the last eight, and the adherence counts of the last seven."""
    pain: dict[int, tuple[int, int]] = {}
    counts = [0, 0, 0, 0]
    for ordinal, (checkins, pain_sum, *day_counts) in days.items():
        if ordinal > today:
            continue
        if checkins and (ordinal < onset_day + FIRST_DAYS or ordinal >= today - 7):
            pain[ordinal] = (checkins, pain_sum)
        if ordinal > today - 7:
            counts = [total + count for total, count in zip(counts, day_counts, strict=True)]
    return pain, counts


def _not_improving_day(fact, protocol: Protocol, pain: dict, day_number: int, now: datetime) -> int | None:
    """The latest review day reached, if pain is not improving and the episode is not resolved."""
    resolved = fact.resolved_at is not None and fact.resolved_at <= now
    if resolved or day_number < min(protocol.review_days) or not pain_not_improving(pain):
        return None
    return max(d for d in protocol.review_days if d <= day_number)
