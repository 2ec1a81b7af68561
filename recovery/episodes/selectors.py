"""Reads of episodes and check-ins: lists, the current episode (and its SQL twin), the daily pain summary."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, Max, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from backcare.accounts.models import Profile, User
from backcare.core.errors import NotFound

# A module import: content.selectors still imports recovery (until content takes plain inputs), and this
# breaks the cycle at import time.
from content import selectors as content_selectors
from recovery.episodes import redflags
from recovery.episodes.models import CheckIn, Episode


def patient_zone(*, patient: User) -> ZoneInfo:
    zone = Profile.objects.filter(user=patient).values_list("timezone", flat=True).first()
    return ZoneInfo(zone or "UTC")


def episode_list(*, patient: User) -> QuerySet[Episode]:
    return Episode.objects.filter(patient=patient)


def episode_get(*, patient: User, episode_id: uuid.UUID) -> Episode:
    """The patient's episode; another patient's is "not found", exactly like one that does not exist."""
    episode = Episode.objects.filter(patient=patient, pk=episode_id).first()
    if episode is None:
        raise NotFound("No such episode.")
    return episode


def episode_records(queryset: QuerySet, *, patient: User, episode_id: uuid.UUID | None) -> QuerySet:
    """The patient's records of `queryset`, of one of their episodes when `episode_id` is given (404 if not theirs)."""
    queryset = queryset.filter(patient=patient)
    if episode_id is None:
        return queryset
    episode_get(patient=patient, episode_id=episode_id)
    return queryset.filter(episode_id=episode_id)


# --- the current episode: the open one, else the latest -------------------------------------------
# Written once as an ordering, used by both the Python read and its SQL twin so that the two cannot
# disagree ("open" sorts before "resolved"; the id breaks a tie of onsets).
CURRENT_FIRST = ("status", "-onset", "-id")


def episode_current(*, patient: User) -> Episode | None:
    """The patient's current episode: the open one, else the one with the latest onset; None if they have none."""
    return Episode.objects.filter(patient=patient).select_related("protocol_version").order_by(*CURRENT_FIRST).first()


def episode_current_id(*, patient_ref: str = "pk") -> Subquery:
    """SQL twin of episode_current, for bulk reads: the current episode's id of the patient whose id the outer
    query's `patient_ref` holds (NULL if none), e.g. `User.objects.annotate(current=episode_current_id())` or
    `CareLink.objects.annotate(current=episode_current_id(patient_ref="patient_id"))`."""
    return Subquery(Episode.objects.filter(patient_id=OuterRef(patient_ref)).order_by(*CURRENT_FIRST).values("pk")[:1])


# --- check-ins -----------------------------------------------------------------------------------


def checkin_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[CheckIn]:
    """The patient's check-ins, optionally of one of their episodes (404 if it is not theirs)."""
    return episode_records(CheckIn.objects.prefetch_related("redflag_events"), patient=patient, episode_id=episode_id)


def checkin_get(*, patient: User, client_uuid: uuid.UUID) -> CheckIn:
    checkin = checkin_list(patient=patient).filter(client_uuid=client_uuid).first()
    if checkin is None:
        raise NotFound("No such check-in.")
    return checkin


def episode_daily(*, patient: User, episode_id: uuid.UUID) -> dict[str, Any]:
    """The patient's episode, their zone and the episode's pain per local day (GET /episodes/{id}/daily/)."""
    episode = episode_get(patient=patient, episode_id=episode_id)
    zone = patient_zone(patient=patient)
    return {"episode": episode.id, "timezone": zone.key, "days": episode_daily_summary(episode=episode, zone=zone)}


def episode_daily_summary(*, episode: Episode, zone: ZoneInfo) -> list[dict]:
    """Pain per local calendar day in the patient's zone, every day from onset to the end.

    Days without a check-in are listed with count 0 so a chart shows the gap. Grouping runs in
    the database with the zone's rules, so a 23- or 25-hour day is still one day.
    """
    rows = (
        CheckIn.objects.filter(episode=episode)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day")
        .annotate(count=Count("id"), pain_min=Min("pain"), pain_max=Max("pain"), pain_mean=Avg("pain"))
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    end_instant: datetime = episode.resolved_at or timezone.now()
    first = min(episode.onset.astimezone(zone).date(), min(by_day, default=date.max))
    last = max(end_instant.astimezone(zone).date(), max(by_day, default=date.min))
    days = []
    current = first
    while current <= last:
        row = by_day.get(current)
        days.append(
            {
                "date": current,
                "count": row["count"] if row else 0,
                "pain_min": row["pain_min"] if row else None,
                "pain_max": row["pain_max"] if row else None,
                "pain_mean": round(float(row["pain_mean"]), 2) if row else None,
            }
        )
        current += timedelta(days=1)
    return days


def checkin_escalation(*, checkin: CheckIn) -> dict | None:
    """The escalation block of a stored check-in, rebuilt from its red-flag events."""
    flags = [
        redflags.Flag(e.code, e.level, e.question, e.guidance, e.alert_physiotherapist)
        for e in checkin.redflag_events.all()
    ]
    escalation = redflags.escalation_for(sorted(flags, key=lambda f: -redflags.SEVERITY[f.level]))
    if escalation is not None:
        # Headline and actions come from the library, as worded in the checklist version answered.
        escalation.update(
            content_selectors.redflag_escalation_texts(ruleset_id=checkin.redflag_ruleset_id, level=escalation["level"])
        )
    return escalation
