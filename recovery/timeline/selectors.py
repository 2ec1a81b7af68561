"""One patient's recovery as a timeline, and what the physiotherapist's and the patient's views read of it.

Reads only, a constant number of queries: the page is one query (recovery.timeline.query), the daily
aggregates three (recovery.timeline.daily). Days given as filters are local calendar days in the patient's
zone (both inclusive); an episode named in a filter must be the patient's ("No such episode.", 400).
Who may read the patient is decided before (recovery.care), and the access recorded after.
"""

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backcare.accounts.models import User
from backcare.accounts.selectors import profile_zone
from recovery.care.selectors import patient_episode_get
from recovery.episodes.models import Episode
from recovery.timeline.daily import (
    episode_daily_aggregates,
    local_day_bounds,
)
from recovery.timeline.query import (
    BRANCHES,
    TIMELINE_KINDS,
    TimelineCursor,
    timeline_rows,
)


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    ends_at: datetime | None
    id: int
    data: dict[str, Any]

    @property
    def cursor(self) -> TimelineCursor:
        return TimelineCursor(self.at, self.kind, self.id)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next: TimelineCursor | None


def patient_timeline(
    *,
    patient: User,
    kinds: Collection[str] | None = None,
    episode_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: TimelineCursor | None = None,
    limit: int = 50,
) -> TimelinePage:
    """The patient's events newest first, in one query: `limit` of them after `after`, and the next cursor.

    `kinds` restricts the kinds (default: all); `since` (inclusive) and `until` (exclusive) bound the
    instants; `episode_id` keeps one episode's events (notes written about no episode are then left out).
    The caller decides who may read `patient` (care_selectors) and records the access.
    """
    chosen = [kind for kind in TIMELINE_KINDS if kinds is None or kind in kinds]
    if not chosen or limit < 1:
        return TimelinePage([], None)
    rows = timeline_rows(
        patient_id=patient.pk,
        kinds=tuple(chosen),
        episode_id=episode_id,
        since=since,
        until=until,
        after=after,
        limit=limit + 1,
    )
    entries = []
    for kind, at, ends_at, pk, data in rows[:limit]:
        data = json.loads(data) if isinstance(data, str) else dict(data or {})
        clean = BRANCHES[kind].clean
        entries.append(TimelineEntry(kind, at, ends_at, pk, clean(data) if clean else data))
    for entry in entries:
        if entry.kind == "activity":  # a walk ends its minutes after it starts
            object.__setattr__(entry, "ends_at", entry.at + timedelta(minutes=entry.data["minutes"]))
    return TimelinePage(entries, entries[-1].cursor if len(rows) > limit else None)


def local_days_span(
    *, since: date | None, until: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """The instants local days `since` to `until` (both inclusive, either open) cover: [start, end)."""
    return (
        local_day_bounds(day=since, zone=zone)[0] if since else None,
        local_day_bounds(day=until, zone=zone)[1] if until else None,
    )


def episode_current(*, patient: User) -> Episode | None:
    """The open episode, else the latest one."""
    return (
        Episode.objects.filter(patient=patient)
        .select_related("protocol_version")
        .order_by("status", "-onset")  # "open" sorts before "resolved"
        .first()
    )


def episode_named_or_current(*, patient: User, episode_id: uuid.UUID | None) -> Episode | None:
    """The patient's episode named by a filter (400 if not theirs), else their current one, if any."""
    if episode_id is not None:
        return patient_episode_get(patient=patient, episode_id=episode_id)
    return episode_current(patient=patient)


# --- what the views read -------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientTimeline:
    patient_id: int
    zone: ZoneInfo
    page: TimelinePage


def patient_timeline_page(
    *,
    patient: User,
    kinds: Collection[str] | None = None,
    episode_id: uuid.UUID | None = None,
    since: date | None = None,
    until: date | None = None,
    after: TimelineCursor | None = None,
    limit: int = 50,
) -> PatientTimeline:
    """One page of the patient's timeline, filtered by kinds, an episode of theirs and local days."""
    zone = profile_zone(user=patient)
    episode = patient_episode_get(patient=patient, episode_id=episode_id) if episode_id else None
    start, end = local_days_span(since=since, until=until, zone=zone)
    page = patient_timeline(
        patient=patient,
        kinds=kinds,
        episode_id=episode.pk if episode else None,
        since=start,
        until=end,
        after=after,
        limit=limit,
    )
    return PatientTimeline(patient.pk, zone, page)


def patient_daily(
    *, patient: User, episode_id: uuid.UUID | None = None, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """Per local day of an episode (the one named, else the open one, else the latest), as DailyOutputSerializer
    reads it; no days when the patient has no episode."""
    zone = profile_zone(user=patient)
    episode = episode_named_or_current(patient=patient, episode_id=episode_id)
    days = episode_daily_aggregates(episode=episode, zone=zone, since=since, until=until) if episode else []
    return {"patient": patient.pk, "episode": episode.pk if episode else None, "timezone": zone.key, "days": days}
