"""The physiotherapist's triage queue: every visible patient, what needs attention, sorted by need.

Reads only, in a fixed number of queries whatever the number of patients or the amount of their data:

1. the active links (the visibility rule), each with its patient, profile, current episode id, last
   push delivery and whether an active device exists (correlated subqueries);
2. the current episodes, with protocol version, newest prescription, last check-in, bed rest in
   total and the last seven days' applications and reminders (correlated subqueries);
3. the pain check-ins of the first three and the last eight days of those episodes;
4. their NSAID intakes;
5. the red flags of open episodes;
6. the protocol versions (a table of one or two rows).

Local days (days since onset, pain per day, NSAID days) are computed in Python in each patient's
zone from those rows, with the same rules as the patient's own screen (recovery.protocol.engine).
"""

import base64
import binascii
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, JSONObject, TruncDate
from django.utils import timezone
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from backcare.accounts.models import User
from content.models import RedFlagLevel

from .care_selectors import care_links_active_for
from .models import (
    Application,
    CheckIn,
    Delivery,
    Episode,
    MedicationClass,
    MedicationIntake,
    Prescription,
    ProtocolVersion,
    RedFlagEvent,
    Reminder,
    RestPeriod,
)
from .protocol.definition import Protocol, prescribe, protocol_from_dict
from .timeline import START_KINDS

WINDOW = timedelta(days=7)
SILENCE = timedelta(hours=48)
HIGH_PAIN = 7
LOW_ADHERENCE = 0.5
MIN_PLANNED_FOR_ADHERENCE = 3

# How much each concern adds to a patient's need. Red flags dominate, emergencies above all.
WEIGHTS: dict[str, int] = {
    "redflag_emergency": 1000,
    "redflag_urgent": 300,
    "redflag_soon": 100,
    "not_improving_day14": 60,
    "not_improving_day7": 40,
    "pain_worsening": 30,
    "rest_over_cap": 30,
    "nsaid_days": 20,
    "high_pain": 20,
    "no_checkin_48h": 15,
    "low_adherence": 10,
    "no_active_device": 10,
    "no_delivery_48h": 10,
}
REASONS = tuple(WEIGHTS)
PHASES = ("acute", "heat", "resolved", "none")


@dataclass
class TriageRow:
    link: SimpleNamespace  # the care link's fields, the patient's (display_name, email, timezone) and signals
    episode: SimpleNamespace | None  # the current episode's fields and aggregates
    zone: ZoneInfo
    day: int | None = None
    phase: str = "none"
    red_flags: dict[str, int] = field(default_factory=dict)
    latest_pain: int | None = None
    last_checkin_at: datetime | None = None
    pain_7d: list[dict[str, Any]] = field(default_factory=list)
    pain_trend: str | None = None
    not_improving: bool = False
    not_improving_day: int | None = None
    rest_hours: float = 0.0
    rest_cap_hours: int | None = None
    rest_over_cap: bool = False
    nsaid_days: int = 0
    nsaid_flag_day: int | None = None
    nsaid_over: bool = False
    adherence: dict[str, Any] = field(default_factory=dict)
    has_active_device: bool = False
    last_delivery_at: datetime | None = None
    no_delivery_48h: bool = False
    need: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def adherence_or_none(self) -> dict[str, Any] | None:
        return self.adherence or None

    @property
    def patient(self) -> dict[str, Any]:
        link = self.link
        return {
            "id": link.patient_id,
            "display_name": link.display_name,
            "email": link.email,
            "timezone": self.zone.key,
        }

    @property
    def sort_key(self) -> tuple:
        reviewed = self.link.last_reviewed_at
        return (-self.need, reviewed.timestamp() if reviewed else float("-inf"), self.link.patient_id)


@dataclass(frozen=True)
class TriageCursor:
    """The sort key of the last row of a page: (need, last reviewed, patient id)."""

    need: int
    reviewed: float | None
    patient_id: int

    def key(self) -> tuple:
        return (-self.need, self.reviewed if self.reviewed is not None else float("-inf"), self.patient_id)

    def encode(self) -> str:
        raw = json.dumps([self.need, self.reviewed, self.patient_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> "TriageCursor":
        """Raises ValueError when the cursor was not made here."""
        try:
            need, reviewed, patient_id = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
        except (binascii.Error, UnicodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
            raise ValueError("invalid cursor") from exc
        numbers = (need, patient_id) if reviewed is None else (need, patient_id, reviewed)
        if any(isinstance(n, bool) for n in numbers) or not (isinstance(need, int) and isinstance(patient_id, int)):
            raise ValueError("invalid cursor")
        if reviewed is not None and not (isinstance(reviewed, int | float) and math.isfinite(reviewed)):
            raise ValueError("invalid cursor")
        return cls(need, float(reviewed) if reviewed is not None else None, patient_id)

    @classmethod
    def of(cls, row: TriageRow) -> "TriageCursor":
        reviewed = row.link.last_reviewed_at
        return cls(row.need, reviewed.timestamp() if reviewed else None, row.link.patient_id)


@dataclass(frozen=True)
class TriagePage:
    rows: list[TriageRow]
    next: TriageCursor | None


def _grouped(qs, name: str):
    """A correlated COUNT(name) over qs, as a one-column subquery (NULL when there is nothing)."""
    return qs.order_by().annotate(_g=Value(1)).values("_g").annotate(n=Count(name)).values("n")


def _links(*, physiotherapist: User, search: str | None):
    """The visible links, annotated; evaluated once for its rows, and embedded as the subquery of episode ids."""
    current_episode = Episode.objects.filter(patient=OuterRef("patient_id")).order_by("status", "-onset")
    # A reminder's sent_at is when its first device accepted it: walking the patient's reminders newest sent
    # first (index reminder_patient_sent) finds the last delivery in a probe or two, where ordering by the
    # delivery's own time would read every delivery the patient ever had.
    last_delivery = Delivery.objects.filter(
        reminder__patient=OuterRef("patient_id"),
        reminder__sent_at__isnull=False,
        status=Delivery.Status.SENT,
        sent_at__isnull=False,
    ).order_by("-reminder__sent_at", "-sent_at")
    links = care_links_active_for(physiotherapist=physiotherapist).annotate(
        episode_pk=Subquery(current_episode.values("pk")[:1]),
        last_delivery_at=Subquery(last_delivery.values("sent_at")[:1]),
        device_webpush=Exists(WebPushDevice.objects.filter(user=OuterRef("patient_id"), active=True)),
        device_fcm=Exists(GCMDevice.objects.filter(user=OuterRef("patient_id"), active=True)),
        device_apns=Exists(APNSDevice.objects.filter(user=OuterRef("patient_id"), active=True)),
    )
    if search:
        links = links.filter(Q(patient__display_name__icontains=search) | Q(patient__email__icontains=search))
    return links


def _dicts(qs) -> list[dict[str, Any]]:
    """A values() queryset's rows. On PostgreSQL straight from the cursor: psycopg already hands back UUIDs,
    aware datetimes, dates and intervals, and Django's per-value converters cost more than the query here."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tuples(qs) -> list[tuple]:
    """A values_list() queryset's rows, straight from the cursor on PostgreSQL (see _dicts)."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _link_rows(links) -> list[SimpleNamespace]:
    # Plain values, not model instances: 500 rows of three models each would cost more than the query.
    fields = ("id", "patient_id", "status", "consented_at", "ended_at", "last_reviewed_at")
    return [
        SimpleNamespace(**row)
        for row in _dicts(
            links.values(
                *fields,
                "episode_pk",
                "last_delivery_at",
                "device_webpush",
                "device_fcm",
                "device_apns",
                display_name=F("patient__display_name"),
                email=F("patient__email"),
                timezone=F("patient__profile__timezone"),
            )
        )
    ]


def _episodes(*, ids, now: datetime) -> dict:
    since = now - WINDOW
    newest_prescription = Prescription.objects.filter(episode=OuterRef("pk")).order_by("-created_at", "-id")
    newest_checkin = CheckIn.objects.filter(episode=OuterRef("pk")).order_by("-occurred_at", "-id")
    rest_for = ExpressionWrapper(
        Coalesce(F("stopped_at"), Value(now, output_field=DateTimeField())) - F("started_at"),
        output_field=DurationField(),
    )
    rest_total = (
        RestPeriod.objects.filter(episode=OuterRef("pk"))
        .order_by()
        .annotate(_g=Value(1))
        .values("_g")
        .annotate(total=Sum(rest_for))
        .values("total")
    )
    reminders = Reminder.objects.filter(episode=OuterRef("pk"), due_at__gte=since, due_at__lte=now).exclude(
        status=Reminder.Status.CANCELLED
    )
    episodes = Episode.objects.filter(pk__in=ids).annotate(
        overrides=Subquery(newest_prescription.values("overrides")[:1]),
        last_checkin_at=Subquery(newest_checkin.values("occurred_at")[:1]),
        last_pain=Subquery(newest_checkin.values("pain")[:1]),
        rest_total=Subquery(rest_total, output_field=DurationField()),
        applications_7d=Coalesce(
            Subquery(_grouped(Application.objects.filter(episode=OuterRef("pk"), started_at__gte=since), "id")),
            0,
        ),
        # The three reminder counts of the window in one pass over one index range.
        reminders_7d=Subquery(
            reminders.order_by()
            .annotate(_g=Value(1))
            .values("_g")
            .annotate(
                counts=JSONObject(
                    planned=Count("id", filter=Q(kind__in=START_KINDS)),
                    sent=Count("id", filter=Q(sent_at__isnull=False)),
                    acted=Count("id", filter=Q(sent_at__isnull=False, ack_action=Reminder.Action.DONE)),
                )
            )
            .values("counts"),
            output_field=JSONField(),
        ),
    )
    fields = ("id", "onset", "status", "resolved_at", "protocol_version_id")
    annotations = ("overrides", "last_checkin_at", "last_pain", "rest_total")
    rows = {}
    for row in _dicts(episodes.values(*fields, *annotations, "applications_7d", "reminders_7d")):
        counts = row.pop("reminders_7d") or {}
        if isinstance(counts, str):  # JSON straight from the cursor is text
            counts = json.loads(counts)
        if isinstance(row["overrides"], str):
            row["overrides"] = json.loads(row["overrides"])
        row.update(planned_7d=counts.get("planned", 0), sent_7d=counts.get("sent", 0), acted_7d=counts.get("acted", 0))
        rows[row["id"]] = SimpleNamespace(**row)
    return rows


_VERSIONS: dict[int, tuple[int, dict]] = {}  # pk -> (version, definition): a version's rows never change


class _Protocols:
    """Effective protocols, built once per (version, overrides) pair. Protocol versions are immutable rows, kept
    per process once read: no query at all once the versions in use are known."""

    def __init__(self, episodes):
        wanted = {episode.protocol_version_id for episode in episodes}
        if None in wanted or not wanted <= set(_VERSIONS):
            for pk, number, definition in ProtocolVersion.objects.values_list("pk", "version", "definition"):
                _VERSIONS[pk] = (number, definition)
        self._cache: dict[tuple, Protocol] = {}
        self._current = max(_VERSIONS, key=lambda pk: _VERSIONS[pk][0], default=None)

    def of(self, episode: SimpleNamespace) -> Protocol:
        pk = episode.protocol_version_id if episode.protocol_version_id in _VERSIONS else self._current
        if pk is None:
            raise LookupError("No protocol version is loaded: run manage.py migrate")
        overrides = episode.overrides or {}
        key = (pk, json.dumps(overrides, sort_keys=True))
        if key not in self._cache:
            self._cache[key] = prescribe(protocol_from_dict(_VERSIONS[pk][1]), overrides)
        return self._cache[key]


def _local_day(field: str, zones: set[str]) -> Case:
    """The instant's calendar day in its patient's own zone (the profile's), in SQL on PostgreSQL and SQLite.

    One TruncDate per zone present (a handful), chosen per row by the patient's zone.
    """
    return Case(
        *(
            When(patient__profile__timezone=zone, then=TruncDate(field, tzinfo=ZoneInfo(zone)))
            for zone in sorted(zones)
        ),
        default=TruncDate(field, tzinfo=UTC),
        output_field=DateField(),
    )


def _day_rows(*, ids: list, zones: set[str], now: datetime) -> list[tuple[str, Any, date, int, int]]:
    """One query: ("pain", episode, local day, check-ins, pain sum) for the first three and the last eight days
    of each episode, and ("nsaid", episode, None, local days with an NSAID intake, 0)."""
    pain = (
        CheckIn.objects.filter(episode_id__in=ids, occurred_at__lte=now)
        .filter(
            Q(occurred_at__gte=now - WINDOW - timedelta(days=1))
            | Q(occurred_at__lt=F("episode__onset") + timedelta(days=3))
        )
        .annotate(kind=Value("pain", output_field=CharField()), day=_local_day("occurred_at", zones))
        .values("kind", "episode_id", "day")
        .annotate(n=Count("id"), total=Sum("pain"))
        .order_by()
    )
    nsaid = (
        MedicationIntake.objects.filter(episode_id__in=ids, med_class=MedicationClass.NSAID, taken_at__lte=now)
        .annotate(kind=Value("nsaid", output_field=CharField()), day=Value(None, output_field=DateField()))
        .values("kind", "episode_id", "day")
        .annotate(n=Count(_local_day("taken_at", zones), distinct=True), total=Value(0, output_field=IntegerField()))
        .order_by()
    )
    return _tuples(pain.union(nsaid, all=True).values_list("kind", "episode_id", "day", "n", "total"))


def _not_improving(days: dict[date, tuple[int, int]]) -> bool:
    """The engine's rule: the mean of the last two check-in days is no better than that of the first two."""
    ordered = sorted(days)
    if len(ordered) < 3:
        return False

    def mean(chosen: list[date]) -> float:
        return sum(days[d][1] for d in chosen) / sum(days[d][0] for d in chosen)

    return mean(ordered[-2:]) >= mean(ordered[:2])


def _trend(means: list[float]) -> str | None:
    if len(means) < 2:
        return None
    head, tail = means[:2], means[-2:]
    delta = sum(tail) / len(tail) - sum(head) / len(head)
    if delta <= -1:
        return "improving"
    if delta >= 1:
        return "worsening"
    return "stable"


def triage_rows(*, physiotherapist: User, now: datetime | None = None, search: str | None = None) -> list[TriageRow]:
    """Every patient visible to the physiotherapist with the signals of their current episode, sorted by need."""
    now = now or timezone.now()
    visible = _links(physiotherapist=physiotherapist, search=search)
    links = _link_rows(visible)
    # The ids the rows above hold: the same visibility rule, evaluated once.
    episode_ids = [link.episode_pk for link in links if link.episode_pk is not None]
    episodes = _episodes(ids=episode_ids, now=now) if episode_ids else {}

    days: dict[Any, dict[date, tuple[int, int]]] = defaultdict(dict)
    nsaid: dict[Any, int] = defaultdict(int)
    flags: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    if episodes:
        zones = {link.timezone or "UTC" for link in links}
        for kind, episode_id, day, count, total in _day_rows(ids=episode_ids, zones=zones, now=now):
            if kind == "pain":
                days[episode_id][day] = (count, total)
            else:
                nsaid[episode_id] = count
        for patient_id, level, at in (
            RedFlagEvent.objects.filter(
                episode_id__in=episode_ids, episode__status=Episode.Status.OPEN, alert_physiotherapist=True
            )
            .order_by()
            .values_list("patient_id", "level", "occurred_at")
        ):
            flags[patient_id].append((level, at))

    protocols = _Protocols(episodes.values()) if episodes else None
    rows = []
    for link in links:
        zone = ZoneInfo(link.timezone or "UTC")
        episode = episodes.get(link.episode_pk)
        row = TriageRow(link=link, episode=episode, zone=zone)
        row.has_active_device = link.device_webpush or link.device_fcm or link.device_apns
        row.last_delivery_at = link.last_delivery_at
        reviewed = link.last_reviewed_at
        row.red_flags = dict.fromkeys((RedFlagLevel.EMERGENCY, RedFlagLevel.URGENT, RedFlagLevel.SOON), 0)
        for level, at in flags.get(link.patient_id, ()):
            if (reviewed is None or at > reviewed) and level in row.red_flags:
                row.red_flags[level] += 1
        if episode is not None:
            _fill_episode(row, episode, protocols.of(episode), days[episode.id], nsaid[episode.id], now)
        _score(row, now)
        rows.append(row)
    rows.sort(key=lambda r: r.sort_key)
    return rows


def _fill_episode(
    row: TriageRow, episode: Episode, protocol: Protocol, days: dict[date, tuple[int, int]], nsaid_days: int, now
) -> None:
    zone = row.zone
    today = now.astimezone(zone).date()
    row.day = (today - episode.onset.astimezone(zone).date()).days + 1
    resolved = episode.resolved_at is not None and episode.resolved_at <= now
    if resolved:
        row.phase = "resolved"
    else:
        row.phase = "acute" if now < episode.onset + timedelta(hours=protocol.acute_hours) else "heat"
    row.latest_pain, row.last_checkin_at = episode.last_pain, episode.last_checkin_at
    means = {day: total / count for day, (count, total) in days.items()}
    row.pain_7d = [
        {"date": day, "mean": round(means[day], 2) if day in means else None}
        for day in (today - timedelta(days=offset) for offset in range(6, -1, -1))
    ]
    row.pain_trend = _trend([entry["mean"] for entry in row.pain_7d if entry["mean"] is not None])
    if not resolved and row.day >= min(protocol.review_days) and _not_improving(days):
        row.not_improving = True
        row.not_improving_day = max(d for d in protocol.review_days if d <= row.day)
    rest = episode.rest_total or timedelta(0)
    row.rest_hours = round(rest.total_seconds() / 3600, 1)
    row.rest_cap_hours = protocol.rest_cap_hours
    row.rest_over_cap = rest > timedelta(hours=protocol.rest_cap_hours)
    row.nsaid_days = nsaid_days
    row.nsaid_flag_day = protocol.nsaid_flag_day
    row.nsaid_over = row.nsaid_days >= protocol.nsaid_flag_day
    planned = episode.planned_7d
    row.adherence = {
        "applications_done": episode.applications_7d,
        "applications_planned": planned,
        "ratio": round(min(1.0, episode.applications_7d / planned), 2) if planned else None,
        "reminders_sent": episode.sent_7d,
        "reminders_acted": episode.acted_7d,
    }


def _score(row: TriageRow, now: datetime) -> None:
    reasons = []
    for level in (RedFlagLevel.EMERGENCY, RedFlagLevel.URGENT, RedFlagLevel.SOON):
        if row.red_flags.get(level):
            reasons.append(f"redflag_{level}")
    episode = row.episode
    active = episode is not None and row.phase in ("acute", "heat")
    if row.not_improving:
        reasons.append(
            "not_improving_day14" if row.not_improving_day and row.not_improving_day >= 14 else "not_improving_day7"
        )
    if row.pain_trend == "worsening" and active:
        reasons.append("pain_worsening")
    if row.rest_over_cap and active:
        reasons.append("rest_over_cap")
    if row.nsaid_over and active:
        reasons.append("nsaid_days")
    if active and row.latest_pain is not None and row.latest_pain >= HIGH_PAIN:
        reasons.append("high_pain")
    if active:
        quiet_since = max(episode.onset, row.link.consented_at)
        if now - quiet_since >= SILENCE and (row.last_checkin_at is None or now - row.last_checkin_at >= SILENCE):
            reasons.append("no_checkin_48h")
        ratio = row.adherence.get("ratio")
        if (
            ratio is not None
            and ratio < LOW_ADHERENCE
            and row.adherence["applications_planned"] >= MIN_PLANNED_FOR_ADHERENCE
        ):
            reasons.append("low_adherence")
        if not row.has_active_device:
            reasons.append("no_active_device")
        elif now - quiet_since >= SILENCE and (row.last_delivery_at is None or now - row.last_delivery_at >= SILENCE):
            row.no_delivery_48h = True
            reasons.append("no_delivery_48h")
    row.reasons = reasons
    row.need = sum(WEIGHTS[reason] for reason in reasons) + (
        WEIGHTS["redflag_emergency"] * max(0, row.red_flags.get(RedFlagLevel.EMERGENCY, 0) - 1)
    )


def triage_page(
    *,
    physiotherapist: User,
    after: TriageCursor | None = None,
    limit: int = 50,
    phase: str | None = None,
    reasons: set[str] | None = None,
    search: str | None = None,
    now: datetime | None = None,
) -> TriagePage:
    """One page of the queue, after `after`, optionally only one phase or patients with any of `reasons`."""
    rows = triage_rows(physiotherapist=physiotherapist, now=now, search=search)
    if phase is not None:
        rows = [row for row in rows if row.phase == phase]
    if reasons:
        rows = [row for row in rows if reasons & set(row.reasons)]
    if after is not None:
        key = after.key()
        rows = [row for row in rows if row.sort_key > key]
    page = rows[:limit]
    return TriagePage(page, TriageCursor.of(page[-1]) if len(rows) > limit else None)
