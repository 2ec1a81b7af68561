import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, Max, Min, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from backcare.accounts.models import Profile, User
from content.selectors import redflag_escalation_texts
from recovery.episodes import redflags
from recovery.episodes.models import CheckIn, Episode


def patient_zone(*, patient: User) -> ZoneInfo:
    zone = Profile.objects.filter(user=patient).values_list("timezone", flat=True).first()
    return ZoneInfo(zone or "UTC")


def episode_list(*, patient: User) -> QuerySet[Episode]:
    return Episode.objects.filter(patient=patient)


def episode_get(*, patient: User, episode_id: uuid.UUID) -> Episode:
    episode = Episode.objects.filter(patient=patient, pk=episode_id).first()
    if episode is None:
        raise Http404("No such episode.")
    return episode


def checkin_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[CheckIn]:
    qs = CheckIn.objects.filter(patient=patient).prefetch_related("redflag_events")
    if episode_id is not None:
        qs = qs.filter(episode_id=episode_id)
    return qs


def checkin_get(*, patient: User, client_uuid: uuid.UUID) -> CheckIn:
    checkin = checkin_list(patient=patient).filter(client_uuid=client_uuid).first()
    if checkin is None:
        raise Http404("No such check-in.")
    return checkin


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
        escalation.update(redflag_escalation_texts(ruleset_id=checkin.redflag_ruleset_id, level=escalation["level"]))
    return escalation
