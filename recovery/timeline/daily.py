"""Per local day of an episode: pain, ice and heat, adherence. Reads only; three grouped queries.

Days group in the database by the local calendar day in the patient's IANA zone, so a 23- or 25-hour day
around a daylight-saving change is still one day. The adherence ratio and the per-day fill are written
here once, for every per-day view of a patient (the daily aggregates, the triage summary).
"""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from recovery.episodes.models import CheckIn, Episode
from recovery.protocol.localtime import wall_to_utc
from recovery.reminders.models import Reminder
from recovery.treatment.models import Application

START_KINDS = ("ice_start", "heat_start")  # the reminders that plan an application

T = TypeVar("T")


def local_day_bounds(*, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a local calendar day starts and ends (23 or 25 hours apart across a DST change)."""
    return wall_to_utc(day, time(0), zone), wall_to_utc(day + timedelta(days=1), time(0), zone)


def adherence_ratio(*, done: int, planned: int) -> float | None:
    """Applications done against applications planned, at most 1, to two places; None when none was planned."""
    return round(min(1.0, done / planned), 2) if planned else None


def days_fill(*, first: date, last: date, row: Callable[[date], T]) -> list[T]:
    """`row(day)` for every local day from `first` to `last`, both included, in order (none if first > last).

    A day where nothing happened is still listed, with what `row` gives for no data (zeros, None), so a
    chart shows the gap rather than closing it.
    """
    return [row(first + timedelta(days=n)) for n in range((last - first).days + 1)]


def episode_daily_aggregates(
    *, episode: Episode, zone: ZoneInfo, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """Per local day of the episode, in the patient's zone: pain (count, min, mean, max), ice and heat
    applications (count, minutes), and adherence (applications against the start reminders that came
    due that day; reminders acknowledged as done against reminders sent). Three grouped queries.

    Days without data are listed with zeros; the range is the episode's (onset to resolution or today),
    narrowed by `since` and `until` (local dates, inclusive).
    """
    now = timezone.now()
    first = episode.onset.astimezone(zone).date()
    last = (episode.resolved_at or now).astimezone(zone).date()
    if since is not None:
        first = max(first, since)
    if until is not None:
        last = min(last, until)
    if first > last:
        return []
    start, _ = local_day_bounds(day=first, zone=zone)
    _, end = local_day_bounds(day=last, zone=zone)
    pain = _pain_by_day(episode=episode, zone=zone, start=start, end=end)
    applications = _applications_by_day(episode=episode, zone=zone, start=start, end=end)
    reminders = _reminders_by_day(episode=episode, zone=zone, start=start, end=min(end, now))
    return days_fill(
        first=first,
        last=last,
        row=lambda day: _day_row(day, pain.get(day), applications.get(day), reminders.get(day)),
    )


def _pain_by_day(*, episode: Episode, zone: ZoneInfo, start: datetime, end: datetime) -> dict[date, dict]:
    return {
        row["day"]: row
        for row in CheckIn.objects.filter(episode=episode, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day")
        .annotate(count=Count("id"), pain_min=Min("pain"), pain_max=Max("pain"), pain_mean=Avg("pain"))
        .order_by()
    }


def _applications_by_day(*, episode: Episode, zone: ZoneInfo, start: datetime, end: datetime) -> dict[date, dict]:
    applied_for = ExpressionWrapper(F("stopped_at") - F("started_at"), output_field=DurationField())
    return {
        row["day"]: row
        for row in Application.objects.filter(episode=episode, started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("day")
        .annotate(
            ice=Count("id", filter=Q(kind="ice")),
            heat=Count("id", filter=Q(kind="heat")),
            applied=Sum(applied_for, filter=Q(stopped_at__isnull=False)),
        )
        .order_by()
    }


def _reminders_by_day(*, episode: Episode, zone: ZoneInfo, start: datetime, end: datetime) -> dict[date, dict]:
    """Reminders that came due (so none in the future), cancelled ones aside."""
    return {
        row["day"]: row
        for row in Reminder.objects.filter(episode=episode, recipient=None, due_at__gte=start, due_at__lt=end)
        .exclude(status=Reminder.Status.CANCELLED)
        .annotate(day=TruncDate("due_at", tzinfo=zone))
        .values("day")
        .annotate(
            planned=Count("id", filter=Q(kind__in=START_KINDS)),
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            acted=Count("id", filter=Q(sent_at__isnull=False, ack_action=Reminder.Action.DONE)),
        )
        .order_by()
    }


def _day_row(day: date, pain: dict | None, applications: dict | None, reminders: dict | None) -> dict[str, Any]:
    done = applications["ice"] + applications["heat"] if applications else 0
    planned = reminders["planned"] if reminders else 0
    applied = applications["applied"] if applications and applications["applied"] is not None else timedelta(0)
    return {
        "date": day,
        "checkins": pain["count"] if pain else 0,
        "pain_min": pain["pain_min"] if pain else None,
        "pain_mean": round(float(pain["pain_mean"]), 2) if pain else None,
        "pain_max": pain["pain_max"] if pain else None,
        "ice": applications["ice"] if applications else 0,
        "heat": applications["heat"] if applications else 0,
        "applied_minutes": int(applied.total_seconds() // 60),
        "applications_planned": planned,
        "reminders_sent": reminders["sent"] if reminders else 0,
        "reminders_acted": reminders["acted"] if reminders else 0,
        "adherence": adherence_ratio(done=done, planned=planned),
    }
