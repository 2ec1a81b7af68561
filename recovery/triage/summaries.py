"""The stored summary (recovery.TriageSummary): when a stored one still holds, and the row a computation stores.

A summary holds while its `computed_revision` equals `revision` (writes bump it), its format is SUMMARY_FORMAT,
the patient's newest check-in id and zone are the ones it saw, and `computed_at <= now < expires_at` (the next
due reminder, the end of the local day, a maximum age). The rule is written twice, side by side: in Python for
rows already read (summary_fresh), and in SQL to find the others (summary_stale_q).
"""

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import F, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Cast, Coalesce

from recovery.episodes.models import CheckIn
from recovery.timeline.daily import local_day_bounds
from recovery.triage.score import rank_columns
from recovery.triage.signals import SUMMARY_FORMAT, SummaryData

MAX_AGE = timedelta(minutes=10)  # bounds a summary's life whatever happened around the services


class SummaryRow(TypedDict):
    """A computed summary as recovery.triage.services.triage_summaries_store keeps it: the row's columns."""

    patient_id: int
    revision: int  # as read before the data (0 when there was no row): stored only if still the same
    computed_at: datetime
    valid_until: datetime | None
    expires_at: datetime
    zone: str
    fmt: int
    checkin_mark: int
    data: SummaryData
    episode_id: Any
    episode_open: bool
    onset: datetime | None
    resolved_at: datetime | None
    rank_not_improving: int
    rank_active: int
    rest_over_at: datetime | None
    last_checkin_at: datetime | None
    last_delivery_at: datetime | None


STORED_COLUMNS = tuple(name for name in SummaryRow.__annotations__ if name not in ("patient_id", "revision"))

_SUMMARY = "patient__triage_summary__"


def links_with_summary(links):
    """Each care link with its patient's stored summary (a plain join), zone and newest check-in id (one index
    probe): the columns summary_fresh and summary_stale_q read."""
    newest_checkin = CheckIn.objects.filter(patient=OuterRef("patient_id")).order_by("-pk").values("pk")[:1]
    return links.annotate(
        checkin_mark=Subquery(newest_checkin),
        s_revision=F(f"{_SUMMARY}revision"),
        s_computed=F(f"{_SUMMARY}computed_revision"),
        s_zone=F(f"{_SUMMARY}zone"),
        s_fmt=F(f"{_SUMMARY}fmt"),
        s_mark=F(f"{_SUMMARY}checkin_mark"),
        s_at=Cast(f"{_SUMMARY}computed_at", TextField()),
        s_expires=Cast(f"{_SUMMARY}expires_at", TextField()),
        s_data=F(f"{_SUMMARY}data"),
        zone=F("patient__profile__timezone"),
    )


def summary_fresh(link: Any, now: datetime) -> bool:
    """Whether the link's stored summary (read with links_with_summary, instants parsed) still holds."""
    if link.s_data is None or link.s_revision is None or link.s_computed != link.s_revision:
        return False
    if link.s_zone != link.zone or link.s_fmt != SUMMARY_FORMAT or link.s_mark != (link.checkin_mark or 0):
        return False
    return link.s_at is not None and link.s_expires is not None and link.s_at <= now < link.s_expires


def summary_stale_q(now: datetime) -> Q:
    """not summary_fresh, as a filter of links_with_summary."""
    missing = Q(s_revision__isnull=True) | Q(s_computed__isnull=True) | Q(s_fmt__isnull=True) | Q(s_mark__isnull=True)
    missing |= Q(**{f"{_SUMMARY}computed_at__isnull": True}) | Q(**{f"{_SUMMARY}expires_at__isnull": True})
    missing |= Q(s_data__isnull=True)
    moved = ~Q(s_computed=F("s_revision")) | ~Q(s_fmt=SUMMARY_FORMAT)
    moved |= ~Q(s_zone=Coalesce(F("zone"), Value("UTC"))) | ~Q(s_mark=Coalesce(F("checkin_mark"), Value(0)))
    timed = Q(**{f"{_SUMMARY}computed_at__gt": now}) | Q(**{f"{_SUMMARY}expires_at__lte": now})
    return missing | moved | timed


def summary_row(
    *, patient_id: int, revision: int, zone: str, data: SummaryData, fact: SimpleNamespace | None, now: datetime
) -> SummaryRow:
    """The row to store for a summary computed at `now` (fact: the current episode's row, if any)."""
    pending_due = fact.pending_due if fact is not None else None
    local_today = now.astimezone(ZoneInfo(zone)).date()
    expiry = [now + MAX_AGE, local_day_bounds(day=local_today, zone=ZoneInfo(zone))[1]]
    if pending_due is not None:
        expiry.append(pending_due)
    return {
        "patient_id": patient_id,
        "revision": revision,
        "computed_at": now,
        "valid_until": pending_due,
        "expires_at": min(expiry),
        "zone": zone,
        "fmt": SUMMARY_FORMAT,
        "checkin_mark": (fact.checkin_mark or 0) if fact is not None else 0,
        "data": data,
        **rank_columns(data["episode"]),
    }
